package org.aoemp.transport;

import java.nio.ByteBuffer;
import java.util.concurrent.atomic.AtomicInteger;

import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * What the transports over a real kernel NIC ({@link AfPacketTransport}, {@link PcapTransport})
 * share: the NIC's identity and link state, the counters, and the lifecycle of the receive thread.
 *
 * <p>Lifecycle: {@link #start} runs {@link #receive()} on the receive thread until {@link #closed}
 * turns true. {@link #close} marks the transport closed, calls {@link #stopSends()}, nudges the
 * receive thread with {@link #wakeReceiver()} until it has left (at most a second), and releases
 * the native resources. Those are released by whichever of the closer and the receive thread lets
 * go last, so a handler stuck for longer than a second never sees its socket freed under it, and
 * a handler may itself call close.
 *
 * <p>Threading: {@link #start} and {@link #close} may be called from any thread (close also from
 * the handler); {@link #receive()} runs on the receive thread only.
 */
abstract class KernelTransport implements FrameTransport
{
    private static final Logger LOG = LoggerFactory.getLogger(KernelTransport.class);

    protected final String name;
    protected final long mac;
    protected final int mtu;
    protected final NetInterfaces.LinkState linkState;
    protected final TransportCounters counters = new TransportCounters();
    /** Written before the receive thread starts, read only by it. */
    protected FrameHandler handler;
    protected volatile boolean closed;

    /** The closer, and once started the receive thread, each hold one share of the native resources. */
    private final AtomicInteger owners = new AtomicInteger(1);
    private final Object lifecycle = new Object();
    private Thread receiveThread;

    /** Takes the NIC's name, MAC and MTU from {@code info}; opens its link-state handle. */
    KernelTransport(final NetInterfaces.Info info)
    {
        this.name = info.name();
        this.mac = info.mac();
        this.mtu = info.mtu();
        this.linkState = new NetInterfaces.LinkState(info.name());
    }

    /** The receive loop: returns once {@link #closed} is true (after a nudge from {@link #wakeReceiver}). */
    abstract void receive();

    /** Makes a receive thread blocked in {@link #receive()} look at {@link #closed} soon. Any thread. */
    abstract void wakeReceiver();

    /** Frees the native resources; called once, when nobody uses them any more. */
    abstract void releaseResources();

    /** Stops further sends before the resources go; called once by {@link #close}. */
    void stopSends()
    {
    }

    @Override
    public final String name()
    {
        return name;
    }

    @Override
    public final long mac()
    {
        return mac;
    }

    @Override
    public final int mtu()
    {
        return mtu;
    }

    @Override
    public final boolean isUp()
    {
        return !closed && linkState.isUp();
    }

    @Override
    public final TransportCounters counters()
    {
        return counters;
    }

    @Override
    public final void start(final FrameHandler handler)
    {
        synchronized (lifecycle)
        {
            if (closed)
            {
                throw new IllegalStateException(name + ": transport is closed");
            }
            if (receiveThread != null)
            {
                throw new IllegalStateException(name + ": already started");
            }
            this.handler = handler;
            owners.incrementAndGet();
            receiveThread = Transports.startReceiveThread(name, this::receiveLoop);
        }
    }

    @Override
    public final void close()
    {
        final Thread thread;
        synchronized (lifecycle)
        {
            if (closed)
            {
                return;
            }
            closed = true;
            thread = receiveThread;
        }
        stopSends();
        if (thread == Thread.currentThread())
        {
            wakeReceiver();  // close() from inside the handler: the loop ends when the handler returns
        }
        else if (thread != null && !Transports.stopReceiveThread(thread, 1000, this::wakeReceiver))
        {
            LOG.warn("{}: receive thread did not stop within 1 s (handler busy?); it will release the resources itself", name);
        }
        release();
    }

    /** Passes one received frame to the handler; a throwing handler loses only that frame. Receive thread only. */
    final void deliver(final ByteBuffer frame, final int length)
    {
        counters.received(length);
        frame.clear().limit(length);
        try
        {
            handler.onFrame(frame, length);
        }
        catch (final RuntimeException e)
        {
            LOG.warn("{}: frame handler threw; frame dropped", name, e);
        }
    }

    /** For constructors that fail after this one ran: gives up the link-state handle. */
    final void abandon()
    {
        linkState.close();
    }

    private void receiveLoop()
    {
        try
        {
            receive();
        }
        finally
        {
            release();
        }
    }

    private void release()
    {
        if (owners.decrementAndGet() == 0)
        {
            try
            {
                releaseResources();
            }
            finally
            {
                linkState.close();
            }
        }
    }
}
