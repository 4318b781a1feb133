package org.aoemp.initiator;

import java.nio.ByteBuffer;
import java.util.ArrayDeque;
import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.ConcurrentLinkedQueue;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.locks.LockSupport;

import org.aoemp.block.BlockDevice;
import org.aoemp.block.IoCallback;
import org.aoemp.block.IoError;
import org.aoemp.protocol.AoeHeader;
import org.aoemp.protocol.AtaHeader;
import org.aoemp.protocol.Identify;
import org.aoemp.protocol.MacAddress;
import org.jctools.queues.atomic.MpscAtomicArrayQueue;

/**
 * One AoE target (shelf.slot) as an asynchronous {@link BlockDevice}, reached over one or more
 * {@link Path}s.
 *
 * <p>Threads: any thread submits requests (they go through a bounded MPSC queue). One engine
 * thread, {@code aoe-eX.Y}, owns every slot, path and request: it splits requests into ATA
 * commands, picks a path for each, builds the frames into the path's {@link SendQueue},
 * processes completions, runs the retransmission timer, probes DOWN paths and invokes callbacks.
 * The sender thread of each port ({@link PortSender}) takes the frames from the queues and hands
 * them to the NIC, so a slow NIC never holds up the engine. Receive threads of the ports call
 * {@link #onAtaResponse} and touch only the slot they win (see {@link Slot}).
 */
public final class AoeDevice implements BlockDevice
{
    private static final int SECTOR = AtaHeader.SECTOR_SIZE;
    private static final long TIMER_TICK_NANOS = TimeUnit.MILLISECONDS.toNanos(1);
    private static final long LINK_CHECK_NANOS = TimeUnit.MILLISECONDS.toNanos(20);
    private static final long MAX_PARK_NANOS = TimeUnit.MILLISECONDS.toNanos(10);
    private static final long FIRST_PROBE_NANOS = TimeUnit.MILLISECONDS.toNanos(20);
    private static final long MAX_PROBE_INTERVAL_NANOS = TimeUnit.SECONDS.toNanos(2);
    private static final int SUBMIT_QUEUE_CAPACITY = 1 << 16;
    private static final ByteBuffer ZEROES = ByteBuffer.allocateDirect(255 * SECTOR).asReadOnlyBuffer();
    /** Smallest frame buffer of a send queue: room for any command without data at any MTU. */
    private static final int MIN_FRAME_BUFFER = 1024;

    private final TargetAddress address;
    private final DeviceOptions options;
    private final Runnable onClose;
    private final Slot[] slots;
    /** Free slot indices as a FIFO ring, so reuse is spread over every slot and a tag generation
     *  takes slots × 16384 commands to come round again. */
    private final int[] freeSlots;
    private int freeHead;
    private int freeCount;
    private int busyCount;
    private final MpscAtomicArrayQueue<IoRequest> submitted = new MpscAtomicArrayQueue<>(SUBMIT_QUEUE_CAPACITY);
    private final MpscAtomicArrayQueue<Slot> completed;
    private final ConcurrentLinkedQueue<Runnable> control = new ConcurrentLinkedQueue<>();
    private final ArrayDeque<Slot> retry;
    /** Write requests waiting because their next command overlaps a fenced range (engine). */
    private final ArrayDeque<IoRequest> fenced = new ArrayDeque<>();
    private final WriteFences fences;
    private final Thread engine;
    private volatile boolean parked;
    private volatile boolean running = true;
    private volatile boolean closed;

    // engine-owned
    private final AoeHeader txHeader = new AoeHeader();
    private final AtaHeader txAta = new AtaHeader();
    private volatile Path[] paths = new Path[0];
    private IoRequest current;
    private long lastProgressNanos;
    private long nextTimerNanos;
    private long nextLinkCheckNanos;
    private long nextDeadlineNanos = Long.MAX_VALUE;
    private int flushCommand = AtaHeader.ATA_FLUSH_EXT;

    // receive-thread helpers (one set per receive thread would be needed if several ports
    // delivered concurrently; flyweights are cheap, so each call wraps its own)
    private final ThreadLocal<AoeHeader> rxHeader = ThreadLocal.withInitial(AoeHeader::new);
    private final ThreadLocal<AtaHeader> rxAta = ThreadLocal.withInitial(AtaHeader::new);

