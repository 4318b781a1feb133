package org.aoemp.bench;

import java.io.PrintWriter;
import java.util.Locale;

import org.HdrHistogram.Histogram;
import org.aoemp.util.Format;

/**
 * One line per interval: IOPS and MB/s of the interval, p50/p99 of the phase so far, and each
 * path's frames per second and retransmits in the interval.
 *
 * <pre>
 * [warm  -1s]   9.8k IOPS  40.1 MB/s  p50 1.60ms p99 4.90ms | ini-a 5.1k fr/s 0 retx | ini-b 4.9k fr/s 0 retx
 * [       1s]  10.2k IOPS  41.8 MB/s  p50 1.55ms p99 4.20ms | ini-a 5.2k fr/s 0 retx | ini-b 5.0k fr/s 0 retx
 * </pre>
 */
public final class ProgressPrinter implements IntervalSink
{
    private final PrintWriter out;

    public ProgressPrinter(final PrintWriter out)
    {
        this.out = out;
    }

    @Override
    public void interval(final IntervalStats s, final Histogram reads, final Histogram writes, final Histogram cumulative)
    {
        out.println(line(s, cumulative));
        out.flush();
    }

    static String line(final IntervalStats s, final Histogram cumulative)
    {
        final StringBuilder b = new StringBuilder();
        // warm-up intervals count up to 0, where the measurement starts
        b.append(String.format(Locale.ROOT, "[%s %3.0fs] %7s IOPS %6.1f MB/s", s.warmup() ? "warm" : "    ", s.endSeconds(),
            Format.count(s.iops()), s.megabytesPerSecond()));
        if (cumulative.getTotalCount() > 0)
        {
            b.append("  p50 ").append(Format.latency(cumulative.getValueAtPercentile(50)))
                .append(" p99 ").append(Format.latency(cumulative.getValueAtPercentile(99)));
        }
        else
        {
            b.append("  p50 - p99 -");
        }
        for (final PathSample p : s.paths())
        {
            b.append(" | ").append(p.name()).append(' ').append(Format.count(s.seconds() > 0 ? p.framesSent() / s.seconds() : 0))
                .append(" fr/s ").append(p.retransmits()).append(" retx");
            if (!"UP".equals(p.state()))
            {
                b.append(' ').append(p.state());
            }
        }
        return b.toString();
    }
}
