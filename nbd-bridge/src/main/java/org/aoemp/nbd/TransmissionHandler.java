package org.aoemp.nbd;

import static org.aoemp.nbd.TransmissionCodec.CMD_DISC;
import static org.aoemp.nbd.TransmissionCodec.CMD_FLAG_FUA;
import static org.aoemp.nbd.TransmissionCodec.CMD_FLUSH;
import static org.aoemp.nbd.TransmissionCodec.CMD_READ;
import static org.aoemp.nbd.TransmissionCodec.CMD_WRITE;
import static org.aoemp.nbd.TransmissionCodec.CMD_WRITE_ZEROES;
import static org.aoemp.nbd.TransmissionCodec.REPLY_HEADER_LENGTH;

import java.lang.invoke.MethodHandles;
import java.lang.invoke.VarHandle;
import java.util.concurrent.RejectedExecutionException;

import io.netty.buffer.ByteBuf;
import io.netty.buffer.Unpooled;
import io.netty.channel.ChannelConfig;
import io.netty.channel.ChannelFutureListener;
import io.netty.channel.ChannelHandlerContext;
import io.netty.channel.ChannelInboundHandlerAdapter;
import io.netty.util.concurrent.EventExecutor;
import org.aoemp.block.BlockDevice;
import org.aoemp.block.IoCallback;
import org.aoemp.block.IoError;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * Runs the requests of one connection against its export's {@link BlockDevice} and writes a
 * simple reply for each as soon as it completes, so replies leave in completion order, not
 * request order.
 *
 * <p>Threads. Every field is owned by the channel's event loop. Device callbacks arrive on
 * initiator threads (or, for a device that completes inline, on the event loop itself inside
 * {@link #channelRead}); an {@link Operation} hops back to the event loop before touching
 * anything here. Flushes are consolidated by the {@code FlushConsolidationHandler} at the head
 * of the pipeline: one flush per read batch, or per run of completion tasks.
 *
 * <p>Buffers. A READ allocates its whole reply (16-byte header + data) as one direct buffer
 * from the channel's allocator, and the device reads straight into the data part. A WRITE hands
 * the device an NIO view of its payload slice and releases the slice when the device is done.
 * If the connection is gone by the time a request completes, its buffers are released and its
 * reply dropped.
 *
 * <p>Backpressure. While more than {@code maxInFlightBytes} of payload or
 * {@code maxInFlightRequests} requests are outstanding, or the outbound buffer is above its high
 * water mark, the channel stops reading. The limits are soft by at most one read's worth of
 * requests, which the decoder has already framed.
 *
 * <p>DISC and server shutdown stop reading too; the connection closes once the last in-flight
 * reply has been written. After shutdown started, requests still arriving get ESHUTDOWN.
 *
 * <p>A failing backend costs the client exactly the request concerned, never the connection and
 * never a reply: a device that throws from read/write/flush/writeZeroes (any Throwable) or from
 * the flush of a FUA write is answered EIO; an {@link IoError} is answered with its errno as
 * {@link NbdErrors#from} maps it; a callback called a second time, from any thread, is logged and
 * ignored. Each such failure is logged, at most one line a second per connection.
 */
final class TransmissionHandler extends ChannelInboundHandlerAdapter
{
    private static final Logger LOG = LoggerFactory.getLogger(TransmissionHandler.class);

    private final Export export;
    private final ExportCounters counters;
    private boolean counted;
    private final BlockDevice device;
    private final long maxInFlightBytes;
    private final int maxInFlightRequests;
    /** Backend failures of this connection: one line a second at most. */
    private final RateLimitedLog failures = new RateLimitedLog(LOG);
    private ChannelHandlerContext ctx;
    private EventExecutor loop;
    private int inFlight;
    private long inFlightBytes;
    private boolean disconnectRequested;
    private boolean shuttingDown;
    private boolean closing;

    TransmissionHandler(final Export export, final ServerConfig config)
    {
        this.export = export;
        this.counters = export.counters();
        this.device = export.device();
        this.maxInFlightBytes = config.maxInFlightBytes();
        this.maxInFlightRequests = config.maxInFlightRequests();
    }

    @Override
    public void handlerAdded(final ChannelHandlerContext ctx)
    {
        this.ctx = ctx;
        this.loop = ctx.executor();
        counters.connectionOpened();
        counted = true;
    }

    @Override
    public void handlerRemoved(final ChannelHandlerContext ctx)
    {
        connectionGone();
    }

    private void connectionGone()
    {
        if (counted)
        {
            counted = false;
            counters.connectionClosed();
        }
    }

    @Override
    public void channelRead(final ChannelHandlerContext ctx, final Object msg)
    {
        final NbdRequest request = (NbdRequest)msg;
        counters.request();
        if (closing || !ctx.channel().isActive())
        {
            request.release();
            return;
        }
        if (disconnectRequested || shuttingDown)
        {
            // The client must not send anything after DISC; during shutdown it is told why not.
            request.release();
            if (shuttingDown && request.type() != CMD_DISC)
            {
                counters.error();
                writeReply(emptyReply(request.cookie(), NbdErrors.ESHUTDOWN));
            }
            return;
        }
        if (request.errno() != NbdErrors.OK)
        {
            LOG.trace("{}: rejected {}", ctx.channel(), request);
            request.release();
            counters.error();
            writeReply(emptyReply(request.cookie(), request.errno()));
            return;
        }
        switch (request.type())
        {
            case CMD_READ -> read(request);
            case CMD_WRITE -> write(request);
            case CMD_FLUSH -> start(new Operation(CMD_FLUSH, request.cookie(), 0, false, null, null)).submit(0, 0);
            case CMD_WRITE_ZEROES -> writeZeroes(request);
            case CMD_DISC ->
            {
                disconnectRequested = true;
                updateAutoRead();
                closeWhenDrained();
            }
            default -> throw new IllegalStateException("RequestCheck let through " + request);
        }
    }

    private void read(final NbdRequest request)
    {
        final int length = (int)request.length();
        if (length == 0)
        {
            writeReply(emptyReply(request.cookie(), NbdErrors.OK));
            return;
        }
        final ByteBuf reply = ctx.alloc().directBuffer(REPLY_HEADER_LENGTH + length);
        TransmissionCodec.writeSimpleReply(reply, NbdErrors.OK, request.cookie());
        start(new Operation(CMD_READ, request.cookie(), length, false, reply, null)).submit(request.offset(), length);
    }

    private void write(final NbdRequest request)
    {
        final ByteBuf payload = request.payload();
        if (payload == null)
        {
            // Zero-length: nothing to write (and FUA has nothing to make durable).
            writeReply(emptyReply(request.cookie(), NbdErrors.OK));
            return;
        }
        start(new Operation(CMD_WRITE, request.cookie(), payload.readableBytes(), request.hasFlag(CMD_FLAG_FUA), null, payload))
            .submit(request.offset(), payload.readableBytes());
    }

    private void writeZeroes(final NbdRequest request)
    {
        if (request.length() == 0)
        {
            writeReply(emptyReply(request.cookie(), NbdErrors.OK));
            return;
        }
        // NO_HOLE needs no handling: the device writes zeroes either way and nothing here punches holes.
        start(new Operation(CMD_WRITE_ZEROES, request.cookie(), 0, request.hasFlag(CMD_FLAG_FUA), null, null))
            .submit(request.offset(), request.length());
    }

    private Operation start(final Operation op)
    {
        inFlight++;
        inFlightBytes += op.bytes;
        updateAutoRead();
        return op;
    }

    /** On the event loop, once per operation, after the device is done with it. */
    private void finish(final Operation op)
    {
        inFlight--;
        inFlightBytes -= op.bytes;
        if (op.errno != NbdErrors.OK)
        {
            counters.error();
        }
        if (op.payload != null)
        {
            op.payload.release();
            op.payload = null;
        }
        ByteBuf reply = op.reply;
        op.reply = null;
        if (closing || !ctx.channel().isActive())
        {
            if (reply != null)
            {
                reply.release();
            }
            return;
        }
        if (reply == null)
        {
            reply = emptyReply(op.cookie, op.errno);
        }
        else if (op.errno == NbdErrors.OK)
        {
            reply.writerIndex(REPLY_HEADER_LENGTH + op.bytes);
        }
        else
        {
            // A failed READ sends its header alone: no data follows an error.
            TransmissionCodec.setReplyError(reply, 0, op.errno).writerIndex(REPLY_HEADER_LENGTH);
        }
        writeReply(reply);
        updateAutoRead();
        closeWhenDrained();
    }

    private ByteBuf emptyReply(final long cookie, final int errno)
    {
        return TransmissionCodec.writeSimpleReply(ctx.alloc().directBuffer(REPLY_HEADER_LENGTH), errno, cookie);
    }

    private void writeReply(final ByteBuf reply)
    {
        // The FlushConsolidationHandler turns these into one flush per batch.
        ctx.writeAndFlush(reply, ctx.voidPromise());
    }

    private void updateAutoRead()
    {
        final ChannelConfig config = ctx.channel().config();
        final boolean wanted = !disconnectRequested && !shuttingDown && !closing
            && inFlightBytes < maxInFlightBytes && inFlight < maxInFlightRequests && ctx.channel().isWritable();
        if (config.isAutoRead() != wanted)
        {
            config.setAutoRead(wanted);
        }
    }

    private void closeWhenDrained()
    {
        if ((disconnectRequested || shuttingDown) && inFlight == 0 && !closing)
        {
            closing = true;
            // Close only after every reply before it has been written to the socket.
            ctx.writeAndFlush(Unpooled.EMPTY_BUFFER).addListener(ChannelFutureListener.CLOSE);
        }
    }

    @Override
    public void channelWritabilityChanged(final ChannelHandlerContext ctx) throws Exception
    {
        updateAutoRead();
        super.channelWritabilityChanged(ctx);
    }

    @Override
    public void userEventTriggered(final ChannelHandlerContext ctx, final Object event) throws Exception
    {
        if (event == ShutdownEvent.INSTANCE)
        {
            shuttingDown = true;
            updateAutoRead();
            closeWhenDrained();
            return;
        }
        super.userEventTriggered(ctx, event);
    }

    @Override
    public void channelInactive(final ChannelHandlerContext ctx) throws Exception
    {
        if (inFlight > 0)
        {
            LOG.debug("{}: connection lost with {} requests in flight on '{}'; their results will be dropped",
                ctx.channel(), inFlight, export.name());
        }
        connectionGone();
        super.channelInactive(ctx);
    }

    @Override
    public void exceptionCaught(final ChannelHandlerContext ctx, final Throwable cause)
    {
        LOG.debug("{}: closing after {}", ctx.channel(), cause.toString());
        ctx.close();
    }

    /** The device's name for a log line; a device whose name() throws still gets one. */
    private String deviceName()
    {
        try
        {
            return device.name();
        }
        catch (final RuntimeException | Error e)
        {
            return "export '" + export.name() + "'";
        }
    }

    /**
     * One request at the device: its reply buffer or payload, and the hop back to the event
     * loop. {@link #complete} runs on whichever thread the device completes on; everything else
     * on the event loop.
     *
     * <p>The device is not trusted to call back exactly once: a state word, advanced by CAS, lets
     * the first completion through and turns every later one (a second call, a call after the
     * device threw, a late flush callback of a FUA write) into a log line. A FUA write's flush
     * gets its own callback, so a repeated write callback cannot pass for the flush's.
     */
    private final class Operation implements IoCallback, Runnable
    {
        static final int SUBMITTED = 0;
        static final int FLUSHING = 1;
        static final int DONE = 2;
        static final VarHandle STATE;

        static
        {
            try
            {
                STATE = MethodHandles.lookup().findVarHandle(Operation.class, "state", int.class);
            }
            catch (final ReflectiveOperationException e)
            {
                throw new ExceptionInInitializerError(e);
            }
        }

        final int type;
        final long cookie;
        /** Payload bytes held while in flight: READ data or WRITE payload. */
        final int bytes;
        final boolean fua;
        ByteBuf reply;
        ByteBuf payload;
        int errno;
        /** Set once the request is failed locally: the device threw (the log line is written already). */
        private volatile boolean failedHere;
        private volatile int state;
        private long offset;
        private long length;

        Operation(final int type, final long cookie, final int bytes, final boolean fua, final ByteBuf reply, final ByteBuf payload)
        {
            this.type = type;
            this.cookie = cookie;
            this.bytes = bytes;
            this.fua = fua;
            this.reply = reply;
            this.payload = payload;
        }

        void submit(final long offset, final long length)
        {
            this.offset = offset;
            this.length = length;
            try
            {
                switch (type)
                {
                    case CMD_READ -> device.read(offset, reply.nioBuffer(REPLY_HEADER_LENGTH, (int)length), this);
                    case CMD_WRITE -> device.write(offset, payload.nioBuffer(), this);
                    case CMD_FLUSH -> device.flush(this);
                    case CMD_WRITE_ZEROES -> device.writeZeroes(offset, length, this);
                    default -> throw new IllegalStateException("not a device command: " + type);
                }
            }
            catch (final RuntimeException | Error e)
            {
                if (state != SUBMITTED)
                {
                    failures.warn("{}: {} threw from {} after calling back; its result stands", ctx.channel(), deviceName(),
                        describe(), e);
                    return;
                }
                // A device that throws instead of calling back must not leave the client waiting.
                failures.warn("{}: {} threw from {}; replying EIO", ctx.channel(), deviceName(), describe(), e);
                failedHere = true;
                complete(new IoError(IoError.EIO, e.toString()));
            }
        }

        @Override
        public void complete(final IoError error)
        {
            final boolean flushNext = error == null && fua;
            if (!STATE.compareAndSet(this, SUBMITTED, flushNext ? FLUSHING : DONE))
            {
                duplicate(error, "the " + TransmissionCodec.commandName(type) + " callback");
                return;
            }
            if (flushNext)
            {
                flushForFua();
                return;
            }
            done(error);
        }

        /** FUA = the write, then a flush before the reply; the flush has a callback of its own. */
        private void flushForFua()
        {
            final IoCallback flushed = this::flushed;
            try
            {
                device.flush(flushed);
            }
            catch (final RuntimeException | Error e)
            {
                if (state != FLUSHING)
                {
                    failures.warn("{}: {} threw from the flush of {} after calling back; its result stands", ctx.channel(),
                        deviceName(), describe(), e);
                    return;
                }
                failures.warn("{}: {} threw from the flush of {}; replying EIO", ctx.channel(), deviceName(), describe(), e);
                failedHere = true;
                flushed(new IoError(IoError.EIO, e.toString()));
            }
        }

        private void flushed(final IoError error)
        {
            if (!STATE.compareAndSet(this, FLUSHING, DONE))
            {
                duplicate(error, "the flush callback of a FUA write");
                return;
            }
            done(error);
        }

        /** The one completion: map the error, hop to the event loop. Any thread. */
        private void done(final IoError error)
        {
            errno = NbdErrors.from(error);
            if (error != null && !failedHere)
            {
                failures.warn("{}: {} failed {}: {}; replying {}", ctx.channel(), deviceName(), describe(), error,
                    IoError.errnoName(errno));
            }
            if (loop.inEventLoop())
            {
                finish(this);
                return;
            }
            try
            {
                loop.execute(this);
            }
            catch (final RejectedExecutionException e)
            {
                // The server is gone and its event loop with it: nobody is left to reply to.
                releaseBuffers();
            }
        }

        private void duplicate(final IoError error, final String which)
        {
            if (failedHere)
            {
                // The device threw and called back as well (before or after): the EIO reply stands.
                failures.warn("{}: {} called {} although it threw; ignored", ctx.channel(), deviceName(), which);
                return;
            }
            failures.warn("{}: {} called {} of {} more than once (this time with {}); ignored", ctx.channel(), deviceName(),
                which, describe(), error == null ? "success" : error.toString());
        }

        private String describe()
        {
            final String name = TransmissionCodec.commandName(type);
            return type == CMD_FLUSH ? name + " (cookie " + cookie + ")"
                : name + (fua ? "+FUA" : "") + " of " + length + " bytes at " + offset + " (cookie " + cookie + ")";
        }

        @Override
        public void run()
        {
            finish(this);
        }
        private void releaseBuffers()
        {
            if (reply != null)
            {
                reply.release();
                reply = null;
            }
            if (payload != null)
            {
                payload.release();
                payload = null;
            }
        }
    }
}
