package org.aoemp.nbd;

import java.util.concurrent.atomic.LongAdder;

/**
 * What the clients of one export did, for monitoring: connections (opened in all, open now),
 * requests received and requests answered with an error. The connections of one export live on
 * several event loops, so each counter is a {@link LongAdder} (one uncontended add per request);
 * any thread reads them.
 */
public final class ExportCounters
{
    private final LongAdder connectionsOpened = new LongAdder();
    private final LongAdder connectionsClosed = new LongAdder();
    private final LongAdder requests = new LongAdder();
    private final LongAdder errors = new LongAdder();

    void connectionOpened()
    {
        connectionsOpened.increment();
    }

    void connectionClosed()
    {
        connectionsClosed.increment();
    }

    void request()
    {
        requests.increment();
    }

    void error()
    {
        errors.increment();
    }

    /** Connections that reached transmission on this export (after GO or EXPORT_NAME), in all. */
    public long connectionsOpened()
    {
        return connectionsOpened.sum();
    }

    /** Connections transmitting on this export now. */
    public long connectionsOpen()
    {
        return Math.max(0, connectionsOpened.sum() - connectionsClosed.sum());
    }

    /** Requests received in transmission, DISC included. */
    public long requests()
    {
        return requests.sum();
    }

    /** Requests answered with an error (a failed device request, or one refused by the checks). */
    public long errors()
    {
        return errors.sum();
    }
}
