package org.aoemp.bench;

import java.io.IOException;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Locale;
import java.util.Map;
import java.util.TreeSet;

import org.HdrHistogram.Histogram;
import org.HdrHistogram.HistogramIterationValue;
import org.aoemp.util.Format;
import org.aoemp.util.JsonText;

/**
 * One self-contained HTML page for a run: the summary table, the latency-by-percentile plot,
 * throughput and p50/p99/max over time, and each path's frames per second and retransmits over
 * time. Plots are inline SVG drawn here; the data behind them is also embedded as JSON
 * ({@code <script type="application/json" id="bench-data">}). No external URL, no script to run:
 * the file opens offline, in a mail attachment, anywhere. The markup is well-formed XML.
 */
public final class HtmlReport
{
    private static final String[] COLORS = {"#1f77b4", "#d62728", "#2ca02c", "#ff7f0e", "#9467bd", "#8c564b"};
    private static final int W = 720;
    private static final int H = 300;
    private static final int LEFT = 70;
    private static final int RIGHT = 45;
    private static final int TOP = 30;
    private static final int BOTTOM = 45;
    /** Percentile curves stop here: 1 / (1 - p) is infinite at 100. */
    private static final double TOP_PERCENTILE = 99.9999;

    private HtmlReport()
    {
    }

    /** One line of a plot. */
    record Series(String name, double[] x, double[] y)
    {
    }

    public static void write(final BenchResult r, final Path file) throws IOException
    {
        Files.writeString(file, html(r), StandardCharsets.UTF_8);
    }

    public static String html(final BenchResult r)
    {
        final BenchConfig c = r.config();
        final List<Series> curves = new ArrayList<>();
        final Map<String, Object> curveData = new LinkedHashMap<>();
        if (c.mode().reads())
        {
            curves.add(curve("read", r.reads()));
        }
        if (c.mode().writes())
        {
            curves.add(curve("write", r.writes()));
        }
        for (final Series s : curves)
        {
            final List<Object> points = new ArrayList<>();
            for (int i = 0; i < s.x().length; i++)
            {
                points.add(List.of(100 - 100 / Math.pow(10, s.x()[i]), s.y()[i] * 1e3));
            }
            curveData.put(s.name(), points);
        }

        final List<IntervalStats> iv = r.intervals();
        final double[] t = new double[iv.size()];
        final double[] iops = new double[iv.size()];
        final double[] mbps = new double[iv.size()];
        final double[] p50 = new double[iv.size()];
        final double[] p99 = new double[iv.size()];
        final double[] max = new double[iv.size()];
        for (int i = 0; i < iv.size(); i++)
        {
            final IntervalStats s = iv.get(i);
            t[i] = s.endSeconds();
            iops[i] = s.iops();
            mbps[i] = s.megabytesPerSecond();
            p50[i] = s.p50Nanos() / 1e6;
            p99[i] = s.p99Nanos() / 1e6;
            max[i] = s.maxNanos() / 1e6;
        }
        final TreeSet<String> pathNames = new TreeSet<>();
        iv.forEach(s -> s.paths().forEach(p -> pathNames.add(p.name())));
        final List<Series> frames = new ArrayList<>();
        final List<Series> retransmits = new ArrayList<>();
        for (final String name : pathNames)
        {
            final double[] f = new double[iv.size()];
            final double[] x = new double[iv.size()];
            for (int i = 0; i < iv.size(); i++)
            {
                final IntervalStats s = iv.get(i);
                for (final PathSample p : s.paths())
                {
                    if (p.name().equals(name))
                    {
                        f[i] += s.seconds() > 0 ? p.framesSent() / s.seconds() : 0;
                        x[i] += p.retransmits();
                    }
                }
            }
            frames.add(new Series(name, t, f));
            retransmits.add(new Series(name, t, x));
        }

        final Map<String, Object> data = JsonSummary.map(r);
        data.put("percentile_curve_us", curveData);

        final StringBuilder b = new StringBuilder(64 * 1024);
        final String title = "aoe bench " + c.mode().label() + " " + Format.bytes(c.blockSize()) + " qd " + c.queueDepth() + " on "
            + r.device();
        b.append("<!DOCTYPE html>\n<html lang=\"en\">\n<head>\n<meta charset=\"utf-8\"/>\n<title>").append(esc(title)).append("</title>\n");
        b.append("<style>body{font-family:sans-serif;margin:2em;color:#222}table{border-collapse:collapse;margin:1em 0}"
            + "td,th{border:1px solid #bbb;padding:2px 8px;text-align:right}th{background:#eee}pre{background:#f6f6f6;padding:1em}"
            + "svg{display:block;margin:1em 0;background:#fff;border:1px solid #ddd}</style>\n</head>\n<body>\n");
        b.append("<h1>").append(esc(title)).append("</h1>\n");
        b.append("<pre>").append(esc(TextSummary.text(r))).append("</pre>\n");
        b.append("<h2>Latency by percentile</h2>\n");
        b.append(plot("latency by percentile (ms)", "percentile", "ms", curves, true));
        b.append("<h2>Throughput over time</h2>\n");
        b.append(plot("IOPS per interval", "seconds", "IOPS", List.of(new Series("IOPS", t, iops)), false));
        b.append(plot("MB/s per interval", "seconds", "MB/s", List.of(new Series("MB/s", t, mbps)), false));
        b.append("<h2>Latency over time</h2>\n");
        b.append(plot("p50, p99 and max per interval (ms)", "seconds", "ms",
            List.of(new Series("p50", t, p50), new Series("p99", t, p99), new Series("max", t, max)), false));
        if (!pathNames.isEmpty())
        {
            b.append("<h2>Per path</h2>\n");
            b.append(plot("frames sent per second", "seconds", "frames/s", frames, false));
            b.append(plot("retransmits per interval", "seconds", "retransmits", retransmits, false));
        }
        b.append("<script type=\"application/json\" id=\"bench-data\">\n").append(JsonText.write(data)).append("\n</script>\n");
        b.append("</body>\n</html>\n");
        return b.toString();
    }

