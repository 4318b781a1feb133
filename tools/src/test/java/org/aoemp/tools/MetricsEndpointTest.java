package org.aoemp.tools;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.io.IOException;
import java.io.PrintWriter;
import java.io.StringWriter;
import java.net.InetAddress;
import java.net.InetSocketAddress;
import java.net.ServerSocket;
import java.net.URI;
import java.net.http.HttpClient;
import java.net.http.HttpRequest;
import java.net.http.HttpResponse;
import java.nio.ByteBuffer;
import java.nio.file.Path;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.TimeUnit;

import io.prometheus.metrics.model.registry.MultiCollector;
import io.prometheus.metrics.model.snapshots.MetricSnapshots;
import org.aoemp.block.BlockDevice;
import org.aoemp.block.IoError;
import org.aoemp.block.MemoryBlockDevice;
import org.aoemp.initiator.AoeDevice;
import org.aoemp.nbd.Export;
import org.aoemp.tools.metrics.DeviceMetrics;
import org.aoemp.tools.metrics.ExportMetrics;
import org.aoemp.tools.metrics.MetricsEndpoint;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * The metrics endpoint in this JVM, without external tools: the embedded stack's device after a
 * known amount of I/O shows exactly those requests and bytes, its two paths and an RTT sample per
 * reply; a collector that throws costs that scrape an HTTP 500, not the endpoint; an address in
 * use is refused naming it.
 */
class MetricsEndpointTest
{
    @TempDir
    Path dir;

    private final List<AutoCloseable> resources = new ArrayList<>();

    @AfterEach
    void close() throws Exception
    {
        for (int i = resources.size() - 1; i >= 0; i--)
        {
            resources.get(i).close();
        }
    }

    private static HttpResponse<String> get(final String url) throws Exception
    {
        try (HttpClient c = HttpClient.newBuilder().connectTimeout(Duration.ofSeconds(30)).build())
        {
            return c.send(HttpRequest.newBuilder(URI.create(url)).timeout(Duration.ofSeconds(60)).build(),
                HttpResponse.BodyHandlers.ofString());
        }
    }

    private static void io(final CompletableFuture<IoError> done) throws Exception
    {
        final IoError e = done.get(60, TimeUnit.SECONDS);
        if (e != null)
        {
            throw e;
        }
    }

    private static double value(final String text, final String series)
    {
        return text.lines().filter(l -> l.startsWith(series + " ")).mapToDouble(l -> Double.parseDouble(l.substring(series.length() + 1)))
            .findFirst().orElseThrow(() -> new AssertionError("no " + series + " in\n" + text));
    }

