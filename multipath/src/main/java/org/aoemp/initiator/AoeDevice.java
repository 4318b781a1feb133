package org.aoemp.initiator;

import java.nio.ByteBuffer;
import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.TimeoutException;

import org.aoemp.agent.AgentRunner;
import org.aoemp.block.BlockDevice;
import org.aoemp.block.IoCallback;
import org.aoemp.block.IoError;
import org.aoemp.protocol.AtaHeader;
import org.aoemp.protocol.Identify;
import org.aoemp.protocol.MacAddress;

/**
 * One AoE target (shelf.slot) as an asynchronous {@link BlockDevice}, reached over one or more
 * {@link Path}s: the front that checks requests and hands them to the device's engine.
 *
 * <p>The path of one request: {@link AoeDevice} checks it and queues it; the {@link DeviceEngine}
 * (an agent on its own thread) has the {@link CommandIssuer} split it into ATA commands, each in a
 * slot of the {@link SlotTable}, on the path the {@link PathScheduler} picks; the
 * {@link Transmitter} builds the frame ({@link AtaCommandWriter}) into the path's
 * {@link SendQueue}, which the engine itself or the port's {@link PortSender} sends. A port's
 * receive thread hands the reply to the {@link ReplyReceiver}, which claims the slot and copies
 * the data; the engine's {@link CompletionProcessor} then calls the callback. The
 * {@link RetransmitTimer} retransmits what timed out and the {@link PathProber} probes DOWN paths.
 *
 * <p>Life cycle: the {@link Initiator} constructs the device, adds its paths, {@link #start}s it
 * and reads its IDENTIFY data; {@link #close} stops the engine, failing what is pending with
 * ESHUTDOWN.
 *
 * <p>Threading: every public method from any thread; callbacks run on the engine thread (or,
 * for requests refused at once, on the caller's). Receive threads call {@link #onAtaResponse}.
 */
public final class AoeDevice implements BlockDevice
{
    private static final int SECTOR = AtaHeader.SECTOR_SIZE;

    private final TargetAddress address;
    private final DeviceOptions options;
    private final Runnable onClose;
    private final DeviceCounters counters = new DeviceCounters();
    private final DeviceEngine engine;
    private final ReplyReceiver replies;
    private final AgentRunner runner;
    private volatile boolean closed;

    /** What each target MAC answers with; set by the initiator before the paths are added. */
    private volatile TargetIdentities identities;

    // set once IDENTIFY completed
    private volatile long sizeBytes;
    private volatile Identify identity;

    /** A device with its engine not yet started; {@code onClose} runs once it is closed. */
    AoeDevice(final TargetAddress address, final DeviceOptions options, final Runnable onClose)
    {
        this.address = address;
        this.options = options;
        this.onClose = onClose;
        this.engine = new DeviceEngine(address, options, counters);
        this.replies = engine.replies();
        this.runner = new AgentRunner(engine, IdleStrategies.engine(engine.wakeupForIdle()), engine);
    }

    boolean isClosed()
    {
        return closed;
    }

    /** Starts the engine's thread. Once, by the owner. */
    void start()
    {
        runner.start();
    }

    /** The engine's runner (its thread and error count; tests). */
    AgentRunner runner()
    {
        return runner;
    }

    /** The engine (tests). */
    DeviceEngine engine()
    {
        return engine;
    }

    // ---------------------------------------------------------------------------------------
    // Paths (added by the initiator from discovery; the engine applies the change)

    void addPath(final Port port, final long remoteMac, final int bufferCount, final int targetSectors)
    {
        engine.addPath(port, remoteMac, bufferCount, targetSectors);
    }

    void identities(final TargetIdentities ids)
    {
        this.identities = ids;
    }

    /** The device's identity and what every MAC that answers for its shelf.slot was found to be. */
    public TargetIdentities identities()
    {
        return identities;
    }

