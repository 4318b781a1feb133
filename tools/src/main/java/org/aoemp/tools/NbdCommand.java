package org.aoemp.tools;

import java.io.PrintWriter;
import java.net.InetSocketAddress;
import java.time.Duration;
import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.HashSet;
import java.util.Set;
import java.util.concurrent.Callable;
import java.util.concurrent.CopyOnWriteArrayList;

import org.aoemp.block.BlockDevice;
import org.aoemp.block.MemoryBlockDevice;
import org.aoemp.initiator.AoeDevice;
import org.aoemp.initiator.DeviceStats;
import org.aoemp.initiator.DeviceOptions;
import org.aoemp.initiator.Initiator;
import org.aoemp.initiator.TargetAddress;
import org.aoemp.initiator.TargetDirectory;
import org.aoemp.nbd.ListenAddress;
import org.aoemp.nbd.NbdServer;
import org.aoemp.tools.serve.FlushTracker;
import org.aoemp.tools.serve.ShutdownCoordinator;
import org.aoemp.tools.metrics.DeviceMetrics;
import org.aoemp.tools.metrics.ExportMetrics;
import org.aoemp.tools.metrics.MetricsEndpoint;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;
import picocli.CommandLine.Command;
import picocli.CommandLine.Mixin;
import picocli.CommandLine.Option;
import picocli.CommandLine.Parameters;
import picocli.CommandLine.Spec;
import picocli.CommandLine.Model.CommandSpec;

/** {@code aoe nbd}: serve AoE targets (or a memory disk, or the embedded demo) over NBD. */
@Command(name = "nbd", mixinStandardHelpOptions = true,
    description = {"Serve AoE targets over NBD, one export per target named eX.Y; the default export \"\" is the first.",
        "With -i but no target, every target discovered on those interfaces is exported. With --backend memory:SIZE a "
            + "memory disk is served instead (to measure the bridge alone). With no target, no -i and no backend, the "
            + "embedded demo runs: an AoE target on a sparse file behind two in-memory NICs, the multipath initiator over "
            + "both, and the bridge — no hardware, no root.",
        "Then: nbd-client localhost 10809 /dev/nbd0 (or nbdinfo/nbdcopy/qemu-img with nbd://127.0.0.1:10809)."})
final class NbdCommand implements Callable<Integer>
{
    private static final Logger LOG = LoggerFactory.getLogger(NbdCommand.class);

    @Parameters(paramLabel = "eX.Y", arity = "0..*", description = "Targets to export.")
    List<String> targets = new ArrayList<>();

    @Mixin
    NetworkOptions net;

    @Option(names = "--listen", paramLabel = "HOST:PORT|unix:PATH",
        description = {"Where to listen; repeatable. HOST:PORT ([::1]:10809 for IPv6) or unix:PATH, a Unix-domain socket "
            + "created with mode 0660 and removed at exit (nbd+unix:///e0.1?socket=PATH, nbd-client -u PATH). "
            + "Default: 127.0.0.1:10809 (loopback only).",
            "Listening on 0.0.0.0 without --tls require and without --allow lets anyone who reaches the port read and write the disks."})
    List<String> listen = new ArrayList<>();

    @Option(names = "--allow", paramLabel = "CIDR",
        description = "Only TCP clients from this block may connect (repeatable, e.g. 192.168.1.0/24, 10.0.0.7, fd00::/64); others are "
            + "closed before the handshake and logged. Default: everyone who reaches the port. Unix-socket clients are governed by the "
            + "socket's permissions.")
    List<String> allow = new ArrayList<>();

    @Option(names = "--tls", paramLabel = "off|on|require", defaultValue = "off",
        description = "TLS via NBD_OPT_STARTTLS: off refuses it; on offers it; require refuses every option but STARTTLS and ABORT "
            + "until TLS is up (NBD_REP_ERR_TLS_REQD). Needs --tls-certificates. Default: ${DEFAULT-VALUE}.")
    String tls;

    @Option(names = "--tls-certificates", paramLabel = "DIR",
        description = "nbdkit's layout: server-cert.pem, server-key.pem (unencrypted) and, optionally, ca-cert.pem: when it is "
            + "there, clients must present a certificate signed by it. (No TLS-PSK: the JDK's TLS cannot do it.)")
    java.nio.file.Path tlsCertificates;

    @Option(names = "--read-only", description = "Export read-only: writes get EPERM, and the NBD client is told so (the Linux "
        + "kernel's /dev/nbdX becomes a read-only disk). To share one disk with several hosts, serve it read-only everywhere.")
    boolean readOnly;

