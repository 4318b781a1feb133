package org.aoemp.initiator;

import java.nio.ByteBuffer;

import org.aoemp.agent.Wakeup;
import org.aoemp.protocol.AoeHeader;
import org.aoemp.protocol.AtaHeader;
import org.jctools.queues.atomic.MpscAtomicArrayQueue;

/**
 * The receive threads' side of a reply to one of a device's commands: finds the slot the tag
 * names ({@link SlotTable#inFlightFor}), checks that the reply comes from the path's target MAC
 * and carries the data its command asked for, claims the slot ({@code INFLIGHT → RECEIVING}),
 * copies read data straight into the request's buffer, records the status, publishes
 * {@code DONE} and queues the slot for the engine's {@link CompletionProcessor}. The receive
 * thread wakes the engine once per batch of frames ({@link #wakeEngine}, from
 * {@link org.aoemp.transport.FrameHandler#onBatchEnd}), not per reply: the engine then takes the
 * batch's completions together and sends their successors in one {@code sendmmsg}.
 * Replies that lose (late, duplicated, from a stranger, truncated) are counted and dropped; a
 * late one that answers a copy that timed out tells its path the timeout was spurious
 * ({@link Slot#onReplyAfterTimeout}).
 *
 * <p>Threading: {@link #onAtaResponse} on the receive thread of any port, several at once; it
 * touches only the slot it wins. It allocates nothing, takes no lock and does not log.
 */
final class ReplyReceiver
{
    private static final int SECTOR = AtaHeader.SECTOR_SIZE;

    private final SlotTable slots;
    private final MpscAtomicArrayQueue<Slot> completed;
    private final Wakeup engine;
    private final DeviceCounters counters;
    // flyweights: one set per receive thread (ports deliver concurrently)
    private final ThreadLocal<AoeHeader> rxHeader = ThreadLocal.withInitial(AoeHeader::new);
    private final ThreadLocal<AtaHeader> rxAta = ThreadLocal.withInitial(AtaHeader::new);

    ReplyReceiver(final SlotTable slots, final MpscAtomicArrayQueue<Slot> completed, final Wakeup engine,
        final DeviceCounters counters)
    {
        this.slots = slots;
        this.completed = completed;
        this.engine = engine;
        this.counters = counters;
    }

    /**
     * A response to an ATA command with a (non-exchange) userland tag for this device's shelf.slot.
     *
     * @return true when it completed a command: the caller must {@link #wakeEngine} before its
     *         thread waits for more frames
     */
    boolean onAtaResponse(final ByteBuffer frame, final int length)
    {
        final AoeHeader h = rxHeader.get().wrap(frame, 0);
        final int tag = h.tag();
        final Slot s = slots.inFlightFor(tag);
        if (s == null)
        {
            slots.onReplyAfterTimeout(tag, h.src(), System.nanoTime());
            counters.staleReply();
            return false;
        }
        final int generation = Slot.generationOf(tag);
        // Fields below were published before INFLIGHT(generation); a recall after our read makes the CAS fail.
        final Path path = s.path;
        if (path == null || h.src() != path.remoteMac())
        {
            counters.foreignReply();
            return false;
        }
        final boolean isError = h.isError();
        final AtaHeader ata = rxAta.get().wrap(frame, 0);
        final IoRequest r = s.request;
        final boolean carriesData = r != null && (r.op == IoRequest.READ || r.op == IoRequest.IDENTIFY || r.op == IoRequest.PROBE);
        final int dataBytes = s.sectors * SECTOR;
        if (!isError && length < AtaHeader.DATA_OFFSET + (carriesData && !ata.failed() ? dataBytes : 0))
        {
            counters.truncatedReply();
            return false;
        }
        if (!s.claim(generation, Slot.INFLIGHT, Slot.RECEIVING))
        {
            s.onLateReply(generation);
            s.onReplyAfterTimeout(generation, h.src(), System.nanoTime());
            counters.staleReply();
            return false;
        }
        s.aoeError = isError ? Math.max(1, h.error()) : 0;
        if (!isError)
        {
            s.replyStatus = ata.cmdStatus();
            s.replyError = ata.errFeature();
            if (carriesData && !ata.failed() && r.buffer != null)
            {
                try
                {
                    r.buffer.put(s.bufferIndex, frame, AtaHeader.DATA_OFFSET, dataBytes);
                }
                catch (final RuntimeException e)
                {
                    // the caller changed its buffer while the read was in flight: that request fails, the slot goes on
                    s.copyFailed = true;
                }
            }
        }
        s.replyNanos = System.nanoTime();
        s.publish(Slot.DONE);
        completed.offer(s);
        return true;
    }

    /** Ends a park of the engine: completions were queued by {@link #onAtaResponse}. Any thread. */
    void wakeEngine()
    {
        engine.wake();
    }
}