    /** Takes the paths to {@code remoteMac} out of service (another disk answers from it), or puts them back. */
    void excludeMac(final long remoteMac, final boolean excluded)
    {
        engine.excludeMac(remoteMac, excluded);
    }

    /** Snapshot of every path's counters (monitoring; any thread). */
    public List<PathStats> pathStats()
    {
        final Path[] ps = engine.paths().all();
        final List<PathStats> out = new ArrayList<>(ps.length);
        for (final Path p : ps)
        {
            out.add(p.stats());
        }
        return out;
    }

    public DeviceStats stats()
    {
        final WriteFences fences = engine.fences();
        return new DeviceStats(address.toString(), sizeBytes, sectorsPerCommand(), engine.isDead(), counters.staleReplies(),
            counters.foreignReplies(), counters.truncatedReplies(), counters.requestsFailed(), fences.raised(),
            fences.liftedByReply(), fences.expired(), counters.engineErrors(), counters.lastEngineError(),
            counters.callbackFailures(), engine.hasGivenUp(), pathStats());
    }

    /** Completed requests by kind (monitoring; any thread). */
    public RequestStats requestStats()
    {
        return counters.requests().snapshot();
    }

    /** Requests submitted and not yet taken by the engine (monitoring; any thread). */
    public int queuedRequests()
    {
        return engine.queuedRequests();
    }

    // ---------------------------------------------------------------------------------------
    // BlockDevice

    @Override
    public long size()
    {
        return sizeBytes;
    }

    @Override
    public int blockSize()
    {
        return SECTOR;
    }

    @Override
    public int preferredIoSize()
    {
        return sectorsPerCommand() * SECTOR;
    }

    @Override
    public boolean isReadOnly()
    {
        return options.readOnly();
    }

    @Override
    public String name()
    {
        return address.toString();
    }

    public TargetAddress address()
    {
        return address;
    }

    public Identify identity()
    {
        return identity;
    }

    public boolean isLba48()
    {
        return engine.commands().lba48();
    }

    /** Sectors per ATA command: the minimum over the paths that carry traffic (MTU and target limits). */
    public int sectorsPerCommand()
    {
        return engine.sectorsPerCommand();
    }

    @Override
    public void read(final long offset, final ByteBuffer dst, final IoCallback callback)
    {
        if (dst.isReadOnly())
        {
            callback.complete(new IoError(IoError.EINVAL, "read into a read-only buffer"));
            return;
        }
        submitData(IoRequest.READ, offset, dst.remaining(), dst, callback);
    }

    @Override
    public void write(final long offset, final ByteBuffer src, final IoCallback callback)
    {
        if (options.readOnly())
        {
            callback.complete(new IoError(IoError.EPERM, address + " is opened read-only"));
            return;
        }
        submitData(IoRequest.WRITE, offset, src.remaining(), src, callback);
    }

    @Override
    public void writeZeroes(final long offset, final long length, final IoCallback callback)
    {
        if (options.readOnly())
        {
            callback.complete(new IoError(IoError.EPERM, address + " is opened read-only"));
            return;
        }
        submitData(IoRequest.ZEROES, offset, length, null, callback);
    }

    @Override
    public void flush(final IoCallback callback)
    {
        submit(new IoRequest(IoRequest.FLUSH, 0, 0, null, callback, null));
    }

    private void submitData(final int op, final long offset, final long length, final ByteBuffer buffer, final IoCallback callback)
    {
        final IoError invalid = validate(op, offset, length);
        if (invalid != null)
        {
            callback.complete(invalid);
            return;
        }
        if (length == 0)
        {
            callback.complete(null);
            return;
        }
        submit(new IoRequest(op, offset / SECTOR, length / SECTOR, buffer, callback, null));
    }

