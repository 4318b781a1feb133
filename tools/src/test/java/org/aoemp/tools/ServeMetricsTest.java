package org.aoemp.tools;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.net.InetAddress;
import java.net.ServerSocket;
import java.net.URI;
import java.net.http.HttpClient;
import java.net.http.HttpRequest;
import java.net.http.HttpResponse;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.util.List;
import java.util.Map;

import org.aoemp.testing.BulkIo;
import org.aoemp.testing.Prerequisites;
import org.aoemp.testing.RealPeer;
import org.aoemp.testing.VethRig;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * {@code aoe serve} with {@code [service] metrics = "HOST:PORT"}: one process serving a target on
 * one end of a veth pair and exporting it from the other; after an nbdcopy read the scrape counts
 * it (device bytes, NBD requests and connections); after a reload that removes the export, the
 * next scrape no longer has it, and the endpoint still answers.
 */
@RealPeer
class ServeMetricsTest
{
    private static final Duration EXIT = Duration.ofSeconds(60);

    @TempDir
    Path dir;

    private static int freePort() throws Exception
    {
        try (ServerSocket s = new ServerSocket(0, 1, InetAddress.getLoopbackAddress()))
        {
            return s.getLocalPort();
        }
    }

    private static String scrape(final int port) throws Exception
    {
        try (HttpClient c = HttpClient.newBuilder().connectTimeout(Duration.ofSeconds(30)).build())
        {
            final HttpResponse<String> r = c.send(HttpRequest.newBuilder(URI.create("http://127.0.0.1:" + port + "/metrics"))
                .timeout(Duration.ofSeconds(60)).build(), HttpResponse.BodyHandlers.ofString());
            assertEquals(200, r.statusCode(), r.body());
            return r.body();
        }
    }

    private static double value(final String text, final String series)
    {
        return text.lines().filter(l -> l.startsWith(series + " ")).mapToDouble(l -> Double.parseDouble(l.substring(series.length() + 1)))
            .findFirst().orElseThrow(() -> new AssertionError("no " + series + " in\n" + text));
    }

    @Test
    void theServiceScrapesItsExportsAndFollowsAReload() throws Exception
    {
        Prerequisites.requireRoot();
        Prerequisites.requireCommand("nbdcopy", "libnbd-bin");
        final Path disk = dir.resolve("e3.4.img");
        BulkIo.sparseFile(disk, 8L << 20);
        final int nbdPort = freePort();
        final int metricsPort = freePort();
        try (VethRig rig = VethRig.builder().pairs(1).targetsInRootNamespace(true).build())
        {
            final String head = "[nbd]\nlisten = \"127.0.0.1:" + nbdPort + "\"\n\n[service]\nmetrics = \"127.0.0.1:" + metricsPort + "\"\n\n";
            final String target = "[[target]]\nshelf = 3\nslot = 4\nfile = \"" + disk + "\"\ninterfaces = [\"" + rig.targetIf(0) + "\"]\n\n";
            final String export = "[[export]]\ntarget = \"e3.4\"\ninterfaces = [\"" + rig.initiatorIf(0) + "\"]\nopen-timeout = \"60s\"\n\n";
            final Path conf = dir.resolve("aoe.conf");
            Files.writeString(conf, head + export + target);
            try (ServeProcess service = ServeProcess.aoe("service", List.of(), Map.of(), dir.resolve("service.log"), "serve",
                "--config", conf.toString()))
            {
                service.awaitLog("ready: serving 1 export");
                assertTrue(service.log().contains("Prometheus metrics on http://127.0.0.1:" + metricsPort + "/metrics"), service.log());
                ServeProcess.run("nbdcopy", "nbd://127.0.0.1:" + nbdPort + "/e3.4", dir.resolve("back.bin").toString());

                final String text = scrape(metricsPort);
                assertEquals(8.0 * (1 << 20), value(text, "aoe_device_request_bytes_total{device=\"e3.4\",kind=\"read\"}"), text);
                assertTrue(value(text, "aoe_nbd_requests_total{export=\"e3.4\"}") > 0, text);
                assertTrue(value(text, "aoe_nbd_connections_total{export=\"e3.4\"}") >= 1, "nbdcopy's connections (one or more): " + text);
                assertEquals(0.0, value(text, "aoe_nbd_connections_open{export=\"e3.4\"}"), "all closed again");
                final String path = "aoe_path_state{device=\"e3.4\",interface=\"" + rig.initiatorIf(0) + "\",state=";
                assertEquals(4, text.lines().filter(l -> l.startsWith(path)).count(), "four states of the one path:\n" + text);
                assertEquals(1, text.lines().filter(l -> l.startsWith(path) && l.endsWith(" 1.0")).count(), "one of them is 1:\n" + text);

                Files.writeString(conf, head + target);
                service.signal("HUP");
                service.awaitLog("reloaded");
                final String after = scrape(metricsPort);
                assertFalse(after.contains("export=\"e3.4\"") || after.contains("device=\"e3.4\""), "the removed export is gone:\n" + after);
                assertTrue(after.contains("\nprocess_cpu_seconds_total "), after);
                service.signal("TERM");
                assertEquals(0, service.awaitExit(EXIT), service.log());
            }
        }
    }
}
