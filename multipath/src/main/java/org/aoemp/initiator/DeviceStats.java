package org.aoemp.initiator;

import java.util.List;

/**
 * A snapshot of one device's counters and its paths.
 *
 * @param dead             no path answered for dead-after while requests waited (requests fail with EIO until one answers)
 * @param engineErrors     duty cycles of the device's engine that threw (each failed the requests in progress with EIO)
 * @param lastEngineError  the last of them as {@code Class: message}, or null
 * @param callbackFailures request callbacks that threw (the caller's bug; other requests are not affected)
 * @param givenUp          the device gave up after repeated engine errors: every request fails with EIO until it is closed
 */
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
    long engineErrors,
    String lastEngineError,
    long callbackFailures,
    boolean givenUp,
    List<PathStats> paths)
{
}
