package org.aoemp.transport;

import java.nio.ByteBuffer;

/**
 * Raw Ethernet frames of type 0x88A2 on one local NIC.
 *
 * <p>Threading: {@link #start} launches one receive thread that calls the handler for every AoE
 * frame addressed to this NIC (or broadcast); frames this NIC sent itself are not delivered.
 * {@link #send} may be called from any thread, concurrently; each caller passes its own buffer.
 * {@link #close} stops the receive thread promptly (well under a second), waits for it, and
 * releases native resources; it is idempotent.
 */
public interface FrameTransport extends AutoCloseable
{
    /** Interface name, e.g. {@code eth0}. */
    String name();

    /** This NIC's MAC address (48 bits in the low bytes of the long). */
    long mac();

    /** This NIC's MTU: the largest frame payload after the 14-byte Ethernet header. */
    int mtu();

    /** Whether the link is up now (carrier and administratively up). Cheap enough to poll every few ms. */
    boolean isUp();

    /**
     * The kernel's index of the interface this transport uses now, 0 when it has none (the
     * in-memory hub). It changes when an interface of the same name was created again and the
     * transport followed it (on an {@link #isUp} poll).
     */
    default int ifindex()
    {
        return 0;
    }

    /** Starts delivering received frames to {@code handler} on a new receive thread. Once only. */
    void start(FrameHandler handler);

    /**
     * Sends bytes {@code [0, length)} of {@code frame} as one Ethernet frame. The frame must already
     * carry its Ethernet header; frames shorter than 60 bytes are sent as they are (the NIC pads).
     *
     * @return true when the frame was handed to the kernel; false when the link refused it (down,
     *         queue full). Never blocks for long and never throws for a transient failure.
     */
    boolean send(ByteBuffer frame, int length);

    /**
     * Sends {@code frames[0..count)} (bytes {@code [0, lengths[i])} of each) in order, as
     * {@link #send} would one by one, and returns how many went out: a prefix; the first one
     * refused ends the batch, and the frames after it were not tried. A transport that can hand
     * the kernel several frames in one call ({@code sendmmsg}) overrides this.
     */
    default int sendBatch(final ByteBuffer[] frames, final int[] lengths, final int count)
    {
        return sendOneByOne(frames, lengths, 0, count);
    }

    /**
     * Sends {@code frames[from..to)} with {@link #send}, one call each, and returns how many went
     * out; the first one refused ends it. The default {@link #sendBatch}, and the fallback of a
     * batching transport for frames it cannot batch.
     */
    default int sendOneByOne(final ByteBuffer[] frames, final int[] lengths, final int from, final int to)
    {
        for (int i = from; i < to; i++)
        {
            if (!send(frames[i], lengths[i]))
            {
                return i - from;
            }
        }
        return to - from;
    }

    /**
     * True when {@link #send} never waits (it refuses instead, as AF_PACKET with MSG_DONTWAIT): the
     * initiator's engine may then send its own frames instead of handing them to a sender thread.
     */
    default boolean sendNeverWaits()
    {
        return false;
    }

    /** Frames and bytes received and sent, and receive drops this transport noticed. */
    TransportCounters counters();

    @Override
    void close();
}
