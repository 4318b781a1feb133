package org.aoemp.tools;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertNotNull;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.io.ByteArrayInputStream;
import java.io.FileInputStream;
import java.io.PrintWriter;
import java.io.RandomAccessFile;
import java.io.StringWriter;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import java.util.Random;
import java.util.Set;
import java.util.TreeSet;
import java.util.concurrent.ScheduledExecutorService;
import java.util.concurrent.ScheduledThreadPoolExecutor;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicLong;

import javax.xml.parsers.DocumentBuilderFactory;

import org.HdrHistogram.EncodableHistogram;
import org.HdrHistogram.Histogram;
import org.HdrHistogram.HistogramLogReader;
import org.aoemp.transport.MemoryHub;
import org.aoemp.util.JsonText;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;
import org.w3c.dom.Document;
import org.w3c.dom.Element;
import org.w3c.dom.NodeList;
import picocli.CommandLine;

/**
 * {@code aoe bench} against the embedded stack (target on a sparse file, two in-memory paths,
 * the multipath initiator), run in-process. Runs are 1–2 s each.
 */
class BenchCommandTest
{
    @TempDir
    Path dir;

    /** Exit code, stdout and stderr of one in-process run. */
    record Run(int exit, String out, String err)
    {
        @SuppressWarnings("unchecked")
        Map<String, Object> json()
        {
            return (Map<String, Object>)JsonText.parse(out);
        }
    }

    @AfterEach
    void noInterceptorLeft()
    {
        EmbeddedStack.testInterceptor = null;
    }

    private Run bench(final String... args)
    {
        final StringWriter out = new StringWriter();
        final StringWriter err = new StringWriter();
        final CommandLine cl = AoeCommand.commandLine();
        cl.setOut(new PrintWriter(out, true));
        cl.setErr(new PrintWriter(err, true));
        final List<String> all = new ArrayList<>(List.of("bench", "--disk-size", "64M"));
        all.addAll(List.of(args));
        final int exit = cl.execute(all.toArray(String[]::new));
        return new Run(exit, out.toString(), err.toString());
    }

    private static double num(final Map<String, Object> m, final String key)
    {
        final Object v = m.get(key);
        assertNotNull(v, "JSON field " + key + " is missing from " + m.keySet());
        return ((Number)v).doubleValue();
    }

    @SuppressWarnings("unchecked")
    private static Map<String, Object> obj(final Map<String, Object> m, final String key)
    {
        final Object v = m.get(key);
        assertNotNull(v, "JSON field " + key + " is missing from " + m.keySet());
        return (Map<String, Object>)v;
    }

    @SuppressWarnings("unchecked")
    private static List<Map<String, Object>> list(final Map<String, Object> m, final String key)
    {
        final Object v = m.get(key);
        assertNotNull(v, "JSON field " + key + " is missing from " + m.keySet());
        return (List<Map<String, Object>>)v;
    }

