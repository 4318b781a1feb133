package org.aoemp.target;

import java.lang.foreign.MemorySegment;
import java.nio.ByteBuffer;

import org.aoemp.protocol.AoeHeader;
import org.aoemp.protocol.AtaHeader;

/**
 * One pre-allocated command buffer of a {@link DiskQueue}: a copy of the request frame (headers,
 * and a write's data), what the receive thread decoded from it, and room for the reply, which a
 * {@link DiskWorker} builds in place (a read's data lands right after the headers).
 *
 * <p>Ownership: whoever took it from one of its queue's queues owns it, alone: the receive thread
 * from taking it off the free queue until it submits it; a disk worker from polling it until it
 * puts it back on the free queue. The queues' release/acquire order publishes the fields.
 */
final class DiskCommand
{
    /** The frame: request, then reply, from byte 0. */
    final ByteBuffer frame;
    /** A view of {@link #frame} whose position and limit the positional I/O moves. */
    final ByteBuffer data;
    /** The native address of a read's data in {@link #frame} (right after the headers), for reads done outside the channel. */
    final long dataAddress;
    final AoeHeader header = new AoeHeader();
    final AtaHeader ata = new AtaHeader();
    /** {@link TargetResponder#OP_READ}, {@link TargetResponder#OP_WRITE} or {@link TargetResponder#OP_FLUSH}. */
    int op;
    long lba;
    int count;
    /** When it was queued ({@link System#nanoTime}); the watcher judges the queue by it. */
    long queuedNanos;

    DiskCommand(final int size)
    {
        frame = ByteBuffer.allocateDirect(size);
        data = frame.duplicate();
        dataAddress = MemorySegment.ofBuffer(frame).address() + AtaHeader.DATA_OFFSET;
        header.wrap(frame, 0);
        ata.wrap(frame, 0);
    }
}
