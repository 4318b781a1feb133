package org.aoemp.measure;

import java.nio.ByteBuffer;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.util.ArrayDeque;
import java.util.ArrayList;
import java.util.Comparator;
import java.util.List;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.TimeUnit;

import org.aoemp.initiator.AoeDevice;
import org.aoemp.initiator.DeviceOptions;
import org.aoemp.initiator.Initiator;
import org.aoemp.initiator.PathStats;
import org.aoemp.initiator.TargetAddress;
import org.aoemp.testing.BulkIo;
import org.aoemp.testing.RealPeer;
import org.aoemp.testing.VethRig;
import org.junit.jupiter.api.Assumptions;
import org.junit.jupiter.api.Test;

/**
 * Multipath throughput, measured, not asserted (bench/multipath.sh runs these and turns the
 * {@code RESULT} lines into markdown): sequential 1 MiB reads, {@value #IN_FLIGHT} in flight,
 * over veth paths limited to {@code -Daoe.measure.rate} (200mbit) each by tbf on the target end,
 * MTU 9000, one vblade per path serving one file.
 *
 * <ul>
 * <li>{@link #measureScaling}: 1, 2 and 3 paths;</li>
 * <li>{@link #measureLoss}: 2 paths with 0, 1 and 5 % of the AoE frames arriving at every
 *     initiator end dropped at random (nftables).</li>
 * </ul>
 * Run with {@code -Daoe.measure=true}; {@code -Daoe.measure.runs} (3) and
 * {@code -Daoe.measure.seconds} (4) set the repetitions and their length.
 */
@RealPeer
class MultipathMeasurement
{
    private static final int MIB = 1 << 20;
    private static final int IN_FLIGHT = 8;
    private static final long DISK_BYTES = 192L * MIB;

    private static int runs()
    {
        return Integer.getInteger("aoe.measure.runs", 3);
    }

    private static int seconds()
    {
        return Integer.getInteger("aoe.measure.seconds", 4);
    }

    private static String rate()
    {
        return System.getProperty("aoe.measure.rate", "200mbit");
    }

    @Test
    void measureScaling() throws Exception
    {
        Assumptions.assumeTrue(Boolean.getBoolean("aoe.measure"), "a measurement: run with -Daoe.measure=true");
        header();
        for (int run = 1; run <= runs(); run++)
        {
            // paths interleaved within a run, so drifting load spreads over all of them
            for (int paths = 1; paths <= 3; paths++)
            {
                final double mbs = measure(paths, 0);
                System.out.printf("RESULT scaling paths=%d run=%d mbs=%.2f%n", paths, run, mbs);
            }
        }
    }

    @Test
    void measureLoss() throws Exception
    {
        Assumptions.assumeTrue(Boolean.getBoolean("aoe.measure"), "a measurement: run with -Daoe.measure=true");
        header();
        for (int run = 1; run <= runs(); run++)
        {
            for (final int loss : new int[] {0, 1, 5})
            {
                final double mbs = measure(2, loss);
                System.out.printf("RESULT loss percent=%d run=%d mbs=%.2f%n", loss, run, mbs);
            }
        }
    }

    private static void header()
    {
        System.out.printf("RESULT config rate=%s mtu=9000 seconds=%d runs=%d inflight=%d%n", rate(), seconds(), runs(), IN_FLIGHT);
    }

    /** MB/s of sequential 1 MiB reads over {@code paths} rate-limited paths with {@code lossPercent} % loss on each. */
    private static double measure(final int paths, final int lossPercent) throws Exception
    {
        final Path dir = Files.createTempDirectory("aoe-mp");
        final Path disk = dir.resolve("disk.img");
        BulkIo.sparseFile(disk, DISK_BYTES);
        try (VethRig rig = VethRig.builder().pairs(paths).mtu(9000).build())
        {
            final List<String> ifs = new ArrayList<>();
            for (int i = 0; i < paths; i++)
            {
                rig.startVblade(4, 2, i, disk);
                rig.rateLimit(i, rate());
                if (lossPercent > 0)
                {
                    rig.loss(i, lossPercent);
                }
                ifs.add(rig.initiatorIf(i));
            }
            try (Initiator ini = Initiator.open("afpacket", ifs, Duration.ZERO))
            {
                final AoeDevice d = ini.open(new TargetAddress(4, 2), DeviceOptions.defaults());
                final long until = System.nanoTime() + TimeUnit.SECONDS.toNanos(5);
                while (d.pathStats().size() < paths && System.nanoTime() < until)
                {
                    Thread.sleep(10);
                }
                if (d.pathStats().size() < paths)
                {
                    throw new IllegalStateException("only " + d.pathStats().size() + " of " + paths + " paths found");
                }
                read(d, 0, 1);  // warm-up: windows open, JIT compiles
                final double mbs = read(d, 16L * MIB, seconds());
                final StringBuilder b = new StringBuilder("  paths:");
                for (final PathStats p : d.pathStats())
                {
                    b.append(' ').append(p.localInterface()).append(" rx=").append(p.framesReceived()).append(" retx=")
                        .append(p.retransmits()).append(" window=").append(p.window());
                }
                System.err.println(b);
                return mbs;
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

    /** Sequential 1 MiB reads from {@code start}, wrapping at the end of the disk, for {@code seconds}; MB/s. */
    private static double read(final AoeDevice d, final long start, final int seconds) throws Exception
    {
        final ArrayDeque<CompletableFuture<Void>> inFlight = new ArrayDeque<>();
        final ArrayDeque<ByteBuffer> buffers = new ArrayDeque<>();
        for (int i = 0; i < IN_FLIGHT; i++)
        {
            buffers.add(ByteBuffer.allocateDirect(MIB));
        }
        final ArrayDeque<ByteBuffer> busy = new ArrayDeque<>();
        long offset = start;
        long bytes = 0;
        final long t0 = System.nanoTime();
        final long end = t0 + TimeUnit.SECONDS.toNanos(seconds);
        while (System.nanoTime() < end)
        {
            if (inFlight.size() == IN_FLIGHT)
            {
                inFlight.poll().get(60, TimeUnit.SECONDS);
                buffers.add(busy.poll());
                bytes += MIB;
            }
            final ByteBuffer b = buffers.poll().clear();
            busy.add(b);
            inFlight.add(d.readAsync(offset, b));
            offset += MIB;
            if (offset + MIB > DISK_BYTES)
            {
                offset = 0;
            }
        }
        while (!inFlight.isEmpty())
        {
            inFlight.poll().get(60, TimeUnit.SECONDS);
            bytes += MIB;
        }
        return bytes / 1e6 / ((System.nanoTime() - t0) / 1e9);
    }
}
