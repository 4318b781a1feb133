package org.aoemp.initiator;

import java.util.ArrayList;
import java.util.List;

/**
 * The stale-write fence. When a write command is sent again (timeout, or its path went down),
 * an earlier copy may still be somewhere in the network; if it reached the target after a newer
 * write to the same sectors, it would overwrite newer data with older. So the write's range is
 * fenced: later writes that overlap it wait until a reply proves an earlier copy landed, or until
 * the fence expires (the copy is then taken to be lost).
 *
 * <p>Threading: the engine thread only, except the counters ({@link #raised} etc.), which any
 * thread may read. Fences exist only after retransmissions of writes, so the list is short and
 * its allocations do not touch the steady state. Raised by the {@link RetransmitTimer}, asked
 * and lifted by the {@link CommandIssuer}.
 */
final class WriteFences
{
    private static final class Fence
    {
        final Slot slot;
        final int firstGeneration;
        final long lba;
        final int sectors;
        long expiresNanos;

        Fence(final Slot slot, final long lba, final int sectors)
        {
            this.slot = slot;
            this.firstGeneration = slot.commandFirstGeneration;
            this.lba = lba;
            this.sectors = sectors;
        }

        boolean overlaps(final long otherLba, final long otherSectors)
        {
            return otherLba < lba + sectors && lba < otherLba + otherSectors;
        }
    }

    private final List<Fence> fences = new ArrayList<>();
    private final long timeoutNanos;
    // counters: written by the engine only, read by monitoring
    private volatile long raised;
    private volatile long liftedByReply;
    private volatile long expired;

    WriteFences(final long timeoutNanos)
    {
        this.timeoutNanos = timeoutNanos;
    }

    /**
     * A write in {@code slot} was just recalled from generation {@code recalledGeneration} to be
     * sent again: fence its range, watching every generation sent so far.
     */
    void raise(final Slot slot, final int recalledGeneration, final long nowNanos)
    {
        for (final Fence f : fences)
        {
            if (f.slot == slot && f.firstGeneration == slot.commandFirstGeneration)
            {
                slot.watchTo = recalledGeneration;
                f.expiresNanos = nowNanos + timeoutNanos;
                return;
            }
        }
        final Fence f = new Fence(slot, slot.lba, slot.sectors);
        f.expiresNanos = nowNanos + timeoutNanos;
        slot.watchHit = false;
        slot.watchTo = recalledGeneration;
        slot.watchFrom = slot.commandFirstGeneration;
        fences.add(f);
        raised = raised + 1;
    }

    /** Lifts fences whose old copy was answered or whose time is up. */
    void lift(final long nowNanos)
    {
        for (int i = fences.size() - 1; i >= 0; i--)
        {
            final Fence f = fences.get(i);
            final boolean watching = f.slot.watchFrom == f.firstGeneration;
            final boolean answered = watching && f.slot.watchHit;
            if (answered || nowNanos - f.expiresNanos >= 0)
            {
                if (watching)
                {
                    f.slot.watchFrom = -1;
                }
                fences.remove(i);
                if (answered)
                {
                    liftedByReply = liftedByReply + 1;
                }
                else
                {
                    expired = expired + 1;
                }
            }
        }
    }

    /** True when a write of {@code sectors} at {@code lba} must wait. */
    boolean blocks(final long lba, final long sectors)
    {
        for (final Fence f : fences)
        {
            if (f.overlaps(lba, sectors))
            {
                return true;
            }
        }
        return false;
    }

    boolean isEmpty()
    {
        return fences.isEmpty();
    }

    long raised()
    {
        return raised;
    }

    long liftedByReply()
    {
        return liftedByReply;
    }

    long expired()
    {
        return expired;
    }
}
