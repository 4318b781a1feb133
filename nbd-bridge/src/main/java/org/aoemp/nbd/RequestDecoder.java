package org.aoemp.nbd;

import java.util.List;

import io.netty.buffer.ByteBuf;
import io.netty.buffer.Unpooled;
import io.netty.channel.ChannelHandlerContext;
import io.netty.handler.codec.ByteToMessageDecoder;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * Frames the transmission byte stream into {@link NbdRequest}s and validates each header with
 * {@link RequestCheck} as soon as it arrives, which decides what happens to a WRITE's payload:
 *
 * <ul>
 * <li>valid: the decoder waits for the whole payload (at most {@link RequestCheck#MAX_PAYLOAD})
 *     and hands it on as a retained slice of the receive buffer, without copying it;</li>
 * <li>rejected (read-only, beyond the end, unaligned, bad flags, or longer than 32 MiB): the
 *     payload is skipped as it streams in, never buffered, whatever its length (up to 4 GiB), and
 *     the request, carrying its error, is handed on once the last payload byte has gone by, so
 *     the connection stays usable.</li>
 * </ul>
 *
 * A header without the request magic means the stream is out of sync: the connection is closed.
 *
 * <p>Each header is admitted by the connection's {@link ConnectionBudget} before it is taken off
 * the stream: one that does not fit (too many requests or payload bytes held by this connection
 * or the whole server) stays unread, and the connection stops reading until
 * {@link TransmissionHandler} frees room and decodes again. So a WRITE's payload is buffered only
 * once its bytes are accounted for, and a READ's reply buffer allocated only then.
 *
 * <p>Thread: the channel's event loop only.
 */
final class RequestDecoder extends ByteToMessageDecoder
{
    private static final Logger LOG = LoggerFactory.getLogger(RequestDecoder.class);

    private enum State
    {
        HEADER, PAYLOAD, DISCARD, BROKEN
    }

    /** Payloads from this size on get their room reserved up front. */
    private static final int LARGE_PAYLOAD = 256 * 1024;

    private final Export export;
    private final ConnectionBudget budget;
    private ChannelHandlerContext context;
    private final RateLimitedLog failures = new RateLimitedLog(LOG);
    private State state = State.HEADER;
    private NbdRequest pending;
    private long discardRemaining;

    RequestDecoder(final Export export, final ConnectionBudget budget)
    {
        this.export = export;
        this.budget = budget;
    }

    /**
     * While a request waits for room in the budget, nothing more is read: without this the base
     * class would ask for another read each time one produced no request, and the receive buffer
     * would grow with whatever the client keeps sending.
     */
    @Override
    public void handlerAdded(final ChannelHandlerContext ctx) throws Exception
    {
        this.context = ctx;
        super.handlerAdded(ctx);
    }

    private ChannelHandlerContext ctx()
    {
        return context == null || context.isRemoved() ? null : context;
    }

    @Override
    public void channelReadComplete(final ChannelHandlerContext ctx) throws Exception
    {
        if (budget.paused())
        {
            ctx.fireChannelReadComplete();
            return;
        }
        super.channelReadComplete(ctx);
    }

    /**
     * Decodes what is already buffered, after the budget made room for the request that waited.
     * On the event loop, never from inside this decoder's own channelRead.
     */
    void decodeBuffered()
    {
        final ChannelHandlerContext ctx = ctx();
        if (ctx == null)
        {
            return;
        }
        try
        {
            channelRead(ctx, Unpooled.EMPTY_BUFFER);
            channelReadComplete(ctx);
        }
        catch (final Exception e)
        {
            ctx.fireExceptionCaught(e);
        }
    }

    @Override
    protected void decode(final ChannelHandlerContext ctx, final ByteBuf in, final List<Object> out)
    {
        while (step(ctx, in, out))
        {
            // next state
        }
    }

    /** Advances by one state; false when more input is needed. */
    private boolean step(final ChannelHandlerContext ctx, final ByteBuf in, final List<Object> out)
    {
        switch (state)
        {
            case HEADER ->
            {
                if (in.readableBytes() < TransmissionCodec.REQUEST_HEADER_LENGTH)
                {
                    return false;
                }
                if (!TransmissionCodec.hasRequestMagic(in))
                {
                    LOG.debug("{}: bad request magic 0x{}, closing", ctx.channel(), Integer.toHexString(in.getInt(in.readerIndex())));
                    state = State.BROKEN;
                    in.skipBytes(in.readableBytes());
                    ctx.close();
                    return false;
                }
                final int start = in.readerIndex();
                final NbdRequest request = TransmissionCodec.readRequestHeader(in, new NbdRequest());
                request.errno(check(ctx, request));
                if (!budget.tryAdmit(ConnectionBudget.cost(request)))
                {
                    // No room: the header stays in the buffer and reading stops until replies free some.
                    in.readerIndex(start);
                    ctx.channel().config().setAutoRead(false);
                    return false;
                }
                if (request.type() != TransmissionCodec.CMD_WRITE || request.length() == 0)
                {
                    out.add(request);
                }
                else if (request.errno() == NbdErrors.OK)
                {
                    pending = request;
                    state = State.PAYLOAD;
                }
                else
                {
                    pending = request;
                    discardRemaining = request.length();
                    state = State.DISCARD;
                }
                return true;
            }
            case PAYLOAD ->
            {
                final int length = (int)pending.length();
                if (in.readableBytes() < length)
                {
                    reserve(in, length);
                    return false;
                }
                out.add(pending.payload(in.readRetainedSlice(length)));
                pending = null;
                state = State.HEADER;
                return true;
            }
            case DISCARD ->
            {
                final int n = (int)Math.min(discardRemaining, in.readableBytes());
                in.skipBytes(n);
                discardRemaining -= n;
                if (discardRemaining == 0)
                {
                    out.add(pending);
                    pending = null;
                    state = State.HEADER;
                    return true;
                }
                return false;
            }
            case BROKEN ->
            {
                in.skipBytes(in.readableBytes());
                return false;
            }
            default -> throw new IllegalStateException(state.toString());
        }
    }

    /**
     * {@link RequestCheck} against the device's size and block size now. A device whose
     * accessors throw fails just this request with EIO (a WRITE's payload is then skipped), and
     * the connection stays in sync.
     */
    private int check(final ChannelHandlerContext ctx, final NbdRequest request)
    {
        final long size;
        final int blockSize;
        try
        {
            size = export.size();
            blockSize = export.blockSize();
        }
        catch (final RuntimeException | Error e)
        {
            if (request.type() == TransmissionCodec.CMD_DISC)
            {
                return NbdErrors.OK;  // a disconnect needs no device
            }
            failures.warn("{}: the device of export '{}' threw from size()/blockSize(); replying EIO to {}", ctx.channel(),
                export.name(), request, e);
            return NbdErrors.EIO;
        }
        return RequestCheck.check(request.type(), request.flags(), request.offset(), request.length(), size, blockSize,
            export.readOnly());
    }

    /**
     * Makes room for the rest of a large payload in one step. Left alone, the cumulation buffer
     * grows by doubling as each read arrives, copying what it holds every time; a 32 MiB WRITE
     * would be copied several times over before it is complete.
     */
    private static void reserve(final ByteBuf in, final int length)
    {
        // Only a buffer nobody else references (no payload slices in flight) may have its bytes moved.
        if (length >= LARGE_PAYLOAD && in.refCnt() == 1 && !in.isReadOnly() && in.writableBytes() < length - in.readableBytes())
        {
            in.discardReadBytes();
            in.ensureWritable(length - in.readableBytes(), false);
        }
    }
}
