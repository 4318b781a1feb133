package org.aoemp.bench;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertNotNull;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.io.PrintWriter;
import java.io.StringWriter;
import java.nio.ByteBuffer;
import java.time.Duration;
import java.util.List;
import java.util.Map;
import java.util.concurrent.ExecutorService;
import java.util.concurrent.Executors;

import org.aoemp.block.MemoryBlockDevice;
import org.aoemp.util.JsonText;
import org.junit.jupiter.api.Test;

/** The engine against a memory disk: counts, JSON consistency, verify, both loops. */
class BenchRunnerTest
{
    private static BenchConfig config(final BenchConfig.Mode mode, final int qd, final long rate, final boolean verify)
    {
        return new BenchConfig(mode, 50, 4096, qd, Duration.ofMillis(1500), Duration.ofMillis(300), 0, 1 << 20, rate, verify, 5);
    }

    @SuppressWarnings("unchecked")
    @Test
    void closedLoopJsonIsConsistentWithItself() throws Exception
    {
        final ExecutorService completions = Executors.newFixedThreadPool(2);
        try (MemoryBlockDevice disk = new MemoryBlockDevice("mem", 4 << 20, false, completions))
        {
            final StringWriter progress = new StringWriter();
            final BenchResult r = new BenchRunner(disk, config(BenchConfig.Mode.RANDRW, 8, 0, true))
                .sink(new ProgressPrinter(new PrintWriter(progress))).run();
            assertTrue(r.ok(), TextSummary.text(r));
            final Map<String, Object> json = (Map<String, Object>)JsonText.parse(JsonSummary.json(r));
            final long ops = (Long)json.get("ops");
            assertTrue(ops > 100, "ops " + ops);
            assertEquals(ops, (Long)json.get("reads") + (Long)json.get("writes"));
            final double seconds = ((Number)json.get("measured_s")).doubleValue();
            assertEquals(1.5, seconds, 0.001, "the measured window is the duration");
            assertEquals(ops / seconds, ((Number)json.get("iops")).doubleValue(), ops / seconds * 0.01 + 1);
            long sum = 0;
            double previousEnd = 0;
            for (final Object o : (List<Object>)json.get("intervals"))
            {
                final Map<String, Object> i = (Map<String, Object>)o;
                sum += (Long)i.get("ops");
                assertEquals(previousEnd, ((Number)i.get("start_s")).doubleValue(), 0.002, "intervals are contiguous");
                previousEnd = ((Number)i.get("end_s")).doubleValue();
            }
            assertEquals(ops, sum, "interval counts add up to the total");
            assertEquals(seconds + ((Number)json.get("drain_s")).doubleValue(), previousEnd, 0.002, "the last interval ends at the last completion");
            final Map<String, Object> lat = (Map<String, Object>)json.get("latency_us");
            double last = 0;
            for (final String k : List.of("min", "p50", "p90", "p99", "p99.9", "p99.99", "max"))
            {
                final double v = ((Number)lat.get(k)).doubleValue();
                assertTrue(v >= last, k + " " + v + " < " + last);
                last = v;
            }
            final Map<String, Object> verify = (Map<String, Object>)json.get("verify");
            assertEquals(0L, verify.get("bad_sectors"));
            assertTrue((Long)verify.get("sectors_checked") > 0);
            assertTrue(progress.toString().contains("IOPS"), progress.toString());
            assertTrue(progress.toString().lines().count() >= 2, progress.toString());
        }
        finally
        {
            completions.shutdownNow();
        }
    }

    @Test
    void inlineCompletionsNeitherRecurseNorHang() throws Exception
    {
        try (MemoryBlockDevice disk = new MemoryBlockDevice("mem", 4 << 20))
        {
            final BenchResult r = new BenchRunner(disk, config(BenchConfig.Mode.READ, 4, 0, false)).run();
            assertTrue(r.ok(), TextSummary.text(r));
            assertTrue(r.ops() > 1000, "ops " + r.ops());
        }
    }

