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
}
