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
            + framesReceived.sum() + " frames/" + bytesReceived.sum() + " B";
    }
}
