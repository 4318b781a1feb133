package org.aoemp.agent;

import java.util.concurrent.locks.LockSupport;
import java.util.function.BooleanSupplier;

/**
 * Lets other threads wake an agent that parked for lack of work, and lets the agent bound its
 * next park by its own timers.
 *
 * <p>Why: the engine and the port senders get their work through lock-free queues from other
 * threads. Spinning until work comes would take a core that a 2-core machine does not have;
 * parking for a fixed time would add that time to the latency of the first request after a
 * pause. With a wake-up, an idle agent sleeps and the first item wakes it at once, while a busy
 * one pays nothing per item: {@link #wake} is a volatile read unless the agent is parked.
 *
 * <p>No lost wake-ups: the parking thread publishes itself (a volatile store) and then asks
 * {@code pendingWork} (volatile loads of the queues); a producer puts its item in a queue (a
 * volatile store or CAS) and then calls {@link #wake} (a volatile load). One of the two always
 * sees the other. Parks are bounded anyway ({@link BackoffIdleStrategy}), so a missed wake-up
 * could cost a delay, never a hang.
 *
 * <p>Threading: {@link #wake} from any thread; {@link #limitNextPark} and {@link #park} from the
 * agent's thread only.
 */
public final class Wakeup
{
    private final BooleanSupplier pendingWork;
    private volatile Thread parked;
    private long parkLimitNanos = Long.MAX_VALUE;
    /** Parks so far: written by the agent's thread, read racily by {@link #parks()}. */
    private long parks;

    /**
     * @param pendingWork true when work is waiting for the agent (asked after it announced its
     *        park and before it parks); called on the agent's thread
     */
    public Wakeup(final BooleanSupplier pendingWork)
    {
        this.pendingWork = pendingWork;
    }

    /** Wakes the agent if it is parked. Any thread; cheap when it is not parked. */
    public void wake()
    {
        final Thread t = parked;
        if (t != null)
        {
            LockSupport.unpark(t);
        }
    }

    /**
     * Agent thread: the next park lasts at most {@code nanos} (e.g. until the agent's next timer
     * is due). Applies to one park, then the limit is lifted.
     */
    public void limitNextPark(final long nanos)
    {
        parkLimitNanos = Math.min(parkLimitNanos, Math.max(0, nanos));
    }

    /** Agent thread (through its idle strategy): parks up to {@code nanos}, less if limited, not at all if work is pending. */
    void park(final long nanos)
    {
        final long wait = Math.min(nanos, parkLimitNanos);
        parkLimitNanos = Long.MAX_VALUE;
        if (wait <= 0)
        {
            return;
        }
        parked = Thread.currentThread();
        try
        {
            if (!pendingWork.getAsBoolean())
            {
                parks++;
                LockSupport.parkNanos(this, wait);
            }
        }
        finally
        {
            parked = null;
        }
    }

    /** How often the agent parked so far (monitoring and tests: how often an idle agent wakes). Any thread, racy. */
    public long parks()
    {
        return parks;
    }

    /** Whether the agent is parked right now (monitoring and tests). */
    public boolean isParked()
    {
        return parked != null;
    }
}
