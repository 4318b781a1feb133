package org.aoemp.agent;

/** Thrown from {@link Agent#doWork} to end the agent's loop on purpose (then {@link Agent#onClose} runs). */
public final class AgentTerminationException extends RuntimeException
{
    private static final long serialVersionUID = 1L;

    public AgentTerminationException(final String why)
    {
        super(why);
    }
}