    @Option(names = "--exclusive", description = "One writer: before serving, reserve each target for this host's MACs (AoE "
        + "reserve/release), so the target refuses every other host's I/O (AoE error 6); release it on a clean exit. If another "
        + "host holds the target, exit 1 naming its MACs.")
    boolean exclusive;

    @Option(names = "--backend", paramLabel = "memory:SIZE", description = "Serve a memory disk of SIZE (e.g. memory:1G) instead of AoE.")
    String backend;

    @Option(names = "--dead-after", paramLabel = "DURATION", converter = Units.DurationConverter.class, defaultValue = "60s",
        description = "Fail I/O with EIO when no path answered for this long (0 = wait forever). Default: ${DEFAULT-VALUE}.")
    Duration deadAfter;

    @Option(names = "--disk", paramLabel = "FILE", defaultValue = "aoe-disk.img",
        description = "Embedded demo: the sparse backing file. Default: ${DEFAULT-VALUE}.")
    String disk;

    @Option(names = "--size", paramLabel = "BYTES", converter = Units.SizeConverter.class, defaultValue = "1G",
        description = "Embedded demo: size of a new backing file. Default: ${DEFAULT-VALUE}.")
    long size;

    @Option(names = "--stop-timeout", paramLabel = "DURATION", converter = Units.DurationConverter.class, defaultValue = "30s",
        description = "Longest clean stop on SIGTERM/SIGINT (finish requests in flight, FLUSH what was written); past it, or on a "
            + "second signal, exit at once. Default: ${DEFAULT-VALUE}.")
    Duration stopTimeout;

    @Option(names = "--metrics", paramLabel = "HOST:PORT",
        description = "Serve Prometheus metrics (text format) on http://HOST:PORT/metrics: per path, per device, per export, "
            + "process and JVM. Port 0 picks a free port (the log says which). Default: none.")
    String metrics;

    @Option(names = "--rediscover", paramLabel = "DURATION", converter = Units.DurationConverter.class, defaultValue = "5s",
        description = "With -i and no target: how often to ask for targets again, so that one started later (which missed "
            + "nothing if it announced itself) is exported within this. Default: ${DEFAULT-VALUE}.")
    Duration rediscover;

    @Mixin
    TargetMacs macs;

    @Option(names = "--request-timeout", paramLabel = "DURATION", converter = Units.DurationConverter.class,
        description = "Answer EIO to a request the backend has not completed after this long (its buffer stays reserved until "
            + "it does), and hang up on a client that leaves its replies unread as long. Default: --dead-after + 60s "
            + "(2m with --dead-after 0).")
    Duration requestTimeout;

    @Option(names = "--max-in-flight", paramLabel = "BYTES", converter = Units.SizeConverter.class, defaultValue = "64M",
        description = "Per connection: READ data and WRITE payloads held from the request until its reply is sent; past it "
            + "the connection stops reading. Default: ${DEFAULT-VALUE}.")
    long maxInFlight;

    @Option(names = "--max-total-in-flight", paramLabel = "BYTES", converter = Units.SizeConverter.class, defaultValue = "256M",
        description = "The same for all connections together (at least 32M): the bound on the bridge's buffer memory, "
            + "about this plus 1 MiB per busy connection. Default: ${DEFAULT-VALUE}.")
    long maxTotalInFlight;

    @Spec
    CommandSpec spec;

