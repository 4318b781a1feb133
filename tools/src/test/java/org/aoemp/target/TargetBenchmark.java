package org.aoemp.target;

import java.io.IOException;
import java.io.RandomAccessFile;
import java.nio.ByteBuffer;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import java.util.Locale;
import java.util.SplittableRandom;
import java.util.concurrent.CountDownLatch;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicLong;

import org.HdrHistogram.Histogram;
import org.aoemp.block.IoCallback;
import org.aoemp.initiator.AoeDevice;
import org.aoemp.initiator.DeviceOptions;
import org.aoemp.initiator.Initiator;
import org.aoemp.initiator.PathStats;
import org.aoemp.initiator.TargetAddress;
import org.aoemp.testing.VethRig;

/**
 * Throwaway measurement, not a test: frames per second served by {@code aoe target} and by
 * vblade, side by side in one run on the same veth rig and file, with the project's initiator
 * doing 4 KiB random reads at queue depth 16 over one and over two NICs.
 *
 * <p>Both targets run as processes of their own in the rig's namespace: vblade as the usual
 * multipath setup of one process per NIC, {@code aoe target} as one process on both NICs. At MTU
 * 1500 a 4 KiB read is four ATA commands (two sectors each), so frames/s = 4 × IOPS, counted from
 * the initiator's path counters. Latency is closed-loop (the next read waits for a completion),
 * so it is the service time at that depth, not an open-loop response time.
 *
 * <p>Run as root from the repository root after {@code mvn -pl multipath,tools -am test-compile}:
 * {@code java --enable-native-access=ALL-UNNAMED -cp <tools test class path> org.aoemp.target.TargetBenchmark [seconds] [rounds]}.
 */
public final class TargetBenchmark
{
    private static final long FILE_BYTES = 1L << 30;
    private static final int BLOCK = 4096;
    private static final int DEPTH = 16;
    private static final TargetAddress E7_3 = new TargetAddress(7, 3);

    private TargetBenchmark()
    {
    }

    record Result(String target, boolean cached, int nics, double iops, double framesPerSecond, double p50Micros, double p99Micros,
        long retransmits)
    {
        @Override
        public String toString()
        {
            return String.format(Locale.ROOT,
                "%-10s %-8s %d NIC%s  %8.0f IOPS  %9.0f frames/s  p50 %7.1f us  p99 %8.1f us  retransmits %d",
                target, cached ? "cached" : "uncached", nics, nics == 1 ? " " : "s", iops, framesPerSecond, p50Micros, p99Micros,
                retransmits);
        }
    }

    public static void main(final String[] args) throws Exception
    {
        final int seconds = args.length > 0 ? Integer.parseInt(args[0]) : 10;
        final int rounds = args.length > 1 ? Integer.parseInt(args[1]) : 1;
        final Path dir = Files.createTempDirectory("aoe-target-bench");
        final Path disk = dir.resolve("disk.img");
        final List<Result> results = new ArrayList<>();
        try (VethRig rig = VethRig.builder().pairs(2).build())
        {
            fill(disk);
            for (int round = 0; round < rounds; round++)
            for (final boolean cached : new boolean[] {true, false})
            {
                for (final int nics : new int[] {1, 2})
                {
                    try (VethRig.Daemon v0 = rig.startVblade(7, 3, 0, disk); VethRig.Daemon v1 = rig.startVblade(7, 3, 1, disk))
                    {
                        results.add(measure(rig, "vblade", cached, disk, nics, seconds));
                    }
                    try (TargetProcess t = TargetProcess.start(rig.namespace(), dir.resolve("target.log"), "7", "3", disk.toString(),
                        "-i", rig.targetIf(0), "-i", rig.targetIf(1)))
                    {
                        results.add(measure(rig, "aoe target", cached, disk, nics, seconds));
                        t.terminate(Duration.ofSeconds(10));
                        System.out.println(t.log().lines().filter(l -> l.contains("stopped")).findFirst().orElse("(no stats)"));
                    }
                    Files.deleteIfExists(dir.resolve("target.log"));
                }
            }
        }
        finally
        {
            Files.deleteIfExists(disk);
            Files.deleteIfExists(dir.resolve("target.log"));
            Files.deleteIfExists(dir);
        }
        System.out.println();
        System.out.println("4 KiB random reads, QD " + DEPTH + ", " + seconds + " s each, MTU 1500, 1 GiB file (cached: in the page "
            + "cache; uncached: its cache dropped before each run), " + Runtime.getRuntime().availableProcessors()
            + " CPUs shared by initiator and target:");
        results.forEach(System.out::println);
    }

