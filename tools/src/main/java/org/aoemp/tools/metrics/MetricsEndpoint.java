package org.aoemp.tools.metrics;

import java.io.IOException;
import java.net.InetSocketAddress;
import java.util.concurrent.ExecutorService;
import java.util.concurrent.Executors;
import java.util.concurrent.TimeUnit;

import io.prometheus.metrics.exporter.httpserver.HTTPServer;
import io.prometheus.metrics.instrumentation.jvm.JvmMetrics;
import io.prometheus.metrics.model.registry.MultiCollector;
import io.prometheus.metrics.model.registry.PrometheusRegistry;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * {@code --metrics HOST:PORT}: the Prometheus text format on {@code http://HOST:PORT/metrics}
 * (the Prometheus Java client's HTTP server, on the JDK's {@code com.sun.net.httpserver}), with
 * the given collectors and the client's process and JVM metrics ({@code process_*},
 * {@code jvm_*}). Every collector is read when a scrape arrives, on the endpoint's one thread,
 * {@code aoe-metrics}; nothing is computed between scrapes.
 *
 * <p>The thread is the HTTP server's (a library thread, like Netty's event loops): it blocks in
 * accept and answers one scrape at a time. A collector that throws fails that scrape with HTTP
 * 500 and is logged by the client library; the server goes on.
 */
public final class MetricsEndpoint implements AutoCloseable
{
    private static final Logger LOG = LoggerFactory.getLogger(MetricsEndpoint.class);

    private final HTTPServer server;
    private final ExecutorService executor;
    private final InetSocketAddress address;

    private MetricsEndpoint(final HTTPServer server, final ExecutorService executor, final InetSocketAddress address)
    {
        this.server = server;
        this.executor = executor;
        this.address = address;
    }

    /**
     * Binds {@code listen} (port 0 picks a free one) and serves {@code collectors} plus process and JVM metrics.
     *
     * @throws IOException when the address cannot be bound (in use, not local), with the address in the message
     */
    public static MetricsEndpoint start(final InetSocketAddress listen, final MultiCollector... collectors) throws IOException
    {
        final PrometheusRegistry registry = new PrometheusRegistry();
        JvmMetrics.builder().register(registry);
        for (final MultiCollector c : collectors)
        {
            registry.register(c);
        }
        final ExecutorService executor = Executors.newSingleThreadExecutor(r ->
        {
            final Thread t = new Thread(r, "aoe-metrics");
            t.setDaemon(true);
            return t;
        });
        try
        {
            final HTTPServer server = HTTPServer.builder().inetAddress(listen.getAddress()).port(listen.getPort())
                .registry(registry).executorService(executor).buildAndStart();
            final InetSocketAddress bound = new InetSocketAddress(listen.getAddress(), server.getPort());
            LOG.info("Prometheus metrics on http://{}/metrics", hostPort(bound));
            return new MetricsEndpoint(server, executor, bound);
        }
        catch (final IOException | RuntimeException e)
        {
            executor.shutdownNow();
            throw new IOException("cannot serve metrics on " + hostPort(listen) + ": " + e.getMessage(), e);
        }
    }

    /** Where it listens (the port actually bound). */
    public InetSocketAddress address()
    {
        return address;
    }

    /** {@code http://HOST:PORT/metrics}. */
    public String url()
    {
        return "http://" + hostPort(address) + "/metrics";
    }

    private static String hostPort(final InetSocketAddress a)
    {
        final String host = a.getAddress() == null ? a.getHostString() : a.getAddress().getHostAddress();
        return (host.indexOf(':') >= 0 ? "[" + host + "]" : host) + ":" + a.getPort();
    }

    @Override
    public void close()
    {
        server.close();
        executor.shutdownNow();
        try
        {
            executor.awaitTermination(2, TimeUnit.SECONDS);
        }
        catch (final InterruptedException e)
        {
            Thread.currentThread().interrupt();
        }
    }
}
