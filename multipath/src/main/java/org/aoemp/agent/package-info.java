/**
 * Threads as agents: every long-running thread of the project is an {@link org.aoemp.agent.Agent}
 * (a duty cycle, {@code doWork()}, that returns how much it did) run by an
 * {@link org.aoemp.agent.AgentRunner} with one {@link org.aoemp.agent.IdleStrategy}. The runner
 * catches, counts and logs whatever a duty cycle throws and hands it to the owner's
 * {@link org.aoemp.agent.ErrorHandler}, so an unexpected exception never ends a thread silently.
 *
 * <p>In the style of Agrona's {@code org.agrona.concurrent}, written for this project: a
 * {@link org.aoemp.agent.Wakeup} lets producers wake a parked agent (and lets the agent bound
 * its park by its next timer), so an idle agent costs no CPU and a busy one no wake-up per item.
 */
package org.aoemp.agent;
