package org.aoemp.bench;

import org.HdrHistogram.Histogram;

/** Told about each interval as it ends, on the benchmark's reporting thread (the one that called {@link BenchRunner#run}). */
public interface IntervalSink
{
    /**
     * @param stats      the interval's figures
     * @param reads      latencies (ns) of the reads completed in the interval; valid during the call only
     * @param writes     latencies (ns) of the writes completed in the interval; valid during the call only
     * @param cumulative every latency of the phase so far (warm-up or measurement)
     */
    void interval(IntervalStats stats, Histogram reads, Histogram writes, Histogram cumulative);
}
