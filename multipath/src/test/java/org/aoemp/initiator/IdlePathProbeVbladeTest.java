package org.aoemp.initiator;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertNull;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.nio.file.Path;
import java.time.Duration;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.List;
import java.util.concurrent.atomic.AtomicBoolean;
import java.util.concurrent.atomic.AtomicLong;
import java.util.concurrent.atomic.AtomicReference;

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
 * Issue 11, part 8: no path goes unexercised. Two vblade paths over veth on one file; a path is
 * measured as soon as it is found, idle paths keep being probed, and a standby path that goes
 * silent (every AoE frame arriving on it dropped by nftables) goes DOWN within seconds while the
 * other path carries a low-queue-depth read load without an error.
 */
@RealPeer
class IdlePathProbeVbladeTest
{
    private static final long MIB = 1 << 20;
    private static final double MAX_SECONDS_TO_DOWN = 6.0;
    private static final long INITIAL_SRTT_MICROS = DeviceOptions.defaults().initialRto().toNanos() / 1000;

    @TempDir
    Path dir;

    private VethRig rig;
    private Initiator initiator;
    private Thread reader;
    private final AtomicBoolean stop = new AtomicBoolean();

    @BeforeEach
    void requirements()
    {
        Prerequisites.requireRoot();
        Prerequisites.requireCommand("vblade", "vblade");
        Prerequisites.requireCommand("nft", "nftables");
    }

    @AfterEach
    void tearDown() throws InterruptedException
    {
        stop.set(true);
        if (reader != null)
        {
            reader.join(30_000);
        }
        if (initiator != null)
        {
            initiator.close();
        }
        if (rig != null)
        {
            rig.close();
        }
    }

    private AoeDevice open(final Path disk) throws Exception
    {
        return open(disk, new byte[0]);
    }

    /** Two vblades on {@code disk}, which starts with {@code data} (written to the file, not through the device). */
    private AoeDevice open(final Path disk, final byte[] data) throws Exception
    {
        BulkIo.sparseFile(disk, 32 * MIB);
        try (java.nio.channels.FileChannel f = java.nio.channels.FileChannel.open(disk, java.nio.file.StandardOpenOption.WRITE))
        {
            f.write(java.nio.ByteBuffer.wrap(data), 0);
        }
        rig = VethRig.builder().pairs(2).build();
        rig.startVblade(4, 2, 0, disk);
        rig.startVblade(4, 2, 1, disk);
        initiator = Initiator.open("afpacket", List.of(rig.initiatorIf(0), rig.initiatorIf(1)), Duration.ofSeconds(5));
        final AoeDevice d = initiator.open(new TargetAddress(4, 2), DeviceOptions.defaults());
        Await.until(Duration.ofSeconds(30), () -> d.pathStats().size() == 2, () -> "two paths: " + d.pathStats());
        return d;
    }

    private PathStats path(final AoeDevice d, final int pair)
    {
        final String name = rig.initiatorIf(pair);
        return d.pathStats().stream().filter(p -> p.localInterface().equals(name)).findFirst()
            .orElseThrow(() -> new AssertionError("no path over " + name + ": " + d.pathStats()));
    }

    @Test
    void everyPathShouldBeMeasuredWhenFoundAndProbedWhileIdle() throws Exception
    {
        final AoeDevice d = open(dir.resolve("disk.img"));
        // No I/O at all: every path is probed once when found, then once a second while nothing answers on it.
        Await.until(Duration.ofSeconds(30), () -> d.pathStats().stream().allMatch(p -> p.idleProbesSent() >= 3),
            () -> "every path probed at least 3 times while idle: " + d.pathStats());
        for (final PathStats p : d.pathStats())
        {
            assertTrue(p.srttMicros() < INITIAL_SRTT_MICROS, "the RTT of " + p.localInterface() + " was measured: " + p);
            assertTrue(p.framesReceived() >= 3, "probes were answered: " + p);
            assertTrue(p.lastAnsweredMillisAgo() >= 0 && p.lastAnsweredMillisAgo() < 10_000, "answered lately: " + p);
            assertEquals(PathState.UP, p.state(), p.toString());
            assertEquals(0, p.idleProbesLost(), "no probe of a healthy path was lost: " + p);
        }
    }

    @Test
    void aSilentStandbyPathShouldGoDownWithinSecondsWhileTheOtherCarriesTheLoad() throws Exception
    {
        // As the issue found it: only small reads at a low queue depth from the start (no bulk write through
        // the device, which would fill the first path's window and spill onto the second).
        final Path disk = dir.resolve("disk.img");
        final int span = (int)MIB;
        final byte[] data = BulkIo.random(span, 81);
        final AoeDevice d = open(disk, data);

        // Low queue depth: 4 KiB reads, 1 in flight, each block checked against what is in the file.
        final AtomicLong rounds = new AtomicLong();
        final AtomicReference<Throwable> failure = new AtomicReference<>();
        reader = Thread.ofPlatform().name("idle-path-reader").start(() ->
        {
            try
            {
                while (!stop.get())
                {
                    final byte[] got = BulkIo.read(d, 0, span, 4096, 1);
                    if (!Arrays.equals(data, got))
                    {
                        throw new AssertionError("read back different data in round " + rounds.get());
                    }
                    rounds.incrementAndGet();
                }
            }
            catch (final Throwable t)
            {
                failure.set(t);
            }
        });
        Await.until(Duration.ofSeconds(60), () -> rounds.get() >= 2 || failure.get() != null, () -> "reads under way");
        assertNull(failure.get(), "reads before the fault");

        // The standby: the path that carried fewer frames so far.
        final int standby = path(d, 0).framesSent() <= path(d, 1).framesSent() ? 0 : 1;
        final int active = 1 - standby;
        System.out.println("before the fault: " + d.pathStats());
        assertTrue(path(d, standby).lastAnsweredMillisAgo() >= 0 && path(d, standby).lastAnsweredMillisAgo() < 5000,
            "the standby path answered lately: " + path(d, standby));
        final long roundsBefore = rounds.get();
        final long t0 = System.nanoTime();
        rig.loss(standby, 100);
        Await.until(Duration.ofSeconds(20), () -> !path(d, standby).state().carriesTraffic(),
            () -> "the silent path goes DOWN: " + d.pathStats());
        final double seconds = (System.nanoTime() - t0) / 1e9;
        System.out.printf("silent standby path DOWN after %.2f s: %s%n", seconds, path(d, standby));
        // An idle path is probed 1 s after its last answer, then every second, each probe given 0.5 s: three
        // lost take about 3.5 s, whatever the machine's speed. The bound is the "within a few seconds".
        assertTrue(seconds <= MAX_SECONDS_TO_DOWN, "DOWN within " + MAX_SECONDS_TO_DOWN + " s, took " + seconds);
        Await.until(Duration.ofSeconds(60), () -> rounds.get() >= roundsBefore + 2 || failure.get() != null,
            () -> "reads go on over the other path");
        assertNull(failure.get(), "no I/O error and the same data while the standby path went down");
        assertTrue(path(d, active).state().carriesTraffic(), "the path carrying the load stayed up: " + path(d, active));

        rig.loss(standby, 0);
        Await.until(Duration.ofSeconds(20), () -> path(d, standby).state() == PathState.UP,
            () -> "the path comes back once its frames flow again: " + d.pathStats());
        stop.set(true);
        reader.join(60_000);
        assertNull(failure.get(), "no I/O error after the path came back");
        assertArrayEquals(data, BulkIo.fileBytes(disk, 0, span));
        final List<PathStats> end = new ArrayList<>(d.pathStats());
        System.out.println("at the end: " + end);
    }
}