    // set once IDENTIFY completed
    private volatile long sizeBytes;
    private volatile boolean lba48;
    private volatile Identify identity;
    private volatile boolean dead;

    // device counters (engine writes, others read)
    private volatile long staleReplies;
    private volatile long foreignReplies;
    private volatile long truncatedReplies;
    private volatile long commandsFailed;
    private volatile long callbackFailures;

    AoeDevice(final TargetAddress address, final DeviceOptions options, final Runnable onClose)
    {
        this.address = address;
        this.options = options;
        this.onClose = onClose;
        this.slots = new Slot[options.slots()];
        this.freeSlots = new int[options.slots()];
        for (int i = 0; i < slots.length; i++)
        {
            slots[i] = new Slot(i);
            freeSlots[i] = i;
        }
        freeCount = slots.length;
        completed = new MpscAtomicArrayQueue<>(Math.max(2, slots.length));
        retry = new ArrayDeque<>(slots.length);
        fences = new WriteFences(options.fenceTimeout().toNanos());
        engine = Thread.ofPlatform().name("aoe-" + address).daemon(true).unstarted(this::runEngine);
        engine.start();
    }

    // ---------------------------------------------------------------------------------------
    // Paths (added from discovery; the engine applies the change)

    void addPath(final Port port, final long remoteMac, final int bufferCount, final int targetSectors)
    {
        control.add(() ->
        {
            for (final Path p : paths)
            {
                if (p.port() == port && p.remoteMac() == remoteMac)
                {
                    p.updateTarget(bufferCount, targetSectors);
                    return;
                }
            }
            final RttEstimator rtt = new RttEstimator(options.initialRto().toNanos(), options.rtoFloor().toNanos(),
                options.rtoCeiling().toNanos());
            final Path path = new Path(paths.length, port, remoteMac, bufferCount, targetSectors, rtt);
            final SendQueue queue = new SendQueue(path, sendQueueFrames(bufferCount), Math.max(MIN_FRAME_BUFFER, port.mtu() + 14),
                this::wake);
            path.sendQueue(queue);
            try
            {
                port.sender().register(queue);
            }
            catch (final IllegalStateException closing)
            {
                return;  // the initiator is closing its ports
            }
            final Path[] grown = java.util.Arrays.copyOf(paths, paths.length + 1);
            grown[paths.length] = path;
            paths = grown;
        });
        wake();
    }

    /** Frames in a path's send queue: twice the target's buffer count, 32 to 512. */
    static int sendQueueFrames(final int bufferCount)
    {
        int frames = 32;
        while (frames < 2 * bufferCount && frames < 512)
        {
            frames <<= 1;
        }
        return frames;
    }

    /** Snapshot of every path's counters (monitoring; any thread). */
    public List<PathStats> pathStats()
    {
        final Path[] ps = paths;
        final List<PathStats> out = new ArrayList<>(ps.length);
        for (final Path p : ps)
        {
            out.add(p.stats());
        }
        return out;
    }

    public DeviceStats stats()
    {
        return new DeviceStats(address.toString(), sizeBytes, sectorsPerCommand(), dead, staleReplies, foreignReplies,
            truncatedReplies, commandsFailed, fences.raised(), fences.liftedByReply(), fences.expired(), pathStats());
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
        return lba48;
    }

    /** Sectors per ATA command: the minimum over the paths that carry traffic (MTU and target limits). */
    public int sectorsPerCommand()
    {
        final int cap = options.maxSectors() == 0 ? 255 : options.maxSectors();
        int carrying = Integer.MAX_VALUE;
        int all = Integer.MAX_VALUE;
        for (final Path p : paths)
        {
            all = Math.min(all, p.maxSectors());
            if (p.state().carriesTraffic())
            {
                carrying = Math.min(carrying, p.maxSectors());
            }
        }
        final int n = carrying != Integer.MAX_VALUE ? carrying : all;
        return n == Integer.MAX_VALUE ? Math.min(cap, 2) : Math.min(cap, n);
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
        if (dead && request.op != IoRequest.IDENTIFY)
        {
            request.callback.complete(deadError());
            return;
        }
        if (!submitted.offer(request))
        {
            request.callback.complete(new IoError(IoError.ENOMEM, "too many requests queued for " + address));
            return;
        }
        wake();
    }

