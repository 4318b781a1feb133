package org.aoemp.initiator;

import java.util.concurrent.TimeUnit;

import org.aoemp.protocol.MacAddress;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * The log lines of one path's state changes, for an operator: a warning when the path stops
 * carrying traffic ({@code e7.3 path eth1 -> 02:..: UP -> SUSPECT -> DOWN (3 timeouts in a row)}),
 * an info line when it carries traffic again ({@code DOWN -> PROBING -> UP (probe answered after
 * 1.2 s down)}). The steps in between (UP to SUSPECT and back, the probes of a DOWN path) are
 * debug lines only, and show in the trail of the next line that is logged.
 *
 * <p>A flapping path cannot flood the log: at most one line per {@value #MIN_INTERVAL_MILLIS} ms
 * per path. Changes within that time are counted, and {@link #flushHeld} (called every timer
 * tick) then logs one line with the path's state now and how many changes were held back.
 *
 * <p>Threading: the device's engine thread only (the path's owner). Nothing here runs per frame:
 * only on a state change, and {@link #flushHeld} is one field test when nothing is held.
 */
final class PathEventLog
{
    static final Logger LOG = LoggerFactory.getLogger(Path.class);
    static final long MIN_INTERVAL_MILLIS = 1000;
    private static final long MIN_INTERVAL_NANOS = TimeUnit.MILLISECONDS.toNanos(MIN_INTERVAL_MILLIS);
    private static final int MAX_TRAIL = 6;

    /** Why a path changed state; {@code count} fills in the number where there is one. */
    enum Reason
    {
        TIMEOUT("a command timed out"),
        TIMEOUTS("%d timeouts in a row"),
        LINK_DOWN("link down"),
        PROBE_SENT("probe sent"),
        PROBE_LOST("probe unanswered"),
        IDLE_PROBE_LOST("an idle path's probe went unanswered"),
        IDLE_PROBES_LOST("%d unanswered in a row, the last an idle path's probe"),
        PROBE_ANSWERED("probe answered"),
        REPLY("reply"),
        REPLY_AFTER_DOWN("reply after being down"),
        IDENTITY_CHANGED("another disk answers from its MAC now");

        private final String text;

        Reason(final String text)
        {
            this.text = text;
        }

        String text(final int count)
        {
            return text.contains("%d") ? String.format(java.util.Locale.ROOT, text, count) : text;
        }
    }

    private final String name;
    private final String label;
    private final PathState[] trail = new PathState[MAX_TRAIL];
    private int trailLength;
    private boolean logged;
    private long lastLineNanos;
    private int heldBack;
    private Reason heldReason;
    private int heldCount;
    private long heldSinceNanos;
    private long downSinceNanos;

    PathEventLog(final String device, final Port port, final long remoteMac)
    {
        this.label = port.name() + " -> " + new MacAddress(remoteMac);
        this.name = device + " path " + label;
    }

    /** "DEVICE path IF -> MAC", how this path's log lines begin. */
    String name()
    {
        return name;
    }

    /** {@code eth1 -> 02:00:00:00:00:02}: the path in log lines. */
    String label()
    {
        return label;
    }

    /** The path went from {@code from} to {@code to}. */
    void changed(final PathState from, final PathState to, final Reason reason, final int count, final long now)
    {
        if (LOG.isDebugEnabled())
        {
            LOG.debug("{}: {} -> {} ({})", name, from, to, reason.text(count));
        }
        if (trailLength == 0)
        {
            trail[trailLength++] = from;
        }
        final boolean significant = from.carriesTraffic() != to.carriesTraffic();
        if (!significant)
        {
            if (to == PathState.UP)
            {
                trailLength = 0;  // SUSPECT and back: nothing to tell at info
            }
            else if (to != PathState.PROBING && from != PathState.PROBING)
            {
                append(to);  // UP -> SUSPECT; the probes of a DOWN path stay out of the trail
            }
            return;
        }
        if (from == PathState.PROBING)
        {
            append(PathState.PROBING);
        }
        append(to);
        final long downFor = to.carriesTraffic() ? now - downSinceNanos : 0;
        if (!to.carriesTraffic())
        {
            downSinceNanos = now;
        }
        if (logged && now - lastLineNanos < MIN_INTERVAL_NANOS)
        {
            if (heldBack++ == 0)
            {
                heldSinceNanos = lastLineNanos;
            }
            heldReason = reason;
            heldCount = count;
            trailLength = 0;
            return;
        }
        final String trailText = trailText();
        trailLength = 0;
        logged = true;
        lastLineNanos = now;
        if (to.carriesTraffic())
        {
            LOG.info("{}: {} ({} after {} down)", name, trailText, reason.text(count), seconds(downFor));
        }
        else
        {
            LOG.warn("{}: {} ({})", name, trailText, reason.text(count));
        }
    }

    /** Every timer tick: logs the changes held back, once the interval since the last line has passed. */
    void flushHeld(final PathState now, final long nowNanos)
    {
        if (heldBack == 0 || nowNanos - lastLineNanos < MIN_INTERVAL_NANOS)
        {
            return;
        }
        final String text = "{}: now {} (last change: {}); {} state changes in the last {} not logged one by one (flapping)";
        if (now.carriesTraffic())
        {
            LOG.info(text, name, now, heldReason.text(heldCount), heldBack, seconds(nowNanos - heldSinceNanos));
        }
        else
        {
            LOG.warn(text, name, now, heldReason.text(heldCount), heldBack, seconds(nowNanos - heldSinceNanos));
        }
        heldBack = 0;
        heldReason = null;
        lastLineNanos = nowNanos;
    }

    private void append(final PathState s)
    {
        if (trail[trailLength - 1] == s)
        {
            return;
        }
        if (trailLength == MAX_TRAIL)
        {
            trail[MAX_TRAIL - 1] = s;  // keep where it started and where it is
            return;
        }
        trail[trailLength++] = s;
    }

    private String trailText()
    {
        final StringBuilder b = new StringBuilder();
        for (int i = 0; i < trailLength; i++)
        {
            b.append(i == 0 ? "" : " -> ").append(trail[i]);
        }
        return b.toString();
    }

    /** 1.2 s, 350 ms. */
    static String seconds(final long nanos)
    {
        final long ms = TimeUnit.NANOSECONDS.toMillis(nanos);
        return ms < 1000 ? ms + " ms" : String.format(java.util.Locale.ROOT, "%.1f s", ms / 1000.0);
    }

    @Override
    public String toString()
    {
        return name;
    }
}
