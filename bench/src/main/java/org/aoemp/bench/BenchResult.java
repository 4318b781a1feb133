package org.aoemp.bench;

import java.util.List;

import org.HdrHistogram.Histogram;

/**
 * What a run measured. Histograms hold latencies in nanoseconds, measured from each request's
 * start (closed loop) or intended start (open loop), over the measured time only.
 *
 * @param measuredNanos     the measured window: requests that started (closed loop) or were due (open loop)
 *                          in it are counted, wherever they complete; the configured duration
 *                          unless the run stopped early
 * @param drainNanos        from the end of the window to the last completion
 * @param service           open loop: from the actual issue to completion (without the wait for a
 *                          free slot or a late scheduler); closed loop: empty (the same as {@code all})
 * @param errors            requests that failed (the run stops at the first)
 * @param firstError        the first failure's message, or null
 * @param incomplete        requests still in flight when the run gave up waiting for them
 * @param unissued          open loop: requests due in the window that were never issued (the
 *                          target fell so far behind that the backlog outlived the drain timeout)
 * @param verifiedSectors   sectors read and checked ({@code --verify})
 * @param unwrittenSectors  of those, sectors that read as zeros and were never written
 * @param badSectors        sectors that failed the check
 * @param badBlocks         reads with at least one bad sector (a bad block read twice counts twice)
 * @param distinctBadBlocks different blocks found bad
 * @param verifyMessages    one sentence for each of the first few distinct bad blocks
 * @param paths             per-path totals over the measured time (empty if not an AoE device)
 */
public record BenchResult(
    BenchConfig config,
    String device,
    long deviceSize,
    long regionOffset,
    long regionLength,
    long measuredNanos,
    long drainNanos,
    Histogram reads,
    Histogram writes,
    Histogram all,
    Histogram service,
    long errors,
    String firstError,
    long incomplete,
    long unissued,
    long verifiedSectors,
    long unwrittenSectors,
    long badSectors,
    long badBlocks,
    long distinctBadBlocks,
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

    /** No I/O error, nothing left in flight or unissued, no verify failure. */
    public boolean ok()
    {
        return errors == 0 && incomplete == 0 && unissued == 0 && badSectors == 0;
    }
}
