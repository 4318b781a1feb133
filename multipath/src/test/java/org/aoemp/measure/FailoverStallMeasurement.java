package org.aoemp.measure;

import java.nio.ByteBuffer;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
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
 * Failover stall, measured, not asserted: 4 KiB random reads at queue depth 16 over two
 * vblade paths; one path dies; the longest gap between two read completions is the stall.
 * Run with {@code -Daoe.measure=true} (bench/multipath.sh does); skipped otherwise.
 * {@code -Daoe.measure.runs} (3) runs per fault; the median is reported.
 */
@RealPeer
class FailoverStallMeasurement
{
    @Test
    void measureFailoverStall() throws Exception
    {
        Assumptions.assumeTrue(Boolean.getBoolean("aoe.measure"), "a measurement: run with -Daoe.measure=true");
        for (final String fault : List.of("link-down", "silent-drop"))
        {
            final List<Double> stalls = new ArrayList<>();
            final int runs = Math.max(1, Integer.getInteger("aoe.measure.runs", 3));
            for (int run = 0; run < runs; run++)
            {
                stalls.add(stallMillis(fault));
            }
            stalls.sort(null);
            System.out.printf("RESULT failover %s: longest stall median %.1f ms (runs %s)%n", fault, stalls.get(stalls.size() / 2), stalls);
        }
    }

    private static double stallMillis(final String fault) throws Exception
    {
        final Path dir = Files.createTempDirectory("aoe-stall");
        final Path disk = dir.resolve("disk.img");
        BulkIo.sparseFile(disk, 64 << 20);
        try (VethRig rig = VethRig.builder().pairs(2).build())
        {
            rig.startVblade(4, 2, 0, disk);
            rig.startVblade(4, 2, 1, disk);
            try (Initiator ini = Initiator.open("afpacket", List.of(rig.initiatorIf(0), rig.initiatorIf(1)), Duration.ofSeconds(5)))
            {
                final AoeDevice d = ini.open(new TargetAddress(4, 2), DeviceOptions.defaults());
                Thread.sleep(300);
                final AtomicLong last = new AtomicLong(System.nanoTime());
                final AtomicLong worst = new AtomicLong();
                final AtomicLong failures = new AtomicLong();
                final long end = System.nanoTime() + TimeUnit.SECONDS.toNanos(3);
                final java.util.concurrent.Semaphore depth = new java.util.concurrent.Semaphore(16);
                final java.util.Random random = new java.util.Random(1);
                boolean faulted = false;
                long faultAt = 0;
                while (System.nanoTime() < end)
                {
                    if (!faulted && System.nanoTime() > end - TimeUnit.SECONDS.toNanos(2))
                    {
                        faultAt = System.nanoTime();
                        if (fault.equals("link-down"))
                        {
                            rig.linkDown(1);
                        }
                        else
                        {
                            rig.loss(1, 100);
                        }
                        faulted = true;
                    }
                    depth.acquire();
                    final long offset = (long)random.nextInt(16384) * 4096;
                    d.read(offset, ByteBuffer.allocate(4096), e ->
                    {
                        final long now = System.nanoTime();
                        final long gap = now - last.getAndSet(now);
                        worst.accumulateAndGet(gap, Math::max);
                        if (e != null)
                        {
                            failures.incrementAndGet();
                        }
                        depth.release();
                    });
                }
                depth.acquire(16);
                if (failures.get() > 0)
                {
                    throw new AssertionError(failures.get() + " reads failed during failover");
                }
                return worst.get() / 1e6;
            }
        }
        finally
        {
            try (var walk = Files.walk(dir))
            {
                walk.sorted(java.util.Comparator.reverseOrder()).forEach(f -> f.toFile().delete());
            }
        }
    }
}
