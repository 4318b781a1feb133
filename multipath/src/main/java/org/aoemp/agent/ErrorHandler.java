package org.aoemp.agent;

/**
 * What an agent's owner does with an unexpected error of the agent: fail the work it affected
 * (so no caller waits forever), record it for monitoring, or give up the whole component.
 *
 * <p>Threading: called on the agent's thread, after the runner counted and logged the error and
 * before the next duty cycle; the handler may touch everything the agent owns.
 */
@FunctionalInterface
public interface ErrorHandler
{
    void onError(Throwable error);
}