    private IoError validate(final int op, final long offset, final long length)
    {
        if (offset < 0 || length < 0 || offset % SECTOR != 0 || length % SECTOR != 0)
        {
            return new IoError(IoError.EINVAL, "offset " + offset + " and length " + length
                + " must be non-negative multiples of " + SECTOR);
        }
        final long size = sizeBytes;
        if (offset > size || length > size - offset)
        {
            final String what = "request [" + offset + ", " + (offset + length) + ") is beyond the end of " + address
                + " (" + size + " bytes)";
            return new IoError(op == IoRequest.READ ? IoError.EINVAL : IoError.ENOSPC, what);
        }
        return null;
    }

    private void submit(final IoRequest request)
    {
        if (closed)
        {
            request.callback.complete(new IoError(IoError.ESHUTDOWN, address + " is closed"));
            return;
        }
        if (engine.hasGivenUp())
        {
            request.callback.complete(engine.givenUpError());
            return;
        }
        if (engine.isDead() && request.op != IoRequest.IDENTIFY)
        {
            request.callback.complete(engine.deadError());
            return;
        }
        if (!engine.submit(request))
        {
            request.callback.complete(new IoError(IoError.ENOMEM, "too many requests queued for " + address));
        }
    }

    /**
     * Stops the engine (waiting up to 5 s; from a callback, i.e. the engine thread, it only asks)
     * and fails every pending request with ESHUTDOWN. Idempotent.
     */
    @Override
    public void close()
    {
        synchronized (this)
        {
            if (closed)
            {
                return;
            }
            closed = true;
        }
        runner.close();
        if (runner.hasEnded())
        {
            engine.failLateSubmissions();
        }
        onClose.run();
    }

    // ---------------------------------------------------------------------------------------
    // Identify (called by the initiator while opening)

    void identify(final long timeoutNanos) throws IoError
    {
        final ByteBuffer buf = ByteBuffer.allocate(SECTOR);
        final CompletableFuture<IoError> done = new CompletableFuture<>();
        submit(new IoRequest(IoRequest.IDENTIFY, 0, 1, buf, done::complete, null));
        final IoError e;
        try
        {
            e = done.get(timeoutNanos, TimeUnit.NANOSECONDS);
        }
        catch (final TimeoutException te)
        {
            throw new IoError(IoError.EIO, address + " did not answer IDENTIFY within "
                + TimeUnit.NANOSECONDS.toMillis(timeoutNanos) + " ms");
        }
        catch (final Exception ex)
        {
            throw new IoError(IoError.EIO, "IDENTIFY of " + address + " failed: " + ex);
        }
        if (e != null)
        {
            throw e;
        }
        final Identify id = Identify.parse(buf, 0);
        if (id.capacitySectors() <= 0 || id.capacitySectors() > AtaHeader.LBA48_LIMIT
            || !id.lba48() && id.capacitySectors() > AtaHeader.LBA28_LIMIT)
        {
            throw new IoError(IoError.EIO, address + " reported an impossible capacity of " + id.capacitySectors() + " sectors");
        }
        identity = id;
        engine.commands().lba48(id.lba48());
        sizeBytes = id.capacitySectors() * SECTOR;
    }

    // ---------------------------------------------------------------------------------------
    // Receive path (port receive threads)

    /**
     * A response to an ATA command with a userland tag for this shelf.slot.
     *
     * @return true when it completed a command: call {@link #wakeEngine} before the receive thread waits
     */
    boolean onAtaResponse(final ByteBuffer frame, final int length)
    {
        return replies.onAtaResponse(frame, length);
    }

    /** After a batch of frames that completed commands of this device: the engine takes them. */
    void wakeEngine()
    {
        replies.wakeEngine();
    }

    @Override
    public String toString()
    {
        final Path[] ps = engine.paths().all();
        final StringBuilder b = new StringBuilder();
        for (final Path p : ps)
        {
            b.append(b.length() > 0 ? ", " : "").append(p.port().name()).append("->").append(new MacAddress(p.remoteMac()));
        }
        return address + " (" + sizeBytes + " bytes, " + ps.length + " paths via " + b + ")";
    }

    /** How often the engine parked so far (tests). */
    long engineParks()
    {
        return engine.parks();
    }
}
