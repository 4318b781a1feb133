package org.aoemp.measure;

import java.nio.ByteBuffer;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.util.ArrayList;
import java.util.Comparator;
import java.util.List;
import java.util.SplittableRandom;
import java.util.concurrent.Semaphore;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicLong;

import org.aoemp.initiator.AoeDevice;
import org.aoemp.initiator.DeviceOptions;
import org.aoemp.initiator.Initiator;
import org.aoemp.initiator.TargetAddress;
import org.aoemp.testing.BulkIo;
import org.aoemp.testing.RealPeer;
import org.aoemp.testing.VethRig;
import org.junit.jupiter.api.Assumptions;
import org.junit.jupiter.api.Test;

/**
 * 4 KiB random-read IOPS at queue depth 32 over two vblade veth paths (MTU 1500, one vblade per
 * path on the same file), measured, not asserted. Run with {@code -Daoe.measure=true}; the number
 * of runs and their length come from {@code -Daoe.measure.runs} (3) and {@code -Daoe.measure.seconds} (5).
 */
@RealPeer
class IopsMeasurement
{
    private static final int QUEUE_DEPTH = 32;
    private static final int BLOCK = 4096;

    @Test
    void measureRandomReadIops() throws Exception
    {
        Assumptions.assumeTrue(Boolean.getBoolean("aoe.measure"), "a measurement: run with -Daoe.measure=true");
        final int runs = Integer.getInteger("aoe.measure.runs", 3);
        final int seconds = Integer.getInteger("aoe.measure.seconds", 5);
        final Path dir = Files.createTempDirectory("aoe-iops");
        final Path disk = dir.resolve("disk.img");
        BulkIo.sparseFile(disk, 64 << 20);
        try (VethRig rig = VethRig.builder().pairs(2).build())
        {
            rig.startVblade(4, 2, 0, disk);
            rig.startVblade(4, 2, 1, disk);
            try (Initiator ini = Initiator.open("afpacket", List.of(rig.initiatorIf(0), rig.initiatorIf(1)), Duration.ZERO))
            {
                final AoeDevice d = ini.open(new TargetAddress(4, 2), DeviceOptions.defaults());
                final long until = System.nanoTime() + TimeUnit.SECONDS.toNanos(5);
                while (d.pathStats().size() < 2 && System.nanoTime() < until)
                {
                    Thread.sleep(10);
                }
                run(d, 2);  // warm-up: JIT, path windows
                final List<Double> results = new ArrayList<>();
                for (int i = 0; i < runs; i++)
                {
                    results.add(run(d, seconds));
                }
                System.out.printf("RESULT iops 4k-randread qd%d 2 paths: runs %s, load %s%n", QUEUE_DEPTH, results,
                    Files.readString(Path.of("/proc/loadavg")).trim());
            }
        }
        finally
        {
            try (var walk = Files.walk(dir))
            {
                walk.sorted(Comparator.reverseOrder()).forEach(f -> f.toFile().delete());
            }
        }
    }

    /** Reads at random 4 KiB-aligned offsets, {@value #QUEUE_DEPTH} in flight, for {@code seconds}; returns IOPS. */
    private static double run(final AoeDevice d, final int seconds) throws Exception
    {
        final Semaphore depth = new Semaphore(QUEUE_DEPTH);
        final AtomicLong done = new AtomicLong();
        final AtomicLong failed = new AtomicLong();
        final SplittableRandom random = new SplittableRandom(42);
        final ByteBuffer[] buffers = new ByteBuffer[QUEUE_DEPTH];
        final java.util.concurrent.ArrayBlockingQueue<ByteBuffer> free = new java.util.concurrent.ArrayBlockingQueue<>(QUEUE_DEPTH);
        for (int i = 0; i < QUEUE_DEPTH; i++)
        {
            buffers[i] = ByteBuffer.allocateDirect(BLOCK);
            free.add(buffers[i]);
        }
        final long blocks = d.size() / BLOCK;
        final long t0 = System.nanoTime();
        final long end = t0 + TimeUnit.SECONDS.toNanos(seconds);
        while (System.nanoTime() < end)
        {
            depth.acquire();
            final ByteBuffer b = free.poll().clear();
            d.read(random.nextLong(blocks) * BLOCK, b, e ->
            {
                if (e != null)
                {
                    failed.incrementAndGet();
                }
                done.incrementAndGet();
                free.add(b);
                depth.release();
            });
        }
        depth.acquire(QUEUE_DEPTH);
        final double elapsed = (System.nanoTime() - t0) / 1e9;
        if (failed.get() > 0)
        {
            throw new AssertionError(failed.get() + " reads failed");
        }
        return Math.round(done.get() / elapsed);
    }
}
