package org.aoemp.initiator;

import java.nio.ByteBuffer;

import org.aoemp.transport.FrameTransport;
import org.jctools.queues.atomic.SpscAtomicArrayQueue;

/**
 * The bounded lock-free queue of frames one {@link Path} owns, drained by one consumer: the
 * {@link PortSender} of the path's port, or the engine itself when the port's transport never
 * waits in a send (below).
 *
 * <p>Frames live in a fixed pool of pre-allocated direct buffers that circulates through two
 * JCTools SPSC queues: the engine thread {@link #claim claims} a free frame, builds the command
 * into it and {@link #submit submits} it; the consumer sends it and returns it to the free
 * queue. Nothing is allocated and nothing locks per frame. When the pool is empty (the consumer or
 * its NIC is behind) {@link #claim} returns null and the engine treats the command as refused by
 * the link, exactly as a full socket buffer: it never waits, so a stuck NIC delays only the paths
 * over that NIC.
 *
 * <p>Each frame remembers the slot and the slot state it was built for; the consumer drops a frame
 * whose slot has since been recalled (timed out, moved to another path, failed), so a frame that
 * waited in a slow queue never goes out as a stale copy.
 *
 * <p>When the port's transport never waits in a send (AF_PACKET uses MSG_DONTWAIT and refuses
 * instead), the engine drains its own queue at the end of each round, in {@link #flush}: a stuck NIC
 * still cannot hold it, and each command saves the hand-off to the sender thread (a wake-up and a
 * context switch, which on 2 vCPUs shared with fio and a target cost about a fifth of the 4 KiB
 * IOPS through the NBD bridge). No sender thread is started for such a port: the engine is the
 * queue's only consumer.
 *
 * <p>Threading: {@link #claim}, {@link #submit} and {@link #flush} on the device's engine thread
 * only; {@link #drain} on its one consumer, fixed by the transport: the engine (in {@link #flush})
 * when sends never wait, else the port's sender thread.
 */
final class SendQueue
{
    /** One frame in flight between the engine and the consumer. */
    static final class Frame
    {
        final ByteBuffer buffer;
        int length;
        Slot slot;
        long stamp;

        Frame(final int capacity)
        {
            buffer = ByteBuffer.allocateDirect(capacity);
        }
    }

    /** Frames handed to the transport in one call at most. */
    static final int SEND_BATCH = 64;

    private final Path path;
    private final Runnable wakeEngine;
    // the consumer's batch under construction (one consumer per queue)
    private final Frame[] batch = new Frame[SEND_BATCH];
    private final ByteBuffer[] batchBuffers = new ByteBuffer[SEND_BATCH];
    private final int[] batchLengths = new int[SEND_BATCH];
    private final SpscAtomicArrayQueue<Frame> pending;
    private final SpscAtomicArrayQueue<Frame> free;
    private final int frameCapacity;
    private volatile PortSender sender;
    /** Engine only: frames were submitted since the last {@link #flush}. */
    private boolean submitted;

    // counters of the queue's one consumer (single writer), read by monitoring
    private volatile long framesDropped;
    private volatile long sendsRefused;

    /**
     * @param frames        pool size (rounded up to a power of two by JCTools)
     * @param frameCapacity bytes per frame: the largest frame the port's MTU allows
     * @param wakeEngine    called by the consumer when the link refused a frame, so the engine looks soon
     */
    SendQueue(final Path path, final int frames, final int frameCapacity, final Runnable wakeEngine)
    {
        this.path = path;
        this.wakeEngine = wakeEngine;
        this.frameCapacity = frameCapacity;
        this.pending = new SpscAtomicArrayQueue<>(frames);
        this.free = new SpscAtomicArrayQueue<>(frames);
        for (int i = 0; i < frames; i++)
        {
            free.offer(new Frame(frameCapacity));
        }
    }

    Path path()
    {
        return path;
    }

    int frameCapacity()
    {
        return frameCapacity;
    }

    void attach(final PortSender sender)
    {
        this.sender = sender;
    }

    /** Engine: a free frame to build into, or null when every frame is queued or being sent. */
    Frame claim()
    {
        return free.relaxedPoll();
    }

    /**
     * Engine: queues a frame built for {@code slot} (already published as {@code stamp}). The
     * sender is woken by {@link #flush}, once per engine round rather than once per frame.
     */
    void submit(final Frame frame, final int length, final Slot slot, final long stamp)
    {
        frame.length = length;
        frame.slot = slot;
        frame.stamp = stamp;
        pending.offer(frame);  // cannot fail: the pool holds no more frames than the queue
        submitted = true;
    }

    /**
     * Engine, once per round: sends what was submitted since the last flush, itself when the
     * transport never waits, else by waking the sender.
     */
    void flush()
    {
        if (submitted)
        {
            submitted = false;
            final PortSender s = sender;
            if (s != null)
            {
                final FrameTransport transport = s.transport();
                if (transport.sendNeverWaits())
                {
                    drain(transport);
                }
                else
                {
                    s.wake();
                }
            }
        }
    }

    /** Engine: gives back a claimed frame that will not be submitted. */
    void unclaim(final Frame frame)
    {
        free.offer(frame);
    }

    /**
     * The queue's one consumer: sends every queued frame, up to {@value #SEND_BATCH} per
     * {@link FrameTransport#sendBatch} call (one {@code sendmmsg} over AF_PACKET); returns how many
     * frames it took. A frame whose slot was recalled while it waited is dropped, not sent. Frames
     * the link refused mark their commands refused, so the engine sends them again at its next
     * tick. A send that throws (a transport's bug: sends report failure by returning less) marks
     * the whole batch refused, returns its frames to the pool and propagates, for the consumer's
     * agent runner to count and log.
     */
    int drain(final FrameTransport transport)
    {
        int n = 0;
        Frame f;
        int count = 0;
        while ((f = pending.relaxedPoll()) != null)
        {
            n++;
            if (f.slot.state() != f.stamp)
            {
                framesDropped = framesDropped + 1;  // recalled while queued: a newer copy (or none) goes out
                f.slot = null;
                free.offer(f);
                continue;
            }
            batch[count] = f;
            batchBuffers[count] = f.buffer;
            batchLengths[count] = f.length;
            if (++count == SEND_BATCH)
            {
                sendBatch(transport, count);
                count = 0;
            }
        }
        if (count > 0)
        {
            sendBatch(transport, count);
        }
        return n;
    }

    /** Consumer: sends {@code batch[0..count)}, refuses what the link did not take, and frees every frame. */
    private void sendBatch(final FrameTransport transport, final int count)
    {
        int sent = 0;
        try
        {
            sent = transport.sendBatch(batchBuffers, batchLengths, count);
        }
        finally
        {
            for (int i = 0; i < count; i++)
            {
                final Frame f = batch[i];
                if (i >= sent)
                {
                    refused(f.slot, f.stamp);
                }
                f.slot = null;
                free.offer(f);
                batch[i] = null;
                batchBuffers[i] = null;
            }
        }
    }

    private void refused(final Slot slot, final long stamp)
    {
        sendsRefused = sendsRefused + 1;
        slot.refused(stamp);
        wakeEngine.run();
    }

    boolean hasPending()
    {
        return !pending.isEmpty();
    }

    /** Frames dropped by the sender because their slot had been recalled while they waited. */
    long framesDropped()
    {
        return framesDropped;
    }

    /** Frames the link refused (down, socket buffer full), or whose send threw. */
    long sendsRefused()
    {
        return sendsRefused;
    }
}
