package org.aoemp.agent;

import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.util.concurrent.CountDownLatch;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicBoolean;
import java.util.concurrent.atomic.AtomicInteger;

import org.junit.jupiter.api.Test;

class BackoffIdleStrategyTest
{
    private static final long HOUR = TimeUnit.HOURS.toNanos(1);

    @Test
    void shouldRefuseBoundsThatMakeNoSense()
    {
        assertThrows(IllegalArgumentException.class, () -> new BackoffIdleStrategy(-1, 0, 1, 1, null));
        assertThrows(IllegalArgumentException.class, () -> new BackoffIdleStrategy(0, 0, 0, 1, null));
        assertThrows(IllegalArgumentException.class, () -> new BackoffIdleStrategy(0, 0, 10, 5, null));
    }

    @Test
    void shouldSpinAndYieldBeforeItAsksWhetherWorkIsPending()
    {
        final AtomicInteger asked = new AtomicInteger();
        final Wakeup wakeup = new Wakeup(() ->
        {
            asked.incrementAndGet();
            return true;  // never actually park
        });
        final BackoffIdleStrategy idle = new BackoffIdleStrategy(3, 2, HOUR, HOUR, wakeup);
        for (int i = 0; i < 5; i++)
        {
            idle.idle(0);
        }
        assertTrue(asked.get() == 0, "5 empty cycles are spins and yields");
        idle.idle(0);
        assertTrue(asked.get() == 1, "the 6th parks (and finds work pending)");
        idle.idle(1);
        idle.idle(0);
        assertTrue(asked.get() == 1, "work resets the back-off to spinning");
    }

    @Test
    void shouldNotParkWhenWorkIsPendingOrTheLimitIsZero()
    {
        final AtomicBoolean pending = new AtomicBoolean(true);
        final Wakeup wakeup = new Wakeup(pending::get);
        final BackoffIdleStrategy idle = BackoffIdleStrategy.parkAtOnce(1, TimeUnit.HOURS, wakeup);
        idle.idle(0);  // would park for an hour without the pending work
        pending.set(false);
        wakeup.limitNextPark(0);
        idle.idle(0);  // the agent's timer is due now
        assertFalse(wakeup.isParked());
    }

    @Test
    void shouldEndAParkWhenWoken() throws Exception
    {
        final Wakeup wakeup = new Wakeup(() -> false);
        final BackoffIdleStrategy idle = BackoffIdleStrategy.parkAtOnce(1, TimeUnit.HOURS, wakeup);
        final CountDownLatch returned = new CountDownLatch(1);
        final Thread t = Thread.ofPlatform().daemon(true).start(() ->
        {
            idle.idle(0);
            returned.countDown();
        });
        final long until = System.nanoTime() + TimeUnit.SECONDS.toNanos(30);
        while (!wakeup.isParked() && System.nanoTime() - until < 0)
        {
            Thread.onSpinWait();
        }
        assertTrue(wakeup.isParked(), "the idle thread parked");
        wakeup.wake();
        assertTrue(returned.await(30, TimeUnit.SECONDS), "wake ends an hour's park");
        t.join();
    }
}