    /** The latency (ms) against log10(1 / (1 - p)), the usual HdrHistogram percentile plot. */
    static Series curve(final String name, final Histogram h)
    {
        final List<double[]> pts = new ArrayList<>();
        if (h.getTotalCount() > 0)
        {
            for (final HistogramIterationValue v : h.percentiles(5))
            {
                final double p = Math.min(v.getPercentileLevelIteratedTo(), TOP_PERCENTILE);
                pts.add(new double[] {Math.log10(100 / (100 - p)), v.getValueIteratedTo() / 1e6});
                if (p >= TOP_PERCENTILE)
                {
                    break;
                }
            }
        }
        final double[] x = new double[pts.size()];
        final double[] y = new double[pts.size()];
        for (int i = 0; i < pts.size(); i++)
        {
            x[i] = pts.get(i)[0];
            y[i] = pts.get(i)[1];
        }
        return new Series(name, x, y);
    }

    static String plot(final String title, final String xLabel, final String yLabel, final List<Series> series, final boolean percentileAxis)
    {
        double x0 = Double.MAX_VALUE;
        double x1 = -Double.MAX_VALUE;
        double y1 = 0;
        for (final Series s : series)
        {
            for (int i = 0; i < s.x().length; i++)
            {
                x0 = Math.min(x0, s.x()[i]);
                x1 = Math.max(x1, s.x()[i]);
                y1 = Math.max(y1, s.y()[i]);
            }
        }
        if (x0 > x1)
        {
            x0 = 0;
            x1 = 1;
        }
        if (percentileAxis)
        {
            x0 = 0;
            x1 = Math.max(2, Math.ceil(x1));
        }
        else
        {
            x0 = Math.min(0, x0);
        }
        if (x1 <= x0)
        {
            x1 = x0 + 1;
        }
        y1 = niceCeiling(y1);
        final double pw = W - LEFT - RIGHT;
        final double ph = H - TOP - BOTTOM;
        final double fx0 = x0;
        final double fx1 = x1;
        final double fy1 = y1;
        final java.util.function.DoubleUnaryOperator sx = x -> LEFT + (x - fx0) / (fx1 - fx0) * pw;
        final java.util.function.DoubleUnaryOperator sy = y -> TOP + ph - y / fy1 * ph;
        final StringBuilder b = new StringBuilder();
        b.append(String.format(Locale.ROOT, "<svg xmlns=\"http://www.w3.org/2000/svg\" width=\"%d\" height=\"%d\" viewBox=\"0 0 %d %d\">%n",
            W, H, W, H));
        b.append(String.format(Locale.ROOT, "<title>%s</title>%n", esc(title)));
        b.append(String.format(Locale.ROOT, "<text x=\"%d\" y=\"18\" font-size=\"14\">%s</text>%n", LEFT, esc(title)));
        // axes, grid and ticks
        b.append(String.format(Locale.ROOT, "<rect x=\"%d\" y=\"%d\" width=\"%.0f\" height=\"%.0f\" fill=\"none\" stroke=\"#888\"/>%n", LEFT,
            TOP, pw, ph));
        for (int i = 0; i <= 4; i++)
        {
            final double y = y1 * i / 4;
            final double py = sy.applyAsDouble(y);
            b.append(String.format(Locale.ROOT, "<line x1=\"%d\" x2=\"%.1f\" y1=\"%.1f\" y2=\"%.1f\" stroke=\"#eee\"/>%n", LEFT, LEFT + pw, py, py));
            b.append(String.format(Locale.ROOT, "<text x=\"%d\" y=\"%.1f\" font-size=\"11\" text-anchor=\"end\">%s</text>%n", LEFT - 4,
                py + 4, axisNumber(y)));
        }
        final int xTicks = percentileAxis ? (int)x1 : 5;
        for (int i = 0; i <= xTicks; i++)
        {
            final double x = x0 + (x1 - x0) * i / xTicks;
            final double px = sx.applyAsDouble(x);
            final String label = percentileAxis ? percentileLabel(i) : axisNumber(x);
            b.append(String.format(Locale.ROOT, "<text x=\"%.1f\" y=\"%.1f\" font-size=\"11\" text-anchor=\"middle\">%s</text>%n", px,
                TOP + ph + 15, label));
        }
        b.append(String.format(Locale.ROOT, "<text x=\"%.1f\" y=\"%d\" font-size=\"12\" text-anchor=\"middle\">%s</text>%n", LEFT + pw / 2,
            H - 8, esc(xLabel)));
        b.append(String.format(Locale.ROOT, "<text x=\"14\" y=\"%.1f\" font-size=\"12\" text-anchor=\"middle\" transform=\"rotate(-90 14 %.1f)\">%s</text>%n",
            TOP + ph / 2, TOP + ph / 2, esc(yLabel)));
        for (int k = 0; k < series.size(); k++)
        {
            final Series s = series.get(k);
            final String color = COLORS[k % COLORS.length];
            b.append("<polyline fill=\"none\" stroke-width=\"1.5\" stroke=\"").append(color).append("\" data-series=\"").append(esc(s.name()))
                .append("\" points=\"");
            for (int i = 0; i < s.x().length; i++)
            {
                b.append(String.format(Locale.ROOT, "%s%.1f,%.1f", i == 0 ? "" : " ", sx.applyAsDouble(s.x()[i]), sy.applyAsDouble(s.y()[i])));
            }
            b.append("\"/>\n");
            b.append(String.format(Locale.ROOT, "<text x=\"%.1f\" y=\"%d\" font-size=\"12\" fill=\"%s\">%s</text>%n", LEFT + pw - 150 + 0.0,
                TOP + 14 + 14 * k, color, esc(s.name())));
        }
        b.append("</svg>\n");
        return b.toString();
    }

    private static String percentileLabel(final int nines)
    {
        return switch (nines)
        {
            case 0 -> "0%";
            case 1 -> "90%";
            case 2 -> "99%";
            default -> "99." + "9".repeat(nines - 2) + "%";
        };
    }

    private static double niceCeiling(final double v)
    {
        if (v <= 0)
        {
            return 1;
        }
        final double mag = Math.pow(10, Math.floor(Math.log10(v)));
        for (final double m : new double[] {1, 2, 2.5, 5, 10})
        {
            if (m * mag >= v)
            {
                return m * mag;
            }
        }
        return 10 * mag;
    }

    private static String axisNumber(final double v)
    {
        if (v == 0)
        {
            return "0";
        }
        if (Math.abs(v) >= 10_000)
        {
            return Format.count(v);
        }
        return new java.math.BigDecimal(v).round(new java.math.MathContext(3)).stripTrailingZeros().toPlainString();
    }

    static String esc(final String s)
    {
        return s.replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;").replace("\"", "&quot;");
    }
}
