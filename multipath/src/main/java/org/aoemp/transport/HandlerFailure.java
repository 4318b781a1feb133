package org.aoemp.transport;

/**
 * A {@link FrameHandler} threw on one frame. The frame is lost and counted
 * ({@link TransportCounters#handlerFailures}); the receive agent passes this to its runner, which
 * counts and logs it (rate-limited), and goes on with the next frame without backing off.
 */
final class HandlerFailure extends RuntimeException
{
    private static final long serialVersionUID = 1L;

    HandlerFailure(final String ifName, final Throwable cause)
    {
        super(ifName + ": frame handler threw; frame dropped", cause);
    }

    /**
     * Tells {@code handler} that the frames received together have all been delivered
     * ({@link FrameHandler#onBatchEnd}). A throw is counted in {@code counters} and reported as a
     * HandlerFailure, like a frame's; after a frame's failure ({@code pending} not null) it is
     * added to that one instead. Receive thread only.
     */
    static void endBatch(final FrameHandler handler, final TransportCounters counters, final String ifName,
        final HandlerFailure pending)
    {
        try
        {
            handler.onBatchEnd();
        }
        catch (final Throwable t)
        {
            counters.handlerFailures.increment();
            if (pending != null)
            {
                pending.addSuppressed(t);
                return;
            }
            throw new HandlerFailure(ifName, t);
        }
    }
}
