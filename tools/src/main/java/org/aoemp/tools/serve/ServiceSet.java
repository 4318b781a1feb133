package org.aoemp.tools.serve;

import java.io.IOException;
import java.nio.file.AccessDeniedException;
import java.nio.file.NoSuchFileException;
import java.time.Duration;
import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.Objects;
import java.util.concurrent.ExecutionException;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.TimeoutException;

import org.aoemp.block.IoError;
import org.aoemp.initiator.AoeDevice;
import org.aoemp.initiator.DeviceOptions;
import org.aoemp.initiator.Initiator;
import org.aoemp.nbd.NbdServer;
import org.aoemp.target.AoeTarget;
import org.aoemp.target.TargetStats;
import org.aoemp.tools.TargetReservation;
import org.aoemp.transport.NetInterfaces;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * What {@code aoe serve} runs: the AoE targets, the exports (an initiator and its device each)
 * and the NBD server in front of them, brought in line with a {@link ServeConfig} at start and on
 * every reload. An export or target whose entry did not change keeps running untouched (its
 * connections and I/O go on); a changed entry is stopped and started again.
 *
 * <p>Each export has an {@link Initiator} of its own on its interfaces, so stopping one closes
 * exactly its sockets and threads. Targets start before exports (a host may export its own
 * target) and stop after them.
 *
 * <p>Threading: one thread (the command's main thread) calls start, reload and stop.
 */
final class ServiceSet
{
    private static final Logger LOG = LoggerFactory.getLogger(ServiceSet.class);
    /** Longest wait for the target's answers to a reserve or release (exclusive exports). */
    private static final Duration RESERVE_WAIT = Duration.ofSeconds(2);

    /** An export being served. */
    private record RunningExport(ServeConfig.ExportSpec spec, Initiator initiator, TargetReservation reservation, AoeDevice device,
        FlushTracker tracked)
    {
    }

    /** A target being served. */
    private record RunningTarget(ServeConfig.TargetSpec spec, AoeTarget target)
    {
    }

    /** Something in the config could not be started. */
    static final class StartFailure extends Exception
    {
        private static final long serialVersionUID = 1L;

        StartFailure(final String message, final Throwable cause)
        {
            super(message, cause);
        }
    }

    private final int inheritedFd;
    private final Map<String, RunningExport> exports = new LinkedHashMap<>();
    private final Map<String, RunningTarget> targets = new LinkedHashMap<>();
    /** A copy of the exports' devices, replaced on every change: the stats publisher's thread reads it. */
    private volatile List<AoeDevice> devices = List.of();
    private ServeConfig config;
    /** Volatile: the metrics endpoint's thread reads it. */
    private volatile NbdServer server;

    /** @param inheritedFd the listening socket systemd passed, or -1 */
    ServiceSet(final int inheritedFd)
    {
        this.inheritedFd = inheritedFd;
    }

    /** Starts everything {@code c} asks for; on failure stops what had started and throws. */
    void start(final ServeConfig c) throws StartFailure
    {
        config = c;
        try
        {
            for (final ServeConfig.TargetSpec t : c.targets())
            {
                startTarget(t);
            }
            final List<RunningExport> opened = new ArrayList<>();
            for (final ServeConfig.ExportSpec e : c.exports())
            {
                opened.add(openExport(e));
            }
            if (!opened.isEmpty() || inheritedFd >= 0)
            {
                ensureServer();
            }
            for (final RunningExport e : opened)
            {
                publish(e);
            }
        }
        catch (final StartFailure e)
        {
            stop(c.service().stopTimeout());
            throw e;
        }
    }

    /**
     * Brings the running set in line with {@code next}: removed and changed exports stop (after
     * their in-flight requests), removed and changed targets stop, new ones start. An entry that
     * fails to start is logged and left out; the rest goes on.
     *
     * @return what changed, one line for the log
     */
    String reload(final ServeConfig next)
    {
        final List<String> changes = new ArrayList<>();
        final List<String> failed = new ArrayList<>();
        int unchanged = 0;
        final Map<String, ServeConfig.ExportSpec> wantedExports = new LinkedHashMap<>();
        next.exports().forEach(e -> wantedExports.put(e.name(), e));
        final Map<String, ServeConfig.TargetSpec> wantedTargets = new LinkedHashMap<>();
        next.targets().forEach(t -> wantedTargets.put(t.name(), t));

        for (final RunningExport e : List.copyOf(exports.values()))
        {
            if (!e.spec().equals(wantedExports.get(e.spec().name())))
            {
                stopExport(e);
                changes.add("-export " + e.spec().name());
            }
        }
        for (final RunningTarget t : List.copyOf(targets.values()))
        {
            if (!t.spec().equals(wantedTargets.get(t.spec().name())))
            {
                stopTarget(t);
                changes.add("-target " + t.spec().name());
            }
        }
        for (final ServeConfig.TargetSpec t : next.targets())
        {
            if (targets.containsKey(t.name()))
            {
                unchanged++;
                continue;
            }
            try
            {
                startTarget(t);
                changes.add("+target " + t.name());
            }
            catch (final StartFailure e)
            {
                LOG.error("reload: {}", e.getMessage());
                failed.add("target " + t.name());
            }
        }
        for (final ServeConfig.ExportSpec e : next.exports())
        {
            if (exports.containsKey(e.name()))
            {
                unchanged++;
                continue;
            }
            try
            {
                final RunningExport r = openExport(e);
                ensureServer();
                publish(r);
                changes.add("+export " + e.name());
            }
            catch (final StartFailure x)
            {
                LOG.error("reload: {}", x.getMessage());
                failed.add("export " + e.name());
            }
        }
        if (server != null && config.nbd().accessDiffers(next.nbd()))
        {
            LOG.warn("reload: [nbd] listen, allow or tls changed; the NBD server keeps {} until a restart",
                org.aoemp.tools.NbdAccess.where(server) + ", allowing " + config.nbd().allow());
        }
        if (!Objects.equals(config.nbd().defaultExport(), next.nbd().defaultExport()) && server != null)
        {
            LOG.warn("reload: [nbd] default-export changed; it takes effect at the next restart");
        }
        if (!config.service().equals(next.service()))
        {
            LOG.warn("reload: [service] changed; it takes effect at the next restart");
        }
        config = new ServeConfig(next.file(), config.nbd(), config.service(), next.exports(), next.targets());
        return (changes.isEmpty() ? "no change" : String.join(", ", changes)) + "; " + unchanged + " unchanged"
            + (failed.isEmpty() ? "" : "; failed to start: " + String.join(", ", failed));
    }

    /**
     * The clean stop: the NBD server stops accepting and lets every connection finish its
     * in-flight requests, each export written since its last flush is flushed, then exports and
     * targets close. Bounded by {@code timeout} for the NBD drain and again for the flushes.
     */
    void stop(final Duration timeout)
    {
        if (server != null)
        {
            server.close();
            server = null;
        }
        for (final RunningExport e : List.copyOf(exports.values()))
        {
            flushAndClose(e, timeout);
        }
        for (final RunningTarget t : List.copyOf(targets.values()).reversed())
        {
            stopTarget(t);
        }
    }

    /** One line for STATUS= and the log. */
    String status()
    {
        final StringBuilder b = new StringBuilder();
        b.append("serving ").append(exports.size()).append(exports.size() == 1 ? " export" : " exports");
        if (!exports.isEmpty())
        {
            b.append(" (").append(String.join(", ", exports.keySet())).append(')');
        }
        if (server != null)
        {
            b.append(" on ").append(server.uri());
        }
        b.append(", ").append(targets.size()).append(targets.size() == 1 ? " target" : " targets");
        if (!targets.isEmpty())
        {
            b.append(" (").append(String.join(", ", targets.keySet())).append(')');
        }
        return b.toString();
    }

    NbdServer server()
    {
        return server;
    }

    /** The devices of the exports served now, for the stats publisher. Any thread. */
    List<AoeDevice> devices()
    {
        return devices;
    }

    /** Main thread, after every change of {@link #exports}: the list other threads read. */
    private void exportsChanged()
    {
        final List<AoeDevice> list = new ArrayList<>();
        exports.values().forEach(e -> list.add(e.device()));
        devices = List.copyOf(list);
    }

    // ---------------------------------------------------------------------------------- parts

    private void ensureServer()
    {
        if (server != null)
        {
            return;
        }
        final NbdServer.Builder b = NbdServer.builder().closeTimeout(config.service().stopTimeout());
        if (config.nbd().defaultExport() != null)
        {
            b.defaultExport(config.nbd().defaultExport());
        }
        // Checked by ConfigLoader; read again here for the certificates as they are now.
        final org.aoemp.tools.NbdAccess access = config.nbd().access();
        access.apply(b);
        if (inheritedFd >= 0)
        {
            b.inheritedFd(inheritedFd);
        }
        server = b.start();
        if (inheritedFd < 0)
        {
            access.warnIfOpen();
        }
        LOG.info("NBD server listening on {}{}", org.aoemp.tools.NbdAccess.where(server),
            inheritedFd >= 0 ? " (socket from systemd, fd " + inheritedFd + ")" : "");
    }

    private void startTarget(final ServeConfig.TargetSpec spec) throws StartFailure
    {
        final AoeTarget target;
        try
        {
            target = AoeTarget.open(Targets.options(spec), config.service().transport(), spec.interfaces());
        }
        catch (final NoSuchFileException e)
        {
            throw new StartFailure("target " + spec.name() + ": " + spec.file() + ": no such file or block device", e);
        }
        catch (final AccessDeniedException e)
        {
            throw new StartFailure("target " + spec.name() + ": cannot open " + spec.file() + (spec.readOnly() ? "" : " for writing")
                + ": permission denied", e);
        }
        catch (final IOException | RuntimeException e)
        {
            throw new StartFailure("target " + spec.name() + " did not start: " + e.getMessage(), e);
        }
        targets.put(spec.name(), new RunningTarget(spec, target));
        LOG.info("target {} started: {}", spec.name(), target.describe());
    }

    private void stopTarget(final RunningTarget t)
    {
        targets.remove(t.spec().name());
        t.target().close();
        final TargetStats st = t.target().stats();
        LOG.info("target {} stopped: {} ATA commands, {} sectors read, {} written, {} flushes, {} errors", t.spec().name(),
            st.ataCommands(), st.sectorsRead(), st.sectorsWritten(), st.flushes(), st.ataErrors() + st.aoeErrors() + st.ioErrors());
    }

    private RunningExport openExport(final ServeConfig.ExportSpec spec) throws StartFailure
    {
        final List<String> interfaces;
        Initiator initiator = null;
        TargetReservation reservation = null;
        try
        {
            interfaces = spec.interfaces().isEmpty() ? interfacesUp() : spec.interfaces();
            initiator = Initiator.open(config.service().transport(), interfaces, Duration.ofSeconds(60));
            // exclusive: reserved before the first I/O, released after the final flush (flushAndClose)
            reservation = spec.exclusive() ? TargetReservation.take(initiator, spec.target(),
                RESERVE_WAIT.compareTo(spec.openTimeout()) < 0 ? RESERVE_WAIT : spec.openTimeout()) : null;
            final AoeDevice device = initiator.open(spec.target(), DeviceOptions.defaults().withOpenTimeout(spec.openTimeout())
                .withDeadAfter(spec.deadAfter()).withReadOnly(spec.readOnly()));
            if (reservation == null)
            {
                TargetReservation.warnIfHeldElsewhere(initiator, device, spec.target(), RESERVE_WAIT);
            }
            final RunningExport e = new RunningExport(spec, initiator, reservation, device, new FlushTracker(device));
            exports.put(spec.name(), e);
            exportsChanged();
            LOG.info("export {} started: {} bytes over {} path(s) on {}, {}, dead-after {}", spec.name(), device.size(),
                device.pathStats().size(), String.join(", ", interfaces), (spec.readOnly() ? "read-only" : "read-write")
                + (spec.exclusive() ? ", exclusive" : ""), text(spec.deadAfter()));
            return e;
        }
        catch (final IoError | IOException | RuntimeException e)
        {
            if (reservation != null)
            {
                reservation.close();  // the device did not open: give the target back
            }
            if (initiator != null)
            {
                initiator.close();
            }
            throw new StartFailure("export " + spec.name() + " did not start: " + e.getMessage(), e);
        }
        catch (final InterruptedException e)
        {
            if (reservation != null)
            {
                reservation.close();
            }
            initiator.close();
            Thread.currentThread().interrupt();
            throw new StartFailure("export " + spec.name() + ": interrupted while opening", e);
        }
    }

    private void publish(final RunningExport e)
    {
        server.addExport(e.spec().name(), e.tracked(), e.spec().readOnly());
    }

    private void stopExport(final RunningExport e)
    {
        if (server != null)
        {
            server.removeExport(e.spec().name());
        }
        flushAndClose(e, config.service().stopTimeout());
    }

    private void flushAndClose(final RunningExport e, final Duration timeout)
    {
        exports.remove(e.spec().name());
        exportsChanged();
        String flushed = "nothing to flush";
        try
        {
            if (e.tracked().flushIfDirty().get(timeout.toMillis(), TimeUnit.MILLISECONDS))
            {
                flushed = "flushed";
            }
        }
        catch (final ExecutionException x)
        {
            flushed = "FLUSH failed: " + x.getCause().getMessage();
            LOG.error("export {}: final FLUSH failed: {}", e.spec().name(), x.getCause().getMessage());
        }
        catch (final TimeoutException x)
        {
            flushed = "FLUSH timed out";
            LOG.error("export {}: final FLUSH did not complete within {}", e.spec().name(), text(timeout));
        }
        catch (final InterruptedException x)
        {
            Thread.currentThread().interrupt();
            flushed = "interrupted";
        }
        if (e.reservation() != null)
        {
            e.reservation().close();
        }
        e.initiator().close();
        LOG.info("export {} stopped ({})", e.spec().name(), flushed);
    }

    /** Every interface that is up, has a MAC and is not loopback, as the other commands default. */
    private static List<String> interfacesUp()
    {
        final List<String> names = NetInterfaces.usableByDefault();
        if (names.isEmpty())
        {
            throw new IllegalArgumentException("no usable network interface is up; name them with interfaces = [...]");
        }
        return names;
    }

    /** 30 s, 500 ms: durations as an operator writes them, not PT30S. */
    static String text(final Duration d)
    {
        return d.toMillis() % 1000 == 0 ? d.toSeconds() + " s" : d.toMillis() + " ms";
    }
}