    private IoError deadError()
    {
        return new IoError(IoError.EIO, "no path to " + address + " answered for " + options.deadAfter().toSeconds()
            + " s (dead-after); every path is down");
    }

    private void wake()
    {
        if (parked)
        {
            LockSupport.unpark(engine);
        }
    }

    @Override
    public void close()
    {
        if (closed)
        {
            return;
        }
        closed = true;
        running = false;
        LockSupport.unpark(engine);
        try
        {
            engine.join(5000);
        }
        catch (final InterruptedException e)
        {
            Thread.currentThread().interrupt();
        }
        onClose.run();
    }

    // ---------------------------------------------------------------------------------------
    // Identify (called by the initiator while opening)

    void identify(final long timeoutNanos) throws IoError
    {
        final ByteBuffer buf = ByteBuffer.allocate(SECTOR);
        final java.util.concurrent.CompletableFuture<IoError> done = new java.util.concurrent.CompletableFuture<>();
        submit(new IoRequest(IoRequest.IDENTIFY, 0, 1, buf, done::complete, null));
        final IoError e;
        try
        {
            e = done.get(timeoutNanos, TimeUnit.NANOSECONDS);
        }
        catch (final java.util.concurrent.TimeoutException te)
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
        lba48 = id.lba48();
        sizeBytes = id.capacitySectors() * SECTOR;
    }

    // ---------------------------------------------------------------------------------------
    // Receive path (port receive threads)

    /** A response to an ATA command with a userland tag for this shelf.slot. */
    void onAtaResponse(final ByteBuffer frame, final int length)
    {
        final AoeHeader h = rxHeader.get().wrap(frame, 0);
        final int tag = h.tag();
        final int index = Slot.indexOf(tag);
        if (index >= slots.length)
        {
            staleReplies = staleReplies + 1;
            return;
        }
        final Slot s = slots[index];
        final int generation = Slot.generationOf(tag);
        if (s.state() != Slot.pack(generation, Slot.INFLIGHT))
        {
            s.onLateReply(generation);
            staleReplies = staleReplies + 1;
            return;
        }
        // Fields below were published before INFLIGHT(generation); a recall after our read makes the CAS fail.
        final Path path = s.path;
        if (path == null || h.src() != path.remoteMac())
        {
            foreignReplies = foreignReplies + 1;
            return;
        }
        final boolean isError = h.isError();
        final AtaHeader ata = rxAta.get().wrap(frame, 0);
        final boolean carriesData = s.request != null && (s.request.op == IoRequest.READ || s.request.op == IoRequest.IDENTIFY
            || s.request.op == IoRequest.PROBE);
        final int dataBytes = s.sectors * SECTOR;
        if (!isError && length < AtaHeader.DATA_OFFSET + (carriesData && !ata.failed() ? dataBytes : 0))
        {
            truncatedReplies = truncatedReplies + 1;
            return;
        }
        if (!s.claim(generation, Slot.INFLIGHT, Slot.RECEIVING))
        {
            s.onLateReply(generation);
            staleReplies = staleReplies + 1;
            return;
        }
        s.aoeError = isError ? Math.max(1, h.error()) : 0;
        if (!isError)
        {
            s.replyStatus = ata.cmdStatus();
            s.replyError = ata.errFeature();
            if (carriesData && !ata.failed() && s.request.buffer != null)
            {
                s.request.buffer.put(s.bufferIndex, frame, AtaHeader.DATA_OFFSET, dataBytes);
            }
        }
        s.replyNanos = System.nanoTime();
        s.publish(Slot.DONE);
        completed.offer(s);
        wake();
    }

    // ---------------------------------------------------------------------------------------
    // Engine

