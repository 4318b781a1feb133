package org.aoemp.initiator;

import java.nio.ByteBuffer;
import java.util.concurrent.atomic.AtomicInteger;
import java.util.concurrent.atomic.AtomicLong;

import org.aoemp.transport.FrameHandler;
import org.aoemp.transport.FrameTransport;

/**
 * A transport that breaks its contract on demand, around a working one: its send throws (for the
 * next {@code n} sends), its receive side throws on every frame (the handler never sees it; the
 * hub's receive loop catches it, as a transport's would have to). It can claim that its sends
 * never wait, so that the device's engine sends on its own thread, or not, so that the port's
 * sender thread does.
 */
final class FaultyTransport extends ForwardingTransport
{
    private final boolean sendNeverWaits;
    private final AtomicInteger sendsToThrow = new AtomicInteger();
    private final AtomicLong sendsThrown = new AtomicLong();
    private final AtomicLong receivesThrown = new AtomicLong();
    private volatile boolean receiveThrows;
    private volatile Thread lastSender;

    FaultyTransport(final FrameTransport nic, final boolean sendNeverWaits)
    {
        super(nic);
        this.sendNeverWaits = sendNeverWaits;
    }

    /** The next {@code n} sends throw. */
    void throwOnNextSends(final int n)
    {
        sendsToThrow.set(n);
    }

    /** Every received frame throws (true) or is delivered (false). */
    void throwOnReceive(final boolean on)
    {
        receiveThrows = on;
    }

    long sendsThrown()
    {
        return sendsThrown.get();
    }

    long receivesThrown()
    {
        return receivesThrown.get();
    }

    /** The thread of the last send that threw. */
    Thread lastSender()
    {
        return lastSender;
    }

    @Override
    public boolean send(final ByteBuffer frame, final int length)
    {
        if (sendsToThrow.get() > 0 && sendsToThrow.getAndDecrement() > 0)
        {
            sendsThrown.incrementAndGet();
            lastSender = Thread.currentThread();
            throw new IllegalStateException("injected send failure on " + nic.name());
        }
        return nic.send(frame, length);
    }

    @Override
    public boolean sendNeverWaits()
    {
        return sendNeverWaits;
    }

    @Override
    public void start(final FrameHandler handler)
    {
        nic.start((frame, length) ->
        {
            if (receiveThrows)
            {
                receivesThrown.incrementAndGet();
                throw new IllegalStateException("injected receive failure on " + nic.name());
            }
            handler.onFrame(frame, length);
        });
    }
}