    @Test
    void jsonSummaryHasEveryFieldAndAddsUp()
    {
        final Run run = bench("--rw", "randrw", "--mix", "60", "--qd", "8", "--duration", "2s", "--warmup", "500ms", "--json");
        assertEquals(0, run.exit(), run.err());
        final Map<String, Object> j = run.json();
        assertEquals("e0.1", j.get("device"));
        assertEquals("randrw", j.get("rw"));
        assertEquals("closed", j.get("loop"));
        assertEquals(60L, j.get("mix_read_percent"));
        assertEquals(8L, j.get("queue_depth"));
        assertEquals(Boolean.TRUE, j.get("ok"));
        final double ops = num(j, "ops");
        final double seconds = num(j, "measured_s");
        assertTrue(ops > 100, "ops " + ops);
        assertEquals(2.0, seconds, 0.001, "the measured window is the duration; requests started in it count");
        assertEquals(ops, num(j, "reads") + num(j, "writes"));
        assertTrue(num(j, "reads") > num(j, "writes"), "60% reads");
        assertEquals(ops / seconds, num(j, "iops"), ops / seconds * 0.01 + 0.01);
        assertEquals(ops * 4096 / seconds / 1e6, num(j, "mb_per_s"), 0.1);
        for (final String kind : List.of("latency_us", "read_latency_us", "write_latency_us"))
        {
            double last = 0;
            for (final String p : List.of("min", "p50", "p90", "p99", "p99.9", "p99.99", "max"))
            {
                final double v = num(obj(j, kind), p);
                assertTrue(v >= last, kind + "." + p + " = " + v + " < " + last);
                last = v;
            }
        }
        assertEquals(ops, num(obj(j, "latency_us"), "count"));
        // one interval a second, contiguous, adding up to the totals
        final List<Map<String, Object>> intervals = list(j, "intervals");
        assertTrue(intervals.size() >= 2 && intervals.size() <= 3, "intervals " + intervals.size());
        double sum = 0;
        double end = 0;
        for (final Map<String, Object> i : intervals)
        {
            assertEquals(end, num(i, "start_s"), 0.002);
            end = num(i, "end_s");
            sum += num(i, "ops");
        }
        assertEquals(ops, sum);
        assertEquals(seconds + num(j, "drain_s"), end, 0.002, "the last interval ends at the last completion");
        // per path: both in-memory paths are listed; every request (4 KiB: one frame) was sent on one of them
        final List<Map<String, Object>> paths = list(j, "paths");
        assertEquals(2, paths.size(), paths.toString());
        double sent = 0;
        for (final Map<String, Object> p : paths)
        {
            sent += num(p, "frames_sent");
            assertTrue(num(p, "srtt_us") > 0 && num(p, "frames_received") >= 0, p.toString());
            assertTrue(p.containsKey("retransmits") && p.containsKey("timeouts") && p.containsKey("interface"), p.toString());
        }
        assertTrue(sent >= ops * 0.99, "frames sent " + sent + " for " + ops + " requests");
        // stdout is only JSON; the progress lines went to stderr, one a second with the paths
        assertTrue(run.err().contains("IOPS") && run.err().contains("ini-a") && run.err().contains("retx"), run.err());
        assertTrue(run.err().lines().filter(l -> l.startsWith("[ ")).count() >= 2, run.err());
        assertTrue(run.err().contains("p99.99"), "the text summary is printed too: " + run.err());
    }

    /**
     * Issue 11, part 8, as found: {@code aoe bench --rw randread --bs 4k --qd 4} on the embedded default sent every
     * frame over one path, the other kept its initial 200 ms SRTT and was never chosen. Now each path is measured by a
     * probe when it is found, and both carry the reads. (Whether the old code starved a path depended on which path its
     * first commands happened to measure: on this machine it split 4279/14081 frames and passed; with the probes,
     * 4000/3547.)
     */
    @Test
    void randomReadsAtQueueDepthFourShouldExerciseBothPaths()
    {
        final Run run = bench("--rw", "randread", "--bs", "4k", "--qd", "4", "--duration", "2s", "--warmup", "300ms", "--json");
        assertEquals(0, run.exit(), run.err());
        final Map<String, Object> j = run.json();
        final List<Map<String, Object>> paths = list(j, "paths");
        assertEquals(2, paths.size(), paths.toString());
        final double total = num(paths.get(0), "frames_sent") + num(paths.get(1), "frames_sent");
        System.out.println("randread 4k qd 4, frames sent per path: " + num(paths.get(0), "frames_sent") + " and "
            + num(paths.get(1), "frames_sent"));
        for (final Map<String, Object> p : paths)
        {
            assertTrue(num(p, "frames_sent") >= total / 100, "every path carries reads: " + paths);
            assertTrue(num(p, "srtt_us") < 200_000, "every path was measured: " + paths);
        }
    }

    @Test
    void openLoopCountsMatchTheRateAndTheDuration()
    {
        final Run run = bench("--rate", "1000", "--qd", "16", "--duration", "2s", "--warmup", "500ms", "--json");
        assertEquals(0, run.exit(), run.err());
        final Map<String, Object> j = run.json();
        assertEquals("open", j.get("loop"));
        assertEquals(2000, num(j, "ops"), 1, "every request due in 2 s at 1000 IOPS, however late it completed");
        assertEquals(1000, num(j, "iops"), 1);
        assertEquals(0.0, num(j, "unissued"));
        final Map<String, Object> service = obj(j, "service_latency_us");
        assertEquals(num(j, "ops"), num(service, "count"));
        assertTrue(num(service, "p50") <= num(obj(j, "latency_us"), "p50"), "service time excludes the wait: " + service);
    }

