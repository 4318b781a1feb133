package org.aoemp.bench;

import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;

import org.HdrHistogram.Histogram;
import org.aoemp.util.JsonText;

/**
 * The machine-readable summary of a run ({@code aoe bench --json}). Latencies are in
 * microseconds; counts cover the measured time only; {@code intervals[].ops} add up to {@code ops}.
 */
public final class JsonSummary
{
    /** The percentiles reported, in order; the keys are these numbers as text ("p99.9"). */
    public static final double[] PERCENTILES = {50, 90, 99, 99.9, 99.99};

    private JsonSummary()
    {
    }

    public static String json(final BenchResult r)
    {
        return JsonText.write(map(r)) + "\n";
    }

    public static Map<String, Object> map(final BenchResult r)
    {
        final BenchConfig c = r.config();
        final Map<String, Object> m = new LinkedHashMap<>();
        m.put("device", r.device());
        m.put("device_bytes", r.deviceSize());
        m.put("rw", c.mode().label());
        m.put("mix_read_percent", c.mode() == BenchConfig.Mode.RANDRW ? c.readPercent() : c.mode().reads() ? 100 : 0);
        m.put("block_size", c.blockSize());
        m.put("queue_depth", c.queueDepth());
        m.put("loop", c.openLoop() ? "open" : "closed");
        m.put("rate_iops", c.rateIops());
        m.put("region_offset", r.regionOffset());
        m.put("region_bytes", r.regionLength());
        m.put("warmup_s", c.warmup().toNanos() / 1e9);
        m.put("duration_s", c.duration().toNanos() / 1e9);
        m.put("measured_s", r.seconds());
        m.put("drain_s", r.drainNanos() / 1e9);
        m.put("ops", r.ops());
        m.put("reads", r.reads().getTotalCount());
        m.put("writes", r.writes().getTotalCount());
        m.put("bytes", r.bytes());
        m.put("iops", r.iops());
        m.put("mb_per_s", r.megabytesPerSecond());
        m.put("latency_us", latency(r.all()));
        m.put("read_latency_us", latency(r.reads()));
        m.put("write_latency_us", latency(r.writes()));
        if (c.openLoop())
        {
            m.put("service_latency_us", latency(r.service()));
        }
        m.put("errors", r.errors());
        m.put("first_error", r.firstError());
        m.put("incomplete", r.incomplete());
        m.put("unissued", r.unissued());
        if (c.verify())
        {
            final Map<String, Object> v = new LinkedHashMap<>();
            v.put("sectors_checked", r.verifiedSectors());
            v.put("sectors_unwritten", r.unwrittenSectors());
            v.put("bad_sectors", r.badSectors());
            v.put("bad_blocks", r.badBlocks());
            v.put("bad_blocks_distinct", r.distinctBadBlocks());
            v.put("messages", r.verifyMessages());
            m.put("verify", v);
        }
        m.put("ok", r.ok());
        final List<Object> paths = new ArrayList<>();
        for (final PathSample p : r.paths())
        {
            paths.add(path(p));
        }
        m.put("paths", paths);
        final List<Object> intervals = new ArrayList<>();
        for (final IntervalStats i : r.intervals())
        {
            final Map<String, Object> x = new LinkedHashMap<>();
            x.put("start_s", i.startSeconds());
            x.put("end_s", i.endSeconds());
            x.put("ops", i.ops());
            x.put("reads", i.reads());
            x.put("writes", i.writes());
            x.put("iops", i.iops());
            x.put("mb_per_s", i.megabytesPerSecond());
            x.put("p50_us", i.p50Nanos() / 1e3);
            x.put("p99_us", i.p99Nanos() / 1e3);
            x.put("max_us", i.maxNanos() / 1e3);
            final List<Object> ps = new ArrayList<>();
            for (final PathSample p : i.paths())
            {
                ps.add(path(p));
            }
            x.put("paths", ps);
            intervals.add(x);
        }
        m.put("intervals", intervals);
        return m;
    }

    private static Map<String, Object> path(final PathSample p)
    {
        final Map<String, Object> x = new LinkedHashMap<>();
        x.put("interface", p.name());
        x.put("remote_mac", p.remoteMac());
        x.put("state", p.state());
        x.put("srtt_us", p.srttMicros());
        x.put("rto_us", p.rtoMicros());
        x.put("frames_sent", p.framesSent());
        x.put("frames_received", p.framesReceived());
        x.put("retransmits", p.retransmits());
        x.put("timeouts", p.timeouts());
        return x;
    }

    /** count, min, mean, the {@link #PERCENTILES} and max, in microseconds (all 0 when empty). */
    static Map<String, Object> latency(final Histogram h)
    {
        final Map<String, Object> m = new LinkedHashMap<>();
        final boolean empty = h.getTotalCount() == 0;
        m.put("count", h.getTotalCount());
        m.put("min", empty ? 0.0 : h.getMinValue() / 1e3);
        m.put("mean", empty ? 0.0 : h.getMean() / 1e3);
        for (final double p : PERCENTILES)
        {
            m.put(percentileKey(p), empty ? 0.0 : h.getValueAtPercentile(p) / 1e3);
        }
        m.put("max", empty ? 0.0 : h.getMaxValue() / 1e3);
        return m;
    }

    public static String percentileKey(final double p)
    {
        return "p" + (p == Math.rint(p) ? String.valueOf((long)p) : String.valueOf(p));
    }
}
