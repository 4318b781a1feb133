package org.aoemp.transport;

import java.util.concurrent.atomic.LongAdder;

/** Frame counters of one transport. Updated on the data path, read by monitoring. */
public final class TransportCounters
{
    public final LongAdder framesSent = new LongAdder();
    public final LongAdder bytesSent = new LongAdder();
    public final LongAdder sendFailures = new LongAdder();
    public final LongAdder framesReceived = new LongAdder();
    public final LongAdder bytesReceived = new LongAdder();
    /**
     * Failed receives: a {@code recv} or {@code pcap_loop} error other than a timeout or an
     * interruption, or a frame longer than the receive buffer. Each is also counted and logged
     * (rate-limited) by the receive thread's {@link org.aoemp.agent.AgentRunner}, except the
     * single ENETDOWN a link going down causes, and the oversized frames.
     */
    public final LongAdder receiveErrors = new LongAdder();
    /** Received frames lost because the {@link FrameHandler} threw on them (the next frame is delivered as usual). */
    public final LongAdder handlerFailures = new LongAdder();

    public void sent(final int length)
    {
        framesSent.increment();
        bytesSent.add(length);
    }

    public void received(final int length)
    {
        framesReceived.increment();
        bytesReceived.add(length);
    }

    @Override
    public String toString()
    {
        return "tx " + framesSent.sum() + " frames/" + bytesSent.sum() + " B (" + sendFailures.sum() + " failed), rx "
            + framesReceived.sum() + " frames/" + bytesReceived.sum() + " B (" + receiveErrors.sum() + " errors, "
            + handlerFailures.sum() + " lost in the handler)";
    }
}
