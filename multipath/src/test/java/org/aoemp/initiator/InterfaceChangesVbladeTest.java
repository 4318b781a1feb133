package org.aoemp.initiator;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.nio.file.Path;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;

import org.aoemp.testing.Await;
import org.aoemp.testing.BulkIo;
import org.aoemp.testing.Prerequisites;
import org.aoemp.testing.RealPeer;
import org.aoemp.testing.VethRig;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * Issue 11, part 2: interfaces that vanish, return or change under a running initiator, over
 * veth with one vblade per pair on one file, the data verified each time (read back through the
 * device and in the file): a NIC deleted mid-write; a NIC of the same name created again (new
 * ifindex, new MAC) becomes a path again; the MTU of one path lowered mid-write; a NIC named at
 * start but down then becomes a path when it comes up.
 */
@RealPeer
class InterfaceChangesVbladeTest
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

    private void startRig(final int mtu) throws Exception
    {
        disk = dir.resolve("disk.img");
        BulkIo.sparseFile(disk, 96 * MIB);
        rig = VethRig.builder().pairs(2).mtu(mtu).build();
        rig.queueOnTargetEnd(0);  // vblade survives its peer going down (see VethRig.queueOnTargetEnd)
        rig.queueOnTargetEnd(1);
        vblades.add(rig.startVblade(4, 2, 0, disk));
        vblades.add(rig.startVblade(4, 2, 1, disk));
    }

    /** The initiator over both pairs (periodic discovery as slow as aoe nbd's, 60 s), the device over every path found. */
    private AoeDevice open(final int paths) throws Exception
    {
        initiator = Initiator.open("afpacket", List.of(rig.initiatorIf(0), rig.initiatorIf(1)), Duration.ofSeconds(60));
        final AoeDevice d = initiator.open(new TargetAddress(4, 2), DeviceOptions.defaults()
            .withRto(Duration.ofMillis(50), Duration.ofMillis(20), Duration.ofMillis(250)));
        Await.until(Duration.ofSeconds(30), () -> d.pathStats().size() >= paths, () -> paths + " paths: " + d.pathStats());
        return d;
    }

    private PathStats path(final AoeDevice d, final int pair)
    {
        final String name = rig.initiatorIf(pair);
        return d.pathStats().stream().filter(p -> p.localInterface().equals(name) && p.state() != PathState.DOWN
            && p.state() != PathState.PROBING).findFirst()
            .orElseGet(() -> d.pathStats().stream().filter(p -> p.localInterface().equals(name)).findFirst()
                .orElseThrow(() -> new AssertionError("no path over " + name + ": " + d.pathStats())));
    }

    /** Received frames over every path of pair {@code pair} (a re-created NIC may reach the target under a new MAC). */
    private long framesReceived(final AoeDevice d, final int pair)
    {
        final String name = rig.initiatorIf(pair);
        return d.pathStats().stream().filter(p -> p.localInterface().equals(name)).mapToLong(PathStats::framesReceived).sum();
    }

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

    private void verify(final AoeDevice d, final long offset, final byte[] data) throws Exception
    {
        assertArrayEquals(data, BulkIo.read(d, offset, data.length, 256 << 10, 16), "read back through the device");
        assertArrayEquals(data, BulkIo.fileBytes(disk, offset, data.length), "in the target's file");
    }

    @Test
    void aNicDeletedMidWriteAndCreatedAgainUnderTheSameNameShouldLoseNothingAndBecomeAPathAgain() throws Exception
    {
        startRig(1500);
        final AoeDevice d = open(2);
        final byte[] data = BulkIo.random((int)(32 * MIB), 21);
        write(d, 0, data, () -> rig.deletePair(1));
        verify(d, 0, data);
        Await.until(Duration.ofSeconds(10), () -> !path(d, 1).state().carriesTraffic(), () -> "the deleted NIC's path is down: "
            + d.pathStats());

        rig.recreatePair(1);  // same name, new ifindex and MAC; vblade on the old target end had exited
        vblades.get(1).kill();
        rig.queueOnTargetEnd(1);
        vblades.set(1, rig.startVblade(4, 2, 1, disk));
        Await.until(Duration.ofSeconds(20), () -> path(d, 1).state() == PathState.UP, () -> "the NIC of the same name is a path "
            + "again: " + d.pathStats());
        final long before = framesReceived(d, 1);
        final byte[] more = BulkIo.random((int)(32 * MIB), 22);
        write(d, 40 * MIB, more, () -> { });
        verify(d, 40 * MIB, more);
        verify(d, 0, data);
        assertTrue(framesReceived(d, 1) > before + 100, "the re-created NIC carries traffic: " + d.pathStats());
    }

    @Test
    void theMtuLoweredOnOnePathMidWriteShouldLoseNothing() throws Exception
    {
        startRig(9000);
        final AoeDevice d = open(2);
        assertEquals(17, d.sectorsPerCommand(), "jumbo frames at start");
        final byte[] data = BulkIo.random((int)(48 * MIB), 31);
        write(d, 0, data, () -> rig.setMtu(1, 1500));
        verify(d, 0, data);
        Await.until(Duration.ofSeconds(10), () -> d.sectorsPerCommand() == 2, () -> "commands fit the smaller MTU: "
            + d.sectorsPerCommand());
        final long before = framesReceived(d, 1);
        final byte[] more = BulkIo.random((int)(16 * MIB), 32);
        write(d, 64 * MIB, more, () -> { });
        verify(d, 64 * MIB, more);
        assertTrue(vblades.get(1).isAlive(), "vblade on the smaller MTU kept running:\n" + vblades.get(1).logText());
        assertEquals(PathState.UP, path(d, 1).state(), "the path with the smaller MTU is UP: " + d.pathStats());
        assertTrue(framesReceived(d, 1) > before + 100, "and carries traffic: " + d.pathStats());
    }

    @Test
    void theMtuLoweredOnEveryPathMidWriteShouldResendInFramesThatFit() throws Exception
    {
        startRig(9000);
        final AoeDevice d = open(2);
        assertEquals(17, d.sectorsPerCommand(), "jumbo frames at start");
        final byte[] data = BulkIo.random((int)(48 * MIB), 51);
        // no path can carry the 17-sector commands in flight any more: they must go again in pieces that fit.
        // The MTUs change on another thread, so that requests keep coming meanwhile.
        final Thread[] lowering = new Thread[1];
        write(d, 0, data, () -> lowering[0] = Thread.ofPlatform().name("lower-mtu").start(() ->
        {
            rig.setMtu(0, 1500);
            rig.setMtu(1, 1500);
        }));
        lowering[0].join(30_000);
        verify(d, 0, data);
        assertEquals(2, d.sectorsPerCommand(), "commands fit the smaller MTU");
        for (int pair = 0; pair < 2; pair++)
        {
            assertTrue(vblades.get(pair).isAlive(), "vblade " + pair + " kept running:\n" + vblades.get(pair).logText());
        }
    }

    @Test
    void aNamedNicDownAtStartShouldBecomeAPathWhenItComesUp() throws Exception
    {
        startRig(1500);
        rig.linkDown(1);
        final AoeDevice d = open(1);
        final byte[] data = BulkIo.random((int)(16 * MIB), 41);
        write(d, 0, data, () -> { });
        verify(d, 0, data);
        rig.linkUp(1);
        // well before the next periodic discovery (60 s): the link coming up is reason to ask
        Await.until(Duration.ofSeconds(15), () -> d.pathStats().size() == 2 && path(d, 1).state() == PathState.UP,
            () -> "the NIC that came up is a path: " + d.pathStats());
        final byte[] more = BulkIo.random((int)(32 * MIB), 42);
        write(d, 32 * MIB, more, () -> { });
        verify(d, 32 * MIB, more);
        verify(d, 0, data);
        assertTrue(framesReceived(d, 1) > 100, "the new path carries traffic: " + d.pathStats());
    }
}
