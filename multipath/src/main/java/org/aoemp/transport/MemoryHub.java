package org.aoemp.transport;

import java.nio.ByteBuffer;
import java.util.Arrays;
import java.util.List;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicInteger;
import java.util.concurrent.atomic.LongAdder;
import java.util.function.BiPredicate;

import org.aoemp.agent.Agent;
import org.aoemp.agent.AgentRunner;
import org.aoemp.agent.AgentTerminationException;
import org.aoemp.agent.BackoffIdleStrategy;
import org.aoemp.agent.Wakeup;
import org.aoemp.protocol.Bytes;
import org.aoemp.protocol.MacAddress;
import org.jctools.queues.atomic.MpmcAtomicArrayQueue;
import org.jctools.queues.atomic.MpscAtomicArrayQueue;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * An in-memory Ethernet switch: {@link #attach} virtual NICs ({@link Nic}, each a
 * {@link FrameTransport}) and frames sent by one arrive at every other NIC whose MAC is the
 * destination, or at all of them for a broadcast/multicast destination. For tests without root and
 * for an embedded demo.
 *
 * <p>Like a real NIC, each {@link Nic} has a bounded receive queue (frames arriving at a full queue
 * are dropped and counted in {@link Nic#rxDropped()}) and its own receive agent (thread
 * "aoe-rx-&lt;name&gt;" on an {@link AgentRunner}), so handlers run on that NIC's thread as they do
 * with the real transports. An idle receive agent parks (up to {@value #MAX_PARK_MILLIS} ms) and
 * the first frame queued for it wakes it ({@link Wakeup}); a handler that throws loses only that
 * frame ({@link TransportCounters#handlerFailures}), and the runner logs it, rate-limited. Frames longer than the receiving
 * NIC's MTU + 14 are dropped there; a NIC refuses to send frames longer than its own MTU + 14.
 * Receive buffers are pooled per NIC ({@value #PREALLOCATED_FRAMES} up front, more on demand up
 * to the queue length), so with no {@link Interceptor} installed the hub allocates nothing per
 * frame once the pool has reached its high-water mark.
 *
 * <p>Fault injection: {@link Nic#setUp(boolean)} takes a NIC down (it neither sends nor receives),
 * and an {@link Interceptor} sees every frame sent and decides whether, when, how often and in
 * which form it is delivered: enough to drop, duplicate, reorder, delay and corrupt frames.
 *
 * <p>Threading: {@link #attach}, {@link #interceptor(Interceptor)} and {@link #close} may be called
 * from any thread; switching runs on the sending thread (or wherever an interceptor forwards from).
 */
public final class MemoryHub implements AutoCloseable
{
    /** Receive queue length of a NIC unless {@link #attach(String, long, int, int)} says otherwise. */
    public static final int DEFAULT_QUEUE_FRAMES = 1024;
    /**
     * Receive buffers a NIC allocates when attached; the pool grows on demand up to the queue
     * length, so a NIC whose receiver falls further behind than this allocates until the pool
     * reaches that high-water mark, and never again after.
     */
    public static final int PREALLOCATED_FRAMES = 64;
    static final int ETHERNET_HEADER = 14;
    /** Frames one duty cycle of a NIC's receive agent delivers at most. */
    static final int RECEIVE_BATCH = 64;
    /** The longest park of an idle receive agent; a frame or a close ends it at once. */
    static final long MAX_PARK_MILLIS = 100;

    private static final Logger LOG = LoggerFactory.getLogger(MemoryHub.class);

    private final Object membership = new Object();
    /** Copy-on-write, so the switching loop reads it without locking or allocating. */
    private volatile Nic[] nics = new Nic[0];
    private volatile Interceptor interceptor;

    /**
     * Decides the fate of each frame a NIC sends, instead of the hub delivering it at once. Called
     * on the sending thread, after the sending NIC accepted the frame (so {@link Nic#send} already
     * returns true and counts it: the frame is "on the wire").
     */
    @FunctionalInterface
    public interface Interceptor
    {
        /** Delivers every frame unchanged, as if no interceptor were installed (but with a copy per frame). */
        Interceptor PASS = (source, frame, forward) -> forward.deliver(frame);

        /**
         * @param source  the NIC that sent the frame
         * @param frame   a private copy of the frame, exactly as long as the frame; it may be kept
         *                and modified
         * @param forward switches a frame onward from {@code source} by its destination MAC. Call
         *                it not at all to drop, once to pass, twice to duplicate, later and from any
         *                thread to delay or reorder, with modified bytes to corrupt
         */
        void intercept(Nic source, byte[] frame, Forwarder forward);

        /** Drops the frames {@code drop} says yes to and passes the rest at once. */
        static Interceptor dropIf(final BiPredicate<Nic, byte[]> drop)
        {
            return (source, frame, forward) ->
            {
                if (!drop.test(source, frame))
                {
                    forward.deliver(frame);
                }
            };
        }
    }

    /** Puts a frame on the hub from a given NIC; handed to an {@link Interceptor}. Any thread. */
    @FunctionalInterface
    public interface Forwarder
    {
        /** Delivers bytes {@code [0, length)} of {@code frame}; the hub copies them before returning. */
        void deliver(byte[] frame, int length);

        /** Delivers the whole array as one frame. */
        default void deliver(final byte[] frame)
        {
            deliver(frame, frame.length);
        }
    }

    /** Attaches a NIC with a {@value #DEFAULT_QUEUE_FRAMES}-frame receive queue. */
    public Nic attach(final String name, final long mac, final int mtu)
    {
        return attach(name, mac, mtu, DEFAULT_QUEUE_FRAMES);
    }

    /**
     * Attaches a new NIC, up and not yet started; frames arriving before {@link Nic#start} wait in
     * its queue.
     *
     * @throws IllegalArgumentException when the name is taken, or the MAC, MTU or queue length is invalid
     */
    public Nic attach(final String name, final long mac, final int mtu, final int queueFrames)
    {
        if ((mac & ~MacAddress.BROADCAST_BITS) != 0 || (mac >>> 40 & 0x01) != 0)
        {
            throw new IllegalArgumentException("a NIC needs a 48-bit unicast MAC: " + Long.toHexString(mac));
        }
        if (mtu < 46 || mtu > 65535)
        {
            throw new IllegalArgumentException("MTU out of range: " + mtu);
        }
        if (queueFrames < 2)
        {
            throw new IllegalArgumentException("receive queue needs at least 2 frames: " + queueFrames);
        }
        synchronized (membership)
        {
            for (final Nic nic : nics)
            {
                if (nic.name.equals(name))
                {
                    throw new IllegalArgumentException("a NIC named '" + name + "' is already attached");
                }
            }
            final Nic nic = new Nic(name, mac, mtu, queueFrames);
            final Nic[] grown = Arrays.copyOf(nics, nics.length + 1);
            grown[grown.length - 1] = nic;
            nics = grown;
            return nic;
        }
    }

    /** Installs {@code interceptor} for every frame sent from now on; null removes it. Returns this hub. */
    public MemoryHub interceptor(final Interceptor interceptor)
    {
        this.interceptor = interceptor;
        return this;
    }

    /** The interceptor in force, or null. */
    public Interceptor interceptor()
    {
        return interceptor;
    }

    /** The NICs attached now. */
    public List<Nic> nics()
    {
        return List.of(nics);
    }

    /**
     * The attached NIC called {@code name}.
     *
     * @throws TransportException naming it and the attached NICs when there is none of that name
     */
    public Nic nic(final String name)
    {
        final Nic[] current = nics;
        for (final Nic nic : current)
        {
            if (nic.name.equals(name))
            {
                return nic;
            }
        }
        final StringBuilder attached = new StringBuilder();
        for (final Nic nic : current)
        {
            attached.append(attached.isEmpty() ? "" : ", ").append(nic.name);
        }
        throw new TransportException("interface '" + name + "' does not exist on this memory hub; attached: "
            + (attached.isEmpty() ? "none" : attached));
    }

    /** Closes every NIC. */
    @Override
    public void close()
    {
        for (final Nic nic : nics)
        {
            nic.close();
        }
    }

    private void detach(final Nic nic)
    {
        synchronized (membership)
        {
            final Nic[] current = nics;
            for (int i = 0; i < current.length; i++)
            {
                if (current[i] == nic)
                {
                    final Nic[] shrunk = new Nic[current.length - 1];
                    System.arraycopy(current, 0, shrunk, 0, i);
                    System.arraycopy(current, i + 1, shrunk, i, current.length - i - 1);
                    nics = shrunk;
                    return;
                }
            }
        }
    }

    /** Switches one frame: a copy to every other NIC it is addressed to. */
    private void deliver(final Nic source, final ByteBuffer frame, final int length)
    {
        if (length < ETHERNET_HEADER)
        {
            return;
        }
        final boolean group = (frame.get(0) & 0x01) != 0;
        final long dst = Bytes.mac(frame, 0);
        for (final Nic nic : nics)
        {
            if (nic != source && (group || nic.mac == dst))
            {
                nic.enqueue(frame, length);
            }
        }
    }

    /** One pooled receive buffer of a NIC. */
    private static final class Slot
    {
        final byte[] bytes;
        final ByteBuffer view;
        int length;

        Slot(final int size)
        {
            bytes = new byte[size];
            view = ByteBuffer.wrap(bytes);
        }
    }

    /**
     * A virtual NIC on a {@link MemoryHub}.
     *
     * <p>Threading: as {@link FrameTransport}. The receive thread "aoe-rx-&lt;name&gt;" is the only
     * consumer of the receive queue; any thread may send, or enqueue into it through the hub.
     * {@link #setUp} may be called from any thread.
     */
    public final class Nic implements FrameTransport
    {
        private final String name;
        private final long mac;
        private final int mtu;
        private final int capacity;
        private final int maxFrame;
        private final MpscAtomicArrayQueue<Slot> received;
        private final MpmcAtomicArrayQueue<Slot> free;
        private final AtomicInteger slotsCreated = new AtomicInteger();
        private final LongAdder rxDropped = new LongAdder();
        private final TransportCounters counters = new TransportCounters();
        private final Forwarder uplink;
        private final Object lifecycle = new Object();

        /** Lets senders end the receive agent's park; its pending work is a queued frame or a close. */
        private final Wakeup wakeup;

        private volatile boolean up = true;
        private volatile boolean closed;
        private AgentRunner receiver;
        private FrameHandler handler;

        private Nic(final String name, final long mac, final int mtu, final int capacity)
        {
            this.name = name;
            this.mac = mac;
            this.mtu = mtu;
            this.capacity = capacity;
            this.maxFrame = mtu + ETHERNET_HEADER;
            this.received = new MpscAtomicArrayQueue<>(capacity);
            this.free = new MpmcAtomicArrayQueue<>(capacity);
            final int preallocated = Math.min(capacity, PREALLOCATED_FRAMES);
            for (int i = 0; i < preallocated; i++)
            {
                free.offer(new Slot(maxFrame));
            }
            slotsCreated.set(preallocated);
            this.uplink = (frame, length) -> deliver(this, ByteBuffer.wrap(frame), Math.min(length, frame.length));
            this.wakeup = new Wakeup(() -> closed || !received.isEmpty());
        }

        /** The hub this NIC is attached to. */
        public MemoryHub hub()
        {
            return MemoryHub.this;
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
            return up && !closed;
        }

        /**
         * Takes the NIC down or brings it up. A down NIC's {@link #send} returns false, and frames
         * addressed to it (including those already queued) are dropped.
         */
        public void setUp(final boolean up)
        {
            this.up = up;
        }

        /** Frames this NIC dropped on receive: queue full, down, or longer than MTU + 14. */
        public long rxDropped()
        {
            return rxDropped.sum();
        }

        @Override
        public void start(final FrameHandler handler)
        {
            synchronized (lifecycle)
            {
                if (closed)
                {
                    throw new IllegalStateException(name + ": NIC is closed");
                }
                if (receiver != null)
                {
                    throw new IllegalStateException(name + ": already started");
                }
                this.handler = handler;
                final AgentRunner runner = Transports.receiveRunner(new Receiver(),
                    BackoffIdleStrategy.parkAtOnce(MAX_PARK_MILLIS, TimeUnit.MILLISECONDS, wakeup), new ReceiveErrorBackoff());
                runner.start();
                receiver = runner;
            }
        }

        @Override
        public boolean send(final ByteBuffer frame, final int length)
        {
            if (!up || closed || length < ETHERNET_HEADER || length > maxFrame || length > frame.capacity())
            {
                counters.sendFailures.increment();
                return false;
            }
            counters.sent(length);
            final Interceptor intercept = interceptor;
            if (intercept == null)
            {
                deliver(this, frame, length);
                return true;
            }
            final byte[] copy = new byte[length];
            frame.get(0, copy, 0, length);
            try
            {
                intercept.intercept(this, copy, uplink);
            }
            catch (final RuntimeException e)
            {
                LOG.warn("{}: interceptor threw; frame dropped", name, e);
            }
            return true;
        }

        /** Copies a frame into a pooled slot and queues it for the receive thread. Any thread. */
        private void enqueue(final ByteBuffer frame, final int length)
        {
            if (!up || closed || length > maxFrame)
            {
                rxDropped.increment();
                return;
            }
            Slot slot = free.poll();
            if (slot == null)
            {
                if (slotsCreated.incrementAndGet() > capacity)
                {
                    slotsCreated.decrementAndGet();
                    rxDropped.increment();
                    return;
                }
                slot = new Slot(maxFrame);
            }
            frame.get(0, slot.bytes, 0, length);
            slot.length = length;
            if (!received.offer(slot))
            {
                free.offer(slot);
                rxDropped.increment();
                return;
            }
            wakeup.wake();
        }

        /** The receive thread's job: deliver the queued frames, a batch at a time; park (woken by senders) when there are none. */
        private final class Receiver implements Agent
        {
            @Override
            public int doWork()
            {
                if (closed)
                {
                    throw new AgentTerminationException("NIC closed");
                }
                int frames = 0;
                Slot slot;
                try
                {
                    while (frames < RECEIVE_BATCH && (slot = received.poll()) != null)
                    {
                        frames++;
                        try
                        {
                            deliver(slot);
                        }
                        finally
                        {
                            free.offer(slot);
                        }
                    }
                }
                catch (final HandlerFailure failure)
                {
                    HandlerFailure.endBatch(handler, counters, name, failure);
                    throw failure;
                }
                if (frames > 0)
                {
                    HandlerFailure.endBatch(handler, counters, name, null);
                }
                return frames;
            }

            /** A throwing handler loses only this frame: counted, and reported to the runner as a {@link HandlerFailure}. */
            private void deliver(final Slot slot)
            {
                if (!up || closed)
                {
                    rxDropped.increment();
                    return;
                }
                counters.received(slot.length);
                slot.view.clear().limit(slot.length);
                try
                {
                    handler.onFrame(slot.view, slot.length);
                }
                catch (final Throwable t)
                {
                    counters.handlerFailures.increment();
                    throw new HandlerFailure(name, t);
                }
            }

            @Override
            public String roleName()
            {
                return Transports.receiveThreadName(name);
            }
        }

        @Override
        public TransportCounters counters()
        {
            return counters;
        }

        /** The receive agent's runner (its error count, for tests and monitoring), or null before {@link #start}. */
        AgentRunner receiver()
        {
            synchronized (lifecycle)
            {
                return receiver;
            }
        }

        /** Detaches from the hub and stops the receive thread (waiting up to a second for it). */
        @Override
        public void close()
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
            detach(this);
            if (runner != null && !Transports.stopReceiver(runner, 1000, wakeup::wake) && runner.thread() != Thread.currentThread())
            {
                LOG.warn("{}: receive thread did not stop within 1 s (handler busy?); it ends when the handler returns", name);
            }
        }

        @Override
        public String toString()
        {
            return "memory:" + name + "(" + new MacAddress(mac) + ")";
        }
    }
}
