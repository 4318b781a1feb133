package org.aoemp.initiator;

import java.nio.ByteBuffer;

import org.aoemp.transport.FrameHandler;
import org.aoemp.transport.FrameTransport;
import org.aoemp.transport.TransportCounters;

/**
 * A {@link FrameTransport} that forwards everything to {@code nic}: tests override the calls they
 * break. {@link #sendNeverWaits} is not forwarded: a subclass whose send may block keeps the
 * interface's "may wait" unless it says otherwise.
 */
abstract class ForwardingTransport implements FrameTransport
{
    final FrameTransport nic;

    ForwardingTransport(final FrameTransport nic)
    {
        this.nic = nic;
    }

    @Override
    public String name()
    {
        return nic.name();
    }

    @Override
    public long mac()
    {
        return nic.mac();
    }

    @Override
    public int mtu()
    {
        return nic.mtu();
    }

    @Override
    public boolean isUp()
    {
        return nic.isUp();
    }

    @Override
    public void start(final FrameHandler handler)
    {
        nic.start(handler);
    }

    @Override
    public boolean send(final ByteBuffer frame, final int length)
    {
        return nic.send(frame, length);
    }

    @Override
    public TransportCounters counters()
    {
        return nic.counters();
    }

    @Override
    public void close()
    {
        nic.close();
    }
}
