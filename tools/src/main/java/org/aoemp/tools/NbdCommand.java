package org.aoemp.tools;

import java.io.PrintWriter;
import java.net.InetSocketAddress;
import java.time.Duration;
import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.concurrent.Callable;

import org.aoemp.block.BlockDevice;
import org.aoemp.block.MemoryBlockDevice;
import org.aoemp.initiator.AoeDevice;
import org.aoemp.initiator.DeviceStats;
import org.aoemp.initiator.DeviceOptions;
import org.aoemp.initiator.Initiator;
import org.aoemp.initiator.TargetAddress;
import org.aoemp.initiator.TargetDirectory;
import org.aoemp.nbd.NbdServer;
import org.aoemp.tools.serve.FlushTracker;
import org.aoemp.tools.serve.ShutdownCoordinator;
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

    @Option(names = "--listen", paramLabel = "HOST:PORT", defaultValue = "127.0.0.1:10809",
        description = "Where to listen. Default: ${DEFAULT-VALUE} (loopback only).")
    String listen;

    @Option(names = "--read-only", description = "Export read-only (writes get EPERM).")
    boolean readOnly;

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
        LOG.info("{} nbd starting: pid {}, {}, java {}", version, ProcessHandle.current().pid(), describeOptions(), Runtime.version());
        // Signals first: a SIGTERM while targets are being opened waits its turn, then stops cleanly.
        final ShutdownCoordinator signals = new ShutdownCoordinator(stopTimeout);
        signals.install();
        try
        {
            final Map<String, BlockDevice> exports = new LinkedHashMap<>();
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
                final Initiator initiator = net.openInitiator(Duration.ofSeconds(60));
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
                        throw new IllegalArgumentException("no AoE target answered on " + String.join(", ", net.interfaceNames())
                            + " within " + net.timeout.toMillis() + " ms");
                    }
                }
                for (final TargetAddress a : wanted)
                {
                    final AoeDevice d = initiator.open(a, DeviceOptions.defaults().withOpenTimeout(net.timeout)
                        .withDeadAfter(deadAfter).withReadOnly(readOnly));
                    exports.put(a.toString(), d);
                }
            }
            // Closed after the server (resources close in reverse): once the last request is done,
            // a FLUSH to every AoE device written since its last flush, as aoe serve does.
            final Map<String, BlockDevice> served = new LinkedHashMap<>();
            final List<FlushTracker> tracked = new ArrayList<>();
            exports.forEach((name, d) -> served.put(name, d instanceof AoeDevice ? track(d, tracked) : d));
            resources.add(() -> tracked.forEach(FlushTracker::finalFlush));
            final NbdServer server = NbdServer.builder().listen(parseListen(listen)).exports(served)
                .defaultExport(exports.keySet().iterator().next()).readOnly(readOnly).closeTimeout(stopTimeout)
                .requestTimeout(requestTimeout()).maxInFlightBytes(maxInFlight).maxTotalInFlightBytes(maxTotalInFlight).start();
            resources.add(server);
            publishStats(exports, resources, out);
            for (final Map.Entry<String, BlockDevice> e : exports.entrySet())
            {
                out.printf("export %-8s %s  %d bytes%n", "\"" + e.getKey() + "\"", server.uri(e.getKey()), e.getValue().size());
            }
            out.printf("serving NBD on %s (default export \"%s\")%n", server.address(), exports.keySet().iterator().next());
            out.printf("next: nbd-client %s %d /dev/nbd0   (or: nbdinfo %s)%n",
                server.address().getAddress().isLoopbackAddress() ? "localhost" : server.address().getHostString(), server.port(),
                server.uri());
            out.flush();
            LOG.info("ready: serving {} on nbd://{}:{}", String.join(", ", exports.keySet()),
                server.address().getAddress().getHostAddress(), server.port());
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
        return what + ", listen " + listen + (readOnly ? ", read-only" : ", read-write") + ", dead-after "
            + text(deadAfter) + ", stop timeout " + text(stopTimeout) + ", request timeout " + text(requestTimeout())
            + ", in flight " + (maxInFlight >> 20) + " MiB per connection, " + (maxTotalInFlight >> 20) + " MiB in all";
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
    private void publishStats(final Map<String, BlockDevice> exports, final List<AutoCloseable> resources, final PrintWriter out)
    {
        final List<AoeDevice> devices = new ArrayList<>();
        exports.values().forEach(d ->
        {
            if (d instanceof AoeDevice a)
            {
                devices.add(a);
            }
        });
        if (devices.isEmpty())
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

    static InetSocketAddress parseListen(final String text)
    {
        final int colon = text.lastIndexOf(':');
        if (colon <= 0)
        {
            throw new IllegalArgumentException("--listen takes HOST:PORT, e.g. 127.0.0.1:10809 (got '" + text + "')");
        }
        final String host = text.substring(0, colon).replace("[", "").replace("]", "");
        try
        {
            final int port = Integer.parseInt(text.substring(colon + 1));
            if (port < 0 || port > 65535)
            {
                throw new NumberFormatException();
            }
            return new InetSocketAddress(host, port);
        }
        catch (final NumberFormatException e)
        {
            throw new IllegalArgumentException("bad port in --listen '" + text + "'");
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
