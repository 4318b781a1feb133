package org.aoemp.target;

import java.io.EOFException;
import java.io.IOException;
import java.nio.ByteBuffer;
import java.nio.channels.FileChannel;

import org.aoemp.agent.Agent;
import org.aoemp.agent.AgentRunner;
import org.aoemp.agent.Wakeup;
import org.aoemp.protocol.AoeHeader;
import org.aoemp.protocol.AtaHeader;
import org.aoemp.transport.FrameTransport;

/**
 * One I/O thread of a {@link DiskQueue}, as an {@link Agent}: each duty cycle takes one queued
 * command, does its positional I/O on the shared file, builds the reply in place in the command's
 * buffer, sends it on the NIC the request came in on, and gives the buffer back. When to work,
 * watch or sleep is {@link DiskQueue}'s rule; a worker only plays the role it is given
 * ({@link #WORKING}, {@link #WATCHING} or {@link #SLEEPING}).
 *
 * <p>Errors: no command is left unanswered. An I/O that fails with an {@link IOException} (a full
 * disk's ENOSPC, an unreadable sector's EIO) is answered at once and logged by the NIC's
 * {@link DiskErrorLog} (which command, why; rate-limited per kind). Whatever else the I/O throws
 * (a {@link RuntimeException} from the channel, an {@link Error}) leaves {@link #doWork} for the
 * {@link AgentRunner}, which counts and logs it and calls {@link #onError}. Either way the command
 * this worker held is answered with ATA status DRDY|ERR and error UNC for a read (the data cannot be
 * had) or ABRT for a write or flush, its sector count left as asked (none was done), and counted
 * in {@code ioErrors} and {@code ataErrors}; vblade answers a failed read or write with ERR and
 * ABRT. A fault of the worker after its I/O (building or sending the reply) is answered with
 * DRDY|ERR and ABRT the same way. Either way the buffer goes back to the free queue and the
 * worker goes on with the next command.
 *
 * <p>Threading: {@link #doWork}, {@link #onError} and {@link #onClose} on the worker's runner
 * thread only. {@link #role} is written by the queue's other threads when they choose this worker
 * (then {@link #wakeAs} wakes it); {@link #wakeup()} from any thread.
 */
final class DiskWorker implements Agent
{
    /** Takes commands from the queue; counted in the queue's {@code awake}. */
    static final int WORKING = 0;
    /** Watches the oldest waiting command on a timer (see {@link DiskQueue}); not counted awake. */
    static final int WATCHING = 1;
    /** Registered as a sleeper; parks until chosen. */
    static final int SLEEPING = 2;

    /** Holding a command, not in its I/O (before it, or building and sending the reply). */
    private static final int OTHER = 0;
    /** Doing the held command's I/O. */
    private static final int IO = 1;

    private static final int SECTOR = AtaHeader.SECTOR_SIZE;

    private final DiskQueue queue;
    private final FileChannel channel;
    private final long baseOffset;
    private final TargetCounters counters;
    private final int shelf;
    private final int slot;
    private final long nicMac;
    private final String name;
    private final Wakeup wakeup;
    /** With O_DIRECT ({@link TargetOptions#direct}): a sector-aligned buffer the file I/O goes through; else null. */
    private final ByteBuffer bounce;

    /** This worker's role: set by itself, and by the thread that chooses it before {@link #wakeAs} wakes it. */
    volatile int role = WORKING;
    // worker thread only
    private int emptyLooks;
    private DiskCommand held;
    /** The MAC the held command came from (read before its header is turned into the reply's). */
    private long heldFrom;
    private int phase;

    /**
     * @param baseOffset the file offset of sector 0 of the exported window, in bytes
     * @param index      this worker's number among its NIC's workers (for its thread's name)
     */
    DiskWorker(final DiskQueue queue, final int index, final FileChannel channel, final long baseOffset, final TargetOptions options,
        final TargetCounters counters)
    {
        this.queue = queue;
        this.channel = channel;
        this.baseOffset = baseOffset;
        this.counters = counters;
        this.shelf = options.shelf();
        this.slot = options.slot();
        this.nicMac = queue.nic.mac();
        this.name = "aoe-target-io-" + queue.nic.name() + "-" + index;
        this.wakeup = new Wakeup(this::shouldNotPark);
        // O_DIRECT: the frame's data (at byte 36) is not aligned, so data moves through an aligned buffer
        this.bounce = options.direct() ? ByteBuffer.allocateDirect(queue.frameSize() + 2 * SECTOR).alignedSlice(SECTOR) : null;
    }

