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
import java.util.concurrent.TimeUnit;

import io.netty.buffer.ByteBuf;
import io.netty.buffer.Unpooled;
import io.netty.channel.ChannelConfig;
import io.netty.channel.ChannelFutureListener;
import io.netty.channel.ChannelProgressiveFuture;
import io.netty.channel.ChannelProgressiveFutureListener;
import io.netty.channel.ChannelHandlerContext;
import io.netty.channel.ChannelInboundHandlerAdapter;
import io.netty.util.concurrent.EventExecutor;
import io.netty.util.concurrent.ScheduledFuture;
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
 * <p>Memory. Every request holds a slot and its payload bytes in the connection's
 * {@link ConnectionBudget} (and the bytes in the server's) from the moment {@link RequestDecoder}
 * admits it until its reply has been written to the socket, so a READ reply that a client does
 * not read still counts. A request that does not fit stays unread and the channel stops reading;
 * each release that makes room for it decodes again. The channel also stops reading while its
 * outbound buffer is above the high water mark.
 *
 * <p>Deadline. A request the device has not completed within the request timeout is answered
 * EIO; its buffers (the device may still use them) and its budget stay held until the device
 * does call back, so a device that never does can only stall this connection, not grow memory.
 * A client that has replies waiting and none of them written out for the request timeout (it
 * does not read them) is disconnected, which frees the budget its replies hold.
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
    private final ConnectionBudget budget;
    private final long requestTimeoutNanos;
    /** Backend failures of this connection: one line a second at most. */
    private final RateLimitedLog failures = new RateLimitedLog(LOG);
    /** Gives back the slot of a reply that carries no data, once written. */
    private final ChannelFutureListener slotWritten = f ->
    {
        replyWritten();
        released(0);
    };
    /** The EIO reply of a timed-out request: its slot stays with the request. */
    private final ChannelFutureListener timeoutReplyWritten = f -> replyWritten();
    private final Runnable resume = this::resume;
    private final Runnable serverWake = this::serverWake;
    private ChannelHandlerContext ctx;
    private EventExecutor loop;
    /** The next tick of the timeout sweep, or null while it is stopped (nothing outstanding). */
    private ScheduledFuture<?> sweep;
    private long sweepPeriodNanos;
    private final Runnable sweepTick = this::sweepTick;
    /** Requests at the device and not timed out, oldest first (they share one timeout, so also by deadline). */
    private Operation oldest;
    private Operation newest;
    /** Requests whose reply is not yet written: DISC and shutdown close once this is 0. */
    private int awaitingReply;
    private boolean resumeScheduled;
    /** Replies handed to the socket and not yet written out. */
    private int repliesPending;
    /** Whether a reply was written out since the last sweep. */
    private boolean replyProgress;
    /** The last sweep that saw no replies pending or one written out. */
    private long replyProgressNanos = System.nanoTime();
    private boolean disconnectRequested;
    private boolean shuttingDown;
    private boolean closing;

    TransmissionHandler(final Export export, final ServerConfig config, final ConnectionBudget budget)
    {
        this.export = export;
        this.counters = export.counters();
        this.device = export.device();
        this.budget = budget;
        this.requestTimeoutNanos = TimeUnit.MILLISECONDS.toNanos(config.requestTimeoutMillis());
    }

    @Override
    public void handlerAdded(final ChannelHandlerContext ctx)
    {
        this.ctx = ctx;
        this.loop = ctx.executor();
        counters.connectionOpened();
        counted = true;
        budget.onServerRelease(() -> execute(serverWake));
        sweepPeriodNanos = Math.clamp(requestTimeoutNanos / 4, TimeUnit.MILLISECONDS.toNanos(10), TimeUnit.SECONDS.toNanos(1));
    }

    /**
     * On the event loop, when a request arrives: starts the timeout sweep unless it runs. It runs
     * while requests or replies are outstanding and stops at the first tick that finds neither, so
     * an idle connection costs no wake-up (one schedule per busy spell, not one per request).
     */
    private void armSweep()
    {
        if (sweep == null)
        {
            replyProgress = false;
            replyProgressNanos = System.nanoTime();
            sweep = loop.schedule(sweepTick, sweepPeriodNanos, TimeUnit.NANOSECONDS);
        }
    }

    private void sweepTick()
    {
        sweep = null;
        expire();
        if (oldest != null || repliesPending > 0)  // also while closing: a drain waits for timeouts too
        {
            sweep = loop.schedule(sweepTick, sweepPeriodNanos, TimeUnit.NANOSECONDS);
        }
    }

    private void cancelSweep()
    {
        final ScheduledFuture<?> s = sweep;
        sweep = null;
        if (s != null)
        {
            s.cancel(false);
        }
    }

    @Override
    public void handlerRemoved(final ChannelHandlerContext ctx)
    {
        cancelSweep();
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
        // The decoder admitted it: it holds a slot and cost bytes until released.
        final NbdRequest request = (NbdRequest)msg;
        counters.request();
        final long cost = ConnectionBudget.cost(request);
        if (closing || !ctx.channel().isActive())
        {
            request.release();
            released(cost);
            return;
        }
        if (disconnectRequested || shuttingDown)
        {
            // The client must not send anything after DISC; during shutdown it is told why not.
            request.release();
            if (shuttingDown && request.type() != CMD_DISC)
            {
                counters.error();
                budget.releaseBytes(cost);
                replyWithoutData(request.cookie(), NbdErrors.ESHUTDOWN);
            }
            else
            {
                released(cost);
            }
            return;
        }
        if (request.errno() != NbdErrors.OK)
        {
            LOG.trace("{}: rejected {}", ctx.channel(), request);
            request.release();
            counters.error();
            replyWithoutData(request.cookie(), request.errno());
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
                released(0);
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
            replyWithoutData(request.cookie(), NbdErrors.OK);
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
            replyWithoutData(request.cookie(), NbdErrors.OK);
            return;
        }
        start(new Operation(CMD_WRITE, request.cookie(), payload.readableBytes(), request.hasFlag(CMD_FLAG_FUA), null, payload))
            .submit(request.offset(), payload.readableBytes());
    }

    private void writeZeroes(final NbdRequest request)
    {
        if (request.length() == 0)
        {
            replyWithoutData(request.cookie(), NbdErrors.OK);
            return;
        }
        // NO_HOLE needs no handling: the device writes zeroes either way and nothing here punches holes.
        start(new Operation(CMD_WRITE_ZEROES, request.cookie(), 0, request.hasFlag(CMD_FLAG_FUA), null, null))
            .submit(request.offset(), request.length());
    }

    private Operation start(final Operation op)
    {
        awaitingReply++;
        op.startNanos = System.nanoTime();
        link(op);
        armSweep();
        return op;
    }

    /** On the event loop, once per operation, after the device is done with it (not after a timeout). */
    private void finish(final Operation op)
    {
        unlink(op);
        awaitingReply--;
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
            released(op.bytes);
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
        // The operation gives its budget back once the reply has left (or failed to).
        repliesPending++;
        // A progressive promise: a large reply that the client reads slowly still shows progress.
        ctx.writeAndFlush(reply, ctx.newProgressivePromise().addListener(op));
        updateAutoRead();
        closeWhenDrained();
    }

    /**
     * The sweep: answers EIO to every request older than the timeout, and hangs up on a client
     * that has had replies waiting, none of them written out, for as long (it would hold its
     * budget for ever). On the event loop.
     */
    private void expire()
    {
        final long now = System.nanoTime();
        if (repliesPending == 0 || replyProgress)
        {
            replyProgress = false;
            replyProgressNanos = now;
        }
        else if (now - replyProgressNanos >= requestTimeoutNanos && !closing)
        {
            LOG.warn("{}: client has not read its replies for {} ms ({} replies, {} bytes waiting); closing the connection",
                ctx.channel(), TimeUnit.NANOSECONDS.toMillis(now - replyProgressNanos), repliesPending, budget.bytes());
            closing = true;
            ctx.close();
            return;
        }
        while (oldest != null && now - oldest.startNanos >= requestTimeoutNanos)
        {
            final Operation op = oldest;
            unlink(op);
            if (op.timeOut())
            {
                awaitingReply--;
                failures.warn("{}: {} did not complete {} within {} ms; replied EIO (its buffers stay held until it does)",
                    ctx.channel(), deviceName(), op.describe(), TimeUnit.NANOSECONDS.toMillis(requestTimeoutNanos));
                if (!closing && ctx.channel().isActive())
                {
                    // The operation keeps its slot and bytes until the device calls back.
                    repliesPending++;
                    ctx.writeAndFlush(emptyReply(op.cookie, NbdErrors.EIO), ctx.newPromise().addListener(timeoutReplyWritten));
                }
                closeWhenDrained();
            }
            // else it completed just now: its finish task is queued and replies normally.
        }
    }

    /** On the event loop: the device finally completed a request that had timed out. */
    private void late(final Operation op)
    {
        op.releaseBuffers();
        released(op.bytes);
    }

    private void link(final Operation op)
    {
        op.linked = true;
        op.older = newest;
        op.newer = null;
        if (newest == null)
        {
            oldest = op;
        }
        else
        {
            newest.newer = op;
        }
        newest = op;
    }

    private void unlink(final Operation op)
    {
        if (!op.linked)
        {
            return;
        }
        op.linked = false;
        if (op.older == null)
        {
            oldest = op.newer;
        }
        else
        {
            op.older.newer = op.newer;
        }
        if (op.newer == null)
        {
            newest = op.older;
        }
        else
        {
            op.newer.older = op.older;
        }
        op.older = null;
        op.newer = null;
    }

    /** Gives a request's slot and bytes back; decodes again if the request waiting for room now fits. */
    private void released(final long bytes)
    {
        budget.release(bytes);
        if (budget.fits() && !resumeScheduled)
        {
            // Never re-enter the decoder from inside its own channelRead: decode in a task of its own.
            resumeScheduled = true;
            loop.execute(resume);
        }
    }

    private void serverWake()
    {
        budget.serverWakeDelivered();
        if (budget.paused() && !resumeScheduled)
        {
            resumeScheduled = true;
            resume();
        }
    }

    /** Decodes what the client sent while the connection was paused, then reads again if all of it fit. */
    private void resume()
    {
        resumeScheduled = false;
        if (!budget.paused() || closing || !ctx.channel().isActive())
        {
            return;
        }
        final RequestDecoder decoder = ctx.pipeline().get(RequestDecoder.class);
        if (decoder != null)
        {
            decoder.decodeBuffered();
        }
        updateAutoRead();
    }

    private void execute(final Runnable task)
    {
        try
        {
            loop.execute(task);
        }
        catch (final RejectedExecutionException e)
        {
            // The server is closing: nothing left to resume.
        }
    }

    private ByteBuf emptyReply(final long cookie, final int errno)
    {
        return TransmissionCodec.writeSimpleReply(ctx.alloc().directBuffer(REPLY_HEADER_LENGTH), errno, cookie);
    }

    /** A reply without data for a request holding a slot but no bytes; the slot is freed once it is written. */
    private void replyWithoutData(final long cookie, final int errno)
    {
        repliesPending++;
        armSweep();
        ctx.writeAndFlush(emptyReply(cookie, errno), ctx.newPromise().addListener(slotWritten));
    }

    private void replyWritten()
    {
        repliesPending--;
        replyProgress = true;
    }

    private void updateAutoRead()
    {
        final ChannelConfig config = ctx.channel().config();
        final boolean wanted = !disconnectRequested && !shuttingDown && !closing && !budget.paused() && ctx.channel().isWritable();
        if (config.isAutoRead() != wanted)
        {
            config.setAutoRead(wanted);
        }
    }

    private void closeWhenDrained()
    {
        if ((disconnectRequested || shuttingDown) && awaitingReply == 0 && !closing)
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
        cancelSweep();
        if (awaitingReply > 0)
        {
            LOG.debug("{}: connection lost with {} requests in flight on '{}'; their results will be dropped",
                ctx.channel(), awaitingReply, export.name());
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
     * gets its own callback, so a repeated write callback cannot pass for the flush's. The
     * timeout sweep competes for the same word: whichever of the callback and the sweep moves it
     * first decides whether the client gets the result or EIO; a callback after the timeout only
     * frees the buffers and the budget.
     */
    private final class Operation implements IoCallback, Runnable, ChannelProgressiveFutureListener
    {
        static final int SUBMITTED = 0;
        static final int FLUSHING = 1;
        static final int DONE = 2;
        static final int TIMED_OUT = 3;
        static final int LATE = 4;
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
        /** Event loop only: when it was submitted, and its place in the timeout list. */
        long startNanos;
        boolean linked;
        Operation older;
        Operation newer;

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
                if (!lateCompletion(error))
                {
                    duplicate(error, "the " + TransmissionCodec.commandName(type) + " callback");
                }
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
                if (state != FLUSHING && state != TIMED_OUT)
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
                if (!lateCompletion(error))
                {
                    duplicate(error, "the flush callback of a FUA write");
                }
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

        /** Event loop: the timeout sweep's move; false when the device completed first. */
        boolean timeOut()
        {
            return STATE.compareAndSet(this, SUBMITTED, TIMED_OUT) || STATE.compareAndSet(this, FLUSHING, TIMED_OUT);
        }

        /** The first callback after a timeout: the device is done with the buffers, free them. Any thread. */
        private boolean lateCompletion(final IoError error)
        {
            if (!STATE.compareAndSet(this, TIMED_OUT, LATE))
            {
                return false;
            }
            failures.warn("{}: {} completed {} after its timeout ({}); the client had EIO already", ctx.channel(), deviceName(),
                describe(), error == null ? "success" : error.toString());
            if (loop.inEventLoop())
            {
                late(this);
                return true;
            }
            try
            {
                loop.execute(this);
            }
            catch (final RejectedExecutionException e)
            {
                releaseBuffers();
            }
            return true;
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

        String describe()
        {
            final String name = TransmissionCodec.commandName(type);
            return type == CMD_FLUSH ? name + " (cookie " + cookie + ")"
                : name + (fua ? "+FUA" : "") + " of " + length + " bytes at " + offset + " (cookie " + cookie + ")";
        }

        @Override
        public void run()
        {
            if (state == LATE)
            {
                late(this);
            }
            else
            {
                finish(this);
            }
        }

        /** Part of the reply has been written out: the client is reading. */
        @Override
        public void operationProgressed(final ChannelProgressiveFuture future, final long progress, final long total)
        {
            replyProgress = true;
        }

        /** The reply has been written (or the write failed): give the budget back. */
        @Override
        public void operationComplete(final ChannelProgressiveFuture future)
        {
            replyWritten();
            released(bytes);
        }

        void releaseBuffers()
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
