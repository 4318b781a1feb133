package org.aoemp.bench;

/**
 * One path's figures over an interval (counters are deltas) or over the whole measured run.
 *
 * @param name       local interface
 * @param remoteMac  the target's MAC on that path
 * @param state      path state at the end of the interval
 * @param srttMicros smoothed round-trip time at the end of the interval
 * @param rtoMicros  retransmission timeout at the end of the interval
 */
public record PathSample(String name, String remoteMac, String state, long srttMicros, long rtoMicros, long framesSent,
    long framesReceived, long retransmits, long timeouts)
{
}