    private void runEngine()
    {
        int idle = 0;
        lastProgressNanos = System.nanoTime();
        while (running)
        {
            int work = runControl();
            work += drainCompletions();
            final long now = System.nanoTime();
            if (now - nextTimerNanos >= 0)
            {
                work += scanTimers(now);
                nextTimerNanos = now + TIMER_TICK_NANOS;
            }
            work += issue(now);
            if (work > 0)
            {
                flushSendQueues();
                idle = 0;
                continue;
            }
            idle++;
            if (idle < 100)
            {
                Thread.onSpinWait();
            }
            else if (idle < 110)
            {
                Thread.yield();
            }
            else
            {
                park(now);
            }
        }
        shutdown();
    }

    /** Wakes the senders of the paths that got frames in this round (one wake per port, not per frame). */
    private void flushSendQueues()
    {
        for (final Path p : paths)
        {
            p.sendQueue().flush();
        }
    }

    private void park(final long now)
    {
        long until = Math.min(nextDeadlineNanos, now + MAX_PARK_NANOS);
        if (!fenced.isEmpty())
        {
            until = Math.min(until, now + TIMER_TICK_NANOS);
        }
        if (busyCount == 0 && current == null && retry.isEmpty() && fenced.isEmpty())
        {
            until = now + MAX_PARK_NANOS;
        }
        parked = true;
        if (submitted.isEmpty() && completed.isEmpty() && control.isEmpty() && running)
        {
            final long wait = until - now;
            if (wait > 0)
            {
                LockSupport.parkNanos(this, wait);
            }
        }
        parked = false;
    }

    private int runControl()
    {
        int n = 0;
        Runnable r;
        while ((r = control.poll()) != null)
        {
            r.run();
            n++;
        }
        return n;
    }

    private int drainCompletions()
    {
        int n = 0;
        Slot s;
        while ((s = completed.relaxedPoll()) != null)
        {
            onCompleted(s);
            n++;
        }
        return n;
    }

    private void onCompleted(final Slot s)
    {
        final Path p = s.path;
        final IoRequest r = s.request;
        final long now = s.replyNanos;
        final boolean carriesData = r.op == IoRequest.READ || r.op == IoRequest.WRITE || r.op == IoRequest.ZEROES;
        final boolean wasDown = !p.state().carriesTraffic();
        if (wasDown)
        {
            p.revive();
        }
        p.onReply(now - s.sentNanos, carriesData ? s.sectors * SECTOR : 0, now);
        lastProgressNanos = now;
        dead = false;

        if (r.op == IoRequest.PROBE)
        {
            releaseSlot(s);
            return;
        }
        if (s.aoeError != 0)
        {
            r.fail(new IoError(IoError.EIO, address + " answered the " + r.opName() + " at sector " + s.lba + " with AoE error "
                + s.aoeError + " (" + AoeHeader.errorName(s.aoeError) + ") via " + p));
        }
        else if ((s.replyStatus & AtaHeader.STATUS_FAILURE_MASK) != 0)
        {
            if (s.ataCommand == AtaHeader.ATA_FLUSH_EXT && (s.replyError & AtaHeader.ERROR_ABRT) != 0)
            {
                // vblade aborts FLUSH CACHE EXT; fall back to FLUSH CACHE for this and every later flush.
                flushCommand = AtaHeader.ATA_FLUSH;
                s.ataCommand = AtaHeader.ATA_FLUSH;
                s.retries = 0;
                s.generation = (s.generation + 1) & Slot.GENERATION_MASK;
                s.publish(Slot.HELD);
                retry.addFirst(s);
                return;
            }
            r.fail(new IoError(IoError.EIO, describeAtaFailure(r, s)));
        }
        finishCommand(s);
    }

    private String describeAtaFailure(final IoRequest r, final Slot s)
    {
        final String hint;
        if (r.op == IoRequest.WRITE || r.op == IoRequest.ZEROES)
        {
            hint = (s.replyError & AtaHeader.ERROR_ABRT) != 0 ? " (the target refused the write: exported read-only?)" : "";
        }
        else if ((s.replyError & AtaHeader.ERROR_IDNF) != 0)
        {
            hint = " (sector not found: beyond the target's end?)";
        }
        else
        {
            hint = "";
        }
        return address + " failed the " + r.opName() + " of " + s.sectors + " sectors at sector " + s.lba + ": ATA status 0x"
            + Integer.toHexString(s.replyStatus) + " error 0x" + Integer.toHexString(s.replyError) + hint;
    }

