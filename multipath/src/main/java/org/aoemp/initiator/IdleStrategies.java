package org.aoemp.initiator;

import java.time.Duration;
import java.util.concurrent.TimeUnit;

import org.aoemp.agent.BackoffIdleStrategy;
import org.aoemp.agent.IdleStrategy;
import org.aoemp.agent.Wakeup;

/**
 * How each of the initiator's agents waits for work: every tuning knob of their idling, in one
 * place.
 *
 * <ul>
 * <li>Device engine: park as soon as a duty cycle finds nothing to do; a request or reply wakes
 *     it at once. With commands in flight a park lasts at most {@value #ENGINE_MAX_PARK_MILLIS}
 *     ms, less when the next command deadline is nearer ({@link Wakeup#limitNextPark}); with
 *     nothing in flight or queued it lasts until the next path probe is due, at most
 *     {@value #ENGINE_IDLE_PARK_MILLIS} ms, so a device at rest wakes about once a second (a
 *     10 ms bound cost 7 ms of CPU per second). It used to spin 100 empty cycles and yield 10
 *     times first: on 2 vCPUs shared with the receive threads, the Netty event loop, the target
 *     and fio, that CPU was taken from the threads the engine waits for. Parking at once measured
 *     (bench/nbd-fio.sh, side by side) 2.04x the 4 KiB QD32 read IOPS, 1.15x randwrite, 1.23x
 *     1 MiB reads and 1.11x QD1, with less CPU per I/O in all four.</li>
 * <li>Port sender: park as soon as its queues are empty, for at most
 *     {@value #SENDER_MAX_PARK_MILLIS} ms; an engine wakes it once per round of frames. On 2 vCPUs
 *     shared with the engine, the receive threads and the targets, spinning (200 or 2000 rounds,
 *     with or without yields) measured no better in 4 KiB random-read IOPS and burns CPU the
 *     others need.</li>
 * <li>Discovery: park until the next config query is due.</li>
 * </ul>
 */
final class IdleStrategies
{
    static final long ENGINE_MAX_PARK_MILLIS = 10;
    static final long ENGINE_MAX_PARK_NANOS = TimeUnit.MILLISECONDS.toNanos(ENGINE_MAX_PARK_MILLIS);
    static final long ENGINE_IDLE_PARK_MILLIS = 1000;
    static final long ENGINE_IDLE_PARK_NANOS = TimeUnit.MILLISECONDS.toNanos(ENGINE_IDLE_PARK_MILLIS);
    static final long SENDER_MAX_PARK_MILLIS = 50;

    private IdleStrategies()
    {
    }

    static IdleStrategy engine(final Wakeup wakeup)
    {
        // the engine bounds every park itself (DeviceEngine.parkLimit): the strategy's bound is the idle one
        return BackoffIdleStrategy.parkAtOnce(ENGINE_IDLE_PARK_NANOS, TimeUnit.NANOSECONDS, wakeup);
    }

    static IdleStrategy portSender(final Wakeup wakeup)
    {
        return BackoffIdleStrategy.parkAtOnce(SENDER_MAX_PARK_MILLIS, TimeUnit.MILLISECONDS, wakeup);
    }

    static IdleStrategy discovery(final Wakeup wakeup, final Duration interval)
    {
        return BackoffIdleStrategy.parkAtOnce(Math.max(1, interval.toNanos()), TimeUnit.NANOSECONDS, wakeup);
    }
}
