package org.aoemp.initiator;

import java.util.ArrayDeque;

import org.aoemp.block.IoError;
import org.aoemp.protocol.AtaHeader;
import org.jctools.queues.atomic.MpscAtomicArrayQueue;

/**
 * Turns requests into commands on the wire, while slots and path windows allow: retransmissions
 * first (each on the path the {@link PathScheduler} picks for a retry, or a probe's own path),
 * then the request being split ("current"), then fenced writes whose range was freed, then new
 * requests from the submit queue. A request is split into commands of
 * {@link PathScheduler#sectorsPerCommand} sectors; each goes to the path the scheduler picks and
 * out through the {@link Transmitter}.
 *
 * <p>Write fences: a write whose next command overlaps a range fenced by a retransmitted write
 * ({@link WriteFences}) waits in the fenced queue, in order, while other requests go on; the
 * issuer lifts fences whose old copy was answered or whose time is up.
 *
 * <p>While the device is dead, requests are failed instead of issued (IDENTIFY is kept: it is
 * how an open finds out).
 *
 * <p>Threading: the engine thread only; the submit queue is filled by any thread.
 */
final class CommandIssuer
{
    private static final int SECTOR = AtaHeader.SECTOR_SIZE;

    private final DeviceOptions options;
    private final MpscAtomicArrayQueue<IoRequest> submitted;
    private final SlotTable slots;
    private final PathList paths;
    private final ArrayDeque<Slot> retry;
    /** Write requests waiting because their next command overlaps a fenced range. */
    private final ArrayDeque<IoRequest> fenced = new ArrayDeque<>();
    private final WriteFences fences;
    private final AtaCommandSet commands;
    private final Transmitter transmitter;
    private final CompletionProcessor completions;
    private final RetransmitTimer timer;
    /** The request being split into commands. */
    private IoRequest current;
    private long splits;

    CommandIssuer(final DeviceOptions options, final MpscAtomicArrayQueue<IoRequest> submitted, final SlotTable slots,
        final PathList paths, final ArrayDeque<Slot> retry, final WriteFences fences, final AtaCommandSet commands,
        final Transmitter transmitter, final CompletionProcessor completions, final RetransmitTimer timer)
    {
        this.options = options;
        this.submitted = submitted;
        this.slots = slots;
        this.paths = paths;
        this.retry = retry;
        this.fences = fences;
        this.commands = commands;
        this.transmitter = transmitter;
        this.completions = completions;
        this.timer = timer;
    }

    /** Requests wait outside the slots: being split, fenced, submitted, or commands queued for retransmission. */
    boolean hasWaiting()
    {
        return current != null || !retry.isEmpty() || !submitted.isEmpty() || !fenced.isEmpty();
    }

    /** Requests are being split or wait behind a fence: the engine keeps looking. */
    boolean hasStarted()
    {
        return current != null || !retry.isEmpty() || !fenced.isEmpty();
    }

    /**
     * Whether a newly submitted request could be issued now: a slot is free and some path has
     * room in its window. When not, a submission cannot make progress until a completion (or the
     * timer) frees room, so it is no reason for the engine to stay awake.
     */
    boolean canTakeNew()
    {
        return slots.hasFree() && PathScheduler.forCommand(paths.all()) != null;
    }

    boolean hasFenced()
    {
        return !fenced.isEmpty();
    }

