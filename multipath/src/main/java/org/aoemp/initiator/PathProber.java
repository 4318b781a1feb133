package org.aoemp.initiator;

import java.util.concurrent.TimeUnit;

import org.aoemp.block.IoCallback;

/**
 * Probes the paths that are DOWN: when a path's probe is due (first after
 * {@link RetransmitTimer#FIRST_PROBE_NANOS}, then at doubling intervals up to
 * {@value #MAX_PROBE_INTERVAL_MILLIS} ms) it sends a one-sector READ of sector 0 pinned to that
 * path. Any reply brings the path back UP ({@link CompletionProcessor}); a probe that times out
 * sends it back to DOWN ({@link RetransmitTimer}). A probe whose link is down is not sent.
 *
 * <p>Threading: the engine thread only.
 */
final class PathProber
{
    static final long MAX_PROBE_INTERVAL_MILLIS = 2000;
    private static final long MAX_PROBE_INTERVAL_NANOS = TimeUnit.MILLISECONDS.toNanos(MAX_PROBE_INTERVAL_MILLIS);
    private static final IoCallback IGNORE = e -> { };

    private final PathList paths;
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

    /** Sends the probes that are due; returns how many paths it looked after. */
    int probe(final long now)
    {
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
                final Slot s = slots.take();
                s.request = new IoRequest(IoRequest.PROBE, 0, 1, null, IGNORE, p);
                s.lba = 0;
                s.sectors = 1;
                s.ataCommand = commands.read();
                s.retries = 0;
                transmitter.transmit(s, p, now, false);
                n++;
            }
        }
        return n;
    }
}
