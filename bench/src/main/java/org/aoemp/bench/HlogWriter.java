package org.aoemp.bench;

import java.io.FileNotFoundException;
import java.io.PrintStream;
import java.nio.file.Path;

import org.HdrHistogram.Histogram;
import org.HdrHistogram.HistogramLogWriter;

/**
 * Writes each measured interval's latency histograms (nanoseconds, one per op kind, tagged
 * {@code read} / {@code write}) in HdrHistogram's interval log format ({@code .hlog}), readable
 * with {@code HistogramLogReader}, HistogramLogAnalyzer or {@code HistogramLogProcessor}.
 * Warm-up intervals are left out, so the log adds up to the summary.
 */
public final class HlogWriter implements IntervalSink, AutoCloseable
{
    private final PrintStream stream;
    private final HistogramLogWriter log;
    private final boolean reads;
    private final boolean writes;

    public HlogWriter(final Path file, final BenchConfig config, final String device) throws FileNotFoundException
    {
        this.stream = new PrintStream(file.toFile());
        this.log = new HistogramLogWriter(stream);
        this.reads = config.mode().reads();
        this.writes = config.mode().writes();
        final long now = System.currentTimeMillis();
        log.outputComment("aoe bench " + config.mode().label() + " bs=" + config.blockSize() + " qd=" + config.queueDepth()
            + (config.openLoop() ? " rate=" + config.rateIops() : "") + " on " + device + "; values in nanoseconds");
        log.outputLogFormatVersion();
        log.outputStartTime(now);
        log.setBaseTime(now);
        log.outputBaseTime(now);
        log.outputLegend();
    }

    @Override
    public void interval(final IntervalStats stats, final Histogram readHistogram, final Histogram writeHistogram, final Histogram cumulative)
    {
        if (stats.warmup())
        {
            return;
        }
        if (reads)
        {
            log.outputIntervalHistogram(readHistogram);
        }
        if (writes)
        {
            log.outputIntervalHistogram(writeHistogram);
        }
        stream.flush();
    }

    @Override
    public void close()
    {
        stream.close();
    }
}