    /** Issues retransmissions first, then new commands, while slots and path windows allow; returns how many. */
    int issue(final long now)
    {
        int n = 0;
        final Path[] ps = paths.all();
        while (!retry.isEmpty())
        {
            final Slot s = retry.peekFirst();
            final Path p = s.request.pinnedPath != null ? s.request.pinnedPath : PathScheduler.forRetry(ps, s.path, s.sectors);
            if (p == null)
            {
                if (s.request.pinnedPath == null && PathScheduler.fitsNone(ps, s.sectors) && splitToFit(s, ps))
                {
                    continue;  // the first piece now fits a path; the rest waits right behind it
                }
                break;
            }
            retry.pollFirst();
            transmitter.transmit(s, p, now, s.path != null);
            n++;
        }
        if (timer.isDead())
        {
            return n + failQueued(timer.deadError(), true);
        }
        if (!fences.isEmpty())
        {
            fences.lift(now);
        }
        while (true)
        {
            if (current == null && !fenced.isEmpty() && !blockedByFence(fenced.peekFirst(), ps))
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
            }
            if (!slots.hasFree())
            {
                break;
            }
            if (blockedByFence(current, ps))
            {
                // a later write overlapping a fenced range waits; other requests go on
                fenced.addLast(current);
                current = null;
                continue;
            }
            final Path p = PathScheduler.forCommand(ps);
            if (p == null)
            {
                break;
            }
            issueNext(current, p, now, ps);
            if (current.fullyIssued())
            {
                if (current.outstanding == 0)
                {
                    completions.complete(current);
                }
                current = null;
            }
            n++;
        }
        return n;
    }

    /**
     * A command waiting for retransmission that no path carrying traffic can take in one frame
     * any more (an MTU was lowered after it was made): it keeps its first sectors, as many as
     * every such path carries, and the rest becomes another command of the same request, in a
     * slot of its own, queued right after it (and split again if still too big). Returns false
     * when it cannot be split (no data, or no free slot yet: it waits).
     */
    private boolean splitToFit(final Slot s, final Path[] ps)
    {
        final int fit = sectorsPerCommand(ps);
        final IoRequest r = s.request;
        if (!r.hasData() || s.sectors <= fit || !slots.hasFree())
        {
            return false;
        }
        final Slot rest = slots.take();
        rest.request = r;
        rest.lba = s.lba + fit;
        rest.sectors = s.sectors - fit;
        rest.bufferIndex = s.bufferIndex + fit * SECTOR;
        rest.ataCommand = s.ataCommand;
        rest.retries = s.retries;
        rest.path = s.path;
        rest.commandFirstGeneration = rest.generation;
        rest.publish(Slot.HELD);
        s.sectors = fit;
        r.outstanding++;
        retry.pollFirst();
        retry.addFirst(rest);
        retry.addFirst(s);
        splits++;
        return true;
    }

    /** Commands sent again in smaller pieces because no path could carry them any more (monitoring: engine thread). */
    long splits()
    {
        return splits;
    }

    private boolean blockedByFence(final IoRequest r, final Path[] ps)
    {
        if (fences.isEmpty() || r.op != IoRequest.WRITE && r.op != IoRequest.ZEROES || r.fullyIssued())
        {
            return false;
        }
        return fences.blocks(r.lba + r.nextSector, Math.min(sectorsPerCommand(ps), r.sectors - r.nextSector));
    }

    private int sectorsPerCommand(final Path[] ps)
    {
        return PathScheduler.sectorsPerCommand(ps, options.maxSectors());
    }

    /** The next command of {@code r} into a free slot, sent on {@code p}. */
    private void issueNext(final IoRequest r, final Path p, final long now, final Path[] ps)
    {
        final Slot s = slots.take();
        s.request = r;
        s.retries = 0;
        switch (r.op)
        {
            case IoRequest.READ, IoRequest.WRITE, IoRequest.ZEROES ->
            {
                final int chunk = (int)Math.min(sectorsPerCommand(ps), r.sectors - r.nextSector);
                s.lba = r.lba + r.nextSector;
                s.sectors = chunk;
                s.bufferIndex = r.buffer == null ? 0 : r.basePosition + (int)(r.nextSector * SECTOR);
                s.ataCommand = r.op == IoRequest.READ ? commands.read() : commands.write();
                r.nextSector += chunk;
            }
            case IoRequest.FLUSH ->
            {
                s.lba = 0;
                s.sectors = 0;
                s.ataCommand = commands.flush();
                r.nextSector = 1;
            }
            default ->
            {
                // IDENTIFY (probes are sent by the PathProber, never from here)
                s.lba = 0;
                s.sectors = 1;
                s.bufferIndex = r.basePosition;
                s.ataCommand = AtaHeader.ATA_IDENTIFY;
                r.nextSector = 1;
            }
        }
        r.outstanding++;
        s.commandFirstGeneration = s.generation;
        transmitter.transmit(s, p, now, false);
    }

    /**
     * Fails the requests that wait outside the slots (current, fenced, submitted) with {@code e}:
     * those with commands in flight complete when these are over.
     *
     * @param spareIdentify keep the first IDENTIFY found in the submit queue as current (a dead
     *                      device may still be opened again)
     * @return how many requests it failed
     */
    int failQueued(final IoError e, final boolean spareIdentify)
    {
        int n = 0;
        if (current != null)
        {
            completions.fail(current, e);
            current = null;
            n++;
        }
        IoRequest r;
        while ((r = fenced.poll()) != null)
        {
            completions.fail(r, e);
            n++;
        }
        while ((r = submitted.relaxedPoll()) != null)
        {
            if (spareIdentify && r.op == IoRequest.IDENTIFY)
            {
                current = r;
                break;
            }
            completions.fail(r, e);
            n++;
        }
        return n;
    }

    /**
     * After an engine error, or once the device gave up: completes every request outside the
     * slots with {@code e} at once; returns how many. Of the submit queue it takes only what was
     * in it when it began, so a request submitted after the callbacks of the failed ones ran is
     * not failed by this error.
     */
    int failQueuedNow(final IoError e)
    {
        int n = 0;
        if (current != null)
        {
            completions.failNow(current, e);
            current = null;
            n++;
        }
        IoRequest r;
        while ((r = fenced.poll()) != null)
        {
            completions.failNow(r, e);
            n++;
        }
        for (int queued = submitted.size(); queued > 0 && (r = submitted.relaxedPoll()) != null; queued--)
        {
            completions.failNow(r, e);
            n++;
        }
        return n;
    }
}
