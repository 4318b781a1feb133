package org.aoemp.tools.serve;

import java.io.PrintWriter;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import java.util.concurrent.Callable;

import org.aoemp.initiator.DeviceStats;
import org.aoemp.tools.StatsPublisher;
import org.aoemp.tools.metrics.DeviceMetrics;
import org.aoemp.tools.metrics.ExportMetrics;
import org.aoemp.tools.metrics.MetricsEndpoint;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;
import picocli.CommandLine.Command;
import picocli.CommandLine.Model.CommandSpec;
import picocli.CommandLine.Option;
import picocli.CommandLine.Spec;

/**
 * {@code aoe serve --config FILE}: everything a host serves, from one TOML file — AoE targets
 * ({@code [[target]]}) and AoE targets exported over NBD ({@code [[export]]}) — as a systemd
 * service: socket activation, sd_notify, SIGHUP reloads, a clean stop on SIGTERM.
 * {@code --check} only validates the file (no root, no sockets).
 */
@Command(name = "serve", mixinStandardHelpOptions = true,
    description = {"Serve what a config file lists: AoE targets ([[target]]) and AoE targets over NBD ([[export]]), until SIGTERM/SIGINT.",
        "SIGHUP re-reads the file: new entries start, removed ones stop after their in-flight requests, unchanged ones keep running; "
            + "a bad file is logged and ignored. On SIGTERM: stop accepting, finish requests in flight, FLUSH what was written, exit 0.",
        "Under systemd: socket activation (LISTEN_FDS), Type=notify (READY=1, RELOADING=1, STOPPING=1). See docs/service.md.",
        "Exit status: 0 after a clean stop (or a valid --check), 1 when something could not start, 2 for a bad config file."})
public final class ServeCommand implements Callable<Integer>
{
    /** Exit status for a config file that is refused. */
    public static final int EXIT_BAD_CONFIG = 2;
    private static final Logger LOG = LoggerFactory.getLogger(ServeCommand.class);

    @Option(names = {"-c", "--config"}, paramLabel = "FILE", required = true, description = "The config file (TOML), e.g. /etc/aoe/aoe.conf.")
    Path config;

    @Option(names = "--check", description = "Only check the config file: exit 0 when it is valid, 2 (naming file, line and key) when not.")
    boolean check;

    @Spec
    CommandSpec spec;

    @Override
    public Integer call() throws Exception
    {
        final PrintWriter out = spec.commandLine().getOut();
        final PrintWriter err = spec.commandLine().getErr();
        final ServeConfig first;
        try
        {
            first = ConfigLoader.load(config);
        }
        catch (final ConfigLoader.InvalidConfig e)
        {
            for (final ConfigLoader.Problem p : e.problems())
            {
                err.println("aoe serve: " + p);
            }
            err.println("aoe serve: " + config + " refused (" + e.problems().size() + (e.problems().size() == 1 ? " problem" : " problems")
                + ")" + (check ? "" : "; nothing started"));
            err.flush();
            return EXIT_BAD_CONFIG;
        }
        if (check)
        {
            out.println("aoe serve: " + config + " is valid: " + first.exports().size() + " export(s), " + first.targets().size()
                + " target(s)");
            out.flush();
            return 0;
        }
        return serve(first);
    }

