package org.aoemp.tools;

import java.io.IOException;
import java.time.Duration;
import java.util.ArrayList;
import java.util.LinkedHashSet;
import java.util.List;
import java.util.Set;

import org.aoemp.initiator.Initiator;
import org.aoemp.initiator.Port;
import org.aoemp.initiator.TargetAddress;
import org.aoemp.protocol.AoeHeader;
import org.aoemp.protocol.MacAddress;
import org.aoemp.protocol.ReserveHeader;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * One writer: an AoE reservation (Reserve/Release, command 3) of one target for the MACs of
 * this initiator's ports, held while a bridge serves the target and given back by {@link #close}.
 * While it is held the target answers every other host's reads and writes with AoE error 6.
 *
 * <p>{@link #take} sends "set" (not "force set") through every port: the target accepts it only
 * when nobody holds the target or this host already does (a reservation left by an earlier run of
 * this host is taken over). A multipath target has one reservation list per target MAC (one
 * vblade per NIC), so every answering MAC must accept; if one refuses, what was set is released
 * again and {@link ReservedElsewhere} names the holder's MACs. {@link #holders} reads the list
 * without changing it.
 *
 * <p>Threading: one thread at a time (start-up and shutdown).
 */
public final class TargetReservation implements AutoCloseable
{
    private static final Logger LOG = LoggerFactory.getLogger(TargetReservation.class);

    private final Initiator initiator;
    private final TargetAddress target;
    private final Duration timeout;
    private final List<MacAddress> ours;
    private boolean released;

    private TargetReservation(final Initiator initiator, final TargetAddress target, final Duration timeout,
        final List<MacAddress> ours)
    {
        this.initiator = initiator;
        this.target = target;
        this.timeout = timeout;
        this.ours = ours;
    }

    /** Another host holds the target: its MACs are in the message and in {@link #holders()}. */
    public static final class ReservedElsewhere extends IOException
    {
        private static final long serialVersionUID = 1L;
        private final transient List<MacAddress> holders;

        ReservedElsewhere(final TargetAddress target, final List<MacAddress> holders)
        {
            super(target + " is reserved by " + describe(holders) + " (another host); not serving it with --exclusive. "
                + "If that host is gone for good (it crashed holding the reservation), clear it with: aoe reserve "
                + target.shelf() + " " + target.slot() + " --force-release");
            this.holders = List.copyOf(holders);
        }

        public List<MacAddress> holders()
        {
            return holders;
        }
    }

    /** What the target MACs answered to one reserve exchange. */
    private record Answers(int count, List<MacAddress> refusedBy, List<String> errors)
    {
    }

    /**
     * Reserves {@code target} for the MACs of every port of {@code initiator}. Throws
     * {@link ReservedElsewhere} when another host holds it, an {@link IOException} when no target
     * MAC answered within {@code timeout} or one answered with another AoE error.
     */
    public static TargetReservation take(final Initiator initiator, final TargetAddress target, final Duration timeout)
        throws IOException, InterruptedException
    {
        final List<MacAddress> ours = new ArrayList<>();
        for (final Port p : initiator.ports())
        {
            if (!ours.contains(new MacAddress(p.mac())))
            {
                ours.add(new MacAddress(p.mac()));
            }
        }
        final TargetReservation r = new TargetReservation(initiator, target, timeout, ours);
        final Answers a = r.send(ReserveHeader.RCMD_SET, ours);
        if (a.count() == 0)
        {
            throw new IOException(target + ": no answer to the reserve command within " + timeout.toMillis() + " ms on "
                + initiator.ports().stream().map(Port::name).toList());
        }
        if (!a.refusedBy().isEmpty() || !a.errors().isEmpty())
        {
            // Give back what some target MACs may have accepted: a release from a host not on the list is refused, so
            // this never touches the holder's reservation.
            r.close();
            if (!a.refusedBy().isEmpty())
            {
                throw new ReservedElsewhere(target, a.refusedBy());
            }
            throw new IOException(target + ": the reserve command failed: " + String.join("; ", a.errors()));
        }
        LOG.info("{}: reserved for {} (other hosts' I/O is refused until released)", target, describe(ours));
        return r;
    }

    /** The MACs {@code target} is reserved for, as its MACs answer within {@code timeout} (empty: not reserved, or no answer). */
    public static List<MacAddress> holders(final Initiator initiator, final TargetAddress target, final Duration timeout)
        throws InterruptedException
    {
        return holders(initiator, target, timeout, Integer.MAX_VALUE);
    }

    /**
     * As {@link #holders(Initiator, TargetAddress, Duration)}, returning as soon as {@code answers}
     * replies arrived (one per path of an opened device: each local port hears each target MAC).
     */
    public static List<MacAddress> holders(final Initiator initiator, final TargetAddress target, final Duration timeout,
        final int answers) throws InterruptedException
    {
        final Set<MacAddress> holders = new LinkedHashSet<>();
        for (final Initiator.Reply reply : initiator.exchange(initiator.ports(), MacAddress.BROADCAST_BITS, target.shelf(),
            target.slot(), AoeHeader.CMD_RESERVE, f -> write(f, ReserveHeader.RCMD_READ, List.of()), timeout, answers))
        {
            holders.addAll(list(reply));
        }
        return List.copyOf(holders);
    }

    /**
     * For a bridge that serves {@code device} without a reservation of its own: warns when another
     * host holds the target, since every read and write from here will then fail with EIO.
     */
    public static void warnIfHeldElsewhere(final Initiator initiator, final org.aoemp.initiator.AoeDevice device,
        final TargetAddress target, final Duration timeout) throws InterruptedException
    {
        final List<MacAddress> holders = holders(initiator, target, timeout, Math.max(1, device.pathStats().size()));
        final List<MacAddress> others = new ArrayList<>(holders);
        for (final Port p : initiator.ports())
        {
            others.remove(new MacAddress(p.mac()));
        }
        if (!holders.isEmpty() && others.size() == holders.size())
        {
            LOG.warn("{} is reserved by {} (another host): reads and writes from this host fail with EIO until it releases "
                + "the target", target, describe(holders));
        }
    }

    /** The MACs this reservation is for. */
    public List<MacAddress> macs()
    {
        return ours;
    }

    /** Releases the reservation (sets an empty list); logs, never throws. Later calls do nothing. */
    @Override
    public void close()
    {
        if (released)
        {
            return;
        }
        released = true;
        try
        {
            final Answers a = send(ReserveHeader.RCMD_SET, List.of());
            if (a.count() > 0 && a.refusedBy().isEmpty() && a.errors().isEmpty())
            {
                LOG.info("{}: reservation released", target);
            }
            else if (a.count() == 0)
            {
                LOG.warn("{}: no answer to the release within {} ms; the target may still be reserved for {} "
                    + "(aoe reserve {} {} shows it)", target, timeout.toMillis(), describe(ours), target.shelf(), target.slot());
            }
        }
        catch (final InterruptedException e)
        {
            Thread.currentThread().interrupt();
            LOG.warn("{}: interrupted while releasing the reservation", target);
        }
        catch (final RuntimeException e)
        {
            LOG.warn("{}: releasing the reservation failed: {}", target, e.toString());
        }
    }

    private Answers send(final int rcmd, final List<MacAddress> macs) throws InterruptedException
    {
        final List<Initiator.Reply> replies = initiator.exchange(initiator.ports(), MacAddress.BROADCAST_BITS, target.shelf(),
            target.slot(), AoeHeader.CMD_RESERVE, f -> write(f, rcmd, macs), timeout, Integer.MAX_VALUE);
        final Set<MacAddress> refusedBy = new LinkedHashSet<>();
        final List<String> errors = new ArrayList<>();
        for (final Initiator.Reply reply : replies)
        {
            final AoeHeader h = reply.header();
            if (!h.isError())
            {
                continue;
            }
            if (h.error() == AoeHeader.ERR_TARGET_RESERVED)
            {
                // the refusal carries the list as it stands: the holder's MACs
                final List<MacAddress> holder = list(reply);
                refusedBy.addAll(holder.isEmpty() ? List.of(new MacAddress(reply.sourceMac())) : holder);
            }
            else
            {
                errors.add(new MacAddress(reply.sourceMac()) + " via " + reply.port().name() + ": " + AoeHeader.errorName(h.error()));
            }
        }
        return new Answers(replies.size(), List.copyOf(refusedBy), errors);
    }

    private static int write(final java.nio.ByteBuffer frame, final int rcmd, final List<MacAddress> macs)
    {
        final ReserveHeader r = new ReserveHeader().wrap(frame, 0).rcmd(rcmd).macCount(macs.size());
        for (int i = 0; i < macs.size(); i++)
        {
            r.mac(i, macs.get(i).bits());
        }
        return ReserveHeader.lengthFor(macs.size());
    }

    private static List<MacAddress> list(final Initiator.Reply reply)
    {
        final ReserveHeader r = new ReserveHeader().wrap(reply.frame(), 0);
        if (!r.isValid(reply.length()))
        {
            return List.of();
        }
        final List<MacAddress> macs = new ArrayList<>(r.macCount());
        for (int i = 0; i < r.macCount(); i++)
        {
            macs.add(new MacAddress(r.mac(i)));
        }
        return macs;
    }

    /** "02:00:00:00:00:01, 02:00:00:00:00:02" */
    static String describe(final List<MacAddress> macs)
    {
        return macs.isEmpty() ? "(an empty list)" : String.join(", ", macs.stream().map(MacAddress::toString).toList());
    }
}
