package org.aoemp.initiator;

import java.util.concurrent.TimeUnit;

import org.aoemp.block.IoCallback;

/**
 * Probes paths with a one-sector READ of sector 0 pinned to the path, of two kinds:
 * <ul>
 * <li><b>DOWN paths</b>: when a path's probe is due (first after
 *     {@link RetransmitTimer#FIRST_PROBE_NANOS}, then at doubling intervals up to
 *     {@value #MAX_PROBE_INTERVAL_MILLIS} ms). Any reply brings the path back UP
 *     ({@link CompletionProcessor}); a probe that times out sends it back to DOWN
 *     ({@link RetransmitTimer}). A probe whose link is down is not sent.</li>
 * <li><b>Idle paths</b>: once the device's IDENTIFY was read (so the probe is the device's own READ
 *     command), a path that carries traffic is probed when it was just found (so its RTT
 *     is measured before the scheduler weighs it: an unmeasured path looks as slow as the initial
 *     RTO and would never be chosen) and whenever nothing answered on it for
 *     {@value #IDLE_PROBE_INTERVAL_MILLIS} ms. Busy paths are never probed: their replies
 *     postpone the probe. An idle probe is given {@value #IDLE_PROBE_TIMEOUT_MILLIS} ms or twice the
 *     path's RTO, whichever is longer (at most the interval), so a slow moment is not a lost probe;
 *     {@code downAfterTimeouts} lost in a row (about {@code downAfterTimeouts} seconds of silence)
 *     take the path DOWN while other paths carry the load, before a failover needs it. A device
 *     at rest (no request for {@value #REST_AFTER_MILLIS} ms) probes its paths every
 *     {@value #REST_PROBE_INTERVAL_MILLIS} ms instead, so a host can run a bridge at rest for next
 *     to no CPU; its first request brings every path's next probe within the busy interval.</li>
 * </ul>
 *
 * <p>Threading: the engine thread only.
 */
final class PathProber
{
    static final long MAX_PROBE_INTERVAL_MILLIS = 2000;
    /** An idle path (carrying traffic, no reply for this long) is probed. */
    static final long IDLE_PROBE_INTERVAL_MILLIS = 1000;
    static final long IDLE_PROBE_INTERVAL_NANOS = TimeUnit.MILLISECONDS.toNanos(IDLE_PROBE_INTERVAL_MILLIS);
    /** The shortest time an idle probe is given before it counts as lost. */
    static final long IDLE_PROBE_TIMEOUT_MILLIS = 500;
    private static final long IDLE_PROBE_TIMEOUT_NANOS = TimeUnit.MILLISECONDS.toNanos(IDLE_PROBE_TIMEOUT_MILLIS);
    private static final long MAX_PROBE_INTERVAL_NANOS = TimeUnit.MILLISECONDS.toNanos(MAX_PROBE_INTERVAL_MILLIS);
    private static final IoCallback IGNORE = e -> { };

    /** A device with no request for this long is at rest: its idle probes slow down. */
    static final long REST_AFTER_MILLIS = 30_000;
    private static final long REST_AFTER_NANOS = TimeUnit.MILLISECONDS.toNanos(REST_AFTER_MILLIS);
    /** The idle-probe interval of a device at rest: each path still answers twice a minute. */
    static final long REST_PROBE_INTERVAL_MILLIS = 30_000;
    private static final long REST_PROBE_INTERVAL_NANOS = TimeUnit.MILLISECONDS.toNanos(REST_PROBE_INTERVAL_MILLIS);

    private final PathList paths;
    // engine thread only
    private boolean started;
    private boolean resting;
    private long lastBusyNanos;
    private final SlotTable slots;
    private final Transmitter transmitter;
    private final AtaCommandSet commands;

    PathProber(final PathList paths, final SlotTable slots, final Transmitter transmitter, final AtaCommandSet commands)
    {
        this.paths = paths;
        this.slots = slots;
        this.transmitter = transmitter;
        this.commands = commands;
    }

    /**
     * Sends the probes that are due; returns how many paths it looked after.
     *
     * @param busy requests are queued or their commands in flight: the idle probes keep their
     *        {@value #IDLE_PROBE_INTERVAL_MILLIS} ms interval while the device was busy within
     *        {@value #REST_AFTER_MILLIS} ms, and slow to {@value #REST_PROBE_INTERVAL_MILLIS} ms at rest
     */
    int probe(final long now, final boolean busy)
    {
        if (!started)
        {
            started = true;
            lastBusyNanos = now;
        }
        if (busy)
        {
            lastBusyNanos = now;
            if (resting)
            {
                resting = false;  // work again: every idle path is probed within the busy interval
                for (final Path p : paths.all())
                {
                    p.idleProbeBy(now + IDLE_PROBE_INTERVAL_NANOS);
                }
            }
        }
        else if (!resting && now - lastBusyNanos > REST_AFTER_NANOS)
        {
            resting = true;
        }
        final long idleInterval = resting ? REST_PROBE_INTERVAL_NANOS : IDLE_PROBE_INTERVAL_NANOS;
        int n = 0;
        for (final Path p : paths.all())
        {
            if (p.probeDue(now) && slots.hasFree())
            {
                p.onProbeSent(now, MAX_PROBE_INTERVAL_NANOS);
                if (!p.port().transport().isUp())
                {
                    p.onProbeLost();
                    continue;
                }
                send(p, now, false);
                n++;
            }
            else if (p.idleProbeDue(now) && commands.known() && slots.hasFree() && p.port().transport().isUp())
            {
                p.onIdleProbeSent(now, idleInterval);
                send(p, now, true);
                n++;
            }
        }
        return n;
    }

    private void send(final Path p, final long now, final boolean idle)
    {
        final Slot s = slots.take();
        s.request = new IoRequest(IoRequest.PROBE, 0, 1, null, IGNORE, p, idle);
        s.lba = 0;
        s.sectors = 1;
        s.ataCommand = commands.read();
        s.retries = 0;
        final long timeout = idle ? Math.min(IDLE_PROBE_INTERVAL_NANOS, Math.max(IDLE_PROBE_TIMEOUT_NANOS, 2 * p.rtt().rtoNanos())) : 0;
        transmitter.transmit(s, p, now, false, timeout);
    }
}
