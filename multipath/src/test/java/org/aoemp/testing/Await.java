package org.aoemp.testing;

import java.time.Duration;
import java.util.function.BooleanSupplier;
import java.util.function.Supplier;

import org.junit.jupiter.api.Assertions;

/**
 * Waits for a condition instead of sleeping for a guessed time: polls it (every millisecond at
 * first, backing off to every {@value #MAX_POLL_MILLIS} ms) until it holds or the deadline passes.
 * Deadlines should be generous, as they only cost time when the test is failing anyway; the
 * condition is checked once more at the deadline, so a slow machine only makes the test slower.
 *
 * <p>Threading: stateless; the condition runs on the calling thread.
 */
public final class Await
{
    static final long MAX_POLL_MILLIS = 20;

    private Await()
    {
    }

    /** Polls {@code condition} until it holds (returns true) or {@code within} has passed (returns false). */
    public static boolean reached(final Duration within, final BooleanSupplier condition)
    {
        final long deadline = System.nanoTime() + within.toNanos();
        long pause = 1;
        while (!condition.getAsBoolean())
        {
            if (System.nanoTime() - deadline >= 0)
            {
                return condition.getAsBoolean();
            }
            try
            {
                Thread.sleep(pause);
            }
            catch (final InterruptedException e)
            {
                Thread.currentThread().interrupt();
                throw new IllegalStateException("interrupted while waiting for a condition", e);
            }
            pause = Math.min(MAX_POLL_MILLIS, pause * 2);
        }
        return true;
    }

    /** Polls {@code condition} until it holds; fails the test with {@code message} if it does not within {@code within}. */
    public static void until(final Duration within, final BooleanSupplier condition, final String message)
    {
        until(within, condition, () -> message);
    }

    /** As {@link #until(Duration, BooleanSupplier, String)}, the message built only on failure (e.g. to show state). */
    public static void until(final Duration within, final BooleanSupplier condition, final Supplier<String> message)
    {
        if (!reached(within, condition))
        {
            Assertions.fail(message.get() + " (not within " + within + ")");
        }
    }
}
