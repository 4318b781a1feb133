package org.aoemp.initiator;

import java.util.concurrent.atomic.AtomicLongArray;

/**
 * The round-trip times of one path's replies in fixed buckets, for monitoring: a histogram
 * rather than the estimator's smoothed SRTT, so that a scraper sees the spread (a path whose
 * replies are mostly fast but sometimes take 50 ms looks alike to SRTT and different here).
 *
 * <p>Buckets (upper bounds, seconds): {@link #UPPER_BOUNDS_SECONDS}, the last +Inf; from 25 µs
 * (a reply from the page cache over a LAN) to 2.5 s (past the RTO ceiling).
 *
 * <p>Threading: one writer, the device's engine thread ({@link #record}, once per reply: a
 * scan of at most 16 bounds and two ordered stores, no allocation, no lock); any
 * thread reads a {@link #snapshot}, which may be one sample behind in one bucket or the sum.
 */
public final class RttHistogram
{
    /** Bucket upper bounds in seconds, ascending, the last +Inf (Prometheus' {@code le}). */
    static final double[] UPPER_BOUNDS_SECONDS = {
        25e-6, 50e-6, 100e-6, 250e-6, 500e-6, 1e-3, 2.5e-3, 5e-3, 10e-3, 25e-3, 50e-3, 100e-3, 250e-3, 500e-3, 1, 2.5,
        Double.POSITIVE_INFINITY};

    private static final long[] UPPER_BOUNDS_NANOS = new long[UPPER_BOUNDS_SECONDS.length - 1];

    static
    {
        for (int i = 0; i < UPPER_BOUNDS_NANOS.length; i++)
        {
            UPPER_BOUNDS_NANOS[i] = Math.round(UPPER_BOUNDS_SECONDS[i] * 1e9);
        }
    }

    private final AtomicLongArray counts = new AtomicLongArray(UPPER_BOUNDS_SECONDS.length);
    private volatile long sumNanos;

    /** Engine thread: one reply that took {@code rttNanos}. */
    void record(final long rttNanos)
    {
        int i = 0;
        while (i < UPPER_BOUNDS_NANOS.length && rttNanos > UPPER_BOUNDS_NANOS[i])
        {
            i++;
        }
        counts.lazySet(i, counts.get(i) + 1);  // single writer: an ordered store is enough
        sumNanos = sumNanos + rttNanos;
    }

    /** The counts now; any thread. */
    public Snapshot snapshot()
    {
        final long[] c = new long[counts.length()];
        for (int i = 0; i < c.length; i++)
        {
            c[i] = counts.get(i);
        }
        return new Snapshot(UPPER_BOUNDS_SECONDS.clone(), c, sumNanos / 1e9);
    }

    /**
     * One reading.
     *
     * @param upperBoundsSeconds each bucket's upper bound, ascending, the last +Inf
     * @param counts             replies per bucket (not cumulative)
     * @param sumSeconds         the sum of every recorded RTT
     */
    public record Snapshot(double[] upperBoundsSeconds, long[] counts, double sumSeconds)
    {
        /** Replies recorded in all. */
        public long count()
        {
            long n = 0;
            for (final long c : counts)
            {
                n += c;
            }
            return n;
        }
    }
}
