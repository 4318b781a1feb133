package org.aoemp.bench;

import java.util.List;

/**
 * One progress interval (about a second).
 *
 * @param startSeconds seconds since the measurement started (negative during warm-up)
 * @param endSeconds   end of the interval, same clock
 * @param warmup       the interval belongs to the warm-up and is not counted
 * @param reads        reads completed in the interval
 * @param writes       writes completed in the interval
 * @param p50Nanos     median latency of the interval's requests (0 if none completed)
 * @param p99Nanos     99th percentile of the interval
 * @param maxNanos     largest latency of the interval
 * @param paths        per-path deltas over the interval (empty when the device is not an AoE device)
 */
public record IntervalStats(double startSeconds, double endSeconds, boolean warmup, long reads, long writes, long bytes, long p50Nanos,
    long p99Nanos, long maxNanos, List<PathSample> paths)
{
    public long ops()
    {
        return reads + writes;
    }

    public double seconds()
    {
        return endSeconds - startSeconds;
    }

    public double iops()
    {
        return seconds() > 0 ? ops() / seconds() : 0;
    }

    public double megabytesPerSecond()
    {
        return seconds() > 0 ? bytes / seconds() / 1e6 : 0;
    }
}
