package org.aoemp.tools;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.io.BufferedReader;
import java.io.InputStream;
import java.io.InputStreamReader;
import java.net.ServerSocket;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import java.util.Random;
import java.util.concurrent.TimeUnit;
import java.util.function.Predicate;

import org.aoemp.testing.Prerequisites;
import org.aoemp.testing.RealPeer;
import org.aoemp.util.JsonText;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * {@code aoe nbd --metrics}: the embedded stack (its own JVM, two in-memory paths) with nbdcopy
 * writing and reading through it; {@code /metrics} is scraped while the copy runs and after it,
 * and every scrape is parsed by the Prometheus Python client's parsers (Debian's
 * python3-prometheus-client): the text format 0.0.4 and the strict OpenMetrics one. The values
 * must match the I/O that was done (bytes written per device and over the paths, RTT samples,
 * NBD requests), counters must not go backwards between scrapes, and the names and types follow
 * Prometheus' conventions.
 */
@RealPeer
class MetricsScrapeTest
{
    private static final String JAVA = Path.of(System.getProperty("java.home"), "bin", "java").toString();
    private static final int MIB = 1 << 20;

    @TempDir
    Path dir;

    /** One parsed scrape. */
    private record Scrape(Map<String, Object> families, List<List<Object>> samples)
    {
        @SuppressWarnings("unchecked")
        static Scrape of(final String json)
        {
            final Map<String, Object> m = (Map<String, Object>)JsonText.parse(json);
            return new Scrape((Map<String, Object>)m.get("families"), (List<List<Object>>)(List<?>)m.get("samples"));
        }

        @SuppressWarnings("unchecked")
        double sum(final String name, final Predicate<Map<String, Object>> labels)
        {
            double total = 0;
            for (final List<Object> s : samples)
            {
                if (s.get(0).equals(name) && labels.test((Map<String, Object>)s.get(1)))
                {
                    total += ((Number)s.get(2)).doubleValue();
                }
            }
            return total;
        }

        @SuppressWarnings("unchecked")
        long count(final String name, final Predicate<Map<String, Object>> labels)
        {
            return samples.stream().filter(s -> s.get(0).equals(name) && labels.test((Map<String, Object>)s.get(1))).count();
        }

        double sum(final String name)
        {
            return sum(name, l -> true);
        }
    }

    private static Predicate<Map<String, Object>> label(final String key, final String value)
    {
        return l -> value.equals(l.get(key));
    }

    private String python;

    /** Debian's python3 first: a python3 earlier on PATH (pyenv, a venv) may not see Debian's packages. */
    private static String pythonWithPrometheusClient() throws Exception
    {
        for (final String candidate : List.of("/usr/bin/python3", "python3"))
        {
            try
            {
                final Process p = new ProcessBuilder(candidate, "-c", "import prometheus_client").redirectErrorStream(true).start();
                p.getInputStream().readAllBytes();
                if (p.waitFor(60, TimeUnit.SECONDS) && p.exitValue() == 0)
                {
                    return candidate;
                }
            }
            catch (final java.io.IOException e)
            {
                // not there: try the next
            }
        }
        return null;
    }

    private Scrape scrape(final String url, final String format) throws Exception
    {
        final Path script = dir.resolve("parse-metrics.py");
        if (!Files.exists(script))
        {
            try (InputStream in = MetricsScrapeTest.class.getResourceAsStream("metrics/parse-metrics.py"))
            {
                Files.copy(in, script);
            }
        }
        final Process p = new ProcessBuilder(python, script.toString(), url, format).redirectErrorStream(true).start();
        final String out = new String(p.getInputStream().readAllBytes());
        assertTrue(p.waitFor(60, TimeUnit.SECONDS), "parse-metrics.py " + format);
        assertEquals(0, p.exitValue(), "the " + format + " parser refused the scrape: " + out);
        return Scrape.of(out);
    }

