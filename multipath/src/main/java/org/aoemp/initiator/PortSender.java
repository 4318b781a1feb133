package org.aoemp.initiator;

import java.util.Arrays;

import org.aoemp.agent.Agent;
import org.aoemp.agent.AgentRunner;
import org.aoemp.agent.Wakeup;
import org.aoemp.transport.FrameTransport;

/**
 * The sender of one {@link Port}, an {@link Agent} on the thread "aoe-tx-&lt;ifname&gt;": drains the
 * {@link SendQueue} of every path over that port (of every device) into the port's transport.
 *
 * <p>One thread per port, not per path: paths over the same NIC share its socket and its
 * bandwidth anyway, the thread count stays at the number of NICs however many targets are open
 * (this runs on 2-core machines), and a NIC that is slow or refuses frames holds up only its own
 * thread, never the engine or the other NICs. A port whose transport never waits in a send
 * (AF_PACKET) gets no thread at all: each engine sends its own frames ({@link SendQueue#flush}).
 *
 * <p>Idling: park as soon as the queues are empty, at most {@value IdleStrategies#SENDER_MAX_PARK_MILLIS} ms
 * ({@link IdleStrategies#portSender}); engines {@link #wake} it once per round of frames, not per
 * frame. A send that throws is the transport's bug: the frame's command is retransmitted soon
 * ({@link SendQueue#drain}), the runner counts and logs the error, and the sender goes on.
 *
 * <p>Life cycle: the thread is started by the first {@link #register} (the first path over the
 * port) unless the transport never waits, and stopped by {@link #close} (the initiator's).
 * Threading: {@link #register}, {@link #unregister} and {@link #close} from any thread (rare; they
 * copy the array of queues); {@link #wake} from engine threads; {@link #doWork} on the sender's
 * thread.
 */
final class PortSender implements Agent, AutoCloseable
{
    private final FrameTransport transport;
    private final Object registry = new Object();
    private final Wakeup wakeup = new Wakeup(this::hasPending);
    private final AgentRunner runner;
    private volatile SendQueue[] queues = new SendQueue[0];
    private boolean open = true;
    private boolean started;

    PortSender(final FrameTransport transport)
    {
        this.transport = transport;
        // nothing to add to what the runner does with an error: the command of the lost frame is retransmitted
        this.runner = new AgentRunner(this, IdleStrategies.portSender(wakeup), error -> { });
    }

    @Override
    public String roleName()
    {
        return "aoe-tx-" + transport.name();
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
            if (!open)
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
                runner.start();
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

    /** The sender's runner (its thread and error count; tests and monitoring). */
    AgentRunner runner()
    {
        return runner;
    }

    /** Makes a parked sender look at its queues now. Cheap when it is awake (a volatile read). */
    void wake()
    {
        wakeup.wake();
    }

    @Override
    public int doWork()
    {
        int work = 0;
        for (final SendQueue q : queues)
        {
            work += q.drain(transport);
        }
        return work;
    }

    private boolean hasPending()
    {
        for (final SendQueue q : queues)
        {
            if (q.hasPending())
            {
                return true;
            }
        }
        return false;
    }

    /** Stops the thread (waits up to its runner's close timeout); frames still queued are dropped. Idempotent. */
    @Override
    public void close()
    {
        synchronized (registry)
        {
            if (!open)
            {
                return;
            }
            open = false;
        }
        runner.close();
    }
}
