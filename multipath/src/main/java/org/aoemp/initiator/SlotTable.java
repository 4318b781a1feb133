package org.aoemp.initiator;

/**
 * The command slots of one device (its tags, its in-flight limit across paths) and their free
 * list. Free slot indices form a FIFO ring, so reuse is spread over every slot and a slot's tag
 * generation takes slots × 16384 commands to come round again.
 *
 * <p>Threading: {@link #take}, {@link #release}, {@link #rebuildFreeList} and the counts on the
 * engine thread only; {@link #inFlightFor} on any thread (the receive threads): it reads only
 * the fixed array and each slot's published state.
 */
final class SlotTable
{
    private final Slot[] slots;
    private final int[] freeSlots;
    private int freeHead;
    private int freeCount;
    private int busyCount;

    SlotTable(final int count)
    {
        if (count < 1 || count > Slot.MAX_SLOTS)
        {
            throw new IllegalArgumentException("slots must be 1.." + Slot.MAX_SLOTS + ": " + count);
        }
        slots = new Slot[count];
        freeSlots = new int[count];
        for (int i = 0; i < count; i++)
        {
            slots[i] = new Slot(i);
            freeSlots[i] = i;
        }
        freeCount = count;
    }

    int size()
    {
        return slots.length;
    }

    Slot get(final int index)
    {
        return slots[index];
    }

    /** Slots taken and not given back: commands in flight, waiting to be retransmitted, or being completed. */
    int busy()
    {
        return busyCount;
    }

    boolean hasFree()
    {
        return freeCount > 0;
    }

    /** Engine: the slot free longest, marked busy; null when every slot is busy. */
    Slot take()
    {
        if (freeCount == 0)
        {
            return null;
        }
        final Slot s = slots[freeSlots[freeHead]];
        freeHead = (freeHead + 1) % freeSlots.length;
        freeCount--;
        busyCount++;
        s.busy = true;
        return s;
    }

    /** Engine: gives a busy slot back with a fresh generation (a late reply to its last command cannot claim it). */
    void release(final Slot s)
    {
        s.recycle();
        freeSlots[(freeHead + freeCount) % freeSlots.length] = s.index;
        freeCount++;
        busyCount--;
    }

    /**
     * Any thread: the slot that {@code tag} names if it is in flight with the tag's generation;
     * else null (the reply is stale: the command was retransmitted, completed or failed, or the
     * tag names no slot), after noting the late reply for the slot's write fence.
     */
    Slot inFlightFor(final int tag)
    {
        final int index = Slot.indexOf(tag);
        if (index >= slots.length)
        {
            return null;
        }
        final Slot s = slots[index];
        final int generation = Slot.generationOf(tag);
        if (s.state() != Slot.pack(generation, Slot.INFLIGHT))
        {
            s.onLateReply(generation);
            return null;
        }
        return s;
    }

    /**
     * Any thread (the receive threads): a reply with {@code tag} from {@code src} found its command
     * taken back; if it answers a copy that timed out, that timeout was spurious
     * ({@link Slot#onReplyAfterTimeout}).
     */
    void onReplyAfterTimeout(final int tag, final long src, final long nowNanos)
    {
        final int index = Slot.indexOf(tag);
        if (index < slots.length)
        {
            slots[index].onReplyAfterTimeout(Slot.generationOf(tag), src, nowNanos);
        }
    }

    /**
     * Engine, after an engine error: the free list again from the slots' {@code busy} flags, in
     * index order, however a failed duty cycle left it.
     */
    void rebuildFreeList()
    {
        freeHead = 0;
        freeCount = 0;
        busyCount = 0;
        for (final Slot s : slots)
        {
            if (s.busy)
            {
                busyCount++;
            }
            else
            {
                freeSlots[freeCount++] = s.index;
            }
        }
    }
}
