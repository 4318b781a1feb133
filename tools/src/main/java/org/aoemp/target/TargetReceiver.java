package org.aoemp.target;

import java.nio.ByteBuffer;

import org.aoemp.protocol.AtaHeader;
import org.aoemp.transport.FrameHandler;
import org.aoemp.transport.FrameTransport;

/**
 * The receive side of one NIC: the handler its transport calls for every frame. It lets the
 * {@link TargetResponder} decide, sends what needs no disk (config, masks, reservations,
 * IDENTIFY, CHECK POWER, errors) at once from the responder's buffer, and copies a command that
 * needs the disk (read, write, flush) into a free {@link DiskCommand} of the NIC's
 * {@link DiskQueue} for its workers; a read whose data the page cache holds it answers itself
 * ({@link CachedReads}), saving the hand-off to a worker, and sends those replies together at the
 * end of the receive batch ({@link #onBatchEnd}: one {@code sendmmsg} for the batch, which also
 * lets the initiator take them in one wake-up). It never waits: with every buffer of the NIC held, the
 * command is dropped (counted in {@code busyDrops}), as the protocol allows. Nothing is
 * allocated and nothing locks per frame.
 *
 * <p>Threading: {@link #onFrame} on the NIC's receive thread only, which owns this object and its
 * responder.
 */
final class TargetReceiver implements FrameHandler
{
    private final FrameTransport nic;
    private final TargetResponder responder;
    private final DiskQueue disk;
    private final TargetCounters counters;
    private final CachedReads.Reader cachedReads;
    private final int shelf;
    private final int slot;
    /** Cached-read replies built in this batch, sent at its end; their buffers are held until then. */
    private final DiskCommand[] batched;
    private final ByteBuffer[] batchedFrames;
    private final int[] batchedLengths;
    private int batchedCount;

    /**
     * @param cachedReads reads the page cache can serve, answered here without the workers; null: every read goes to them
     */
    TargetReceiver(final FrameTransport nic, final TargetResponder responder, final DiskQueue disk, final TargetCounters counters,
        final CachedReads.Reader cachedReads, final int shelf, final int slot)
    {
        this.nic = nic;
        this.responder = responder;
        this.disk = disk;
        this.counters = counters;
        this.cachedReads = cachedReads;
        this.shelf = shelf;
        this.slot = slot;
        this.batched = new DiskCommand[disk.capacity()];
        this.batchedFrames = new ByteBuffer[batched.length];
        this.batchedLengths = new int[batched.length];
    }

    @Override
    public void onFrame(final ByteBuffer frame, final int length)
    {
        switch (responder.handle(frame, length))
        {
            case TargetResponder.REPLY ->
            {
                if (!nic.send(responder.reply(), responder.replyLength()))
                {
                    counters.sendFailures.increment();
                }
            }
            case TargetResponder.DISK -> dispatch(frame);
            default ->
            {
            }
        }
    }

    /** Copies the command into a free buffer and queues it for the workers; drops it when none is free. */
    private void dispatch(final ByteBuffer frame)
    {
        DiskCommand c = disk.claim();
        if (c == null && batchedCount > 0)
        {
            sendBatched();  // the buffers held for this batch's replies come free
            c = disk.claim();
        }
        if (c == null)
        {
            counters.busyDrops.increment();
            return;
        }
        c.frame.put(0, frame, 0, responder.diskCopyLength());
        c.op = responder.diskOp();
        c.lba = responder.diskLba();
        c.count = responder.diskCount();
        if (c.op == TargetResponder.OP_READ && cachedReads != null && cachedReads.read(c.dataAddress, c.count * AtaHeader.SECTOR_SIZE, c.lba))
        {
            counters.sectorsRead.add(c.count);
            counters.readsOnReceiveThread.increment();
            final int length = DiskWorker.buildReply(c, c.header.src(), nic.mac(), shelf, slot, TargetResponder.STATUS_OK, 0,
                AtaHeader.DATA_OFFSET + c.count * AtaHeader.SECTOR_SIZE, counters);
            batched[batchedCount] = c;
            batchedFrames[batchedCount] = c.frame;
            batchedLengths[batchedCount] = length;
            batchedCount++;
            return;
        }
        disk.submit(c);
    }

    /** The receive batch is over: the cached-read replies it built go out in one call. */
    @Override
    public void onBatchEnd()
    {
        if (batchedCount > 0)
        {
            sendBatched();
        }
    }

    private void sendBatched()
    {
        final int count = batchedCount;
        batchedCount = 0;
        try
        {
            final int sent = nic.sendBatch(batchedFrames, batchedLengths, count);
            // a refused frame ends sendBatch's prefix: try the rest one by one, each refusal counted (the initiator resends)
            for (int i = sent; i < count; i++)
            {
                if (!nic.send(batchedFrames[i], batchedLengths[i]))
                {
                    counters.sendFailures.increment();
                }
            }
        }
        finally
        {
            for (int i = 0; i < count; i++)
            {
                disk.release(batched[i]);
                batched[i] = null;
            }
        }
    }
}
