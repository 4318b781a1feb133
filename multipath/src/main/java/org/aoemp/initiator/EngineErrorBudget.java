package org.aoemp.initiator;

import java.util.concurrent.TimeUnit;

/**
 * When a device gives up after errors of its engine: at the {@value #MAX_ERRORS}th error within
 * {@value #WINDOW_SECONDS} s.
 *
 * <p>Why: one error is a fault met once (a transport that threw, a state a bug left behind); the
 * engine fails what it held with EIO, resets, and goes on. Errors that keep coming mean that
 * every duty cycle meets the fault again: each request would wait for a reset only to fail, and
 * the log would fill. The device gives up instead: every request fails with EIO at once, so
 * callers fail fast, and {@code aoe stat -v} shows it.
 *
 * <p>Threading: the engine thread only; pure (the caller passes the time).
 */
final class EngineErrorBudget
{
    static final int MAX_ERRORS = 5;
    static final long WINDOW_SECONDS = 10;

    private final long[] times;
    private final long windowNanos;
    private long count;

    EngineErrorBudget()
    {
        this(MAX_ERRORS, TimeUnit.SECONDS.toNanos(WINDOW_SECONDS));
    }

    EngineErrorBudget(final int maxErrors, final long windowNanos)
    {
        if (maxErrors < 1 || windowNanos < 0)
        {
            throw new IllegalArgumentException("need maxErrors >= 1 and windowNanos >= 0");
        }
        this.times = new long[maxErrors];
        this.windowNanos = windowNanos;
    }

    /** Records an error at {@code nowNanos}; true when it is the last the budget allows: give up. */
    boolean exhaustedBy(final long nowNanos)
    {
        times[(int)(count % times.length)] = nowNanos;
        count++;
        if (count < times.length)
        {
            return false;
        }
        final long oldest = times[(int)(count % times.length)];  // the error maxErrors − 1 errors ago
        return nowNanos - oldest <= windowNanos;
    }
}
