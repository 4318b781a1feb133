package org.aoemp.initiator;

import org.aoemp.protocol.AtaHeader;

/**
 * Puts one command in flight on one path: builds its frame ({@link AtaCommandWriter}) in a frame
 * claimed from the path's {@link SendQueue}, sets the slot's deadline (the path's RTO, doubled per
 * retry up to 16×, at most 4× the RTO ceiling), publishes the slot {@code INFLIGHT} and queues
 * the frame. When the queue has no free frame (its consumer or NIC is behind) or the frame is too
 * big for the port (its MTU now), the command is "refused by the link": in flight with a deadline of now, so
 * the {@link RetransmitTimer} takes it back at its next tick, as after a lost frame.
 *
 * <p>Threading: the engine thread only. Nothing is allocated or locked per command.
 */
final class Transmitter
{
    private static final int SECTOR = AtaHeader.SECTOR_SIZE;

    private final int shelf;
    private final int slot;
    private final AtaCommandWriter writer = new AtaCommandWriter();
    private final RetransmitTimer timer;

    Transmitter(final TargetAddress address, final RetransmitTimer timer)
    {
        this.shelf = address.shelf();
        this.slot = address.slot();
        this.timer = timer;
    }

    /**
     * Sends the command in {@code s} (its request, LBA, sectors, ATA command and retries set) on
     * {@code p}.
     *
     * @param retransmit counted as a retransmission on the path
     */
    void transmit(final Slot s, final Path p, final long now, final boolean retransmit)
    {
        transmit(s, p, now, retransmit, 0);
    }

    /**
     * As {@link #transmit(Slot, Path, long, boolean)}, giving the command at least
     * {@code minTimeoutNanos} before it counts as lost (idle probes).
     */
    void transmit(final Slot s, final Path p, final long now, final boolean retransmit, final long minTimeoutNanos)
    {
        final IoRequest r = s.request;
        final boolean write = AtaCommandWriter.isWrite(s.ataCommand);
        final int dataBytes = write ? s.sectors * SECTOR : 0;
        final SendQueue queue = p.sendQueue();
        final SendQueue.Frame frame = queue.claim();
        if (frame == null || !p.carries(s.sectors) || AtaCommandWriter.frameLength(s.ataCommand, s.sectors) > queue.frameCapacity())
        {
            if (frame != null)
            {
                queue.unclaim(frame);
            }
            refuse(s, p, now, retransmit, dataBytes);
            return;
        }
        final int length;
        try
        {
            length = writer.write(frame.buffer, p.remoteMac(), p.port().mac(), shelf, slot, s.tag(), s.ataCommand, s.lba,
                s.sectors, r.op == IoRequest.ZEROES ? null : r.buffer, s.bufferIndex);
        }
        catch (final RuntimeException e)
        {
            queue.unclaim(frame);  // keep the pool whole; the engine's error handler fails the command
            throw e;
        }
        s.path = p;
        s.sentNanos = now;
        final long rto = p.rtt().rtoNanos();
        s.deadlineNanos = now + Math.max(minTimeoutNanos, Math.min(p.rtt().ceilingNanos() * 4, rto << Math.min(s.retries, 4)));
        timer.expect(s.deadlineNanos);
        s.publish(Slot.INFLIGHT);
        p.onSend(dataBytes, s.sectors, retransmit);
        queue.submit(frame, length, s, Slot.pack(s.generation, Slot.INFLIGHT));
    }

    /** The command could not even be queued: publish it in flight with an expired deadline. */
    private void refuse(final Slot s, final Path p, final long now, final boolean retransmit, final int dataBytes)
    {
        s.path = p;
        s.sentNanos = now;
        s.deadlineNanos = now;
        timer.expect(now);
        s.publish(Slot.INFLIGHT);
        p.onSend(dataBytes, s.sectors, retransmit);
    }
}