    private void finishCommand(final Slot s)
    {
        final IoRequest r = s.request;
        releaseSlot(s);
        r.outstanding--;
        if (r.outstanding == 0 && r.fullyIssued())
        {
            complete(r);
        }
    }

    private void complete(final IoRequest r)
    {
        if (r.error != null)
        {
            commandsFailed = commandsFailed + 1;
        }
        try
        {
            r.callback.complete(r.error);
        }
        catch (final RuntimeException e)
        {
            // A callback that throws is the caller's bug; it must not kill the engine of every other caller.
            callbackFailures = callbackFailures + 1;
        }
    }

    private void releaseSlot(final Slot s)
    {
        s.recycle();
        freeSlots[(freeHead + freeCount) % freeSlots.length] = s.index;
        freeCount++;
        busyCount--;
    }

    private Slot takeSlot()
    {
        if (freeCount == 0)
        {
            return null;
        }
        final Slot s = slots[freeSlots[freeHead]];
        freeHead = (freeHead + 1) % freeSlots.length;
        freeCount--;
        busyCount++;
        s.busy = true;
        return s;
    }

    /** Issues retransmissions first, then new commands, while slots and path windows allow. */
    private int issue(final long now)
    {
        int n = 0;
        while (!retry.isEmpty())
        {
            final Slot s = retry.peekFirst();
            final Path p = s.request.pinnedPath != null ? s.request.pinnedPath : choosePathForRetry(s.path);
            if (p == null)
            {
                break;
            }
            retry.pollFirst();
            transmit(s, p, now, s.path != null);
            n++;
        }
        if (dead)
        {
            return n + failQueued();
        }
        if (!fences.isEmpty())
        {
            fences.lift(now);
        }
        while (true)
        {
            if (current == null && !fenced.isEmpty() && !blockedByFence(fenced.peekFirst()))
            {
                current = fenced.pollFirst();
            }
            if (current == null)
            {
                current = submitted.relaxedPoll();
                if (current == null)
                {
                    break;
                }
                if (current.op == IoRequest.IDENTIFY || current.op == IoRequest.PROBE)
                {
                    // control commands: fine to go out on any path
                }
            }
            if (freeCount == 0)
            {
                break;
            }
            if (blockedByFence(current))
            {
                // a later write overlapping a fenced range waits; other requests go on
                fenced.addLast(current);
                current = null;
                continue;
            }
            final Path p = choosePath();
            if (p == null)
            {
                break;
            }
            issueNext(current, p, now);
            if (current.fullyIssued())
            {
                if (current.outstanding == 0)
                {
                    complete(current);
                }
                current = null;
            }
            n++;
        }
        return n;
    }

    private boolean blockedByFence(final IoRequest r)
    {
        if (fences.isEmpty() || r.op != IoRequest.WRITE && r.op != IoRequest.ZEROES || r.fullyIssued())
        {
            return false;
        }
        return fences.blocks(r.lba + r.nextSector, Math.min(sectorsPerCommand(), r.sectors - r.nextSector));
    }

    private int failQueued()
    {
        int n = 0;
        if (current != null)
        {
            current.fail(deadError());
            if (current.outstanding == 0)
            {
                complete(current);
            }
            current = null;
            n++;
        }
        IoRequest r;
        while ((r = fenced.poll()) != null)
        {
            r.fail(deadError());
            if (r.outstanding == 0)
            {
                complete(r);
            }
            n++;
        }
        while ((r = submitted.relaxedPoll()) != null)
        {
            if (r.op == IoRequest.IDENTIFY)
            {
                current = r;
                break;
            }
            r.fail(deadError());
            complete(r);
            n++;
        }
        return n;
    }

