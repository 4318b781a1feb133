package org.aoemp.initiator;

import java.util.ArrayDeque;
import java.util.concurrent.TimeUnit;

import org.aoemp.block.IoError;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * The device's clock work, once per {@value #TICK_MILLIS} ms tick: commands past their deadline
 * are taken back ({@link Slot#recall}) and queued for retransmission, collapsing their path's
 * window and, after {@code downAfterTimeouts} timeout events in a row ({@link Path#onTimeout(int, long, long, long)}), taking the path DOWN; every command still
 * in flight on a path that went DOWN (or whose link went down) is moved to the retry queue at
 * once (evacuation); a write sent again fences its range ({@link WriteFences}), since its earlier
 * copy may still land. It also keeps the time of the last progress and declares the device dead
 * when commands waited for {@code deadAfter} without any path answering.
 *
 * <p>Threading: the engine thread only, except {@link #isDead}, which any thread reads.
 */
final class RetransmitTimer
{
    static final long TICK_MILLIS = 1;
    static final long TICK_NANOS = TimeUnit.MILLISECONDS.toNanos(TICK_MILLIS);
    /** How often the links of the paths that carry traffic are polled. */
    static final long LINK_CHECK_NANOS = TimeUnit.MILLISECONDS.toNanos(20);
    /** The first probe of a path that went DOWN, after this long. */
    static final long FIRST_PROBE_NANOS = TimeUnit.MILLISECONDS.toNanos(20);
    /** A retransmit storm: more than {@link #STORM_RETRANSMITS} retransmits within this interval; one warning per interval. */
    static final long STORM_INTERVAL_NANOS = TimeUnit.SECONDS.toNanos(10);
    static final long STORM_RETRANSMITS = 100;
    private static final Logger LOG = LoggerFactory.getLogger(RetransmitTimer.class);

    private final TargetAddress address;
    private final DeviceOptions options;
    private final SlotTable slots;
    private final PathList paths;
    private final ArrayDeque<Slot> retry;
    private final WriteFences fences;
    private long nextTickNanos;
    private long nextLinkCheckNanos;
    private long nextDeadlineNanos = Long.MAX_VALUE;
    private long lastProgressNanos;
    /** The last scan found commands of requests (not probes) in flight. */
    private boolean commandsInFlight;
    private volatile boolean dead;
    private long deadSinceNanos;
    private long stormIntervalNanos = STORM_INTERVAL_NANOS;
    private long stormThreshold = STORM_RETRANSMITS;
    private long nextStormCheckNanos;

    RetransmitTimer(final TargetAddress address, final DeviceOptions options, final SlotTable slots, final PathList paths,
        final ArrayDeque<Slot> retry, final WriteFences fences)
    {
        this.address = address;
        this.options = options;
        this.slots = slots;
        this.paths = paths;
        this.retry = retry;
        this.fences = fences;
    }

    /** The engine starts: progress is counted from now. */
    void start(final long now)
    {
        lastProgressNanos = now;
        nextStormCheckNanos = now + stormIntervalNanos;
    }

    /** True once per tick; the caller then runs {@link #scan} (and the prober, and {@link #checkDeadAfter}). */
    boolean tickDue(final long now)
    {
        if (now - nextTickNanos >= 0)
        {
            nextTickNanos = now + TICK_NANOS;
            return true;
        }
        return false;
    }

    /** Whether the last scan found commands of requests (not probes) in flight. */
    boolean commandsInFlight()
    {
        return commandsInFlight;
    }

    /** A command was queued with this deadline. */
    void expect(final long deadlineNanos)
    {
        nextDeadlineNanos = Math.min(nextDeadlineNanos, deadlineNanos);
    }

    /** The earliest deadline of a command in flight (as of the last scan and later sends), or {@link Long#MAX_VALUE}. */
    long nextDeadline()
    {
        return nextDeadlineNanos;
    }

    /** A path answered: the device is alive. */
    void onProgress(final long now, final Path via)
    {
        lastProgressNanos = now;
        if (dead)
        {
            dead = false;
            LOG.info("{}: recovered: {} answered after {} dead; requests are served again", address, via.label(),
                PathEventLog.seconds(now - deadSinceNanos));
        }
    }

    /** No path answered for dead-after while commands waited (until one answers again). Any thread. */
    boolean isDead()
    {
        return dead;
    }

    IoError deadError()
    {
        return new IoError(IoError.EIO, "no path to " + address + " answered for " + options.deadAfter().toSeconds()
            + " s (dead-after); every path is down");
    }

    /**
     * Retransmit-storm warnings: one line per {@code intervalNanos} at most, when more than
     * {@code threshold} commands were sent again in that interval (tests shorten both).
     */
    void stormWarning(final long intervalNanos, final long threshold)
    {
        this.stormIntervalNanos = intervalNanos;
        this.stormThreshold = threshold;
        this.nextStormCheckNanos = System.nanoTime() + intervalNanos;
    }

    /** Once per storm interval: warns when more than the threshold of commands were retransmitted in it. */
    private void checkStorm(final long now)
    {
        if (now - nextStormCheckNanos < 0)
        {
            return;
        }
        final long interval = now - nextStormCheckNanos + stormIntervalNanos;
        nextStormCheckNanos = now + stormIntervalNanos;
        long total = 0;
        final Path[] all = paths.all();
        final long[] counts = new long[all.length];
        for (int i = 0; i < all.length; i++)
        {
            counts[i] = all[i].takeRetransmits();
            total += counts[i];
        }
        if (total > stormThreshold)
        {
            final StringBuilder b = new StringBuilder();
            for (int i = 0; i < all.length; i++)
            {
                b.append(i == 0 ? "" : ", ").append(all[i].label()).append(' ').append(all[i].state()).append(' ').append(counts[i]);
            }
            LOG.warn("{}: {} retransmits in the last {} (more than {}): {}", address, total, PathEventLog.seconds(interval),
                stormThreshold, b);
        }
    }

    /** Checks links, and takes back every command past its deadline; returns how many things it did. */
    int scan(final long now)
    {
        int n = 0;
        checkStorm(now);
        if (now - nextLinkCheckNanos >= 0)
        {
            nextLinkCheckNanos = now + LINK_CHECK_NANOS;
            n += checkLinks(now);
        }
        long next = Long.MAX_VALUE;
        boolean inFlight = false;
        for (int i = 0; i < slots.size() && slots.busy() > 0; i++)
        {
            final Slot s = slots.get(i);
            if (!s.busy || !s.isInFlight())
            {
                continue;
            }
            inFlight |= s.request.op != IoRequest.PROBE;
            if (now - s.deadlineNanos >= 0 || s.wasRefused())
            {
                if (onTimeout(s, now))
                {
                    n++;
                    continue;
                }
            }
            if (s.isInFlight())
            {
                next = Math.min(next, s.deadlineNanos);
            }
        }
        nextDeadlineNanos = next;
        commandsInFlight = inFlight;
        return n;
    }

    /**
     * After {@link #scan}: whether the device just became dead (the caller fails what waits).
     *
     * @param queued requests wait outside the slots (submitted, current, fenced, retry queue)
     */
    boolean checkDeadAfter(final long now, final boolean queued)
    {
        if (!queued && !commandsInFlight)
        {
            lastProgressNanos = now;
            return false;
        }
        if (!options.deadAfter().isZero() && !dead && now - lastProgressNanos > options.deadAfter().toNanos())
        {
            dead = true;
            deadSinceNanos = now;
            return true;
        }
        return false;
    }

    /** After an engine error: look at every slot at the next tick. */
    void reset(final long now)
    {
        nextDeadlineNanos = now;
        nextTickNanos = now;
    }

    /** A command timed out: collapse the path's window, maybe take it DOWN, and queue the retransmission. */
    private boolean onTimeout(final Slot s, final long now)
    {
        final boolean refused = s.wasRefused();
        if (!s.recall())
        {
            return false;
        }
        final Path p = s.path;
        if (refused && p.linkLookDue(now))
        {
            p.port().transport().isUp();  // a refusal may be an MTU lowered a moment ago: look at the link now, not at the next poll
        }
        if (s.request.idleProbe)
        {
            slots.release(s);
            if (p.onIdleProbeLost(options.downAfterTimeouts(), now, FIRST_PROBE_NANOS))
            {
                evacuate(p);
            }
            return true;
        }
        if (s.request.op == IoRequest.PROBE)
        {
            p.onAbandon();
            p.onProbeLost();
            p.rtt().backoff();  // else a target slower than the RTO at the time the path went down could never answer in time
            slots.release(s);
            return true;
        }
        s.retries++;
        fenceIfWrite(s, now);
        if (!p.carries(s.sectors))
        {
            // The path's MTU was lowered after the command was made: the frame was refused or lost for
            // its size, which says nothing about the path's health. Send it again where it fits.
            p.onAbandon();
            retry.addLast(s);
            return true;
        }
        s.timedOut(p);
        if (p.onTimeout(options.downAfterTimeouts(), now, FIRST_PROBE_NANOS, s.sentNanos))
        {
            evacuate(p);
        }
        retry.addLast(s);
        return true;
    }

    /** A write about to be sent again: its earlier copies might still land, so fence its range. */
    private void fenceIfWrite(final Slot s, final long now)
    {
        if (AtaCommandWriter.isWrite(s.ataCommand))
        {
            fences.raise(s, (s.generation - 1) & Slot.GENERATION_MASK, now);
        }
    }

    /** Another disk answers from the path's MAC: DOWN for good (until readmitted), its commands to other paths. */
    void exclude(final Path p, final long now)
    {
        if (!p.isExcluded())
        {
            p.exclude(now);
            evacuate(p);
        }
    }

    /** Moves every command in flight on a path that went DOWN to the retry queue at once. */
    private void evacuate(final Path down)
    {
        for (int i = 0; i < slots.size() && slots.busy() > 0; i++)
        {
            final Slot s = slots.get(i);
            if (s.busy && s.path == down && s.request.op != IoRequest.PROBE && s.isInFlight() && s.recall())
            {
                fenceIfWrite(s, System.nanoTime());
                down.onAbandon();
                retry.addLast(s);
            }
        }
    }

    private int checkLinks(final long now)
    {
        int n = 0;
        for (final Path p : paths.all())
        {
            if (p.state().carriesTraffic() && !p.port().transport().isUp())
            {
                p.markDown(now, FIRST_PROBE_NANOS, PathEventLog.Reason.LINK_DOWN);
                evacuate(p);
                n++;
            }
        }
        return n;
    }
}