    @Test
    void verifyCatchesACorruptedBlock() throws Exception
    {
        final Path disk = dir.resolve("disk.img");
        final String[] region = {"--disk", disk.toString(), "--size", "1M", "--qd", "4", "--duration", "1s", "--warmup", "0", "--verify"};
        final Run write = bench(concat(region, "--rw", "write"));
        assertEquals(0, write.exit(), write.err() + write.out());

        final Run clean = bench(concat(region, "--rw", "read", "--json"));
        assertEquals(0, clean.exit(), clean.err());
        final Map<String, Object> v = obj(clean.json(), "verify");
        assertEquals(0.0, num(v, "bad_sectors"));
        assertEquals(0.0, num(v, "sectors_unwritten"), "the write pass covered the whole region");
        assertTrue(num(v, "sectors_checked") >= 2048, v.toString());

        final long damaged = 300L * 1024 + 3 * 512;
        try (RandomAccessFile f = new RandomAccessFile(disk.toFile(), "rw"))
        {
            final byte[] junk = new byte[512];
            new Random(1).nextBytes(junk);
            f.seek(damaged);
            f.write(junk);
        }
        final Run bad = bench(concat(region, "--rw", "read", "--json"));
        assertEquals(AoeCommand.EXIT_FAILURE, bad.exit(), bad.err());
        final Map<String, Object> j = bad.json();
        assertEquals(Boolean.FALSE, j.get("ok"));
        final Map<String, Object> found = obj(j, "verify");
        assertTrue(num(found, "bad_blocks") >= 1, found.toString());
        assertEquals(num(found, "bad_blocks"), num(found, "bad_sectors"), "exactly one bad sector in each read of that block");
        assertEquals(1.0, num(found, "bad_blocks_distinct"));
        assertEquals(1, ((List<?>)found.get("messages")).size(), "each bad block is described once");
        final String message = String.valueOf(((List<?>)found.get("messages")).getFirst());
        assertTrue(message.contains("block at " + 300 * 1024) && message.contains("byte " + damaged) && message.contains("CRC32C"), message);
        assertTrue(bad.err().contains("verify found") && bad.err().contains("byte " + damaged), bad.err());
    }

    @Test
    void openLoopShowsAnInjectedStallInTheHighPercentiles()
    {
        final long stallNanos = TimeUnit.MILLISECONDS.toNanos(100);
        final AtomicLong stallStart = new AtomicLong();
        final ScheduledExecutorService later = new ScheduledThreadPoolExecutor(1);
        try
        {
            // Every frame on both cables is held from 1.5 s after the first frame for 100 ms, then delivered.
            EmbeddedStack.testInterceptor = (source, frame, forward) ->
            {
                final long now = System.nanoTime();
                stallStart.compareAndSet(0, now + TimeUnit.MILLISECONDS.toNanos(1500));
                final long from = stallStart.get();
                if (now >= from && now < from + stallNanos)
                {
                    later.schedule(() -> forward.deliver(frame), from + stallNanos - now, TimeUnit.NANOSECONDS);
                }
                else
                {
                    forward.deliver(frame);
                }
            };
            final Run run = bench("--rate", "2000", "--qd", "64", "--duration", "2s", "--warmup", "500ms", "--json");
            assertEquals(0, run.exit(), run.err());
            final Map<String, Object> j = run.json();
            final Map<String, Object> lat = obj(j, "latency_us");
            // ~200 requests were due during the stall: they waited up to 100 ms from their intended
            // start, so ~5% of 4000 requests took 0..100 ms; p99 lands in the stall, max near 100 ms.
            assertTrue(num(lat, "max") >= 90_000, "max " + num(lat, "max") + " us");
            assertTrue(num(lat, "p99") >= 40_000, "p99 " + num(lat, "p99") + " us: the stall is hidden");
            assertEquals(4000, num(j, "ops"), 1, "open loop kept the schedule through the stall");
        }
        finally
        {
            later.shutdownNow();
        }
    }

    @Test
    void hlogParsesWithHdrHistogramsReaderAndAddsUpToTheSummary() throws Exception
    {
        final Path hlog = dir.resolve("run.hlog");
        final Run run = bench("--rw", "randrw", "--qd", "4", "--duration", "2s", "--warmup", "300ms", "--json", "--hlog", hlog.toString());
        assertEquals(0, run.exit(), run.err());
        final Map<String, Object> j = run.json();
        long reads = 0;
        long writes = 0;
        int histograms = 0;
        final Set<String> tags = new TreeSet<>();
        try (FileInputStream in = new FileInputStream(hlog.toFile()))
        {
            final HistogramLogReader reader = new HistogramLogReader(in);
            EncodableHistogram e;
            while ((e = reader.nextIntervalHistogram()) != null)
            {
                final Histogram h = (Histogram)e;
                histograms++;
                tags.add(h.getTag());
                if ("read".equals(h.getTag()))
                {
                    reads += h.getTotalCount();
                }
                else
                {
                    writes += h.getTotalCount();
                }
                assertTrue(h.getTotalCount() == 0 || h.getMaxValue() < TimeUnit.SECONDS.toNanos(10), "values are nanoseconds");
            }
        }
        assertEquals(Set.of("read", "write"), tags);
        assertTrue(histograms >= 4, "two kinds, one histogram a second each: " + histograms);
        assertEquals((long)num(j, "reads"), reads);
        assertEquals((long)num(j, "writes"), writes);
    }