    @Override
    public String roleName()
    {
        return name;
    }

    /** Wakes this worker if it is parked. Any thread. */
    Wakeup wakeup()
    {
        return wakeup;
    }

    /** Chooser (a thread that took this worker off the sleepers): gives it {@code newRole} and wakes it. */
    void wakeAs(final int newRole)
    {
        role = newRole;
        wakeup.wake();
    }

    /** Asked by {@link Wakeup} on this worker's thread just before it parks. */
    private boolean shouldNotPark()
    {
        return switch (role)
        {
            case SLEEPING -> false;
            case WATCHING -> queue.nobodyAwake() && queue.hasPending();
            default -> true;
        };
    }

    @Override
    public int doWork() throws IOException
    {
        final int r = role;
        if (r == SLEEPING)
        {
            return 0;  // not chosen yet
        }
        if (r == WATCHING)
        {
            return watch();
        }
        final DiskCommand c = queue.poll();
        if (c == null)
        {
            queue.sleep(this);
            return 0;
        }
        held = c;
        heldFrom = c.header.src();
        phase = OTHER;
        queue.ensureWatcher();
        execute(c);
        if (held != null)  // answered (not failed by failHeld, which released it)
        {
            held = null;
            queue.release(c);
        }
        return 1;
    }

    /** One look at the queue as the watcher; parks (through the idle strategy) until the oldest command is due. */
    private int watch()
    {
        final DiskCommand oldest = queue.oldest();
        if (oldest == null)
        {
            if (++emptyLooks > 2)
            {
                emptyLooks = 0;
                queue.stopWatching(this);
                return 1;
            }
            wakeup.limitNextPark(DiskQueue.WAKE_AFTER_NANOS);
            return 0;
        }
        emptyLooks = 0;
        final long waited = System.nanoTime() - oldest.queuedNanos;
        if (waited >= DiskQueue.WAKE_AFTER_NANOS || queue.nobodyAwake())
        {
            queue.stopWatching(this);
            return 1;
        }
        wakeup.limitNextPark(DiskQueue.WAKE_AFTER_NANOS - waited);
        return 0;
    }

    /**
     * Runs {@code c} and sends its reply. A read, write or flush that fails with an
     * {@link IOException} (the disk is full, a sector unreadable) is answered with an ATA error at
     * once and logged by the queue's {@link DiskErrorLog}, saying which command failed and why;
     * anything else thrown leaves the command held for {@link #onError}.
     */
    private void execute(final DiskCommand c) throws IOException
    {
        try
        {
            doExecute(c);
        }
        catch (final IOException e)
        {
            if (phase != IO)
            {
                throw e;
            }
            queue.errors.failed(c.op, describe(c), e, c.op == TargetResponder.OP_READ ? "UNC" : "ABRT");
            failHeld();
        }
    }

    /** {@code e1.1: write of 17 sectors at sector 4096}: a command in a log line. */
    private String describe(final DiskCommand c)
    {
        final String what = switch (c.op)
        {
            case TargetResponder.OP_READ -> "read of " + c.count + " sectors at sector " + c.lba;
            case TargetResponder.OP_WRITE -> "write of " + c.count + " sectors at sector " + c.lba;
            default -> "flush";
        };
        return "e" + shelf + "." + slot + ": " + what;
    }

