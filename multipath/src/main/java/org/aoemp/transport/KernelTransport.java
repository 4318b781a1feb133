package org.aoemp.transport;

import java.nio.ByteBuffer;
import java.util.concurrent.atomic.AtomicInteger;
import java.util.concurrent.locks.LockSupport;

import org.aoemp.agent.Agent;
import org.aoemp.agent.AgentRunner;
import org.aoemp.agent.AgentTerminationException;
import org.aoemp.agent.NoOpIdleStrategy;

import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * What the transports over a real kernel NIC ({@link AfPacketTransport}, {@link PcapTransport})
 * share: the NIC's identity and link state, the counters, and the lifecycle of the receive agent.
 *
 * <p>Receiving: {@link #start} runs an {@link Agent} "aoe-rx-&lt;ifname&gt;" on an
 * {@link AgentRunner} whose duty cycle is {@link #receiveBatch()}: receive and deliver what the
 * kernel has, a bounded batch, waiting there (bounded by a receive timeout, or until
 * {@link #wakeReceiver()}) when nothing is ready. So the idle strategy does nothing
 * ({@link NoOpIdleStrategy}). What a duty cycle throws is counted and logged, rate-limited, by the
 * runner; after a failed receive the {@link ReceiveErrorBackoff} pauses the thread (1 to 50 ms,
 * doubling), so an error that repeats never becomes a busy loop. A throwing handler loses only
 * its frame ({@link #deliver}).
 *
 * <p>Lifecycle: the agent ends its loop once {@link #closed} is true. {@link #close} marks the
 * transport closed, calls {@link #stopSends()}, nudges the receive thread with
 * {@link #wakeReceiver()} until it has left (at most a second), and releases the native
 * resources. Those are released by whichever of the closer and the receive agent (in
 * {@link Agent#onClose}) lets go last, so a handler stuck for longer than a second never sees its
 * socket freed under it, and a handler may itself call close.
 *
 * <p>Threading: {@link #start} and {@link #close} may be called from any thread (close also from
 * the handler); {@link #receiveBatch()} runs on the receive thread only.
 */
abstract class KernelTransport implements FrameTransport
{
    private static final Logger LOG = LoggerFactory.getLogger(KernelTransport.class);

    protected final String name;
    /** This NIC's MAC; a NIC of the same name created again may bring another one. */
    protected volatile long mac;
    /** The MTU when the transport was opened (buffers are sized by it); {@link #mtu()} is the MTU now. */
    protected final int mtu;
    protected final NetInterfaces.LinkState linkState;
    /** The interface index the transport is bound to. */
    private volatile int boundIndex;
    /** The interface was re-created and this transport cannot follow it (pcap): it stays down. */
    private volatile boolean stale;
    /** The new index whose binding failed last (logged once, tried again at every poll); under the lifecycle lock. */
    private int failedIndex;
    protected final TransportCounters counters = new TransportCounters();
    /** Written before the receive thread starts, read only by it. */
    protected FrameHandler handler;
    protected volatile boolean closed;

    /** The closer, and once started the receive agent, each hold one share of the native resources. */
    private final AtomicInteger owners = new AtomicInteger(1);
    private final Object lifecycle = new Object();
    private final ReceiveErrorBackoff errorBackoff = new ReceiveErrorBackoff();
    private volatile AgentRunner receiver;

    /** Takes the NIC's name, MAC and MTU from {@code info}; opens its link-state handle. */
    KernelTransport(final NetInterfaces.Info info)
    {
        this.name = info.name();
        this.mac = info.mac();
        this.mtu = info.mtu();
        this.boundIndex = info.index();
        this.linkState = new NetInterfaces.LinkState(info);
    }

    /**
     * The interface of this name was deleted and created again (a new index): follow it, so the
     * same name keeps working. Returns false when this transport cannot (then it stays down).
     * Called with the lifecycle lock held, from whichever thread polled the link.
     */
    abstract boolean followReplacedInterface(NetInterfaces.Info now);

    /** The interface index this transport is bound to now. */
    @Override
    public final int ifindex()
    {
        return boundIndex;
    }

    /**
     * One duty cycle of the receive agent: receives up to a bounded batch of frames and
     * {@link #deliver}s those for this station, waiting (bounded, or until
     * {@link #wakeReceiver()}) when none is ready; returns early once {@link #closed} is true.
     *
     * @return the frames received (0 after a timeout)
     * @throws Exception a receive that failed (after counting it in
     *         {@link TransportCounters#receiveErrors}), or a {@link HandlerFailure}
     */
    abstract int receiveBatch() throws Exception;

    /** Makes a receive thread waiting in {@link #receiveBatch()} look at {@link #closed} soon. Any thread. */
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

    /** The MTU now (as of the last {@link #isUp} poll, which the initiator runs every few ms while a path carries traffic). */
    @Override
    public final int mtu()
    {
        final int now = linkState.mtu();
        return now > 0 ? now : mtu;
    }

    /** {@inheritDoc} An interface of this name that was created again is followed here (see {@link #followReplacedInterface}). */
    @Override
    public final boolean isUp()
    {
        if (closed || stale)
        {
            return false;
        }
        final boolean up = linkState.isUp();
        if (up && linkState.ifindex() != boundIndex)
        {
            return followReplaced();
        }
        return up;
    }

    private boolean followReplaced()
    {
        synchronized (lifecycle)
        {
            if (closed || stale)
            {
                return false;
            }
            if (linkState.ifindex() == boundIndex)
            {
                return true;  // another thread followed it meanwhile
            }
            final NetInterfaces.Info now;
            try
            {
                now = NetInterfaces.lookup(name);
            }
            catch (final TransportException gone)
            {
                return false;  // deleted again: look next time
            }
            final int was = boundIndex;
            try
            {
                if (!followReplacedInterface(now))
                {
                    stale = true;
                    LOG.warn("{}: the interface was deleted and created again (ifindex {} -> {}); this transport cannot follow it "
                        + "and stays down: restart the program to use the new interface", name, was, now.index());
                    return false;
                }
            }
            catch (final TransportException e)
            {
                if (failedIndex != now.index())
                {
                    failedIndex = now.index();
                    LOG.warn("{}: the interface was created again (ifindex {} -> {}) but binding to it failed: {}; trying again "
                        + "at every link check", name, was, now.index(), e.getMessage());
                }
                return false;
            }
            mac = now.mac();
            boundIndex = now.index();
            LOG.info("{}: the interface was deleted and created again (ifindex {} -> {}, MAC {}, MTU {}); sending and receiving on "
                + "the new one", name, was, now.index(), new org.aoemp.protocol.MacAddress(now.mac()), now.mtu());
            return now.up();
        }
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
            if (receiver != null)
            {
                throw new IllegalStateException(name + ": already started");
            }
            this.handler = handler;
            final AgentRunner runner = Transports.receiveRunner(new Receiver(), NoOpIdleStrategy.INSTANCE, errorBackoff);
            owners.incrementAndGet();
            try
            {
                runner.start();
            }
            catch (final RuntimeException | Error e)
            {
                owners.decrementAndGet();  // no thread: the closer remains the only owner
                throw e;
            }
            receiver = runner;
        }
    }

    @Override
    public final void close()
    {
        final AgentRunner runner;
        synchronized (lifecycle)
        {
            if (closed)
            {
                return;
            }
            closed = true;
            runner = receiver;
        }
        stopSends();
        if (runner != null && !Transports.stopReceiver(runner, 1000, this::wake)
            && runner.thread() != Thread.currentThread())
        {
            LOG.warn("{}: receive thread did not stop within 1 s (handler busy?); it will release the resources itself", name);
        }
        release();
    }

    /** The receive agent's runner (for its error count and last error), or null before {@link #start}. */
    final AgentRunner receiver()
    {
        return receiver;
    }

    /**
     * Passes one received frame to the handler. A throwing handler loses only that frame: it is
     * counted in {@link TransportCounters#handlerFailures} and reported as a {@link HandlerFailure},
     * which the caller lets reach the runner (after any bookkeeping of its own). Receive thread only.
     */
    final void deliver(final ByteBuffer frame, final int length)
    {
        counters.received(length);
        frame.clear().limit(length);
        try
        {
            handler.onFrame(frame, length);
        }
        catch (final Throwable t)
        {
            counters.handlerFailures.increment();
            throw new HandlerFailure(name, t);
        }
    }

    /** {@link HandlerFailure#endBatch} for this transport's handler. Receive thread only. */
    final void endBatch(final HandlerFailure pending)
    {
        HandlerFailure.endBatch(handler, counters, name, pending);
    }

    /** For constructors that fail after this one ran: gives up the link-state handle. */
    final void abandon()
    {
        linkState.close();
    }

    /** Nudges the receive thread: out of a wait in the kernel, and out of an error back-off. */
    private void wake()
    {
        wakeReceiver();
        final AgentRunner runner = receiver;
        if (runner != null)
        {
            LockSupport.unpark(runner.thread());
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

    /** The receive thread's job. */
    private final class Receiver implements Agent
    {
        @Override
        public int doWork() throws Exception
        {
            if (closed)
            {
                throw new AgentTerminationException("transport closed");
            }
            final int frames = receiveBatch();
            errorBackoff.reset();
            return frames;
        }

        @Override
        public String roleName()
        {
            return Transports.receiveThreadName(name);
        }

        @Override
        public void onClose()
        {
            release();
        }
    }
}
