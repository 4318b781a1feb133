package org.aoemp.bench;

import java.util.Locale;

import org.HdrHistogram.Histogram;
import org.aoemp.util.Format;

/** The human-readable end-of-run summary. */
public final class TextSummary
{
    private TextSummary()
    {
    }

    public static String text(final BenchResult r)
    {
        final BenchConfig c = r.config();
        final StringBuilder b = new StringBuilder();
        b.append(String.format(Locale.ROOT, "%s%s, %s blocks, queue depth %d, %s, on %s (region %d + %s)%n", c.mode().label(),
            c.mode() == BenchConfig.Mode.RANDRW ? " " + c.readPercent() + "% reads" : "", Format.bytes(c.blockSize()), c.queueDepth(),
            c.openLoop() ? "open loop at " + c.rateIops() + " IOPS (latency from intended start)" : "closed loop", r.device(),
            r.regionOffset(), Format.bytes(r.regionLength())));
        b.append(String.format(Locale.ROOT, "measured %.2f s after %.0f s warm-up: %d ops, %.0f IOPS, %.1f MB/s, %d errors%n", r.seconds(),
            c.warmup().toNanos() / 1e9, r.ops(), r.iops(), r.megabytesPerSecond(), r.errors()));
        if (r.firstError() != null)
        {
            b.append("first error: ").append(r.firstError()).append('\n');
        }
        if (r.incomplete() > 0)
        {
            b.append(r.incomplete()).append(" request(s) never completed\n");
        }
        if (r.unissued() > 0)
        {
            b.append(r.unissued()).append(" request(s) due in the window were never issued: the target fell too far behind --rate\n");
        }
        b.append(String.format(Locale.ROOT, "%-8s %9s %9s %9s %9s %9s %9s %9s %9s%n", "latency", "count", "min", "p50", "p90", "p99",
            "p99.9", "p99.99", "max"));
        if (c.mode().reads() && c.mode().writes())
        {
            row(b, "read", r.reads());
            row(b, "write", r.writes());
        }
        row(b, c.mode().writes() && c.mode().reads() ? "all" : c.mode().reads() ? "read" : "write", r.all());
        if (c.openLoop())
        {
            row(b, "service", r.service());
            b.append("(latency counts from each request's intended start; service from when it was actually issued)\n");
        }
        if (!r.paths().isEmpty())
        {
            b.append(String.format(Locale.ROOT, "%-8s %-17s %-8s %8s %8s %10s %10s %8s %8s%n", "path", "target MAC", "state", "srtt",
                "rto", "sent", "received", "retx", "timeouts"));
            for (final PathSample p : r.paths())
            {
                b.append(String.format(Locale.ROOT, "%-8s %-17s %-8s %8s %8s %10d %10d %8d %8d%n", p.name(), p.remoteMac(), p.state(),
                    Format.latency(p.srttMicros() * 1000), Format.latency(p.rtoMicros() * 1000), p.framesSent(), p.framesReceived(),
                    p.retransmits(), p.timeouts()));
            }
        }
        if (c.verify())
        {
            b.append(String.format(Locale.ROOT, "verify: %d sectors checked (%d never written), %d bad in %d block reads (%d distinct blocks)%n",
                r.verifiedSectors(), r.unwrittenSectors(), r.badSectors(), r.badBlocks(), r.distinctBadBlocks()));
            for (final String m : r.verifyMessages())
            {
                b.append("  ").append(m).append('\n');
            }
            if (r.distinctBadBlocks() > r.verifyMessages().size())
            {
                b.append("  ... and ").append(r.distinctBadBlocks() - r.verifyMessages().size()).append(" more bad blocks\n");
            }
        }
        return b.toString();
    }

    private static void row(final StringBuilder b, final String name, final Histogram h)
    {
        b.append(String.format(Locale.ROOT, "%-8s %9d", name, h.getTotalCount()));
        if (h.getTotalCount() == 0)
        {
            b.append('\n');
            return;
        }
        b.append(String.format(Locale.ROOT, " %9s", Format.latency(h.getMinValue())));
        for (final double p : JsonSummary.PERCENTILES)
        {
            b.append(String.format(Locale.ROOT, " %9s", Format.latency(h.getValueAtPercentile(p))));
        }
        b.append(String.format(Locale.ROOT, " %9s%n", Format.latency(h.getMaxValue())));
    }
}
