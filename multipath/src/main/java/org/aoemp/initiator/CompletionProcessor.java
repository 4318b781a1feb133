package org.aoemp.initiator;

import java.util.ArrayDeque;

import org.aoemp.block.IoError;
import org.aoemp.protocol.AoeHeader;
import org.aoemp.protocol.AtaHeader;
import org.jctools.queues.atomic.MpscAtomicArrayQueue;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * The engine's side of a reply: takes the slots the {@link ReplyReceiver}s queued, credits the
 * path (RTT sample, window, back UP if it was down), turns an AoE error or a failed ATA status
 * into the request's {@link IoError}, gives the slot back, and when the request's last command
 * is done calls its callback, exactly once.
 *
 * <p>One reply is not final: FLUSH CACHE EXT aborted by the target (vblade) is sent again as
 * FLUSH CACHE, which the device then uses for every flush ({@link AtaCommandSet}).
 *
 * <p>A callback that throws is the caller's bug: it is counted (the first is logged) and the
 * engine goes on with every other request.
 *
 * <p>Threading: the engine thread only (and the closing thread once the engine has ended).
 */
final class CompletionProcessor
{
    private static final Logger LOG = LoggerFactory.getLogger(CompletionProcessor.class);
    private static final int SECTOR = AtaHeader.SECTOR_SIZE;

    private final TargetAddress address;
    private final MpscAtomicArrayQueue<Slot> completed;
    private final SlotTable slots;
    private final ArrayDeque<Slot> retry;
    private final AtaCommandSet commands;
    private final RetransmitTimer timer;
    private final DeviceCounters counters;
    /** The slot being processed; left set when processing it threw (see {@link #interrupted}). */
    private Slot processing;

    CompletionProcessor(final TargetAddress address, final MpscAtomicArrayQueue<Slot> completed, final SlotTable slots,
        final ArrayDeque<Slot> retry, final AtaCommandSet commands, final RetransmitTimer timer, final DeviceCounters counters)
    {
        this.address = address;
        this.completed = completed;
        this.slots = slots;
        this.retry = retry;
        this.commands = commands;
        this.timer = timer;
        this.counters = counters;
    }

    /** Processes every slot the receive threads completed; returns how many. */
    int drain()
    {
        int n = 0;
        Slot s;
        while ((s = completed.relaxedPoll()) != null)
        {
            processing = s;
            onCompleted(s);
            n++;
        }
        processing = null;
        return n;
    }

    /**
     * After an engine error: the slot whose processing threw, taken from the queue but perhaps
     * not given back, or null. Forgets it.
     */
    Slot interrupted()
    {
        final Slot s = processing;
        processing = null;
        return s;
    }

    /** After an engine error: takes the next completed slot from the queue without processing it, or null. */
    Slot pollUnprocessed()
    {
        return completed.relaxedPoll();
    }

    private void onCompleted(final Slot s)
    {
        final Path p = s.path;
        final IoRequest r = s.request;
        final long now = s.replyNanos;
        // The device is alive again before any path shows UP: whoever sees the path UP and submits
        // must not find the device still dead.
        timer.onProgress(now, p);
        if (!p.state().carriesTraffic())
        {
            p.revive(r.op == IoRequest.PROBE ? PathEventLog.Reason.PROBE_ANSWERED : PathEventLog.Reason.REPLY_AFTER_DOWN);
        }
        p.onReply(now - s.sentNanos, r.hasData() ? s.sectors * SECTOR : 0, now);

        if (r.op == IoRequest.PROBE || r.completed)
        {
            // a probe only tells that the path answers; a completed request was failed by an engine reset
            slots.release(s);
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
                commands.fallBackToFlushCache();
                s.ataCommand = AtaHeader.ATA_FLUSH;
                s.retries = 0;
                s.generation = (s.generation + 1) & Slot.GENERATION_MASK;
                s.publish(Slot.HELD);
                retry.addFirst(s);
                return;
            }
            r.fail(new IoError(IoError.EIO, describeAtaFailure(r, s)));
        }
        else if (s.copyFailed)
        {
            r.fail(new IoError(IoError.EIO, address + ": the data of the " + r.opName() + " at sector " + s.lba
                + " did not fit the request's buffer (was it changed while the request was in flight?)"));
        }
        finish(s);
    }

    private String describeAtaFailure(final IoRequest r, final Slot s)
    {
        final String hint;
        if (r.op == IoRequest.WRITE || r.op == IoRequest.ZEROES)
        {
            hint = (s.replyError & AtaHeader.ERROR_ABRT) != 0 ? " (the target refused or failed the write: exported read-only, or its disk failed, e.g. full; its log says which)" : "";
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

    /** One command of a request is over (answered or failed): give its slot back, complete the request if it was the last. */
    void finish(final Slot s)
    {
        final IoRequest r = s.request;
        slots.release(s);
        r.outstanding--;
        if (r.outstanding == 0 && r.fullyIssued())
        {
            complete(r);
        }
    }

    /** Fails {@code r} with {@code e} (the first error wins); completes it now if none of its commands is outstanding. */
    void fail(final IoRequest r, final IoError e)
    {
        r.fail(e);
        if (r.outstanding == 0)
        {
            complete(r);
        }
    }

    /** Fails {@code r} with {@code e} and completes it now, whatever is still outstanding (an engine reset). */
    void failNow(final IoRequest r, final IoError e)
    {
        r.fail(e);
        complete(r);
    }

    /** Calls the request's callback with its error (null: success), once; later calls do nothing. */
    void complete(final IoRequest r)
    {
        if (r.completed)
        {
            return;
        }
        r.completed = true;
        counters.requests().completed(r);
        if (r.error != null)
        {
            counters.requestFailed();
        }
        try
        {
            r.callback.complete(r.error);
        }
        catch (final RuntimeException | Error e)
        {
            // A callback that throws is the caller's bug; it must not affect any other request.
            if (counters.callbackFailed() == 1)
            {
                LOG.warn("{}: the callback of a {} threw (later ones are only counted)", address, r.opName(), e);
            }
        }
    }
}