    @Override
    public Integer call() throws Exception
    {
        final PrintWriter out = spec.commandLine().getOut();
        final List<AutoCloseable> resources = new ArrayList<>();
        final String version = spec.root().version().length > 0 ? spec.root().version()[0] : "aoe";
        // Bad access options fail before anything is opened.
        final NbdAccess access = NbdAccess.of(listen, allow, tls, tlsCertificates, "--");
        LOG.info("{} nbd starting: pid {}, {}, java {}", version, ProcessHandle.current().pid(), describeOptions(), Runtime.version());
        // Signals first: a SIGTERM while targets are being opened waits its turn, then stops cleanly.
        final ShutdownCoordinator signals = new ShutdownCoordinator(stopTimeout);
        signals.install();
        try
        {
            final Map<String, BlockDevice> exports = new LinkedHashMap<>();
            if (exclusive && (backend != null || targets.isEmpty()))
            {
                throw new IllegalArgumentException("--exclusive reserves the AoE targets named: name them (eX.Y), not with --backend, "
                    + "the embedded demo or every target discovered");
            }
            final InetSocketAddress metricsAddress = metrics == null ? null : parseAddress("--metrics", metrics);
            Initiator initiator = null;
            final boolean exportAllDiscovered = backend == null && targets.isEmpty() && !net.interfaces.isEmpty();
            if (backend != null)
            {
                exports.put("memory", memoryBackend(backend));
            }
            else if (targets.isEmpty() && net.interfaces.isEmpty())
            {
                exports.putAll(EmbeddedStack.start(java.nio.file.Path.of(disk), size, deadAfter, resources, out));
            }
            else
            {
                initiator = net.openInitiator(exportAllDiscovered ? rediscover : Duration.ofSeconds(60));
                resources.add(initiator);
                final List<TargetAddress> wanted = new ArrayList<>();
                targets.forEach(t -> wanted.add(TargetAddress.parse(t)));
                if (wanted.isEmpty())
                {
                    for (final TargetDirectory.Target t : initiator.discover(net.timeout))
                    {
                        wanted.add(t.address());
                    }
                    if (wanted.isEmpty())
                    {
                        LOG.info("no AoE target answered on {} within {} ms yet; exporting targets as they appear",
                            String.join(", ", net.interfaceNames()), net.timeout.toMillis());
                    }
                }
                for (final TargetAddress a : wanted)
                {
                    if (exclusive)
                    {
                        // Closed after the final flush (resources close in reverse), before the initiator.
                        resources.add(TargetReservation.take(initiator, a, net.timeout));
                    }
                    final AoeDevice d = initiator.open(a, deviceOptions(), macs.parse());
                    exports.put(a.toString(), d);
                    TargetMacs.conflictNotice(d).forEach(out::println);
                    if (!exclusive)
                    {
                        TargetReservation.warnIfHeldElsewhere(initiator, d, a, net.timeout);
                    }
                }
            }
            // Closed after the server (resources close in reverse): once the last request is done,
            // a FLUSH to every AoE device written since its last flush, as aoe serve does.
            final Map<String, BlockDevice> served = new LinkedHashMap<>();
            final List<FlushTracker> tracked = new CopyOnWriteArrayList<>();
            exports.forEach((name, d) -> served.put(name, d instanceof AoeDevice ? track(d, tracked) : d));
            resources.add(() -> tracked.forEach(FlushTracker::finalFlush));
            final NbdServer server = access.apply(NbdServer.builder()).exports(served)
                .defaultExport(exports.isEmpty() ? null : exports.keySet().iterator().next()).readOnly(readOnly)
                .closeTimeout(stopTimeout).requestTimeout(requestTimeout()).maxInFlightBytes(maxInFlight)
                .maxTotalInFlightBytes(maxTotalInFlight).start();
            resources.add(server);
            access.warnIfOpen();
            final List<AoeDevice> devices = new CopyOnWriteArrayList<>();
            exports.values().forEach(d ->
            {
                if (d instanceof AoeDevice a)
                {
                    devices.add(a);
                }
            });
            if (exportAllDiscovered)
            {
                final Set<TargetAddress> exported = new HashSet<>();
                devices.forEach(d -> exported.add(d.address()));
                resources.add(new DiscoveredTargetExporter(initiator, deviceOptions(), exported, d ->
                {
                    server.addExport(d.address().toString(), track(d, tracked), readOnly);
                    devices.add(d);
                }).start());
            }
            publishStats(devices, exportAllDiscovered, resources, out);
            if (metricsAddress != null)
            {
                final MetricsEndpoint m = MetricsEndpoint.start(metricsAddress, new DeviceMetrics(() -> devices),
                    new ExportMetrics(server::exports));
                resources.add(m);
                out.printf("metrics on %s%n", m.url());
            }
            for (final Map.Entry<String, BlockDevice> e : exports.entrySet())
            {
                out.printf("export %-8s %s  %d bytes%n", "\"" + e.getKey() + "\"", server.uri(e.getKey()), e.getValue().size());
            }
            out.printf("serving NBD on %s (default export \"%s\")%n", NbdAccess.where(server),
                exports.isEmpty() ? "" : exports.keySet().iterator().next());
            final String uri = server.uri().contains("?") ? "'" + server.uri() + "'" : server.uri();
            out.printf("next: %s   (or: nbdinfo %s)%n", NbdAccess.nbdClientHint(server), uri);
            out.flush();
            LOG.info("ready: serving {} on {}", exports.isEmpty() ? "(targets as they appear)" : String.join(", ", exports.keySet()),
                server.uri());
            ShutdownCoordinator.Event event;
            while ((event = signals.next()).kind() == ShutdownCoordinator.Kind.RELOAD)
            {
                LOG.info("{}: aoe nbd has no config to reload; ignored (aoe serve reloads)", event.signal());
            }
            LOG.info("{}: stopping (finishing requests in flight, then FLUSH; stop timeout {})", event.signal(),
                text(stopTimeout));
            // In reverse: the server stops accepting and drains its connections, then every AoE
            // device written since its last flush is flushed, then the initiator closes.
            closeAll(resources);
            signals.stopped();
            LOG.info("{} nbd stopped cleanly", version);
            return 0;
        }
        catch (final Exception | Error e)
        {
            closeAll(resources);
            signals.stopped();
            throw e;
        }
    }