    private static void run(final String... command) throws Exception
    {
        final Process p = new ProcessBuilder(command).redirectErrorStream(true).start();
        final String out = new String(p.getInputStream().readAllBytes());
        assertTrue(p.waitFor(120, TimeUnit.SECONDS), String.join(" ", command));
        assertEquals(0, p.exitValue(), String.join(" ", command) + ": " + out);
    }

    @Test
    void aScrapeDuringIoParsesAndCountsWhatWasDone() throws Exception
    {
        Prerequisites.requireCommand("nbdcopy", "libnbd-bin");
        python = pythonWithPrometheusClient();
        Prerequisites.require(python != null, "a python3 that imports prometheus_client (Debian package python3-prometheus-client)");
        final int port;
        try (ServerSocket s = new ServerSocket(0))
        {
            port = s.getLocalPort();
        }
        final List<String> cmd = new ArrayList<>(List.of(JAVA, "--enable-native-access=ALL-UNNAMED", "-cp",
            System.getProperty("java.class.path"), AoeCommand.class.getName(), "nbd", "--disk", dir.resolve("disk.img").toString(),
            "--size", "128M", "--listen", "127.0.0.1:" + port, "--metrics", "127.0.0.1:0"));
        final ProcessBuilder pb = new ProcessBuilder(cmd).redirectErrorStream(true);
        pb.environment().put(RunDir.ENV, Files.createDirectories(dir.resolve("run")).toString());
        final Process server = pb.start();
        try
        {
            final BufferedReader lines = new BufferedReader(new InputStreamReader(server.getInputStream()));
            final StringBuilder seen = new StringBuilder();
            String url = null;
            String line;
            while ((line = lines.readLine()) != null && !line.startsWith("next: "))
            {
                seen.append(line).append('\n');
                if (line.startsWith("metrics on "))
                {
                    url = line.substring("metrics on ".length()).trim();
                }
            }
            assertTrue(url != null && url.matches("http://127\\.0\\.0\\.1:[1-9][0-9]*/metrics"), "metrics URL printed: " + seen);
            final Thread drain = Thread.ofVirtual().start(() ->
            {
                try
                {
                    lines.transferTo(java.io.Writer.nullWriter());
                }
                catch (final java.io.IOException e)
                {
                    // the server went away
                }
            });

            final Scrape idle = scrape(url, "text");
            assertEquals(0.0, idle.sum("aoe_device_requests_total", label("kind", "write")), "nothing written yet");

            final byte[] data = new byte[96 * MIB];
            new Random(13).nextBytes(data);
            final Path src = dir.resolve("src.bin");
            Files.write(src, data);
            final String nbd = "nbd://127.0.0.1:" + port;
            // Scrape while nbdcopy writes; on a machine fast enough to finish a copy between two
            // scrapes, copy again until two scrapes fell inside a copy.
            final List<Scrape> during = new ArrayList<>();
            int copies = 0;
            while (during.size() < 2)
            {
                assertTrue(copies < 50, "no scrape overlapped any of " + copies + " copies");
                copies++;
                final Process copy = new ProcessBuilder("nbdcopy", "--flush", src.toString(), nbd).redirectErrorStream(true).start();
                while (copy.isAlive())
                {
                    final Scrape s = scrape(url, during.size() % 2 == 0 ? "text" : "openmetrics");
                    if (copy.isAlive())
                    {
                        during.add(s);
                    }
                }
                final String copyOut = new String(copy.getInputStream().readAllBytes());
                assertEquals(0, copy.waitFor(), "nbdcopy: " + copyOut);
            }
            run("nbdcopy", nbd, dir.resolve("back.bin").toString());

            final Scrape after = scrape(url, "text");
            final Scrape om = scrape(url, "openmetrics");
            for (final String counter : List.of("aoe_device_requests_total", "aoe_device_request_bytes_total", "aoe_path_frames_sent_total",
                "aoe_path_sent_bytes_total", "aoe_path_received_bytes_total", "aoe_nbd_requests_total", "aoe_path_rtt_seconds_count"))
            {
                double last = -1;
                for (final Scrape s : during)
                {
                    final double v = s.sum(counter);
                    assertTrue(v >= last, counter + " went backwards between scrapes");
                    last = v;
                }
                assertTrue(after.sum(counter) >= last, counter + " went backwards after the copy");
            }

            // The families and their types, as the parsers saw them.
            final Map<String, Object> types = after.families();
            assertEquals("histogram", types.get("aoe_path_rtt_seconds"));
            assertEquals("counter", types.get("aoe_path_frames_sent"));
            assertEquals("counter", types.get("aoe_path_retransmits"));
            assertEquals("counter", types.get("aoe_path_timeouts"));
            assertEquals("gauge", types.get("aoe_path_window"));
            assertEquals("gauge", types.get("aoe_path_state"));
            assertEquals("counter", types.get("aoe_device_requests"));
            assertEquals("gauge", types.get("aoe_device_dead"));
            assertEquals("gauge", types.get("aoe_device_commands_in_flight"));
            assertEquals("counter", types.get("aoe_nbd_connections"));
            assertEquals("counter", types.get("process_cpu_seconds"));
            assertTrue(types.containsKey("jvm_memory_used_bytes"), "JVM basics: " + types.keySet());
            assertEquals("histogram", om.families().get("aoe_path_rtt_seconds"), "the strict OpenMetrics parser agrees");

            // What was done: 96 MiB written then 128 MiB read, over the two in-memory paths.
            final Predicate<Map<String, Object>> e01 = label("device", "e0.1");
            assertTrue(after.sum("aoe_device_request_bytes_total", e01.and(label("kind", "write"))) >= data.length,
                "write bytes of e0.1");
            assertTrue(after.sum("aoe_device_request_bytes_total", e01.and(label("kind", "read"))) >= 128.0 * MIB,
                "read bytes of e0.1");
            assertTrue(after.sum("aoe_device_requests_total", e01.and(label("kind", "flush"))) >= 1, "the FLUSH of --flush");
            assertEquals(0.0, after.sum("aoe_device_request_errors_total"), "no request failed");
            assertTrue(after.sum("aoe_path_sent_bytes_total", e01) >= data.length, "payload bytes over the paths");
            assertTrue(after.sum("aoe_path_received_bytes_total", e01) >= 128.0 * MIB, "read payload over the paths");
            assertEquals(2, after.count("aoe_path_window", e01), "one window per path");
            assertEquals(8, after.count("aoe_path_state", e01), "four states for each of the two paths");
            assertEquals(2.0, after.sum("aoe_path_state", e01), "exactly one state at 1 per path");
            final double rttCount = after.sum("aoe_path_rtt_seconds_count", e01);
            assertTrue(rttCount >= after.sum("aoe_path_frames_received_total", e01) && rttCount > 0,
                "an RTT sample per reply: " + rttCount);
            assertEquals(rttCount, after.sum("aoe_path_rtt_seconds_bucket", e01.and(label("le", "+Inf"))),
                "the +Inf bucket holds every sample");
            assertTrue(after.sum("aoe_path_rtt_seconds_sum", e01) > 0);
            assertEquals(0.0, after.sum("aoe_device_dead", e01));
            assertTrue(after.sum("aoe_nbd_requests_total", label("export", "e0.1")) > 96 * MIB / (32 * MIB), "NBD requests");
            assertTrue(after.sum("aoe_nbd_connections_total", label("export", "e0.1")) >= 2, "two nbdcopy runs");
            assertEquals(0.0, after.sum("aoe_nbd_connections_open", label("export", "e0.1")), "both closed again");
            assertTrue(after.sum("process_cpu_seconds_total") > 0, "process basics");
            drain.interrupt();
        }
        finally
        {
            server.destroy();
            assertTrue(server.waitFor(30, TimeUnit.SECONDS), "aoe nbd stops on SIGTERM");
            server.destroyForcibly();
        }
    }
}
