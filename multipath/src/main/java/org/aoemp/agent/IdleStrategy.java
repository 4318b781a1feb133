package org.aoemp.agent;

/**
 * What an agent's thread does after a duty cycle: nothing when there was work, a step of backing
 * off when there was none. The {@code idle(doWork())} pattern.
 *
 * <p>Threading: one instance per agent, used by the agent's thread only.
 */
public interface IdleStrategy
{
    /**
     * @param workCount what the last {@link Agent#doWork} returned: more than 0 resets the
     *        back-off, 0 takes the next step of it
     */
    void idle(int workCount);

    /** Starts the back-off again from its first step. */
    void reset();
}
