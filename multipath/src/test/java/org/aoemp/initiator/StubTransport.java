package org.aoemp.initiator;

import java.nio.ByteBuffer;

import org.aoemp.transport.FrameHandler;
import org.aoemp.transport.FrameTransport;
import org.aoemp.transport.TransportCounters;

/** A transport that sends nothing and receives nothing: enough to build {@link Port}s and {@link Path}s in unit tests. */
final class StubTransport implements FrameTransport
{
    private final String name;
    private final long mac;
    private volatile int mtu;
    private volatile boolean up = true;

    StubTransport(final String name, final long mac, final int mtu)
    {
        this.name = name;
        this.mac = mac;
        this.mtu = mtu;
    }

    static Port port(final int index, final int mtu)
    {
        return new Port(index, new StubTransport("stub" + index, 0x02_00_00_00_00_10L + index, mtu));
    }

    void up(final boolean on)
    {
        up = on;
    }

    /** The NIC's MTU changes, as {@code ip link set mtu} does. */
    void mtu(final int newMtu)
    {
        mtu = newMtu;
    }

    @Override
    public String name()
    {
        return name;
    }

    @Override
    public long mac()
    {
        return mac;
    }

    @Override
    public int mtu()
    {
        return mtu;
    }

    @Override
    public boolean isUp()
    {
        return up;
    }

    @Override
    public void start(final FrameHandler handler)
    {
    }

    @Override
    public boolean send(final ByteBuffer frame, final int length)
    {
        return true;
    }

    @Override
    public TransportCounters counters()
    {
        return new TransportCounters();
    }

    @Override
    public void close()
    {
    }
}