    @Test
    void openLoopIssuesAtTheRate() throws Exception
    {
        try (MemoryBlockDevice disk = new MemoryBlockDevice("mem", 4 << 20))
        {
            final BenchResult r = new BenchRunner(disk, config(BenchConfig.Mode.RANDREAD, 4, 2000, false)).run();
            assertTrue(r.ok(), TextSummary.text(r));
            // exactly the requests due in the 1.5 s window at 2000/s
            assertEquals(3000, r.ops(), 1);
            assertEquals(0, r.unissued());
        }
    }

    @Test
    void verifyReportsADamagedBlockAndTheRunFails() throws Exception
    {
        final ExecutorService completions = Executors.newFixedThreadPool(2);
        try (MemoryBlockDevice disk = new MemoryBlockDevice("mem", 4 << 20, false, completions))
        {
            final BenchConfig write = new BenchConfig(BenchConfig.Mode.WRITE, 0, 4096, 2, Duration.ofMillis(300), Duration.ZERO, 0, 64 * 1024,
                0, true, 1);
            assertTrue(new BenchRunner(disk, write).run().ok());
            final ByteBuffer junk = ByteBuffer.allocate(512);
            junk.put(10, (byte)1);
            disk.writeAsync(5 * 4096 + 1024, junk).get();
            final BenchConfig read = new BenchConfig(BenchConfig.Mode.READ, 0, 4096, 2, Duration.ofMillis(300), Duration.ZERO, 0, 64 * 1024,
                0, true, 1);
            final BenchResult r = new BenchRunner(disk, read).run();
            assertFalse(r.ok());
            assertTrue(r.badBlocks() > 0);
            assertEquals(r.badBlocks(), r.badSectors(), "one bad sector per pass over the damaged block");
            assertEquals(0, r.unwrittenSectors());
            assertNotNull(r.verifyMessages().getFirst());
            assertTrue(r.verifyMessages().getFirst().contains("block at " + 5 * 4096) && r.verifyMessages().getFirst().contains(
                "byte " + (5 * 4096 + 1024)), r.verifyMessages().getFirst());
        }
        finally
        {
            completions.shutdownNow();
        }
    }

    /** A device whose read throws on the scheduler's thread: the run fails with a message and ends, no thread dies silently. */
    @Test
    void openLoopSchedulerThatThrowsFailsTheRunAndEnds() throws Exception
    {
        try (MemoryBlockDevice disk = new MemoryBlockDevice("mem", 4 << 20))
        {
            final org.aoemp.block.BlockDevice throwing = new org.aoemp.block.BlockDevice()
            {
                @Override public long size() { return disk.size(); }
                @Override public int blockSize() { return disk.blockSize(); }
                @Override public int preferredIoSize() { return disk.preferredIoSize(); }
                @Override public boolean isReadOnly() { return false; }
                @Override public String name() { return "throwing"; }
                @Override public void read(final long offset, final ByteBuffer dst, final org.aoemp.block.IoCallback cb)
                {
                    throw new IllegalStateException("device broke");
                }
                @Override public void write(final long offset, final ByteBuffer src, final org.aoemp.block.IoCallback cb)
                {
                    disk.write(offset, src, cb);
                }
                @Override public void writeZeroes(final long offset, final long length, final org.aoemp.block.IoCallback cb)
                {
                    disk.writeZeroes(offset, length, cb);
                }
                @Override public void flush(final org.aoemp.block.IoCallback cb) { disk.flush(cb); }
                @Override public void close() { }
            };
            final BenchResult r = new BenchRunner(throwing, config(BenchConfig.Mode.RANDREAD, 4, 2000, false))
                .drainTimeout(java.util.concurrent.TimeUnit.SECONDS.toNanos(5)).run();
            assertFalse(r.ok(), "a device that throws fails the run");
            assertTrue(r.errors() >= 1);
            assertTrue(r.firstError().contains("open-loop scheduler failed") && r.firstError().contains("device broke"), r.firstError());
            assertFalse(Thread.getAllStackTraces().keySet().stream().anyMatch(t -> t.getName().equals("bench-scheduler") && t.isAlive()),
                "the scheduler agent ended");
        }
    }
}