    private static void fill(final Path disk) throws IOException
    {
        try (RandomAccessFile raf = new RandomAccessFile(disk.toFile(), "rw"))
        {
            final byte[] chunk = new byte[1 << 20];
            final SplittableRandom random = new SplittableRandom(1);
            for (long pos = 0; pos < FILE_BYTES; pos += chunk.length)
            {
                for (int i = 0; i < chunk.length; i += 8)
                {
                    final long v = random.nextLong();
                    for (int k = 0; k < 8; k++)
                    {
                        chunk[i + k] = (byte)(v >>> (8 * k));
                    }
                }
                raf.write(chunk);
            }
            raf.getFD().sync();
        }
    }

    /** Drops the file's pages from the page cache (GNU dd: count=0 with iflag=nocache advises the whole file away). */
    private static void dropCache(final Path disk) throws IOException, InterruptedException
    {
        final Process dd = new ProcessBuilder("dd", "if=" + disk, "iflag=nocache", "count=0", "status=none").inheritIO().start();
        if (dd.waitFor() != 0)
        {
            throw new IllegalStateException("dd could not drop the cache of " + disk);
        }
    }

    /** Reads the whole file once, so it is in the page cache. */
    private static void warmCache(final Path disk) throws IOException
    {
        try (var in = Files.newInputStream(disk))
        {
            in.transferTo(java.io.OutputStream.nullOutputStream());
        }
    }

    private static Result measure(final VethRig rig, final String name, final boolean cached, final Path disk, final int nics,
        final int seconds) throws Exception
    {
        final List<String> ports = nics == 1 ? List.of(rig.initiatorIf(0)) : List.of(rig.initiatorIf(0), rig.initiatorIf(1));
        try (Initiator initiator = Initiator.open("afpacket", ports, Duration.ZERO))
        {
            final AoeDevice d = initiator.open(E7_3, DeviceOptions.defaults());
            final long deadline = System.nanoTime() + TimeUnit.SECONDS.toNanos(5);
            while (d.pathStats().size() < nics && System.nanoTime() < deadline)
            {
                initiator.queryConfig();
                Thread.sleep(50);
            }
            if (d.pathStats().size() != nics)
            {
                throw new IllegalStateException(name + ": expected " + nics + " paths, got " + d.pathStats());
            }
            run(d, 2);  // warm-up: JIT on both sides, windows opened
            if (cached)
            {
                warmCache(disk);
            }
            else
            {
                dropCache(disk);
            }
            final long framesBefore = frames(d);
            final long retransmitsBefore = d.pathStats().stream().mapToLong(PathStats::retransmits).sum();
            final long start = System.nanoTime();
            final Histogram latency = run(d, seconds);
            final double elapsed = (System.nanoTime() - start) / 1e9;
            final Result r = new Result(name, cached, nics, latency.getTotalCount() / elapsed, (frames(d) - framesBefore) / elapsed,
                latency.getValueAtPercentile(50) / 1000.0, latency.getValueAtPercentile(99) / 1000.0,
                d.pathStats().stream().mapToLong(PathStats::retransmits).sum() - retransmitsBefore);
            System.out.println(r + "   " + d.pathStats());
            return r;
        }
    }

    private static long frames(final AoeDevice d)
    {
        return d.pathStats().stream().mapToLong(PathStats::framesReceived).sum();
    }

    /** Keeps {@value #DEPTH} random 4 KiB reads in flight for {@code seconds}; returns their latencies in ns. */
    private static Histogram run(final AoeDevice d, final int seconds) throws InterruptedException
    {
        final Histogram latency = new Histogram(TimeUnit.SECONDS.toNanos(10), 3);
        final long blocks = d.size() / BLOCK;
        final long end = System.nanoTime() + TimeUnit.SECONDS.toNanos(seconds);
        final CountDownLatch drained = new CountDownLatch(DEPTH);
        final AtomicLong errors = new AtomicLong();
        final SplittableRandom random = new SplittableRandom(seconds);
        final SplittableRandom first = new SplittableRandom(-seconds);
        for (int i = 0; i < DEPTH; i++)
        {
            final ByteBuffer buffer = ByteBuffer.allocateDirect(BLOCK);
            final long[] issued = new long[1];
            final IoCallback[] callback = new IoCallback[1];
            callback[0] = error ->
            {
                // Callbacks run on the device's engine thread, one at a time: the histogram and random need no lock.
                final long now = System.nanoTime();
                if (error != null)
                {
                    errors.incrementAndGet();
                }
                else
                {
                    latency.recordValue(Math.min(now - issued[0], latency.getHighestTrackableValue()));
                }
                if (now < end)
                {
                    issued[0] = now;
                    d.read(random.nextLong(blocks) * BLOCK, buffer.clear(), callback[0]);
                }
                else
                {
                    drained.countDown();
                }
            };
            issued[0] = System.nanoTime();
            d.read(first.nextLong(blocks) * BLOCK, buffer, callback[0]);
        }
        if (!drained.await(seconds + 60L, TimeUnit.SECONDS))
        {
            throw new IllegalStateException("reads did not drain");
        }
        if (errors.get() > 0)
        {
            throw new IllegalStateException(errors.get() + " reads failed");
        }
        return latency;
    }
}
