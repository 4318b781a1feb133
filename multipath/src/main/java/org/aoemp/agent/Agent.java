package org.aoemp.agent;

/**
 * One thread's job as a duty cycle. The {@link AgentRunner} calls {@link #doWork} in a loop and
 * hands the result to its {@link IdleStrategy}: work done means "call me again at once", none
 * means "back off".
 *
 * <p>Threading: every method is called on the runner's thread only, in the order
 * {@code onStart, doWork*, onClose}; if the runner is closed before it was started,
 * {@code onClose} runs on the closing thread.
 */
public interface Agent
{
    /**
     * One duty cycle: do what is ready, never block for long.
     *
     * @return how much work was done (items, frames, events); 0 lets the idle strategy back off
     * @throws Exception anything unexpected: the runner counts it, logs it, passes it to its
     *         {@link ErrorHandler} and calls this again (an {@link AgentTerminationException}
     *         ends the loop instead)
     */
    int doWork() throws Exception;

    /** The thread's name, e.g. {@code aoe-e7.3}: it shows in jstack, logs and error counts. */
    String roleName();

    /** Called once on the agent's thread before the first {@link #doWork}. */
    default void onStart()
    {
    }

    /** Called once on the agent's thread after the last {@link #doWork}: release what it owns. */
    default void onClose()
    {
    }
}
