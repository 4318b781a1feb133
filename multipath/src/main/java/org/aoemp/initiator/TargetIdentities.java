package org.aoemp.initiator;

import java.util.ArrayList;
import java.util.Comparator;
import java.util.List;
import java.util.Map;
import java.util.Set;
import java.util.concurrent.ConcurrentHashMap;
import java.util.concurrent.TimeUnit;

import org.aoemp.protocol.MacAddress;

/**
 * The identity of one open device and what each target MAC that answers for its shelf.slot was
 * found to be. The device's identity (the reference) is the one it was opened with: that of the
 * lowest MAC that answered, or of the MACs the user named ({@code --mac}). A MAC is a path only while its
 * IDENTIFY data and config string match the reference ({@link Verdict#PATH}); a MAC with another
 * disk behind it is a {@link Verdict#CONFLICT} (never a path) or, when it was a path before,
 * {@link Verdict#CHANGED} (no I/O goes to it any more; it becomes a path again if the original
 * disk comes back). A config string changed on a path (e.g. {@code aoe cfg}) changes the
 * reference's, not the verdict: it is not another disk.
 *
 * <p>Threading: {@link #judge} on the thread that verified a MAC (the opener, then the
 * initiator's {@code aoe-identity} agent), one MAC at a time; readers anywhere.
 */
public final class TargetIdentities
{
    /** How long after a MAC was checked another config reply from it may trigger a new IDENTIFY. */
    static final long RECHECK_INTERVAL_NANOS = TimeUnit.SECONDS.toNanos(2);

    /** What a MAC is to the device. */
    public enum Verdict
    {
        /** Same disk and config string as the device: a path. */
        PATH,
        /** Another disk (or config string) answers as this shelf.slot from this MAC: never a path. */
        CONFLICT,
        /** Was a path, now another disk answers from it (replaced or resized): no more I/O to it. */
        CHANGED,
        /** The same disk, but the user named other MACs (--mac). */
        NOT_LISTED,
        /** Answered discovery, not (yet) IDENTIFY. */
        UNVERIFIED
    }

    /** One target MAC: what it answered with (null until IDENTIFY did) and what it is to the device. */
    public record MacIdentity(long mac, EndpointIdentity identity, Verdict verdict)
    {
        public String macString()
        {
            return new MacAddress(mac).toString();
        }
    }

    /** The verdict on a MAC before and after a check. */
    record Change(MacIdentity before, MacIdentity after)
    {
        boolean wasPath()
        {
            return before != null && before.verdict() == Verdict.PATH;
        }
    }

    private final TargetAddress address;
    private final Set<Long> listed;
    private volatile EndpointIdentity reference;
    private final Map<Long, MacIdentity> macs = new ConcurrentHashMap<>();
    private final Map<Long, Long> lastCheckNanos = new ConcurrentHashMap<>();

    /**
     * @param reference the identity the device is opened with
     * @param listed    the MACs the user named (only they may be paths), or empty for any
     */
    TargetIdentities(final TargetAddress address, final EndpointIdentity reference, final Set<Long> listed)
    {
        this.address = address;
        this.reference = reference;
        this.listed = Set.copyOf(listed);
    }

    public TargetAddress address()
    {
        return address;
    }

    /** The device's identity: what its paths answer with. */
    public EndpointIdentity reference()
    {
        return reference;
    }

    /** The MACs the user named ({@code --mac}); empty when any matching MAC may be a path. */
    public Set<Long> listed()
    {
        return listed;
    }

    /** Every MAC heard for this shelf.slot, by MAC. */
    public List<MacIdentity> all()
    {
        final List<MacIdentity> out = new ArrayList<>(macs.values());
        out.sort(Comparator.comparingLong(MacIdentity::mac));
        return out;
    }

    /** True when some MAC answers with another disk or config string than the device's. */
    public boolean hasConflict()
    {
        for (final MacIdentity m : macs.values())
        {
            if (m.verdict() == Verdict.CONFLICT || m.verdict() == Verdict.CHANGED)
            {
                return true;
            }
        }
        return false;
    }

    public boolean isPath(final long mac)
    {
        final MacIdentity m = macs.get(mac);
        return m != null && m.verdict() == Verdict.PATH;
    }

    public Verdict verdict(final long mac)
    {
        final MacIdentity m = macs.get(mac);
        return m == null ? null : m.verdict();
    }

    /** A MAC that answered discovery but not IDENTIFY (yet). */
    void unverified(final long mac)
    {
        macs.putIfAbsent(mac, new MacIdentity(mac, null, Verdict.UNVERIFIED));
    }

    /** True (and the time noted) when {@code mac} was not checked within the last {@link #RECHECK_INTERVAL_NANOS}. */
    boolean checkDue(final long mac, final long nowNanos)
    {
        final Long last = lastCheckNanos.get(mac);
        if (last != null && nowNanos - last < RECHECK_INTERVAL_NANOS)
        {
            return false;
        }
        lastCheckNanos.put(mac, nowNanos);
        return true;
    }

    /** Judges what {@code mac} answered with and records the verdict. */
    Change judge(final long mac, final EndpointIdentity identity)
    {
        final MacIdentity before = macs.get(mac);
        final boolean wasPath = before != null && (before.verdict() == Verdict.PATH || before.verdict() == Verdict.CHANGED);
        final EndpointIdentity ref = reference;
        final Verdict v;
        if (wasPath)
        {
            if (identity.sameDisk(ref))
            {
                v = Verdict.PATH;
                if (!identity.configString().equals(ref.configString()))
                {
                    reference = new EndpointIdentity(ref.identify(), identity.configString());
                }
            }
            else
            {
                v = Verdict.CHANGED;
            }
        }
        else if (!identity.sameTarget(ref))
        {
            v = Verdict.CONFLICT;
        }
        else
        {
            v = listed.isEmpty() || listed.contains(mac) ? Verdict.PATH : Verdict.NOT_LISTED;
        }
        final MacIdentity after = new MacIdentity(mac, identity, v);
        macs.put(mac, after);
        return new Change(before, after);
    }

    /**
     * The MACs grouped by what they answer with, one line per identity, the device's first:
     * {@code 8388608 bytes, LBA48, model "m", serial "s", config "": 02:..:01 (path), 02:..:02 (path)}.
     */
    public List<String> describe()
    {
        final List<EndpointIdentity> seen = new ArrayList<>();
        seen.add(reference);
        for (final MacIdentity m : all())
        {
            if (m.identity() != null && seen.stream().noneMatch(s -> s.sameTarget(m.identity())))
            {
                seen.add(m.identity());
            }
        }
        final List<String> out = new ArrayList<>();
        for (final EndpointIdentity id : seen)
        {
            final StringBuilder b = new StringBuilder(id == reference ? "opened: " : "other:  ").append(id.describe()).append(':');
            boolean any = false;
            for (final MacIdentity m : all())
            {
                if (m.identity() != null && (m.identity().sameTarget(id) || id == reference && m.verdict() == Verdict.PATH))
                {
                    b.append(any ? ", " : " ").append(m.macString()).append(" (").append(m.verdict().name().toLowerCase(java.util.Locale.ROOT))
                        .append(')');
                    any = true;
                }
            }
            if (!any)
            {
                b.append(" no MAC now");
            }
            out.add(b.toString());
        }
        for (final MacIdentity m : all())
        {
            if (m.identity() == null)
            {
                out.add("unverified (no IDENTIFY answer yet): " + m.macString());
            }
        }
        return out;
    }
}
