package org.aoemp.initiator;

import java.lang.invoke.MethodHandles;
import java.lang.invoke.VarHandle;

/**
 * A pre-allocated command slot, addressed on the wire by its tag:
 * {@code bit 31 (userland tag space) | bit 30 clear | generation (14 bits) << 16 | slot index (16 bits)}.
 * Bit 30 set marks the initiator's control exchanges instead (see {@link Initiator#exchange}).
 * The {@link SlotTable} holds every slot of a device and hands them out.
 *
 * <p>Ownership: the engine thread fills a slot and publishes it with a release store of
 * {@code INFLIGHT(gen)} ({@link Transmitter}). A receive thread that sees a reply with a matching
 * tag claims the slot with a CAS {@code INFLIGHT(gen) → RECEIVING(gen)}, copies read data,
 * records the status, sets {@code DONE} and queues the slot to the engine ({@link ReplyReceiver}).
 * To retransmit, move or fail a command, the engine CASes {@code INFLIGHT(gen) → HELD(gen+1)}
 * ({@link #recall}), so a late reply to the old generation loses the CAS and is dropped; exactly
 * one reply per command is ever accepted. A slot given back to the pool gets a fresh generation
 * too ({@link #recycle}), so a reply to the slot's previous command cannot claim the next one.
 *
 * <p>Threading: fields without a comment are the engine's; the receive thread writes the reply
 * fields between its claim and {@code DONE}, and the engine reads them after dequeuing the slot.
 * {@link #refused} is called by the queue's consumer (sender thread or engine).
 */
final class Slot
{
    static final int HELD = 0;
    static final int INFLIGHT = 1;
    static final int RECEIVING = 2;
    static final int DONE = 3;
    static final int GENERATION_MASK = 0x3FFF;
    static final int INDEX_BITS = 16;
    static final int MAX_SLOTS = 1 << INDEX_BITS;

    private static final VarHandle STATE;

    static
    {
        try
        {
            STATE = MethodHandles.lookup().findVarHandle(Slot.class, "state", long.class);
        }
        catch (final ReflectiveOperationException e)
        {
            throw new ExceptionInInitializerError(e);
        }
    }

    final int index;
    @SuppressWarnings("unused") // accessed through STATE
    private volatile long state;

    // Written by the engine before the INFLIGHT release store, read by receive threads after it.
    /** The request this command is part of; null while the slot is free. */
    IoRequest request;
    long lba;
    int sectors;
    int bufferIndex;
    int ataCommand;
    Path path;
    int generation;
    /** When the current copy was queued (for the RTT sample). */
    long sentNanos;
    long deadlineNanos;
    int retries;
    /** Taken from the pool and not yet given back (engine). */
    boolean busy;
    /** Generation the current command was first sent with (engine). */
    int commandFirstGeneration;

    // Stale-write watch: generations [watchFrom, watchTo] of a write that was sent more than once.
    // The engine sets them when it fences the write's range; a receive thread that sees a reply
    // to one of them sets watchHit, proving an old copy reached the target.
    volatile int watchFrom = -1;
    volatile int watchTo;
    volatile boolean watchHit;

    // The copy that timed out last, for telling a spurious timeout (its reply comes after all) from a
    // lost frame; kept after the slot is given back (its generation is not reused for 16383 commands). The engine writes timedOutGeneration = -1, then the two fields, then the generation
    // (a seqlock: a receive thread reads the generation, the fields, and the generation again).
    volatile int timedOutGeneration = -1;
    Path timedOutPath;
    long timedOutSentNanos;

    /** Set by the send queue's consumer (sender thread or engine) to the state a frame was built for when the link refused it. */
    volatile long refusedStamp = -1;

    // Written by the receive thread before DONE; read by the engine after dequeuing the slot.
    int replyStatus;
    int replyError;
    int aoeError;
    long replyNanos;
    /** The reply's data could not be stored in the request's buffer (changed by the caller while in flight). */
    boolean copyFailed;

    Slot(final int index)
    {
        this.index = index;
    }

    static long pack(final int generation, final int phase)
    {
        return ((long)generation << 2) | phase;
    }

    int tag()
    {
        return 0x8000_0000 | (generation << INDEX_BITS) | index;
    }

    static int indexOf(final int tag)
    {
        return tag & (MAX_SLOTS - 1);
    }

    static int generationOf(final int tag)
    {
        return (tag >>> INDEX_BITS) & GENERATION_MASK;
    }

    long state()
    {
        return (long)STATE.getAcquire(this);
    }

    void publish(final int phase)
    {
        STATE.setRelease(this, pack(generation, phase));
    }

    boolean claim(final int generation, final int fromPhase, final int toPhase)
    {
        return STATE.compareAndSet(this, pack(generation, fromPhase), pack(generation, toPhase));
    }

    /** Engine: take an in-flight slot back (to retransmit, move or fail it). False if a reply won the race. */
    boolean recall()
    {
        final int g = generation;
        final int next = (g + 1) & GENERATION_MASK;
        if (STATE.compareAndSet(this, pack(g, INFLIGHT), pack(next, HELD)))
        {
            generation = next;
            return true;
        }
        return false;
    }

    /** Engine: a slot whose reply was processed gets a fresh generation before reuse. */
    void recycle()
    {
        generation = (generation + 1) & GENERATION_MASK;
        request = null;
        path = null;
        busy = false;
        retries = 0;
        aoeError = 0;
        copyFailed = false;
        // timedOut* stay: a late reply to the copy that timed out may come after its retransmission completed
        STATE.setRelease(this, pack(generation, HELD));
    }

    /**
     * Engine, right after {@link #recall} for a timeout: remembers the copy that timed out (the
     * generation before the recall, its path and send time), so its reply, if it comes after all,
     * shows the timeout was spurious ({@link #onReplyAfterTimeout}).
     */
    void timedOut(final Path via)
    {
        timedOutGeneration = -1;
        timedOutPath = via;
        timedOutSentNanos = sentNanos;
        timedOutGeneration = (generation - 1) & GENERATION_MASK;
    }

    /**
     * Receive thread: a reply of generation {@code replyGeneration} from {@code src} lost (it came
     * after its command was taken back). If it answers the copy that timed out last, from that
     * copy's path's target, the timeout was spurious: the round trip goes to the path
     * ({@link Path#onLateReply}). No allocation, no lock.
     */
    void onReplyAfterTimeout(final int replyGeneration, final long src, final long nowNanos)
    {
        final int g = timedOutGeneration;
        if (g != replyGeneration)
        {
            return;
        }
        final Path p = timedOutPath;
        final long sent = timedOutSentNanos;
        VarHandle.acquireFence();
        if (timedOutGeneration != g || p == null || p.remoteMac() != src)
        {
            return;
        }
        p.onLateReply(Math.max(1, nowNanos - sent));
    }

    /** Receive thread: a reply that lost (old generation); note it if it answers a watched copy. */
    void onLateReply(final int replyGeneration)
    {
        final int from = watchFrom;
        if (from >= 0 && ((replyGeneration - from) & GENERATION_MASK) <= ((watchTo - from) & GENERATION_MASK))
        {
            watchHit = true;
        }
    }

    /** Sender: the link refused the frame built for state {@code stamp}; the engine retransmits it soon. */
    void refused(final long stamp)
    {
        refusedStamp = stamp;
    }

    /** Engine: whether the link refused the frame of the command in flight now. */
    boolean wasRefused()
    {
        return refusedStamp == state();
    }

    boolean isInFlight()
    {
        return (state() & 3) == INFLIGHT;
    }
}
