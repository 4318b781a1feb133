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
}
