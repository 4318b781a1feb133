package org.aoemp.nbd;

import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicLong;

import org.slf4j.Logger;

/**
 * Warnings about a failing backend, at most one line a second per instance, each saying how
 * many were held back since the last. A device that fails every request (a lost AoE target)
 * must not flood the log, but its first failure must show at once.
 *
 * <p>Threading: any thread (device callbacks arrive on initiator threads); lock-free.
 */
final class RateLimitedLog
{
    private static final long INTERVAL_NANOS = TimeUnit.SECONDS.toNanos(1);

    private final Logger log;
    private final AtomicLong nextNanos = new AtomicLong(System.nanoTime() - INTERVAL_NANOS);
    private final AtomicLong heldBack = new AtomicLong();

    RateLimitedLog(final Logger log)
    {
        this.log = log;
    }

    /** Logs like {@link Logger#warn(String, Object...)} (a trailing Throwable prints its stack) unless one was logged in the last second. */
    void warn(final String format, final Object... args)
    {
        final long now = System.nanoTime();
        final long next = nextNanos.get();
        if (now - next >= 0 && nextNanos.compareAndSet(next, now + INTERVAL_NANOS))
        {
            final long held = heldBack.getAndSet(0);
            log.warn(held == 0 ? format : format + " [" + held + " more in the last second not logged]", args);
        }
        else
        {
            heldBack.incrementAndGet();
        }
    }
}