    /** The options this run uses, for the start line of the log. */
    private String describeOptions()
    {
        final String what = backend != null ? "backend " + backend
            : targets.isEmpty() && net.interfaces.isEmpty() ? "embedded demo on " + disk
            : "targets " + (targets.isEmpty() ? "(all discovered)" : String.join(", ", targets)) + " on "
                + (net.interfaces.isEmpty() ? "every interface that is up" : String.join(", ", net.interfaces)) + " (" + net.transport + ")";
        return what + ", listen " + (listen.isEmpty() ? NbdAccess.DEFAULT_LISTEN : String.join(" ", listen))
            + (allow.isEmpty() ? "" : ", allow " + String.join(" ", allow)) + ", tls " + tls + (readOnly ? ", read-only" : ", read-write")
            + (exclusive ? ", exclusive" : "") + ", dead-after "
            + text(deadAfter) + ", stop timeout " + text(stopTimeout) + ", request timeout " + text(requestTimeout())
            + ", in flight " + (maxInFlight >> 20) + " MiB per connection, " + (maxTotalInFlight >> 20) + " MiB in all"
            + (metrics == null ? "" : ", metrics " + metrics);
    }

    /** Longer than the initiator's own deadline, so that one answers first when a target goes away. */
    private Duration requestTimeout()
    {
        if (requestTimeout != null)
        {
            return requestTimeout;
        }
        return deadAfter.isZero() ? NbdServer.DEFAULT_REQUEST_TIMEOUT : deadAfter.plusSeconds(60);
    }

    /**
     * Lets {@code aoe stat -v} show the live counters of the AoE devices served here. Without a
     * writable run directory the bridge still serves; it says so and publishes nothing.
     */
    private void publishStats(final List<AoeDevice> devices, final boolean more, final List<AutoCloseable> resources,
        final PrintWriter out)
    {
        if (devices.isEmpty() && !more)
        {
            return;
        }
        final String command = "aoe " + String.join(" ", spec.commandLine().getParseResult().originalArgs());
        try
        {
            final StatsPublisher p = StatsPublisher.startInRunDir(command, () ->
            {
                final List<DeviceStats> stats = new ArrayList<>(devices.size());
                devices.forEach(d -> stats.add(d.stats()));
                return stats;
            });
            resources.add(p);
            out.printf("live counters on %s (aoe stat -v shows them)%n", p.socket());
        }
        catch (final java.io.IOException e)
        {
            spec.commandLine().getErr().printf("aoe nbd: not publishing live counters: %s%n", e.getMessage());
        }
    }

    private DeviceOptions deviceOptions()
    {
        return DeviceOptions.defaults().withOpenTimeout(net.timeout).withDeadAfter(deadAfter).withReadOnly(readOnly);
    }

    /** 30 s, 500 ms: durations as an operator writes them. */
    private static String text(final Duration d)
    {
        return d.toMillis() % 1000 == 0 ? d.toSeconds() + " s" : d.toMillis() + " ms";
    }

    private static BlockDevice track(final BlockDevice device, final List<FlushTracker> tracked)
    {
        final FlushTracker t = new FlushTracker(device);
        tracked.add(t);
        return t;
    }

    private static MemoryBlockDevice memoryBackend(final String spec)
    {
        if (!spec.startsWith("memory:"))
        {
            throw new IllegalArgumentException("--backend takes memory:SIZE, e.g. memory:1G (got '" + spec + "')");
        }
        final long bytes = Units.parseSize(spec.substring("memory:".length()));
        if (bytes <= 0 || bytes % 512 != 0)
        {
            throw new IllegalArgumentException("the memory disk size must be a positive multiple of 512");
        }
        return new MemoryBlockDevice("memory", bytes);
    }

    /** {@code HOST:PORT} (an IPv6 host in brackets) for {@code option}, with a clear error naming it. */
    static InetSocketAddress parseAddress(final String option, final String text)
    {
        try
        {
            return ListenAddress.parseTcp(text).resolve();
        }
        catch (final IllegalArgumentException e)
        {
            throw new IllegalArgumentException(option + ": " + e.getMessage(), e);
        }
    }

    private static void closeAll(final List<AutoCloseable> resources)
    {
        for (int i = resources.size() - 1; i >= 0; i--)
        {
            try
            {
                resources.get(i).close();
            }
            catch (final Exception e)
            {
                // closing on the way out: nothing useful to do with a second failure
            }
        }
        resources.clear();
    }
}
