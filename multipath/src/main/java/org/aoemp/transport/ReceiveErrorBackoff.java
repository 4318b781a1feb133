package org.aoemp.transport;

import java.util.concurrent.TimeUnit;

import org.aoemp.agent.BackoffIdleStrategy;
import org.aoemp.agent.ErrorHandler;

/**
 * The error handler of every receive agent: after a failed receive it parks the receive thread,
 * {@value #MIN_MILLIS} ms the first time and twice as long each further time in a row, up to
 * {@value #MAX_MILLIS} ms, so a receive call that keeps failing at once (a socket in error, a
 * pcap handle whose interface went away) costs a few calls a second instead of a core. The
 * {@link org.aoemp.agent.AgentRunner} has already counted and logged the error. A frame lost in
 * the {@link FrameHandler} ({@link HandlerFailure}) is no receive failure: no pause.
 *
 * <p>A close ends the pause at once ({@code LockSupport.unpark} of the receive thread).
 * Threading: the receive thread only.
 */
final class ReceiveErrorBackoff implements ErrorHandler
{
    static final long MIN_MILLIS = 1;
    static final long MAX_MILLIS = 50;

    private final BackoffIdleStrategy backoff =
        new BackoffIdleStrategy(0, 0, TimeUnit.MILLISECONDS.toNanos(MIN_MILLIS), TimeUnit.MILLISECONDS.toNanos(MAX_MILLIS), null);

    @Override
    public void onError(final Throwable error)
    {
        if (!(error instanceof HandlerFailure))
        {
            backoff.idle(0);
        }
    }

    /** A receive succeeded (a frame, or a timeout on an idle link): the next failure starts over at the shortest pause. */
    void reset()
    {
        backoff.reset();
    }
}
