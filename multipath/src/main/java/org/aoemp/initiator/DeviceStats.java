package org.aoemp.initiator;

import java.util.List;

/** A snapshot of one device's counters and its paths. */
public record DeviceStats(
    String device,
    long sizeBytes,
    int sectorsPerCommand,
    boolean dead,
    long staleReplies,
    long foreignReplies,
    long truncatedReplies,
    long requestsFailed,
    long fencesRaised,
    long fencesLiftedByReply,
    long fencesExpired,
    List<PathStats> paths)
{
}
