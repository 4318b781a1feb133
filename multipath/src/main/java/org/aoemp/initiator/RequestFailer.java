package org.aoemp.initiator;

import java.util.ArrayDeque;
import java.util.concurrent.TimeUnit;

import org.aoemp.block.IoError;

/**
 * Fails what a device's engine holds, at once, in the three cases that call for it:
 * <ul>
 * <li>{@link #failOnDeadAfter}: no path answered for dead-after. Requests waiting and commands in
 *     flight fail; probes go on, so a path that comes back revives the device.</li>
 * <li>{@link #failAndReset}: a duty cycle threw, so the engine's state may be half-updated.
 *     Every request it holds fails (whatever its commands' state), every slot that is the
 *     engine's is freed, and the slot pool and the paths' in-flight counts are rebuilt from the
 *     slots. Slots a receive thread has claimed stay busy until they come through the completed
 *     queue, where they are freed without a second callback.</li>
 * <li>{@link #failOnClose}: the device is closing. Everything fails with ESHUTDOWN, probes are
 *     dropped.</li>
 * </ul>
 * Before completing requests whose replies may be being copied, it waits briefly for the receive
 * threads, so that no buffer is written after its request's callback ran.
 *
 * <p>Threading: the engine thread only (or the closing thread once the engine has ended).
 */
final class RequestFailer
{
    /** How long to wait for a receive thread that is copying a reply into a slot. */
    private static final long RECEIVING_WAIT_NANOS = TimeUnit.MILLISECONDS.toNanos(100);

    private final SlotTable slots;
    private final PathList paths;
    private final ArrayDeque<Slot> retry;
    private final CompletionProcessor completions;
    private final CommandIssuer issuer;
    private final RetransmitTimer timer;

    RequestFailer(final SlotTable slots, final PathList paths, final ArrayDeque<Slot> retry, final CompletionProcessor completions,
        final CommandIssuer issuer, final RetransmitTimer timer)
    {
        this.slots = slots;
        this.paths = paths;
        this.retry = retry;
        this.completions = completions;
        this.issuer = issuer;
        this.timer = timer;
    }

    /** No path answered for dead-after: fail everything waiting; new requests fail until a path answers again. */
    void failOnDeadAfter(final IoError e)
    {
        Slot s;
        while ((s = retry.pollFirst()) != null)
        {
            s.request.fail(e);
            completions.finish(s);
        }
        for (int i = 0; i < slots.size() && slots.busy() > 0; i++)
        {
            s = slots.get(i);
            if (s.busy && s.request.op != IoRequest.PROBE && s.isInFlight() && s.recall())
            {
                s.path.onAbandon();
                s.request.fail(e);
                completions.finish(s);
            }
        }
        issuer.failQueued(e, true);
    }

    /** After an engine error: completes every request the engine holds with {@code e} and rebuilds its state; returns how many failed. */
    int failAndReset(final IoError e)
    {
        int n = 0;
        retry.clear();  // their slots are busy and HELD: failed and freed below
        awaitReceivers();
        // a slot taken from the completed queue whose processing threw, and those still queued: ours alone
        final Slot interrupted = completions.interrupted();
        if (interrupted != null && interrupted.busy && (interrupted.state() & 3) == Slot.DONE)
        {
            n += failAndFree(interrupted, e);
        }
        Slot s;
        while ((s = completions.pollUnprocessed()) != null)
        {
            n += failAndFree(s, e);
        }
        for (int i = 0; i < slots.size(); i++)
        {
            s = slots.get(i);
            if (!s.busy)
            {
                continue;
            }
            final int phase = (int)(s.state() & 3);
            if (phase == Slot.HELD || phase == Slot.INFLIGHT && s.recall())
            {
                if (s.request != null && s.request.op == IoRequest.PROBE && s.path != null)
                {
                    s.path.onProbeLost();
                }
                n += failAndFree(s, e);
            }
            else if (s.request != null && s.request.op != IoRequest.PROBE && !s.request.completed)
            {
                // a receive thread claimed it: the slot comes through the completed queue and is freed there
                completions.failNow(s.request, e);
                n++;
            }
        }
        n += issuer.failQueuedNow(e);
        slots.rebuildFreeList();
        for (final Path p : paths.all())
        {
            int inFlight = 0;
            for (int i = 0; i < slots.size(); i++)
            {
                if (slots.get(i).busy && slots.get(i).path == p)
                {
                    inFlight++;
                }
            }
            p.resyncInFlight(inFlight);
        }
        timer.reset(System.nanoTime());
        return n;
    }

    /** A slot the engine holds: complete its request with {@code e} (if not yet) and free the slot (the pool is rebuilt after). */
    private int failAndFree(final Slot s, final IoError e)
    {
        final IoRequest r = s.request;
        s.recycle();
        if (r != null && r.op != IoRequest.PROBE && !r.completed)
        {
            completions.failNow(r, e);
            return 1;
        }
        return 0;
    }

    /** The device is closing: fail everything with {@code e} (ESHUTDOWN). */
    void failOnClose(final IoError e)
    {
        Slot s;
        while ((s = retry.pollFirst()) != null)
        {
            s.request.fail(e);
            completions.finish(s);
        }
        for (int i = 0; i < slots.size() && slots.busy() > 0; i++)
        {
            s = slots.get(i);
            if (s.busy && s.isInFlight() && s.recall())
            {
                if (s.request.op == IoRequest.PROBE)
                {
                    slots.release(s);
                    continue;
                }
                s.request.fail(e);
                completions.finish(s);
            }
        }
        awaitReceivers();
        completions.drain();
        issuer.failQueued(e, false);
    }

    /** Waits (briefly) until no receive thread is copying into a slot, so no request's buffer is written after its callback. */
    private void awaitReceivers()
    {
        final long until = System.nanoTime() + RECEIVING_WAIT_NANOS;
        for (int i = 0; i < slots.size() && System.nanoTime() - until < 0; i++)
        {
            while ((slots.get(i).state() & 3) == Slot.RECEIVING && System.nanoTime() - until < 0)
            {
                Thread.onSpinWait();
            }
        }
    }
}