    @Test
    void theDeviceCountersMatchTheIoDone() throws Exception
    {
        final Map<String, BlockDevice> exports = EmbeddedStack.start(dir.resolve("disk.img"), 16L << 20, Duration.ofSeconds(60),
            resources, new PrintWriter(new StringWriter()));
        final AoeDevice device = (AoeDevice)exports.get("e0.1");
        final ByteBuffer buf = ByteBuffer.allocateDirect(1 << 20);
        for (int i = 0; i < 3; i++)
        {
            final CompletableFuture<IoError> w = new CompletableFuture<>();
            device.write((long)i << 20, buf.duplicate(), w::complete);
            io(w);
        }
        final CompletableFuture<IoError> r = new CompletableFuture<>();
        device.read(0, buf.duplicate(), r::complete);
        io(r);
        final CompletableFuture<IoError> f = new CompletableFuture<>();
        device.flush(f::complete);
        io(f);
        final CompletableFuture<IoError> beyond = new CompletableFuture<>();
        device.read(16L << 20, buf.duplicate(), beyond::complete);
        assertTrue(beyond.get(60, TimeUnit.SECONDS) != null, "a read beyond the end fails (refused before the engine)");

        final MetricsEndpoint m = MetricsEndpoint.start(new InetSocketAddress(InetAddress.getLoopbackAddress(), 0),
            new DeviceMetrics(() -> List.of(device)),
            new ExportMetrics(() -> List.of(new Export("e0.1", device, false), new Export("mem", new MemoryBlockDevice("mem", 4096), true))));
        resources.add(m);
        final HttpResponse<String> res = get(m.url());
        assertEquals(200, res.statusCode());
        final String text = res.body();
        assertEquals(3.0, value(text, "aoe_device_requests_total{device=\"e0.1\",kind=\"write\"}"), text);
        assertEquals(3.0 * (1 << 20), value(text, "aoe_device_request_bytes_total{device=\"e0.1\",kind=\"write\"}"));
        assertEquals(1.0, value(text, "aoe_device_requests_total{device=\"e0.1\",kind=\"read\"}"));
        assertEquals(1.0 * (1 << 20), value(text, "aoe_device_request_bytes_total{device=\"e0.1\",kind=\"read\"}"));
        assertTrue(value(text, "aoe_device_requests_total{device=\"e0.1\",kind=\"flush\"}") >= 1.0);
        assertEquals(0.0, value(text, "aoe_device_request_errors_total{device=\"e0.1\",kind=\"read\"}"));
        assertEquals(0.0, value(text, "aoe_device_dead{device=\"e0.1\"}"));
        assertEquals(16.0 * (1 << 20), value(text, "aoe_device_size_bytes{device=\"e0.1\"}"));
        final String pathA = "{device=\"e0.1\",interface=\"ini-a\",target_mac=\"02:00:00:00:01:01\"";
        final String pathB = "{device=\"e0.1\",interface=\"ini-b\",target_mac=\"02:00:00:00:01:02\"";
        final double sent = value(text, "aoe_path_sent_bytes_total" + pathA + "}") + value(text, "aoe_path_sent_bytes_total" + pathB + "}");
        assertTrue(sent >= 3.0 * (1 << 20), "write payload over both paths: " + sent);
        final double replies = value(text, "aoe_path_frames_received_total" + pathA + "}")
            + value(text, "aoe_path_frames_received_total" + pathB + "}");
        final double rtts = value(text, "aoe_path_rtt_seconds_count" + pathA + "}") + value(text, "aoe_path_rtt_seconds_count" + pathB + "}");
        assertTrue(replies > 0 && rtts >= replies - 2, "an RTT sample per reply (probes aside): " + rtts + " for " + replies);
        // labels come sorted by name; exactly one state is 1 (up, or suspect after a timeout on a loaded machine)
        double states = 0;
        for (final String st : List.of("up", "suspect", "down", "probing"))
        {
            states += value(text, "aoe_path_state{device=\"e0.1\",interface=\"ini-a\",state=\"" + st + "\",target_mac=\"02:00:00:00:01:01\"}");
        }
        assertEquals(1.0, states, "one state per path: " + text);
        assertTrue(text.contains("# TYPE aoe_path_rtt_seconds histogram"), text);
        assertTrue(text.contains("aoe_path_rtt_seconds_bucket" + pathA + ",le=\"+Inf\"}"), text);
        assertEquals(4096.0, value(text, "aoe_nbd_export_size_bytes{export=\"mem\"}"));
        assertEquals(0.0, value(text, "aoe_nbd_connections_open{export=\"e0.1\"}"));
        assertTrue(text.contains("\nprocess_cpu_seconds_total ") && text.contains("\njvm_threads_current "), "process and JVM basics");
    }

    @Test
    void aCollectorThatThrowsCostsOneScrapeNotTheEndpoint() throws Exception
    {
        final boolean[] fail = {true};
        final MultiCollector flaky = new MultiCollector()
        {
            @Override
            public MetricSnapshots collect()
            {
                if (fail[0])
                {
                    throw new IllegalStateException("broken collector");
                }
                return MetricSnapshots.builder().build();
            }
        };
        final MetricsEndpoint m = MetricsEndpoint.start(new InetSocketAddress(InetAddress.getLoopbackAddress(), 0), flaky);
        resources.add(m);
        assertEquals(500, get(m.url()).statusCode());
        fail[0] = false;
        final HttpResponse<String> ok = get(m.url());
        assertEquals(200, ok.statusCode());
        assertTrue(ok.body().contains("jvm_threads_current"), ok.body());
    }

    @Test
    void anAddressInUseIsRefusedNamingIt() throws Exception
    {
        try (ServerSocket taken = new ServerSocket(0, 1, InetAddress.getLoopbackAddress()))
        {
            final IOException e = assertThrows(IOException.class, () -> MetricsEndpoint.start(
                new InetSocketAddress(InetAddress.getLoopbackAddress(), taken.getLocalPort())));
            assertTrue(e.getMessage().contains("cannot serve metrics on 127.0.0.1:" + taken.getLocalPort()), e.getMessage());
        }
    }
}
