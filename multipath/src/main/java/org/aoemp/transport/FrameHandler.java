package org.aoemp.transport;

import java.nio.ByteBuffer;

/**
 * Receives frames from a {@link FrameTransport}. Called on the transport's receive thread only,
 * one frame at a time.
 */
@FunctionalInterface
public interface FrameHandler
{
    /**
     * One received frame, starting with the Ethernet header.
     *
     * @param frame  the transport's receive buffer; bytes {@code [0, length)} are the frame. The
     *               buffer is reused for the next frame, so it is valid only during this call:
     *               copy out what must outlive it. Position and limit are unspecified.
     * @param length the number of bytes received (no FCS; possibly shorter than 60 on veth,
     *               possibly with trailing padding on real NICs).
     */
    void onFrame(ByteBuffer frame, int length);

    /**
     * The frames received together so far have all been passed to {@link #onFrame}: a handler may
     * defer work to here that pays once per batch instead of once per frame (waking a consumer,
     * sending its replies in one call). Every transport calls it after the last frame of each batch
     * it received at once, before its thread waits for more (the in-memory hub after each queue
     * drain, pcap after each frame), also when a frame's handler threw. Receive thread only.
     */
    default void onBatchEnd()
    {
    }
}
