package org.aoemp.initiator;

/**
 * A snapshot of one path's counters, for {@code aoe stat -v}, JSON, the benchmark and {@code --metrics}.
 *
 * @param rttHistogram the RTT of every reply since the path was found (Prometheus' histogram)
 */
public record PathStats(
    String localInterface,
    String remoteMac,
    PathState state,
    int window,
    int inFlight,
    int bufferCount,
    int maxSectors,
    long srttMicros,
    long rtoMicros,
    long framesSent,
    long bytesSent,
    long framesReceived,
    long bytesReceived,
    long retransmits,
    long timeouts,
    long maxSectorsSent,
    long stateChanges,
    /** Milliseconds since the path last answered (any reply, probes included); -1: never. */
    long lastAnsweredMillisAgo,
    long idleProbesSent,
    long idleProbesLost,
    /** Timeouts whose reply came after all (a busy host or target, not a lost frame); each raised the RTO floor. */
    long spuriousTimeouts,
    /** The RTO floor in force: the configured one, or higher after spurious timeouts. */
    long rtoFloorMicros,
    RttHistogram.Snapshot rttHistogram)
{
}
