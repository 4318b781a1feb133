package org.aoemp.target;

import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicInteger;
import java.util.concurrent.atomic.AtomicReference;

import org.aoemp.agent.BackoffIdleStrategy;
import org.aoemp.agent.IdleStrategy;
import org.aoemp.agent.Wakeup;
import org.aoemp.protocol.AoeHeader;
import org.aoemp.transport.FrameTransport;
import org.jctools.queues.atomic.MpmcAtomicArrayQueue;
import org.jctools.queues.atomic.MpscAtomicArrayQueue;

/**
 * The disk side of one NIC: {@code bufferCount} {@link DiskWorker}s and twice as many
 * {@link DiskCommand} buffers, and the rule that decides which worker is woken when.
 *
 * <p>Why per NIC, and why that many: an initiator keeps up to the advertised buffer count of
 * commands in flight per target MAC (the kernel's window is per MAC, and vblade's multipath setup
 * is one process with its own buffers per NIC), so each NIC gets that many workers. The spare
 * buffers are for the moment between a worker sending a reply and putting its buffer back: an
 * initiator that has the reply may already have sent its next command, which must not find every
 * buffer taken (measured: without them, hundreds of drops and 20 ms retransmission timeouts per
 * second at queue depth 16 on two cores). More than {@code bufferCount} commands are then held
 * only in that race, or when an initiator exceeds the count; beyond twice the count the receive
 * thread drops them ({@link #claim} returns null), as the protocol allows: it never waits.
 *
 * <p>The receive thread {@link #claim}s a free buffer, fills it and {@link #submit}s it to the
 * pending queue; workers {@link #poll} commands from there, run them, send the reply and
 * {@link #release} the buffer. Workers are woken only as needed, because on a small machine a
 * wake-up per frame costs more than a page-cache read:
 * <ul>
 * <li>a worker that finds the queue empty goes to sleep ({@link #sleep}): it parks until chosen;
 * <li>a submit wakes one sleeper when no worker is awake;
 * <li>while commands wait and others work, one sleeper is made the watcher ({@link #ensureWatcher}):
 *     it checks the oldest waiting command on a timer and takes it over itself once it has waited
 *     {@link #WAKE_AFTER_NANOS} (the working workers are stuck in slow I/O, or descheduled), and
 *     on taking it makes another sleeper the watcher. So a stream of fast reads keeps one
 *     worker busy and one watching, with no wake-up per frame, and a slow disk gets one more
 *     worker in flight every {@link #WAKE_AFTER_NANOS} until every command has its own.
 * </ul>
 *
 * <p>No command is left waiting with nobody to run it: a worker going to sleep first counts itself
 * out of {@link #awake}, then registers as a sleeper, then looks at the queue once more and wakes a
 * sleeper (perhaps itself) if it is not empty; a submit queues first, then reads {@link #awake}; a
 * watcher takes over at once when it sees work and nobody awake. All of these are volatile
 * accesses, so one side always sees the other; a worker is woken through its {@link Wakeup}, whose
 * own protocol loses no wake-up between the chooser's role change and the worker's park.
 *
 * <p>The idle bounds of the target's threads are all here: {@link #WAKE_AFTER_NANOS} and
 * {@link #SLEEP_PARK_NANOS}, used by {@link #idleStrategy}.
 *
 * <p>Threading: {@link #claim} and {@link #submit} on the NIC's receive thread only; the others on
 * this queue's workers (and {@link #ensureWatcher} on either).
 */
final class DiskQueue
{
    /**
     * A queued command older than this means the working workers are stuck in slow I/O (or
     * descheduled): the watcher takes it. Page-cache I/O drains the queue well within it.
     */
    static final long WAKE_AFTER_NANOS = TimeUnit.MICROSECONDS.toNanos(Long.getLong("aoe.target.wakeAfterMicros", 100));
    /**
     * The longest park of a sleeping worker: sleepers are woken when chosen, so this bounds only
     * how often an idle worker looks up (to notice that its runner is closing, which also unparks
     * it, or, were a wake-up ever lost, that it has been chosen).
     */
    static final long SLEEP_PARK_NANOS = TimeUnit.SECONDS.toNanos(1);

    /** Stands in {@link #watcher} while a submitter or worker is choosing one. */
    private static final Object CHOOSING = new Object();

