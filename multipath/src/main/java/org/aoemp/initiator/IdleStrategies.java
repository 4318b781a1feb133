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
 * <li>Device engine: spin {@value #ENGINE_SPINS} empty cycles, yield {@value #ENGINE_YIELDS},
 *     then park for at most {@value #ENGINE_MAX_PARK_MILLIS} ms, less when the next command
 *     deadline is nearer ({@link Wakeup#limitNextPark}); a request or reply wakes it at once.
 *     The spins keep a busy device's latency down between bursts; the bound keeps timers and
 *     probes of an idle one within that time.</li>
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
    static final int ENGINE_SPINS = 100;
    static final int ENGINE_YIELDS = 10;
    static final long ENGINE_MAX_PARK_MILLIS = 10;
    static final long ENGINE_MAX_PARK_NANOS = TimeUnit.MILLISECONDS.toNanos(ENGINE_MAX_PARK_MILLIS);
    static final long SENDER_MAX_PARK_MILLIS = 50;

    private IdleStrategies()
    {
    }

    static IdleStrategy engine(final Wakeup wakeup)
    {
        return new BackoffIdleStrategy(ENGINE_SPINS, ENGINE_YIELDS, ENGINE_MAX_PARK_NANOS, ENGINE_MAX_PARK_NANOS, wakeup);
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
