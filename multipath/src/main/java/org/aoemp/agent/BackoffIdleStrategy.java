package org.aoemp.agent;

import java.util.concurrent.TimeUnit;
import java.util.concurrent.locks.LockSupport;

/**
 * Spin, then yield, then park with a doubling time, in the style of Agrona's
 * {@code BackoffIdleStrategy}. Work resets it to spinning.
 *
 * <p>The bounds are the only tuning knobs of the project's threads, all in one place: spinning
 * keeps a hot agent's latency down when work comes in bursts, yielding gives the other agents the
 * core on a 2-vCPU machine, parking makes an idle agent cost nothing. Parks are bounded by
 * {@code maxParkNanos} so that a missed wake-up, a closing runner or a timer is noticed within
 * that time; with a {@link Wakeup} a producer ends the park at once and the agent can bound it
 * further by its next timer.
 *
 * <p>Threading: the agent's thread only.
 */
public final class BackoffIdleStrategy implements IdleStrategy
{
    private final int maxSpins;
    private final int maxYields;
    private final long minParkNanos;
    private final long maxParkNanos;
    private final Wakeup wakeup;
    private int spins;
    private int yields;
    private long parkNanos;

    /**
     * @param maxSpins  empty duty cycles spent spinning ({@link Thread#onSpinWait}) before yielding
     * @param maxYields empty duty cycles spent yielding before parking
     * @param minParkNanos the first park; each further empty cycle doubles it
     * @param maxParkNanos the longest park
     * @param wakeup    lets producers end a park early and the agent bound it; null for a plain timed park
     */
    public BackoffIdleStrategy(final int maxSpins, final int maxYields, final long minParkNanos, final long maxParkNanos,
        final Wakeup wakeup)
    {
        if (maxSpins < 0 || maxYields < 0 || minParkNanos < 1 || maxParkNanos < minParkNanos)
        {
            throw new IllegalArgumentException("spins " + maxSpins + ", yields " + maxYields + ", park " + minParkNanos
                + ".." + maxParkNanos + " ns");
        }
        this.maxSpins = maxSpins;
        this.maxYields = maxYields;
        this.minParkNanos = minParkNanos;
        this.maxParkNanos = maxParkNanos;
        this.wakeup = wakeup;
        this.parkNanos = minParkNanos;
    }

    /** Parks at once when idle (no spinning, no yielding), up to {@code maxPark}; woken by {@code wakeup}. */
    public static BackoffIdleStrategy parkAtOnce(final long maxPark, final TimeUnit unit, final Wakeup wakeup)
    {
        final long nanos = unit.toNanos(maxPark);
        return new BackoffIdleStrategy(0, 0, nanos, nanos, wakeup);
    }

    @Override
    public void idle(final int workCount)
    {
        if (workCount > 0)
        {
            reset();
            return;
        }
        if (spins < maxSpins)
        {
            spins++;
            Thread.onSpinWait();
        }
        else if (yields < maxYields)
        {
            yields++;
            Thread.yield();
        }
        else
        {
            if (wakeup != null)
            {
                wakeup.park(parkNanos);
            }
            else
            {
                LockSupport.parkNanos(this, parkNanos);
            }
            parkNanos = Math.min(parkNanos << 1, maxParkNanos);
        }
    }

    @Override
    public void reset()
    {
        spins = 0;
        yields = 0;
        parkNanos = minParkNanos;
    }

    @Override
    public String toString()
    {
        return "backoff(spins " + maxSpins + ", yields " + maxYields + ", park " + minParkNanos + ".." + maxParkNanos + " ns"
            + (wakeup != null ? ", wakeable)" : ")");
    }
}