    private void issueNext(final IoRequest r, final Path p, final long now)
    {
        final Slot s = takeSlot();
        s.request = r;
        s.retries = 0;
        switch (r.op)
        {
            case IoRequest.READ, IoRequest.WRITE, IoRequest.ZEROES ->
            {
                final int chunk = (int)Math.min(sectorsPerCommand(), r.sectors - r.nextSector);
                s.lba = r.lba + r.nextSector;
                s.sectors = chunk;
                s.bufferIndex = r.buffer == null ? 0 : r.basePosition + (int)(r.nextSector * SECTOR);
                s.ataCommand = r.op == IoRequest.READ
                    ? (lba48 ? AtaHeader.ATA_READ_EXT : AtaHeader.ATA_READ)
                    : (lba48 ? AtaHeader.ATA_WRITE_EXT : AtaHeader.ATA_WRITE);
                r.nextSector += chunk;
            }
            case IoRequest.FLUSH ->
            {
                s.lba = 0;
                s.sectors = 0;
                s.ataCommand = flushCommand;
                r.nextSector = 1;
            }
            default ->
            {
                // IDENTIFY (and probes, which are READs of sector 0 but never reach here)
                s.lba = 0;
                s.sectors = 1;
                s.bufferIndex = r.basePosition;
                s.ataCommand = AtaHeader.ATA_IDENTIFY;
                r.nextSector = 1;
            }
        }
        r.outstanding++;
        s.firstSentNanos = now;
        s.commandFirstGeneration = s.generation;
        transmit(s, p, now, false);
    }

    private Path choosePath()
    {
        Path best = null;
        long bestCost = Long.MAX_VALUE;
        for (final Path p : paths)
        {
            if (p.hasRoom())
            {
                final long cost = p.expectedCompletionNanos();
                if (cost < bestCost)
                {
                    best = p;
                    bestCost = cost;
                }
            }
        }
        return best;
    }

    /** For a retransmission: another path with room if there is one, else any path that carries traffic. */
    private Path choosePathForRetry(final Path previous)
    {
        Path best = null;
        long bestCost = Long.MAX_VALUE;
        for (final Path p : paths)
        {
            if (p != previous && p.hasRoom() && p.expectedCompletionNanos() < bestCost)
            {
                best = p;
                bestCost = p.expectedCompletionNanos();
            }
        }
        if (best != null)
        {
            return best;
        }
        if (previous != null && previous.state().carriesTraffic())
        {
            return previous;
        }
        for (final Path p : paths)
        {
            if (p.state().carriesTraffic() && p.expectedCompletionNanos() < bestCost)
            {
                best = p;
                bestCost = p.expectedCompletionNanos();
            }
        }
        return best;
    }

    private void transmit(final Slot s, final Path p, final long now, final boolean retransmit)
    {
        final IoRequest r = s.request;
        final boolean writing = s.ataCommand == AtaHeader.ATA_WRITE || s.ataCommand == AtaHeader.ATA_WRITE_EXT;
        final int frameLength = Math.max(AoeHeader.MIN_ETHERNET_FRAME, AtaHeader.DATA_OFFSET + (writing ? s.sectors * SECTOR : 0));
        final SendQueue queue = p.sendQueue();
        final SendQueue.Frame frame = queue.claim();
        if (frame == null || frameLength > queue.frameCapacity())
        {
            // the port's sender is behind (every frame queued), or the frame is too big for this port:
            // the link refused it, and the timer deals with it at the next tick
            if (frame != null)
            {
                queue.unclaim(frame);
            }
            refuse(s, p, now, retransmit, writing);
            return;
        }
        final ByteBuffer f = frame.buffer;
        txHeader.wrap(f, 0).request(p.remoteMac(), p.port().mac(), address.shelf(), address.slot(), AoeHeader.CMD_ATA, s.tag());
        final AtaHeader ata = txAta.wrap(f, 0);
        final boolean write = s.ataCommand == AtaHeader.ATA_WRITE || s.ataCommand == AtaHeader.ATA_WRITE_EXT;
        final boolean ext = s.ataCommand == AtaHeader.ATA_READ_EXT || s.ataCommand == AtaHeader.ATA_WRITE_EXT
            || s.ataCommand == AtaHeader.ATA_FLUSH_EXT;
        ata.aflags((ext ? AtaHeader.AFLAG_LBA48 : 0) | (write ? AtaHeader.AFLAG_WRITE : 0))
            .errFeature(0).sectorCount(s.sectors).cmdStatus(s.ataCommand).clearReserved();
        if (s.ataCommand == AtaHeader.ATA_IDENTIFY)
        {
            ata.lba(0).lbaByte(3, 0xA0);
        }
        else if (ext)
        {
            ata.lba(s.lba);
        }
        else if (s.ataCommand == AtaHeader.ATA_FLUSH)
        {
            ata.lba(0);
        }
        else
        {
            ata.lba28(s.lba);
        }
        int length = AtaHeader.DATA_OFFSET;
        final int dataBytes = s.sectors * SECTOR;
        if (write)
        {
            if (r.op == IoRequest.ZEROES)
            {
                f.put(length, ZEROES, 0, dataBytes);
            }
            else
            {
                f.put(length, r.buffer, s.bufferIndex, dataBytes);
            }
            length += dataBytes;
        }
        while (length < AoeHeader.MIN_ETHERNET_FRAME)
        {
            f.put(length++, (byte)0);
        }
        s.path = p;
        s.sentNanos = now;
        final long rto = p.rtt().rtoNanos();
        s.deadlineNanos = now + Math.min(p.rtt().ceilingNanos() * 4, rto << Math.min(s.retries, 4));
        nextDeadlineNanos = Math.min(nextDeadlineNanos, s.deadlineNanos);
        s.publish(Slot.INFLIGHT);
        p.onSend(write ? dataBytes : 0, s.sectors, retransmit);
        queue.submit(frame, length, s, Slot.pack(s.generation, Slot.INFLIGHT));
    }

