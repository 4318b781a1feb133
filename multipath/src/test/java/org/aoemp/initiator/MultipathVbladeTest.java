package org.aoemp.initiator;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertInstanceOf;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.nio.ByteBuffer;
import java.nio.file.Path;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.ExecutionException;
import java.util.concurrent.TimeUnit;

import org.aoemp.testing.Await;
import org.aoemp.testing.BulkIo;
import org.aoemp.testing.Prerequisites;
import org.aoemp.testing.RealPeer;
import org.aoemp.testing.VethRig;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.ValueSource;

/**
 * Multipath against real vblades: one vblade per veth pair on the same file (the usual
 * redundant-NIC setup), with links pulled, loss injected and targets killed under load.
 */
@RealPeer
class MultipathVbladeTest
{
    private static final long MIB = 1 << 20;

    @TempDir
    Path dir;

    private VethRig rig;
    private Initiator initiator;
    private final List<VethRig.Daemon> vblades = new ArrayList<>();
    private Path disk;

    @BeforeEach
    void requirements()
    {
        Prerequisites.requireRoot();
        Prerequisites.requireCommand("vblade", "vblade");
        Prerequisites.requireCommand("nft", "nftables");
    }

    @AfterEach
    void tearDown()
    {
        if (initiator != null)
        {
            initiator.close();
        }
        if (rig != null)
        {
            rig.close();
        }
    }

    private AoeDevice open(final int paths, final DeviceOptions options) throws Exception
    {
        return open(paths, 1500, options);
    }

    private AoeDevice open(final int paths, final int mtu, final DeviceOptions options) throws Exception
    {
        disk = dir.resolve("disk.img");
        BulkIo.sparseFile(disk, 96 * MIB);
        rig = VethRig.builder().pairs(paths).mtu(mtu).build();
        final List<String> ifs = new ArrayList<>();
        for (int i = 0; i < paths; i++)
        {
            vblades.add(rig.startVblade(4, 2, i, disk));
            ifs.add(rig.initiatorIf(i));
        }
        initiator = Initiator.open("afpacket", ifs, Duration.ofSeconds(5));
        final AoeDevice d = initiator.open(new TargetAddress(4, 2), options);
        Await.reached(Duration.ofSeconds(30), () -> d.pathStats().size() >= paths);
        assertEquals(paths, d.pathStats().size(), "a path per (local NIC, vblade MAC)");
        return d;
    }

    private static DeviceOptions fastFailover()
    {
        return DeviceOptions.defaults().withRto(Duration.ofMillis(50), Duration.ofMillis(20), Duration.ofMillis(250));
    }

    /** Writes {@code data} in 256 KiB requests, 16 in flight, running {@code midway} once halfway. */
    /** Writes {@code data} in 256 KiB requests, 16 in flight, running {@code midway} once half of them are issued. */
    private static void write(final AoeDevice d, final long offset, final byte[] data, final Runnable midway) throws Exception
    {
        final int chunk = 256 << 10;
        final int half = (data.length / chunk + 1) / 2;
        final int[] issued = {0};
        BulkIo.write(d, offset, data, chunk, 16, () ->
        {
            if (++issued[0] == half)
            {
                midway.run();
            }
        });
    }

    private static byte[] read(final AoeDevice d, final long offset, final int length) throws Exception
    {
        return BulkIo.read(d, offset, length, 256 << 10, 16);
    }

    /**
     * The path over pair {@code pair}'s initiator end. Paths are numbered in the order discovery
     * heard the targets, which the receive threads of the ports race for, so not by pair.
     */
    private PathStats path(final AoeDevice d, final int pair)
    {
        final String name = rig.initiatorIf(pair);
        return d.pathStats().stream().filter(p -> p.localInterface().equals(name)).findFirst()
            .orElseThrow(() -> new AssertionError("no path over " + name + ": " + d.pathStats()));
    }

    private void awaitState(final AoeDevice d, final int pair, final PathState state, final Duration within) throws Exception
    {
        Await.reached(within, () -> path(d, pair).state() == state);
        assertEquals(state, path(d, pair).state(), "path over pair " + pair);
    }

    @ParameterizedTest
    @ValueSource(ints = {2, 3})
    void everyPathShouldCarryTrafficAndTheDataShouldReadBackEqual(final int paths) throws Exception
    {
        final AoeDevice d = open(paths, DeviceOptions.defaults());
        final byte[] data = BulkIo.random((int)(32 * MIB), paths);
        write(d, MIB, data, () -> { });
        assertArrayEquals(data, read(d, MIB, data.length));
        assertArrayEquals(data, BulkIo.fileBytes(disk, MIB, data.length));
        for (final PathStats p : d.pathStats())
        {
            assertTrue(p.framesReceived() > 1000, "path " + p.localInterface() + " carried traffic: " + p);
        }
    }

