package org.aoemp.nbd;

import java.util.concurrent.ConcurrentLinkedQueue;
import java.util.concurrent.atomic.AtomicLong;

/**
 * The payload bytes every connection of one server may hold at once: READ reply buffers and
 * WRITE payloads, from the moment the decoder admits the request until its reply has been
 * written to the socket (or, for a request the device never completed, until it does).
 *
 * <p>A connection that finds no room stops reading and leaves a wake-up here; every release
 * runs the wake-ups waiting at that moment, and each woken connection tries again on its own
 * event loop. Lock-free: one CAS per admitted request, one add per release.
 *
 * <p>Threads: any.
 */
final class ServerBudget
{
    private final long maxBytes;
    private final AtomicLong held = new AtomicLong();
    private final ConcurrentLinkedQueue<Runnable> waiting = new ConcurrentLinkedQueue<>();

    ServerBudget(final long maxBytes)
    {
        if (maxBytes < RequestCheck.MAX_PAYLOAD)
        {
            throw new IllegalArgumentException("the server's in-flight budget must hold at least one request of "
                + RequestCheck.MAX_PAYLOAD + " bytes: " + maxBytes);
        }
        this.maxBytes = maxBytes;
    }

    /** Takes {@code bytes} if they fit; false (nothing taken) when they do not. */
    boolean tryAcquire(final long bytes)
    {
        if (bytes == 0)
        {
            return true;
        }
        while (true)
        {
            final long now = held.get();
            if (now + bytes > maxBytes)
            {
                return false;
            }
            if (held.compareAndSet(now, now + bytes))
            {
                return true;
            }
        }
    }

    void release(final long bytes)
    {
        if (bytes == 0)
        {
            return;
        }
        held.addAndGet(-bytes);
        Runnable wake;
        while ((wake = waiting.poll()) != null)
        {
            wake.run();
        }
    }

    /** Runs {@code wake} (once) at the next release. */
    void awaitRelease(final Runnable wake)
    {
        waiting.add(wake);
    }

    long heldBytes()
    {
        return held.get();
    }

    long maxBytes()
    {
        return maxBytes;
    }
}