    /** The command could not even be queued: publish it in flight with an expired deadline. */
    private void refuse(final Slot s, final Path p, final long now, final boolean retransmit, final boolean write)
    {
        s.path = p;
        s.sentNanos = now;
        s.deadlineNanos = now;
        nextDeadlineNanos = now;
        s.publish(Slot.INFLIGHT);
        p.onSend(write ? s.sectors * SECTOR : 0, s.sectors, retransmit);
    }

    private int scanTimers(final long now)
    {
        int n = 0;
        if (now - nextLinkCheckNanos >= 0)
        {
            nextLinkCheckNanos = now + LINK_CHECK_NANOS;
            n += checkLinks(now);
        }
        long next = Long.MAX_VALUE;
        boolean waiting = current != null || !retry.isEmpty() || !submitted.isEmpty() || !fenced.isEmpty();
        for (int i = 0; i < slots.length && busyCount > 0; i++)
        {
            final Slot s = slots[i];
            if (!s.busy || !s.isInFlight())
            {
                continue;
            }
            waiting |= s.request.op != IoRequest.PROBE;
            if (now - s.deadlineNanos >= 0 || s.wasRefused())
            {
                if (onTimeout(s, now))
                {
                    n++;
                    continue;
                }
            }
            if (s.isInFlight())
            {
                next = Math.min(next, s.deadlineNanos);
            }
        }
        nextDeadlineNanos = next;
        n += sendProbes(now);
        if (!waiting)
        {
            lastProgressNanos = now;
        }
        else if (!options.deadAfter().isZero() && !dead && now - lastProgressNanos > options.deadAfter().toNanos())
        {
            declareDead();
            n++;
        }
        return n;
    }

    /** A command timed out: collapse the path's window, maybe mark it DOWN, and queue the retransmission. */
    private boolean onTimeout(final Slot s, final long now)
    {
        if (!s.recall())
        {
            return false;
        }
        final Path p = s.path;
        if (s.request.op == IoRequest.PROBE)
        {
            p.onAbandon();
            p.onProbeLost();
            releaseSlot(s);
            return true;
        }
        s.retries++;
        fenceIfWrite(s, now);
        if (p.onTimeout(options.downAfterTimeouts(), now, FIRST_PROBE_NANOS))
        {
            evacuate(p);
        }
        retry.addLast(s);
        return true;
    }

    /** A write about to be sent again: its earlier copies might still land, so fence its range. */
    private void fenceIfWrite(final Slot s, final long now)
    {
        if (s.ataCommand == AtaHeader.ATA_WRITE || s.ataCommand == AtaHeader.ATA_WRITE_EXT)
        {
            fences.raise(s, (s.generation - 1) & Slot.GENERATION_MASK, now);
        }
    }