    /** The NIC the commands came in on and the replies go out on. */
    final FrameTransport nic;
    /** The log of this NIC's failed disk I/O, shared by its workers. */
    final DiskErrorLog errors = new DiskErrorLog();
    /** Buffers nobody holds: workers put, the receive thread takes. */
    private final MpscAtomicArrayQueue<DiskCommand> free;
    /** Commands waiting for a worker, oldest first: the receive thread puts, workers take. */
    private final MpmcAtomicArrayQueue<DiskCommand> pending;
    /** Sleeping workers; whoever wakes one takes it off. */
    private final MpmcAtomicArrayQueue<DiskWorker> sleepers;
    /** Workers running a command or looking for one (not asleep, not watching). */
    private final AtomicInteger awake;
    /** The watching worker, {@link #CHOOSING}, or null. */
    private final AtomicReference<Object> watcher = new AtomicReference<>();
    private final int buffers;

    /**
     * @param workers how many workers will serve it (the buffer count); each starts awake and
     *        goes to sleep when it finds nothing to do
     */
    DiskQueue(final FrameTransport nic, final int workers)
    {
        this.nic = nic;
        this.buffers = 2 * workers;
        free = new MpscAtomicArrayQueue<>(buffers);
        pending = new MpmcAtomicArrayQueue<>(buffers);
        sleepers = new MpmcAtomicArrayQueue<>(Math.max(2, workers));
        awake = new AtomicInteger(workers);
        final int size = Math.max(nic.mtu() + 14, AoeHeader.MIN_ETHERNET_FRAME);
        for (int i = 0; i < buffers; i++)
        {
            free.offer(new DiskCommand(size));
        }
    }

    /** How many command buffers there are (twice the workers). */
    int capacity()
    {
        return buffers;
    }

    /** Bytes in each command's frame buffer: the NIC's MTU plus the Ethernet header. */
    int frameSize()
    {
        return Math.max(nic.mtu() + 14, AoeHeader.MIN_ETHERNET_FRAME);
    }

    /** The idle strategy of a worker of this queue: park at once when idle, woken through {@code wakeup}. */
    static IdleStrategy idleStrategy(final Wakeup wakeup)
    {
        return BackoffIdleStrategy.parkAtOnce(SLEEP_PARK_NANOS, TimeUnit.NANOSECONDS, wakeup);
    }

    /** Receive thread: a free buffer, or null when every one is held (the command is then dropped). */
    DiskCommand claim()
    {
        return free.relaxedPoll();
    }

    /** Receive thread: queues a filled buffer and wakes a worker if nobody is awake to take it. */
    void submit(final DiskCommand c)
    {
        c.queuedNanos = System.nanoTime();
        pending.offer(c);  // never full: there are only as many commands as slots
        if (awake.get() == 0)
        {
            final Object watching = watcher.get();
            if (watching instanceof DiskWorker w)
            {
                w.wakeup().wake();  // it sees nobody awake and takes the command at once
            }
            else if (watching == null)
            {
                wakeOne();
            }
            // else someone is choosing a watcher, which will see nobody awake
        }
        else
        {
            ensureWatcher();
        }
    }

    /** Worker: the oldest waiting command, taken, or null. */
    DiskCommand poll()
    {
        return pending.poll();
    }

    /** Watcher: the oldest waiting command, left in the queue, or null. */
    DiskCommand oldest()
    {
        return pending.peek();
    }

    /** Worker: gives a buffer back, its reply sent (or the command given up). */
    void release(final DiskCommand c)
    {
        free.offer(c);
    }

    boolean hasPending()
    {
        return !pending.isEmpty();
    }

    boolean nobodyAwake()
    {
        return awake.get() == 0;
    }

    /** Makes a sleeper the watcher when commands wait and there is none. Any thread of this queue. */
    void ensureWatcher()
    {
        if (pending.isEmpty() || watcher.get() != null || !watcher.compareAndSet(null, CHOOSING))
        {
            return;
        }
        final DiskWorker w = sleepers.poll();
        if (w == null)
        {
            watcher.set(null);  // every worker is up anyway
            return;
        }
        watcher.set(w);
        w.wakeAs(DiskWorker.WATCHING);
    }

    /** Wakes one sleeper to work, if there is one. */
    void wakeOne()
    {
        final DiskWorker w = sleepers.poll();
        if (w != null)
        {
            awake.incrementAndGet();
            w.wakeAs(DiskWorker.WORKING);
        }
    }

    /** Worker {@code w}, which found nothing to do: counts it out, registers it as a sleeper, and looks once more. */
    void sleep(final DiskWorker w)
    {
        w.role = DiskWorker.SLEEPING;
        awake.decrementAndGet();
        sleepers.offer(w);
        if (!pending.isEmpty())
        {
            wakeOne();
        }
    }

    /** The watcher {@code w} goes back to work (a command waited too long, nobody else is awake, or the queue stayed empty). */
    void stopWatching(final DiskWorker w)
    {
        awake.incrementAndGet();
        w.role = DiskWorker.WORKING;
        watcher.set(null);
    }
}
