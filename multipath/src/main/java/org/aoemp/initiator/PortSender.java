package org.aoemp.initiator;

import java.util.Arrays;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.locks.LockSupport;

import org.aoemp.transport.FrameTransport;

/**
 * The sending thread of one {@link Port}, "aoe-tx-&lt;ifname&gt;": drains the {@link SendQueue} of
 * every path over that port (of every device) into the port's transport.
 *
 * <p>One thread per port, not per path: paths over the same NIC share its socket and its
 * bandwidth anyway, the thread count stays at the number of NICs however many targets are open
 * (this runs on 2-core machines), and a NIC that is slow or refuses frames holds up only its own
 * thread, never the engine or the other NICs.
 *
 * <p>Idle strategy: park as soon as the queues are empty (see {@link #SPINS}) until an engine
 * {@link #wake wakes} it, which engines do once per round of frames, not per frame; at most
 * {@value #MAX_PARK_MILLIS} ms, to notice {@link #close}. Threading: {@link #register},
 * {@link #unregister} and {@link #close} from any thread (rare; they copy the array of queues);
 * {@link #wake} from engine threads.
 */
final class PortSender implements AutoCloseable
{
    /**
     * Empty rounds before parking. 0: park as soon as the queues are empty. On 2 vCPUs shared with
     * the engine, the receive threads and the targets, spinning (200 or 2000 rounds, with or
     * without yields) measured no better in 4 KiB random-read IOPS and burns CPU the others need.
     */
    private static final int SPINS = 0;
    private static final long MAX_PARK_MILLIS = 50;

    private final FrameTransport transport;
    private final Thread thread;
    private final Object registry = new Object();
    private volatile SendQueue[] queues = new SendQueue[0];
    private volatile boolean parked;
    private volatile boolean running = true;
    private boolean started;

    PortSender(final FrameTransport transport)
    {
        this.transport = transport;
        this.thread = Thread.ofPlatform().name("aoe-tx-" + transport.name()).daemon(true).unstarted(this::run);
    }

    /**
     * Starts draining {@code queue}; starts the thread on first use, unless the transport never
     * waits in a send: then each engine drains its own queue ({@link SendQueue#flush}) and a thread
     * here would never find work.
     */
    void register(final SendQueue queue)
    {
        synchronized (registry)
        {
            if (!running)
            {
                throw new IllegalStateException(transport.name() + ": sender is closed");
            }
            final SendQueue[] grown = Arrays.copyOf(queues, queues.length + 1);
            grown[queues.length] = queue;
            queues = grown;
            queue.attach(this);
            if (!started && !transport.sendNeverWaits())
            {
                started = true;
                thread.start();
            }
        }
    }

    /** Stops draining {@code queue} (its device closed); frames still in it are not sent. */
    void unregister(final SendQueue queue)
    {
        synchronized (registry)
        {
            queue.attach(null);
            final SendQueue[] now = queues;
            int n = 0;
            final SendQueue[] shrunk = new SendQueue[now.length];
            for (final SendQueue q : now)
            {
                if (q != queue)
                {
                    shrunk[n++] = q;
                }
            }
            queues = Arrays.copyOf(shrunk, n);
        }
    }

    FrameTransport transport()
    {
        return transport;
    }

    /** Makes a parked sender look at its queues now. Cheap when it is awake (a volatile read). */
    void wake()
    {
        if (parked)
        {
            LockSupport.unpark(thread);
        }
    }

    private void run()
    {
        int idle = 0;
        while (running)
        {
            int work = 0;
            for (final SendQueue q : queues)
            {
                work += q.drain(transport);
            }
            if (work > 0)
            {
                idle = 0;
                continue;
            }
            if (++idle > SPINS)
            {
                park();
                idle = 0;
            }
            else
            {
                Thread.onSpinWait();
            }
        }
    }

    private void park()
    {
        parked = true;
        boolean pending = false;
        for (final SendQueue q : queues)
        {
            pending |= q.hasPending();
        }
        if (!pending && running)
        {
            LockSupport.parkNanos(this, TimeUnit.MILLISECONDS.toNanos(MAX_PARK_MILLIS));
        }
        parked = false;
    }

    /** Stops the thread (waits up to a second for it); frames still queued are dropped. Idempotent. */
    @Override
    public void close()
    {
        final boolean wasStarted;
        synchronized (registry)
        {
            if (!running)
            {
                return;
            }
            running = false;
            wasStarted = started;
        }
        if (wasStarted)
        {
            LockSupport.unpark(thread);
            try
            {
                thread.join(1000);
            }
            catch (final InterruptedException e)
            {
                Thread.currentThread().interrupt();
            }
        }
    }
}