    @Test
    void reportIsOneWellFormedPageWithThePlotData() throws Exception
    {
        final Path report = dir.resolve("report.html");
        final Run run = bench("--qd", "4", "--duration", "2s", "--warmup", "300ms", "--json", "--report", report.toString());
        assertEquals(0, run.exit(), run.err());
        final String html = Files.readString(report, StandardCharsets.UTF_8);
        assertTrue(html.startsWith("<!DOCTYPE html>"), html.substring(0, 40));
        final DocumentBuilderFactory f = DocumentBuilderFactory.newInstance();
        f.setFeature("http://apache.org/xml/features/disallow-doctype-decl", false);
        final Document doc = f.newDocumentBuilder().parse(new ByteArrayInputStream(html.getBytes(StandardCharsets.UTF_8)));
        assertEquals("html", doc.getDocumentElement().getTagName());
        final NodeList svgs = doc.getElementsByTagName("svg");
        assertTrue(svgs.getLength() >= 5, "percentile, IOPS, MB/s, latency over time, per-path plots: " + svgs.getLength());
        final NodeList lines = doc.getElementsByTagName("polyline");
        boolean percentilePlot = false;
        boolean pathPlot = false;
        for (int i = 0; i < lines.getLength(); i++)
        {
            final Element l = (Element)lines.item(i);
            assertFalse(l.getAttribute("points").isBlank(), "every plotted line has points");
            percentilePlot |= l.getAttribute("data-series").equals("read") && l.getAttribute("points").split(" ").length > 10;
            pathPlot |= l.getAttribute("data-series").equals("ini-b");
        }
        assertTrue(percentilePlot && pathPlot, "latency-by-percentile curve and per-path lines");
        // self-contained: nothing is loaded from anywhere
        assertFalse(html.contains("src=") || html.contains("href=") || html.contains("url(") || html.contains("@import"), "external reference");
        assertFalse(html.replace("http://www.w3.org/2000/svg", "").contains("http"), "no URL apart from the SVG namespace");
        // the data behind the plots is embedded and matches the summary
        Element data = null;
        final NodeList scripts = doc.getElementsByTagName("script");
        for (int i = 0; i < scripts.getLength(); i++)
        {
            if ("bench-data".equals(((Element)scripts.item(i)).getAttribute("id")))
            {
                data = (Element)scripts.item(i);
            }
        }
        assertNotNull(data, "script#bench-data");
        @SuppressWarnings("unchecked")
        final Map<String, Object> embedded = (Map<String, Object>)JsonText.parse(data.getTextContent());
        assertEquals(run.json().get("ops"), embedded.get("ops"));
        assertFalse(list(embedded, "intervals").isEmpty());
        assertTrue(obj(embedded, "percentile_curve_us").containsKey("read"));
    }

    @Test
    void badOptionsGetAClearMessage()
    {
        final Run mode = bench("--rw", "sideways");
        assertEquals(2, mode.exit());
        assertTrue(mode.err().contains("--rw takes read, write"), mode.err());
        final Run bs = bench("--bs", "1000", "--duration", "1s");
        assertEquals(AoeCommand.EXIT_FAILURE, bs.exit());
        assertTrue(bs.err().contains("--bs must be a positive multiple of 512"), bs.err());
        final Run region = bench("--offset", "60M", "--size", "8M", "--duration", "1s");
        assertEquals(AoeCommand.EXIT_FAILURE, region.exit());
        assertTrue(region.err().contains("beyond the end of the device"), region.err());
    }

    private static String[] concat(final String[] a, final String... b)
    {
        final List<String> l = new ArrayList<>(List.of(a));
        l.addAll(List.of(b));
        return l.toArray(String[]::new);
    }
}
