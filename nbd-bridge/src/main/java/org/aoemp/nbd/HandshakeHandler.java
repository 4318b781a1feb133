package org.aoemp.nbd;

import static org.aoemp.nbd.HandshakeCodec.*;

import java.util.List;
import java.util.concurrent.TimeUnit;

import io.netty.buffer.ByteBuf;
import io.netty.buffer.Unpooled;
import io.netty.channel.ChannelFutureListener;
import io.netty.channel.ChannelHandlerContext;
import io.netty.handler.codec.ByteToMessageDecoder;
import io.netty.handler.ssl.SslHandler;
import io.netty.util.concurrent.ScheduledFuture;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * The server side of the fixed-newstyle handshake for one connection. Sends the greeting,
 * checks the client flags, answers options one at a time, and on GO or EXPORT_NAME replaces
 * itself with {@link RequestDecoder} + {@link TransmissionHandler}; bytes the client already sent
 * past the handshake are handed on to them.
 *
 * <p>Hostile input ends the connection without allocating anything in proportion to it: wrong
 * magic, unknown client flags, an option longer than {@link HandshakeCodec#MAX_OPTION_LENGTH}
 * (EXPORT_NAME: longer than {@link HandshakeCodec#MAX_STRING_LENGTH}), more than
 * {@link ServerConfig#maxOptions()} options, or no GO within the handshake timeout. Malformed or
 * unsupported options get an error reply and the handshake goes on.
 *
 * <p>TLS ({@link TlsSettings}): STARTTLS is refused when TLS is off; otherwise it is acknowledged
 * in the clear and an {@code SslHandler} goes first in the pipeline, so every later option and
 * the whole transmission phase are encrypted. Under {@code require}, every option but STARTTLS
 * and ABORT before that gets NBD_REP_ERR_TLS_REQD (EXPORT_NAME, which has no error reply, closes).
 *
 * <p>Thread: the channel's event loop only.
 */
final class HandshakeHandler extends ByteToMessageDecoder
{
    private static final Logger LOG = LoggerFactory.getLogger(HandshakeHandler.class);

    private enum State
    {
        CLIENT_FLAGS, OPTION_HEADER, OPTION_DATA, DONE
    }

    private final ServerConfig config;
    private final TlsSettings tls;
    /** Set once STARTTLS was accepted: everything after its reply is inside TLS. */
    private boolean secured;
    private State state = State.CLIENT_FLAGS;
    private boolean fixedNewstyle;
    private boolean noZeroes;
    private int optionCount;
    private int option;
    private int optionLength;
    private ScheduledFuture<?> timeout;

    HandshakeHandler(final ServerConfig config, final TlsSettings tls)
    {
        this.config = config;
        this.tls = tls;
    }

    @Override
    public void channelActive(final ChannelHandlerContext ctx) throws Exception
    {
        ctx.writeAndFlush(writeGreeting(ctx.alloc().buffer(GREETING_LENGTH), SERVER_FLAGS), ctx.voidPromise());
        timeout = ctx.executor().schedule(
            () -> fail(ctx, "no GO within " + config.handshakeTimeoutMillis() + " ms"),
            config.handshakeTimeoutMillis(), TimeUnit.MILLISECONDS);
        super.channelActive(ctx);
    }

    @Override
    protected void handlerRemoved0(final ChannelHandlerContext ctx)
    {
        cancelTimeout();
    }

    @Override
    public void userEventTriggered(final ChannelHandlerContext ctx, final Object event) throws Exception
    {
        if (event == ShutdownEvent.INSTANCE)
        {
            fail(ctx, "server shutting down");
            return;
        }
        super.userEventTriggered(ctx, event);
    }

    @Override
    protected void decode(final ChannelHandlerContext ctx, final ByteBuf in, final List<Object> out)
    {
        // Loop here rather than rely on ByteToMessageDecoder calling again: it stops once the input is
        // empty, and an option with no data is complete as soon as its header is.
        while (step(ctx, in))
        {
            // next state
        }
    }

    /** Advances by one state; false when more input is needed or the handshake is over. */
    private boolean step(final ChannelHandlerContext ctx, final ByteBuf in)
    {
        switch (state)
        {
            case CLIENT_FLAGS ->
            {
                if (in.readableBytes() < CLIENT_FLAGS_LENGTH)
                {
                    return false;
                }
                final int flags = in.readInt();
                if ((flags & ~KNOWN_CLIENT_FLAGS) != 0)
                {
                    fail(ctx, "unknown client flags 0x" + Integer.toHexString(flags));
                    in.skipBytes(in.readableBytes());
                    return false;
                }
                fixedNewstyle = (flags & CLIENT_FLAG_FIXED_NEWSTYLE) != 0;
                noZeroes = (flags & CLIENT_FLAG_NO_ZEROES) != 0;
                state = State.OPTION_HEADER;
                return true;
            }
            case OPTION_HEADER ->
            {
                if (in.readableBytes() < OPTION_HEADER_LENGTH)
                {
                    return false;
                }
                final long magic = in.readLong();
                option = in.readInt();
                final long length = in.readUnsignedInt();
                if (magic != IHAVEOPT)
                {
                    fail(ctx, "bad option magic 0x" + Long.toHexString(magic));
                }
                else if (++optionCount > config.maxOptions())
                {
                    fail(ctx, "more than " + config.maxOptions() + " options");
                }
                else if (length > MAX_OPTION_LENGTH || (option == OPT_EXPORT_NAME && length > MAX_STRING_LENGTH))
                {
                    // Never read (let alone buffer) what a peer claims will follow: reply if the client can
                    // take an error, then hang up.
                    if (fixedNewstyle && option != OPT_EXPORT_NAME)
                    {
                        ctx.write(writeError(ctx.alloc().buffer(), option, REP_ERR_INVALID,
                            optionName(option) + " data of " + length + " bytes is too long"), ctx.voidPromise());
                    }
                    fail(ctx, optionName(option) + " length " + length);
                }
                else
                {
                    optionLength = (int)length;
                    state = State.OPTION_DATA;
                    return true;
                }
                in.skipBytes(in.readableBytes());
                return false;
            }
            case OPTION_DATA ->
            {
                if (in.readableBytes() < optionLength)
                {
                    return false;
                }
                state = State.OPTION_HEADER;
                final boolean wasSecured = secured;
                handleOption(ctx, option, in.readSlice(optionLength));
                if (secured && !wasSecured && in.isReadable())
                {
                    // The client must wait for the STARTTLS reply; bytes already here were sent in the clear.
                    fail(ctx, "data after STARTTLS before its reply");
                    in.skipBytes(in.readableBytes());
                    return false;
                }
                return state != State.DONE;
            }
            case DONE ->
            {
                in.skipBytes(in.readableBytes());
                return false;
            }
            default -> throw new IllegalStateException(state.toString());
        }
    }

    private void handleOption(final ChannelHandlerContext ctx, final int option, final ByteBuf data)
    {
        if (!fixedNewstyle && option != OPT_EXPORT_NAME)
        {
            // A plain newstyle client cannot read option replies.
            fail(ctx, "option " + optionName(option) + " from a client without FIXED_NEWSTYLE");
            return;
        }
        if (tls.mode() == TlsSettings.Mode.REQUIRE && !secured && option != OPT_STARTTLS && option != OPT_ABORT)
        {
            if (option == OPT_EXPORT_NAME)
            {
                // EXPORT_NAME has no error reply: closing is the only refusal.
                LOG.info("NBD client {} refused: EXPORT_NAME without TLS, which this server requires", ctx.channel().remoteAddress());
                fail(ctx, "EXPORT_NAME without TLS");
                return;
            }
            if (option == OPT_GO)
            {
                LOG.info("NBD client {} refused: GO without TLS, which this server requires", ctx.channel().remoteAddress());
            }
            reply(ctx, writeError(ctx.alloc().buffer(), option, REP_ERR_TLS_REQD,
                "this server requires TLS: send STARTTLS first (e.g. nbds:// or nbd-client -certfile/-keyfile/-cacertfile)"));
            return;
        }
        switch (option)
        {
            case OPT_EXPORT_NAME -> exportName(ctx, data);
            case OPT_INFO, OPT_GO -> infoOrGo(ctx, option, data);
            case OPT_LIST -> list(ctx, data);
            case OPT_ABORT ->
            {
                state = State.DONE;
                ctx.writeAndFlush(writeAck(ctx.alloc().buffer(OPTION_REPLY_HEADER_LENGTH), option))
                    .addListener(ChannelFutureListener.CLOSE);
            }
            case OPT_STARTTLS -> startTls(ctx, data);
            default -> reply(ctx, writeError(ctx.alloc().buffer(), option, REP_ERR_UNSUP,
                optionName(option) + " is not supported by this server"));
        }
    }

    /**
     * STARTTLS: reply in the clear, then put TLS under the handshake; the client's next bytes are
     * its TLS ClientHello. The handshake timeout still bounds the whole negotiation.
     */
    private void startTls(final ChannelHandlerContext ctx, final ByteBuf data)
    {
        if (tls.mode() == TlsSettings.Mode.OFF)
        {
            reply(ctx, writeError(ctx.alloc().buffer(), OPT_STARTTLS, REP_ERR_UNSUP, "TLS is off on this server"));
            return;
        }
        if (secured)
        {
            reply(ctx, writeError(ctx.alloc().buffer(), OPT_STARTTLS, REP_ERR_INVALID, "TLS is already on"));
            return;
        }
        if (data.isReadable())
        {
            reply(ctx, writeError(ctx.alloc().buffer(), OPT_STARTTLS, REP_ERR_INVALID, "STARTTLS takes no data"));
            return;
        }
        secured = true;
        final SslHandler handler = tls.newHandler(ctx.alloc());
        // First in the pipeline, next to the socket; it sends its first write (the reply below) in the clear.
        ctx.pipeline().addFirst("tls", handler);
        final Object peer = ctx.channel().remoteAddress();
        handler.handshakeFuture().addListener(f ->
        {
            if (f.isSuccess())
            {
                LOG.debug("NBD client {}: TLS {} {}{}", peer, handler.engine().getSession().getProtocol(),
                    handler.engine().getSession().getCipherSuite(), tls.verifiesClients() ? ", certificate " + peerName(handler) : "");
            }
            else if (f.cause() instanceof java.nio.channels.ClosedChannelException)
            {
                LOG.debug("NBD client {} closed the connection during the TLS handshake", peer);
            }
            else
            {
                LOG.warn("NBD client {} refused: TLS handshake failed: {}", peer, rootMessage(f.cause()));
            }
        });
        reply(ctx, writeAck(ctx.alloc().buffer(OPTION_REPLY_HEADER_LENGTH), OPT_STARTTLS));
    }

    private static String peerName(final SslHandler handler)
    {
        try
        {
            return ((java.security.cert.X509Certificate)handler.engine().getSession().getPeerCertificates()[0])
                .getSubjectX500Principal().getName();
        }
        catch (final javax.net.ssl.SSLPeerUnverifiedException | RuntimeException e)
        {
            return "(none)";
        }
    }

    private static String rootMessage(final Throwable t)
    {
        Throwable c = t;
        while (c.getCause() != null && c.getCause() != c)
        {
            c = c.getCause();
        }
        return c.getMessage() == null ? c.toString() : c.getMessage();
    }

    private void exportName(final ChannelHandlerContext ctx, final ByteBuf data)
    {
        final String name = InfoRequest.decodeUtf8(data, data.readerIndex(), data.readableBytes());
        final Export export = name == null ? null : config.lookup(name);
        if (export == null)
        {
            // EXPORT_NAME has no error reply: closing is the only refusal.
            fail(ctx, "EXPORT_NAME for unknown export '" + name + "'");
            return;
        }
        final long size;
        try
        {
            size = export.size();
        }
        catch (final RuntimeException | Error e)
        {
            // EXPORT_NAME has no error reply: closing is the only refusal.
            LOG.warn("{}: the device of export '{}' threw from size(); refusing EXPORT_NAME", ctx.channel(), export.name(), e);
            fail(ctx, "EXPORT_NAME for export '" + name + "' whose device failed");
            return;
        }
        final ByteBuf reply = writeExportNameReply(
            ctx.alloc().buffer(10 + EXPORT_NAME_PADDING), size, export.transmissionFlags(), noZeroes);
        ctx.writeAndFlush(reply, ctx.voidPromise());
        startTransmission(ctx, export);
    }

    private void infoOrGo(final ChannelHandlerContext ctx, final int option, final ByteBuf data)
    {
        final InfoRequest request = InfoRequest.parse(data);
        if (request == null)
        {
            reply(ctx, writeError(ctx.alloc().buffer(), option, REP_ERR_INVALID, "malformed " + optionName(option)));
            return;
        }
        final Export export = config.lookup(request.name());
        if (export == null)
        {
            reply(ctx, writeError(ctx.alloc().buffer(), option, REP_ERR_UNKNOWN,
                "no export named '" + request.name() + "'"));
            return;
        }
        // Ask the device everything before writing a byte: if it throws, this option gets one error
        // reply (the export is "not available") and the handshake goes on.
        final long size;
        final String description;
        final int blockSize;
        try
        {
            size = export.size();
            description = request.requested(INFO_DESCRIPTION) ? export.description() : null;
            blockSize = request.requested(INFO_BLOCK_SIZE) ? export.blockSize() : 0;
        }
        catch (final RuntimeException | Error e)
        {
            LOG.warn("{}: the device of export '{}' threw while answering {}; replying ERR_UNKNOWN", ctx.channel(),
                export.name(), optionName(option), e);
            reply(ctx, writeError(ctx.alloc().buffer(), option, REP_ERR_UNKNOWN,
                "export '" + export.name() + "' is not available: its device failed (" + e + ")"));
            return;
        }
        final ByteBuf out = ctx.alloc().buffer();
        writeInfoExport(out, option, size, export.transmissionFlags());
        if (request.requested(INFO_NAME))
        {
            writeInfoString(out, option, INFO_NAME, export.name());
        }
        if (description != null)
        {
            writeInfoString(out, option, INFO_DESCRIPTION, description);
        }
        if (request.requested(INFO_BLOCK_SIZE))
        {
            writeInfoBlockSize(out, option, blockSize, Math.max(4096, blockSize), RequestCheck.MAX_PAYLOAD);
        }
        writeAck(out, option);
        reply(ctx, out);
        if (option == OPT_GO)
        {
            startTransmission(ctx, export);
        }
    }

    private void list(final ChannelHandlerContext ctx, final ByteBuf data)
    {
        if (data.isReadable())
        {
            reply(ctx, writeError(ctx.alloc().buffer(), OPT_LIST, REP_ERR_INVALID, "LIST takes no data"));
            return;
        }
        final ByteBuf out = ctx.alloc().buffer();
        for (final Export e : config.exports())
        {
            writeServer(out, OPT_LIST, e.name(), describe(ctx, e));
        }
        reply(ctx, writeAck(out, OPT_LIST));
    }

    /** The export's description for LIST; one whose device throws is listed as unavailable. */
    private static String describe(final ChannelHandlerContext ctx, final Export export)
    {
        try
        {
            return export.description();
        }
        catch (final RuntimeException | Error e)
        {
            LOG.warn("{}: the device of export '{}' threw while describing it for LIST", ctx.channel(), export.name(), e);
            return "unavailable: its device failed";
        }
    }

    /**
     * Whatever a step throws unexpectedly ends the handshake with the connection closed, so the
     * client is never left waiting for a reply that will not come.
     */
    @Override
    public void exceptionCaught(final ChannelHandlerContext ctx, final Throwable cause)
    {
        if (secured && (cause instanceof javax.net.ssl.SSLException || cause.getCause() instanceof javax.net.ssl.SSLException))
        {
            // A failed TLS handshake or a broken record: the handshake listener has logged it.
            LOG.debug("{}: TLS error: {}", ctx.channel(), cause.toString());
            if (state != State.DONE)
            {
                fail(ctx, "TLS error");
            }
            else
            {
                ctx.close();
            }
            return;
        }
        if (cause instanceof java.io.IOException)
        {
            // The client reset or vanished mid-handshake: its business, not a server fault.
            LOG.debug("{}: connection lost during the handshake: {}", ctx.channel(), cause.toString());
        }
        else
        {
            LOG.warn("{}: handshake failed unexpectedly; closing", ctx.channel(), cause);
        }
        if (state != State.DONE)
        {
            fail(ctx, cause.toString());
        }
        else
        {
            ctx.close();
        }
    }

    private void startTransmission(final ChannelHandlerContext ctx, final Export export)
    {
        state = State.DONE;
        cancelTimeout();
        ctx.channel().attr(NbdServer.EXPORT).set(export);
        LOG.info("NBD client {} opened export '{}'", ctx.channel().remoteAddress(), export.name());
        final ConnectionBudget budget = config.newConnectionBudget();
        ctx.pipeline()
            .addAfter(ctx.name(), "nbd-requests", new RequestDecoder(export, budget))
            .addAfter("nbd-requests", "nbd-transmission", new TransmissionHandler(export, config, budget));
        // Anything the client sent after its GO is forwarded to the request decoder.
        ctx.pipeline().remove(this);
        if (!config.exports().contains(export))
        {
            // Removed between the lookup and now (NbdServer.removeExport sets the table first, then
            // looks for connections on the export by this attribute): end it like the others.
            ctx.pipeline().fireUserEventTriggered(ShutdownEvent.INSTANCE);
        }
    }

    private static void reply(final ChannelHandlerContext ctx, final ByteBuf reply)
    {
        // One write per option answer: nbd-client reads each field with a single read().
        ctx.writeAndFlush(reply, ctx.voidPromise());
    }

    private void fail(final ChannelHandlerContext ctx, final String why)
    {
        state = State.DONE;
        cancelTimeout();
        LOG.debug("{}: closing during handshake: {}", ctx.channel(), why);
        ctx.writeAndFlush(Unpooled.EMPTY_BUFFER).addListener(ChannelFutureListener.CLOSE);
    }

    private void cancelTimeout()
    {
        if (timeout != null)
        {
            timeout.cancel(false);
            timeout = null;
        }
    }
}