    @Test
    void aLinkTakenDownMidWriteShouldCostNoErrorAndComeBack() throws Exception
    {
        final AoeDevice d = open(2, fastFailover());
        rig.queueOnTargetEnd(1); // else vblade may exit on ENOBUFS while its peer goes down (see VethRig)
        final byte[] data = BulkIo.random((int)(48 * MIB), 7);
        write(d, 0, data, () -> rig.linkDown(1));
        awaitState(d, 1, PathState.DOWN, Duration.ofSeconds(2));
        final long framesOnPath1 = path(d, 1).framesReceived();
        rig.linkUp(1);
        assertTrue(vblades.get(1).isAlive(), "vblade survived the link flap:\n" + vblades.get(1).logText());
        awaitState(d, 1, PathState.UP, Duration.ofSeconds(10));
        assertArrayEquals(data, read(d, 0, data.length), "no data lost");
        assertArrayEquals(data, BulkIo.fileBytes(disk, 0, data.length));
        assertTrue(path(d, 1).framesReceived() > framesOnPath1 + 100, "the path carries traffic again");
    }

    @Test
    void twoRateLimitedPathsShouldShareASequentialRead() throws Exception
    {
        final AoeDevice d = open(2, 9000, DeviceOptions.defaults());
        d.close();
        initiator.close();
        initiator = null;
        rig.rateLimit(0, "200mbit");
        rig.rateLimit(1, "200mbit");
        final List<String> ifs = List.of(rig.initiatorIf(0), rig.initiatorIf(1));
        try (Initiator ini = Initiator.open("afpacket", ifs, Duration.ZERO))
        {
            final AoeDevice two = ini.open(new TargetAddress(4, 2), DeviceOptions.defaults());
            Await.reached(Duration.ofSeconds(30), () -> two.pathStats().size() >= ifs.size());
            read(two, 0, (int)(48 * MIB));
            final long a = two.pathStats().get(0).framesReceived();
            final long b = two.pathStats().get(1).framesReceived();
            two.pathStats().forEach(p -> System.out.println("  " + p));
            assertTrue(a >= (a + b) / 4 && b >= (a + b) / 4, "both paths carried at least a quarter: " + a + " and " + b + " frames");
        }
    }

    @Test
    void fivePercentLossOnEveryPathShouldCostNoError() throws Exception
    {
        final AoeDevice d = open(2, fastFailover().withDeadAfter(Duration.ofSeconds(60)));
        rig.loss(0, 5);
        rig.loss(1, 5);
        final byte[] data = BulkIo.random((int)(64 * MIB), 11);
        write(d, 0, data, () -> { });
        assertArrayEquals(data, read(d, 0, data.length));
        assertArrayEquals(data, BulkIo.fileBytes(disk, 0, data.length));
        long retransmits = 0;
        for (final PathStats p : d.pathStats())
        {
            retransmits += p.retransmits();
        }
        assertTrue(retransmits > 0, "losses were retransmitted");
    }

    @Test
    void aVbladeKilledAndRestartedShouldCostNoError() throws Exception
    {
        final AoeDevice d = open(2, fastFailover());
        final byte[] data = BulkIo.random((int)(32 * MIB), 13);
        write(d, 0, data, () -> vblades.get(0).kill());
        vblades.get(0).restart();
        final byte[] more = BulkIo.random((int)(16 * MIB), 14);
        write(d, 40 * MIB, more, () -> { });
        assertArrayEquals(data, read(d, 0, data.length));
        assertArrayEquals(more, read(d, 40 * MIB, more.length));
        awaitState(d, 0, PathState.UP, Duration.ofSeconds(10));
    }

    @Test
    void allPathsDownLongerThanDeadAfterShouldFailWithEioAndRecover() throws Exception
    {
        final AoeDevice d = open(2, fastFailover().withDeadAfter(Duration.ofSeconds(2)));
        rig.linkDown(0);
        rig.linkDown(1);
        final long t0 = System.nanoTime();
        final ExecutionException e = org.junit.jupiter.api.Assertions.assertThrows(ExecutionException.class,
            () -> d.readAsync(0, ByteBuffer.allocate(64 << 10)).get(30, TimeUnit.SECONDS));
        final double seconds = (System.nanoTime() - t0) / 1e9;
        assertInstanceOf(org.aoemp.block.IoError.class, e.getCause());
        assertEquals(org.aoemp.block.IoError.EIO, ((org.aoemp.block.IoError)e.getCause()).errno());
        assertTrue(seconds <= 3.0, "EIO within dead-after + 1 s, took " + seconds);
        rig.linkUp(0);
        rig.linkUp(1);
        Await.until(Duration.ofSeconds(10), () ->
        {
            try
            {
                d.readAsync(0, ByteBuffer.allocate(4096)).get(5, TimeUnit.SECONDS);
                return true; // recovered
            }
            catch (final ExecutionException again)
            {
                return false;
            }
            catch (final InterruptedException | java.util.concurrent.TimeoutException stuck)
            {
                throw new AssertionError("read after the links came back", stuck);
            }
        }, "the device did not recover after the links came back");
    }
}
