package org.aoemp.initiator;

import java.util.concurrent.atomic.AtomicLong;

/**
 * The counters of one device that belong to no single path: replies refused on receive,
 * requests failed, callbacks that threw, errors of the engine's duty cycle.
 *
 * <p>Threading, counter by counter:
 * <ul>
 * <li>stale, foreign and truncated replies: the receive threads of every port, several at once,
 *     so they are atomic. They count exceptional frames, never the ordinary reply.</li>
 * <li>callback failures: atomic, whoever completes the request.</li>
 * <li>requests failed, engine errors and the last engine error: the engine thread alone (single
 *     writer), volatile for readers.</li>
 * </ul>
 * Any thread reads them.
 */
final class DeviceCounters
{
    private final RequestCounters requests = new RequestCounters();
    private final AtomicLong staleReplies = new AtomicLong();
    private final AtomicLong foreignReplies = new AtomicLong();
    private final AtomicLong truncatedReplies = new AtomicLong();
    private final AtomicLong callbackFailures = new AtomicLong();
    private volatile long requestsFailed;
    private volatile long engineErrors;
    private volatile String lastEngineError;

    /** Receive thread: a reply to a command that is no longer in flight (late, duplicate, unknown slot). */
    void staleReply()
    {
        staleReplies.incrementAndGet();
    }

    /** Receive thread: a reply from a MAC that is not the path its command went out on. */
    void foreignReply()
    {
        foreignReplies.incrementAndGet();
    }

    /** Receive thread: a reply shorter than its command's data. */
    void truncatedReply()
    {
        truncatedReplies.incrementAndGet();
    }

    /** A request's callback threw; returns the count so far (1 for the first). */
    long callbackFailed()
    {
        return callbackFailures.incrementAndGet();
    }

    /** Engine thread: a request completed with an error. */
    void requestFailed()
    {
        requestsFailed = requestsFailed + 1;  // single writer
    }

    /** Engine thread: its duty cycle threw {@code error}; returns the count so far. */
    long engineError(final Throwable error)
    {
        lastEngineError = String.valueOf(error);
        final long n = engineErrors + 1;  // single writer
        engineErrors = n;
        return n;
    }

    /** Requests by kind, counted as they complete (engine thread). */
    RequestCounters requests()
    {
        return requests;
    }

    long staleReplies()
    {
        return staleReplies.get();
    }

    long foreignReplies()
    {
        return foreignReplies.get();
    }

    long truncatedReplies()
    {
        return truncatedReplies.get();
    }

    long callbackFailures()
    {
        return callbackFailures.get();
    }

    long requestsFailed()
    {
        return requestsFailed;
    }

    long engineErrors()
    {
        return engineErrors;
    }

    /** The last engine error as {@code Class: message}, or null if there was none. */
    String lastEngineError()
    {
        return lastEngineError;
    }
}