    /** Moves every command in flight on a path that went DOWN to the retry queue at once. */
    private void evacuate(final Path down)
    {
        for (int i = 0; i < slots.length && busyCount > 0; i++)
        {
            final Slot s = slots[i];
            if (s.busy && s.path == down && s.request.op != IoRequest.PROBE && s.isInFlight() && s.recall())
            {
                fenceIfWrite(s, System.nanoTime());
                down.onAbandon();
                retry.addLast(s);
            }
        }
    }

    private int checkLinks(final long now)
    {
        int n = 0;
        for (final Path p : paths)
        {
            if (p.state().carriesTraffic() && !p.port().transport().isUp())
            {
                p.markDown(now, FIRST_PROBE_NANOS);
                evacuate(p);
                n++;
            }
        }
        return n;
    }

    private int sendProbes(final long now)
    {
        int n = 0;
        for (final Path p : paths)
        {
            if (p.probeDue(now) && freeCount > 0)
            {
                p.onProbeSent(now, MAX_PROBE_INTERVAL_NANOS);
                if (!p.port().transport().isUp())
                {
                    p.onProbeLost();
                    continue;
                }
                final Slot s = takeSlot();
                final IoRequest probe = new IoRequest(IoRequest.PROBE, 0, 1, null, e -> { }, p);
                s.request = probe;
                s.lba = 0;
                s.sectors = 1;
                s.ataCommand = lba48 ? AtaHeader.ATA_READ_EXT : AtaHeader.ATA_READ;
                s.retries = 0;
                s.firstSentNanos = now;
                transmit(s, p, now, false);
                n++;
            }
        }
        return n;
    }

    /** No path answered for dead-after: fail everything waiting; new requests fail until a path answers again. */
    private void declareDead()
    {
        dead = true;
        final IoError e = deadError();
        while (!retry.isEmpty())
        {
            final Slot s = retry.pollFirst();
            s.request.fail(e);
            finishCommand(s);
        }
        for (int i = 0; i < slots.length && busyCount > 0; i++)
        {
            final Slot s = slots[i];
            if (s.busy && s.request.op != IoRequest.PROBE && s.isInFlight() && s.recall())
            {
                s.path.onAbandon();
                s.request.fail(e);
                finishCommand(s);
            }
        }
        failQueued();
    }

    private void shutdown()
    {
        for (final Path p : paths)
        {
            p.port().sender().unregister(p.sendQueue());
        }
        final IoError e = new IoError(IoError.ESHUTDOWN, address + " was closed");
        while (!retry.isEmpty())
        {
            final Slot s = retry.pollFirst();
            s.request.fail(e);
            finishCommand(s);
        }
        for (int i = 0; i < slots.length && busyCount > 0; i++)
        {
            final Slot s = slots[i];
            if (s.busy && s.isInFlight() && s.recall())
            {
                if (s.request.op == IoRequest.PROBE)
                {
                    releaseSlot(s);
                    continue;
                }
                s.request.fail(e);
                finishCommand(s);
            }
        }
        // a receive thread may be between claiming a slot and queueing it: wait for it briefly
        final long until = System.nanoTime() + TimeUnit.MILLISECONDS.toNanos(100);
        for (int i = 0; i < slots.length && System.nanoTime() - until < 0; i++)
        {
            while ((slots[i].state() & 3) == Slot.RECEIVING && System.nanoTime() - until < 0)
            {
                Thread.onSpinWait();
            }
        }
        drainCompletions();
        if (current != null)
        {
            current.fail(e);
            if (current.outstanding == 0)
            {
                complete(current);
            }
            current = null;
        }
        IoRequest r;
        while ((r = fenced.poll()) != null)
        {
            r.fail(e);
            if (r.outstanding == 0)
            {
                complete(r);
            }
        }
        while ((r = submitted.relaxedPoll()) != null)
        {
            r.fail(e);
            complete(r);
        }
    }

    @Override
    public String toString()
    {
        return address + " (" + sizeBytes + " bytes, " + paths.length + " paths via " + describePaths() + ")";
    }

    private String describePaths()
    {
        final StringBuilder b = new StringBuilder();
        for (final Path p : paths)
        {
            if (b.length() > 0)
            {
                b.append(", ");
            }
            b.append(p.port().name()).append("->").append(new MacAddress(p.remoteMac()));
        }
        return b.toString();
    }
}