    private void doExecute(final DiskCommand c) throws IOException
    {
        phase = IO;
        final int count = c.count;
        final ByteBuffer data = c.data;
        final int bytes = count * SECTOR;
        final long position = baseOffset + c.lba * SECTOR;
        int length = AtaHeader.DATA_OFFSET;
        switch (c.op)
        {
            case TargetResponder.OP_READ ->
            {
                data.limit(AtaHeader.DATA_OFFSET + bytes).position(AtaHeader.DATA_OFFSET);
                final ByteBuffer into = bounce == null ? data : bounce.clear().limit(bytes);
                final int base = into.position();
                while (into.hasRemaining())
                {
                    if (channel.read(into, position + into.position() - base) < 0)
                    {
                        throw new EOFException("the file ended before sector " + (c.lba + count));
                    }
                }
                if (bounce != null)
                {
                    data.put(bounce.flip());
                }
                length += bytes;
                counters.sectorsRead.add(count);
            }
            case TargetResponder.OP_WRITE ->
            {
                data.limit(AtaHeader.DATA_OFFSET + bytes).position(AtaHeader.DATA_OFFSET);
                final ByteBuffer from = bounce == null ? data : bounce.clear().put(data).flip();
                final int base = from.position();
                while (from.hasRemaining())
                {
                    channel.write(from, position + from.position() - base);
                }
                counters.sectorsWritten.add(count);
            }
            default ->
            {
                channel.force(true);
                counters.flushes.increment();
            }
        }
        phase = OTHER;
        reply(c, TargetResponder.STATUS_OK, 0, length);
    }

    /** Sends {@code c}'s reply: the request's headers turned around, the status, and {@code length} bytes in all. */
    private void reply(final DiskCommand c, final int status, final int error, final int length)
    {
        sendReply(c, heldFrom, nicMac, shelf, slot, status, error, length, queue.nic, counters);
    }

    /**
     * Turns the request in {@code c} (from {@code from}) into its reply in place, with
     * {@code status} and {@code error}, and sends {@code length} bytes of it on {@code nic}. Used by
     * the workers and by a receive thread that answered a cached read itself.
     */
    static void sendReply(final DiskCommand c, final long from, final long nicMac, final int shelf, final int slot, final int status,
        final int error, final int length, final FrameTransport nic, final TargetCounters counters)
    {
        if (!nic.send(c.frame, buildReply(c, from, nicMac, shelf, slot, status, error, length, counters)))
        {
            counters.sendFailures.increment();
        }
    }

    /** Turns the command in {@code c.frame} into its reply in place; returns the frame's length to send (padded). */
    static int buildReply(final DiskCommand c, final long from, final long nicMac, final int shelf, final int slot, final int status,
        final int error, final int length, final TargetCounters counters)
    {
        TargetResponder.respond(c.header, from, nicMac, AoeHeader.FLAG_RESPONSE, shelf, slot);
        c.ata.cmdStatus(status).errFeature(error).sectorCount(status == TargetResponder.STATUS_OK ? 0 : c.count);
        if ((status & AtaHeader.STATUS_ERR) != 0)
        {
            counters.ataErrors.increment();
        }
        return TargetResponder.pad(c.frame, length);
    }

    /**
     * The runner's {@link org.aoemp.agent.ErrorHandler}, after a duty cycle threw (the runner has
     * counted and logged {@code error}): answers the command this worker held with an ATA error and
     * gives its buffer back.
     */
    void onError(final Throwable error)
    {
        failHeld();
    }

    /** The loop ended (closed, or terminated by an {@link org.aoemp.agent.AgentTerminationException} mid-command). */
    @Override
    public void onClose()
    {
        failHeld();
    }

    private void failHeld()
    {
        final DiskCommand c = held;
        if (c == null)
        {
            return;
        }
        held = null;
        try
        {
            if (phase == IO)
            {
                counters.ioErrors.increment();
                reply(c, TargetResponder.STATUS_FAILED,
                    c.op == TargetResponder.OP_READ ? TargetResponder.ERROR_UNC : AtaHeader.ERROR_ABRT, AtaHeader.DATA_OFFSET);
            }
            else
            {
                reply(c, TargetResponder.STATUS_FAILED, AtaHeader.ERROR_ABRT, AtaHeader.DATA_OFFSET);
            }
        }
        finally
        {
            queue.release(c);
        }
    }

    @Override
    public String toString()
    {
        return name;
    }
}
