package org.aoemp.agent;

/**
 * Does nothing between duty cycles: for agents whose {@link Agent#doWork} itself waits, bounded,
 * in the kernel (a blocking {@code recv} with a receive timeout, a {@code pcap_loop} that
 * {@code pcap_breakloop} ends), so an empty cycle already was the back-off.
 *
 * <p>Such an agent must make sure that a failure which returns at once cannot turn into a busy
 * loop: it backs off itself, or through its {@link ErrorHandler}. Threading: stateless; one
 * instance may be shared.
 */
public final class NoOpIdleStrategy implements IdleStrategy
{
    public static final NoOpIdleStrategy INSTANCE = new NoOpIdleStrategy();

    private NoOpIdleStrategy()
    {
    }

    @Override
    public void idle(final int workCount)
    {
    }

    @Override
    public void reset()
    {
    }

    @Override
    public String toString()
    {
        return "no-op (waits inside doWork)";
    }
}
