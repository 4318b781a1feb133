package org.aoemp.nbd;

/**
 * Request accounting of one connection: how many requests and payload bytes it holds, against
 * its own limits and the server's {@link ServerBudget}.
 *
 * <p>{@link RequestDecoder} asks {@link #tryAdmit} before it takes a request header off the
 * stream; a request that does not fit stays unread in the receive buffer, the connection is
 * {@link #paused()} and stops reading. {@link TransmissionHandler} gives the request back with
 * {@link #release} once its reply is on the socket (or the device finally completed a request
 * that timed out), and resumes decoding when the waiting request fits again. So at any time a
 * connection holds at most {@code maxRequests} requests and {@code maxBytes} of payload (or one
 * request of up to 32 MiB when {@code maxBytes} is smaller), and all connections together at most
 * the server budget, whatever the clients send or fail to read.
 *
 * <p>Threads: the channel's event loop, except {@link #onServerRelease}'s wake-up.
 */
final class ConnectionBudget
{
    private final ServerBudget server;
    private final long maxBytes;
    private final int maxRequests;
    private int requests;
    private long bytes;
    /** The cost of the request left unread for want of room, or -1 when not paused. */
    private long waitingFor = -1;
    private boolean waitingOnServer;
    private Runnable wake;

    ConnectionBudget(final ServerBudget server, final long maxBytes, final int maxRequests)
    {
        this.server = server;
        this.maxBytes = maxBytes;
        this.maxRequests = maxRequests;
    }

    /**
     * The payload bytes a request holds while in flight: the data of an admissible READ or WRITE;
     * none for a request that is answered with an error without touching the device, nor for
     * commands without data.
     */
    static long cost(final NbdRequest request)
    {
        if (request.errno() != NbdErrors.OK)
        {
            return 0;
        }
        final int type = request.type();
        return type == TransmissionCodec.CMD_READ || type == TransmissionCodec.CMD_WRITE ? request.length() : 0;
    }

    /** Sets what to run (on any thread) when a server-wide release may have made room. */
    void onServerRelease(final Runnable wake)
    {
        this.wake = wake;
    }

    /**
     * Takes one request slot and {@code cost} bytes if both fit here and in the server budget;
     * otherwise takes nothing and marks the connection paused until {@link #fits} says so.
     */
    boolean tryAdmit(final long cost)
    {
        if (!fitsHere(cost))
        {
            waitingFor = cost;
            return false;
        }
        if (!server.tryAcquire(cost))
        {
            waitingFor = cost;
            if (!waitingOnServer && wake != null)
            {
                waitingOnServer = true;
                server.awaitRelease(wake);
            }
            // A release between the failed attempt and the registration would be missed: try once more.
            if (!server.tryAcquire(cost))
            {
                return false;
            }
        }
        waitingFor = -1;
        requests++;
        bytes += cost;
        return true;
    }

    /** Gives back one request slot and its bytes. */
    void release(final long cost)
    {
        requests--;
        bytes -= cost;
        server.release(cost);
    }

    /** Gives back the bytes of a request that turned out not to need them; it keeps its slot. */
    void releaseBytes(final long cost)
    {
        bytes -= cost;
        server.release(cost);
    }

    /** The wake-up left with the server has run (or is about to): a new one may be left. */
    void serverWakeDelivered()
    {
        waitingOnServer = false;
    }

    boolean paused()
    {
        return waitingFor >= 0;
    }

    /** Whether the waiting request would fit this connection's limits now (the server's are tried on admission). */
    boolean fits()
    {
        return waitingFor >= 0 && fitsHere(waitingFor);
    }

    /** A request larger than the whole per-connection budget still goes through alone. */
    private boolean fitsHere(final long cost)
    {
        return requests < maxRequests && (bytes + cost <= maxBytes || bytes == 0);
    }

    int requests()
    {
        return requests;
    }

    long bytes()
    {
        return bytes;
    }
}
