package org.aoemp.bench;

import java.util.List;

import org.HdrHistogram.Histogram;

/**
 * What a run measured. Histograms hold latencies in nanoseconds, measured from each request's
 * start (closed loop) or intended start (open loop), over the measured time only.
 *
 * @param measuredNanos     from the end of the warm-up to the last completion counted
 * @param errors            requests that failed (the run stops at the first)
 * @param firstError        the first failure's message, or null
 * @param incomplete        requests still in flight when the run gave up waiting for them
 * @param verifiedSectors   sectors read and checked ({@code --verify})
 * @param unwrittenSectors  of those, sectors that read as zeros and were never written
 * @param badSectors        sectors that failed the check
 * @param badBlocks         requests with at least one bad sector
 * @param verifyMessages    the first few failures, one sentence each
 * @param paths             per-path totals over the measured time (empty if not an AoE device)
 */
public record BenchResult(
    BenchConfig config,
    String device,
    long deviceSize,
    long regionOffset,
    long regionLength,
    long measuredNanos,
    Histogram reads,
    Histogram writes,
    Histogram all,
    long errors,
    String firstError,
    long incomplete,
    long verifiedSectors,
    long unwrittenSectors,
    long badSectors,
    long badBlocks,
    List<String> verifyMessages,
    List<IntervalStats> intervals,
    List<PathSample> paths)
{
    public long ops()
    {
        return all.getTotalCount();
    }

    public double seconds()
    {
        return measuredNanos / 1e9;
    }

    public double iops()
    {
        return measuredNanos > 0 ? ops() / seconds() : 0;
    }

    public long bytes()
    {
        return ops() * config.blockSize();
    }

    public double megabytesPerSecond()
    {
        return measuredNanos > 0 ? bytes() / seconds() / 1e6 : 0;
    }

    /** No I/O error, nothing left in flight, no verify failure. */
    public boolean ok()
    {
        return errors == 0 && incomplete == 0 && badSectors == 0;
    }
}