    private int serve(final ServeConfig first) throws InterruptedException
    {
        final Map<String, String> env = System.getenv();
        final long pid = ProcessHandle.current().pid();
        final String version = spec.root().version().length > 0 ? spec.root().version()[0] : "aoe";
        LOG.info("{} serve starting: pid {}, config {}, java {}", version, pid, config.toAbsolutePath(), Runtime.version());
        final int listenFds = SocketActivation.listenFds(env, pid);
        int inheritedFd = -1;
        if (listenFds > 0)
        {
            inheritedFd = SocketActivation.FIRST_FD;
            LOG.info("socket activation: serving NBD on the socket systemd passed (fd {}){}", inheritedFd,
                first.exports().isEmpty() ? "" : "; [nbd] listen = " + String.join(", ", first.nbd().listen()) + " is not used");
            if (listenFds > 1)
            {
                LOG.warn("socket activation: {} sockets passed, only the first (fd {}) is served", listenFds, inheritedFd);
            }
        }
        final ShutdownCoordinator signals = new ShutdownCoordinator(first.service().stopTimeout());
        signals.install();
        try (SystemdNotifier notifier = SystemdNotifier.fromEnvironment(env))
        {
            final ServiceSet set = new ServiceSet(inheritedFd);
            try
            {
                set.start(first);
            }
            catch (final ServiceSet.StartFailure e)
            {
                LOG.error("not started: {}", e.getMessage());
                notifier.status("failed: " + e.getMessage());
                signals.stopped();
                return org.aoemp.tools.AoeCommand.EXIT_FAILURE;
            }
            if (first.exports().isEmpty() && first.targets().isEmpty())
            {
                LOG.warn("{} has no [[export]] and no [[target]]: serving nothing (add entries and send SIGHUP)", config);
            }
            final MetricsEndpoint metrics;
            try
            {
                metrics = startMetrics(first, set);
            }
            catch (final java.io.IOException e)
            {
                LOG.error("not started: {}", e.getMessage());
                notifier.status("failed: " + e.getMessage());
                set.stop(first.service().stopTimeout());
                signals.stopped();
                return org.aoemp.tools.AoeCommand.EXIT_FAILURE;
            }
            final StatsPublisher stats = publishStats(set);
            LOG.info("ready: {}", set.status());
            notifier.ready(set.status());
            ShutdownCoordinator.Event event;
            while ((event = signals.next()).kind() == ShutdownCoordinator.Kind.RELOAD)
            {
                reload(set, notifier, first.service().metrics());
            }
            LOG.info("{}: stopping (finishing requests in flight, then FLUSH; stop-timeout {})", event.signal(),
                ServiceSet.text(first.service().stopTimeout()));
            notifier.stopping("stopping on " + event.signal());
            set.stop(first.service().stopTimeout());
            if (stats != null)
            {
                stats.close();
            }
            if (metrics != null)
            {
                metrics.close();
            }
            signals.stopped();
            LOG.info("{} serve stopped cleanly", version);
            return 0;
        }
    }

    /**
     * Lets {@code aoe stat -v} show the live counters of the exports (those a reload adds or
     * removes too). Without a writable run directory the service still runs; it says so.
     */
    private StatsPublisher publishStats(final ServiceSet set)
    {
        final String command = "aoe " + String.join(" ", spec.commandLine().getParseResult().originalArgs());
        try
        {
            final StatsPublisher p = StatsPublisher.startInRunDir(command, () ->
            {
                final List<DeviceStats> stats = new ArrayList<>();
                set.devices().forEach(d -> stats.add(d.stats()));
                return stats;
            });
            LOG.info("live counters on {} (aoe stat -v shows them)", p.socket());
            return p;
        }
        catch (final java.io.IOException e)
        {
            LOG.warn("not publishing live counters: {}", e.getMessage());
            return null;
        }
    }

    /**
     * {@code [service] metrics = "HOST:PORT"}: Prometheus metrics of the exports and their devices
     * (those a reload adds or removes too), process and JVM. Null when the key is absent.
     *
     * @throws java.io.IOException when the address cannot be bound
     */
    private static MetricsEndpoint startMetrics(final ServeConfig config, final ServiceSet set) throws java.io.IOException
    {
        final java.net.InetSocketAddress a = config.service().metrics();
        if (a == null)
        {
            return null;
        }
        return MetricsEndpoint.start(new java.net.InetSocketAddress(a.getHostString(), a.getPort()), new DeviceMetrics(set::devices),
            new ExportMetrics(() ->
            {
                final org.aoemp.nbd.NbdServer server = set.server();
                return server == null ? List.of() : server.exports();
            }));
    }

    private void reload(final ServiceSet set, final SystemdNotifier notifier, final java.net.InetSocketAddress metrics)
    {
        LOG.info("SIGHUP: reloading {}", config);
        notifier.reloading("reloading " + config);
        try
        {
            final ServeConfig next = ConfigLoader.load(config);
            LOG.info("reloaded {}: {}", config, set.reload(next));
            if (!java.util.Objects.equals(String.valueOf(metrics), String.valueOf(next.service().metrics())))
            {
                LOG.warn("reload: [service] metrics changed; metrics stay where they are until a restart");
            }
            if (next.exports().isEmpty() && next.targets().isEmpty())
            {
                LOG.warn("{} has no [[export]] and no [[target]]: serving nothing", config);
            }
        }
        catch (final ConfigLoader.InvalidConfig e)
        {
            for (final ConfigLoader.Problem p : e.problems())
            {
                LOG.error("reload refused: {}", p);
            }
            LOG.error("reload refused: {} has {} problem(s); still running the previous set: {}", config, e.problems().size(), set.status());
        }
        notifier.ready(set.status());
    }
}
