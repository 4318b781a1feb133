package org.aoemp.bench;

import java.nio.ByteBuffer;
import java.util.ArrayList;
import java.util.HashMap;
import java.util.List;
import java.util.Map;
import java.util.Objects;
import java.util.concurrent.ConcurrentLinkedQueue;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicInteger;
import java.util.concurrent.atomic.AtomicLong;
import java.util.concurrent.atomic.AtomicReference;
import java.util.concurrent.locks.LockSupport;
import java.util.function.Supplier;

import org.HdrHistogram.Histogram;
import org.HdrHistogram.Recorder;
import org.aoemp.agent.Agent;
import org.aoemp.agent.AgentRunner;
import org.aoemp.agent.AgentTerminationException;
import org.aoemp.agent.BackoffIdleStrategy;
import org.aoemp.agent.NoOpIdleStrategy;
import org.aoemp.agent.Wakeup;
import org.aoemp.block.BlockDevice;
import org.aoemp.block.IoCallback;
import org.aoemp.block.IoError;
import org.aoemp.initiator.AoeDevice;
import org.aoemp.initiator.PathStats;
import org.jctools.queues.MpscArrayQueue;

/**
 * Drives one {@link BlockDevice} with a {@link BenchConfig} and measures it.
 *
 * <p><b>Closed loop</b> ({@code rateIops == 0}): {@code queueDepth} requests are issued at once
 * and each completion issues the next from the completion callback, so exactly that many are in
 * flight. Latency runs from the moment a request is handed to the device.
 *
 * <p><b>Open loop</b> ({@code rateIops > 0}): a scheduler thread issues request {@code i} at
 * {@code start + i / rate}, whatever happened to earlier requests. Latency runs from that
 * <em>intended</em> start. When all {@code queueDepth} slots are busy the request waits for a
 * free one, but its clock is already running, so a stall of the device shows up in the latency
 * of every request that should have started during it (no coordinated omission).
 *
 * <p>Threads: the caller of {@link #run} is the reporting thread (interval snapshots, path
 * counters, {@link IntervalSink}s); completions run on the device's threads and record into
 * HdrHistogram {@link Recorder}s (wait-free for writers); the open-loop scheduler
 * ({@code bench-scheduler}) and the closed loop's first issue ({@code bench-start}) are agents on
 * {@link AgentRunner}s, so an exception there fails the run with a message instead of ending a
 * thread silently. Free slots go back to the scheduler through a lock-free MPSC queue, and a
 * completion wakes it when it waits for one. Each queue slot owns a preallocated buffer, its {@link Workload.Stream} and its
 * {@link VerifyPattern}, and is driven by one thread at a time, so a request allocates nothing
 * on the benchmark's side.
 */
public final class BenchRunner
{
    /** Latencies above an hour are clamped (a request that slow has long failed anyway). */
    static final long HIGHEST_TRACKABLE_NANOS = TimeUnit.HOURS.toNanos(1);
    private static final int SIGNIFICANT_DIGITS = 3;
    private static final long INTERVAL_NANOS = TimeUnit.SECONDS.toNanos(1);
    /** Generation table only up to this many blocks (8 bytes each); above, verify checks CRC and offset only. */
    private static final long MAX_TRACKED_BLOCKS = 1 << 23;
    private static final int MAX_VERIFY_MESSAGES = 10;

    private final BlockDevice device;
    private final BenchConfig config;
    private final Supplier<List<PathStats>> pathSource;
    private final List<IntervalSink> sinks = new ArrayList<>();
    private long drainTimeoutNanos = TimeUnit.SECONDS.toNanos(70);

    /** Requests that started (closed loop) or were due (open loop) in the measured window. */
    private final Recorder readRecorder = new Recorder(HIGHEST_TRACKABLE_NANOS, SIGNIFICANT_DIGITS);
    private final Recorder writeRecorder = new Recorder(HIGHEST_TRACKABLE_NANOS, SIGNIFICANT_DIGITS);
    /** Open loop: issue → completion of the measured requests, without the wait for a free slot. */
    private final Recorder serviceRecorder = new Recorder(HIGHEST_TRACKABLE_NANOS, SIGNIFICANT_DIGITS);
    /** Requests that started during the warm-up, wherever they complete: progress lines only. */
    private final Recorder warmReadRecorder = new Recorder(HIGHEST_TRACKABLE_NANOS, SIGNIFICANT_DIGITS);
    private final Recorder warmWriteRecorder = new Recorder(HIGHEST_TRACKABLE_NANOS, SIGNIFICANT_DIGITS);
    /** The measured window [measureStart, end) on the nanoTime clock; set before the first request. */
    private long measureStart;
    private long end;
    /** Open loop: requests due before the end that the scheduler gave up issuing (the target fell too far behind). */
    private volatile long unissued;
    /** Open loop: the reporting thread stopped waiting for the scheduler to issue the backlog. */
    private volatile boolean abandoned;
    private final AtomicInteger inFlight = new AtomicInteger();
    private final AtomicLong generation = new AtomicLong();
    private final AtomicLong errors = new AtomicLong();
    private final AtomicReference<String> firstError = new AtomicReference<>();
    private final AtomicLong verifiedSectors = new AtomicLong();
    private final AtomicLong unwrittenSectors = new AtomicLong();
    private final AtomicLong badSectors = new AtomicLong();
    private final AtomicLong badBlocks = new AtomicLong();
    private final ConcurrentLinkedQueue<String> verifyMessages = new ConcurrentLinkedQueue<>();
    /** Offsets of the blocks found bad, each reported once (touched on failures only). */
    private final java.util.Set<Long> badBlockOffsets = java.util.concurrent.ConcurrentHashMap.newKeySet();
    private volatile boolean stopping;
    private long[] generations;
    private MpscArrayQueue<Slot> freeSlots;
    private Wakeup schedulerWakeup;

    public BenchRunner(final BlockDevice device, final BenchConfig config)
    {
        this(device, config, pathsOf(device));
    }

    private static Supplier<List<PathStats>> pathsOf(final BlockDevice device)
    {
        if (device instanceof AoeDevice aoe)
        {
            return aoe::pathStats;
        }
        return List::of;
    }

    /** @param pathSource per-path counters to sample every interval (an empty list if there are none) */
    public BenchRunner(final BlockDevice device, final BenchConfig config, final Supplier<List<PathStats>> pathSource)
    {
        this.device = Objects.requireNonNull(device, "device");
        this.config = Objects.requireNonNull(config, "config");
        this.pathSource = Objects.requireNonNull(pathSource, "pathSource");
    }

    public BenchRunner sink(final IntervalSink sink)
    {
        sinks.add(sink);
        return this;
    }

    /** How long to wait at the end for requests still in flight before counting them as incomplete. */
    public BenchRunner drainTimeout(final long nanos)
    {
        drainTimeoutNanos = nanos;
        return this;
    }

    /**
     * Ends the run early (any thread, e.g. a Ctrl-C hook): no new requests, the ones in flight
     * complete, and {@link #run} returns the result of the time measured so far.
     */
    public void stop()
    {
        stopping = true;
    }

    /** Runs warm-up and measurement; returns when every request has completed (or the drain timeout passed). */
    public BenchResult run() throws InterruptedException
    {
        final int bs = config.blockSize();
        if (bs % device.blockSize() != 0)
        {
            throw new IllegalArgumentException("--bs " + bs + " is not a multiple of the device's block size " + device.blockSize());
        }
        if (config.mode().writes() && device.isReadOnly())
        {
            throw new IllegalArgumentException(device.name() + " is read-only; --rw " + config.mode().label() + " writes");
        }
        final long regionLength = config.regionLength(device.size());
        final Workload workload = new Workload(config, config.regionOffset(), regionLength, config.verify());
        if (config.verify() && workload.blocks() <= MAX_TRACKED_BLOCKS)
        {
            generations = new long[(int)workload.blocks()];
        }
        final int qd = config.queueDepth();
        final ByteBuffer all = ByteBuffer.allocateDirect(Math.multiplyExact(qd, bs));
        final Slot[] slots = new Slot[qd];
        final java.util.SplittableRandom filler = new java.util.SplittableRandom(config.seed());
        for (int i = 0; i < qd; i++)
        {
            final ByteBuffer b = all.slice(i * bs, bs);
            for (int j = 0; j < bs; j += 8)
            {
                b.putLong(j, filler.nextLong());
            }
            slots[i] = new Slot(b, workload.stream(i));
        }

        final long t0 = System.nanoTime();
        measureStart = t0 + config.warmup().toNanos();
        end = measureStart + config.duration().toNanos();
        final AgentRunner scheduler;
        if (config.openLoop())
        {
            freeSlots = new MpscArrayQueue<>(Math.max(2, qd));
            for (final Slot s : slots)
            {
                freeSlots.offer(s);
            }
            final OpenLoopScheduler agent = new OpenLoopScheduler(t0, end);
            schedulerWakeup = agent.wakeup;
            scheduler = new AgentRunner(agent, BackoffIdleStrategy.parkAtOnce(10, TimeUnit.MILLISECONDS, agent.wakeup),
                e -> fail("the open-loop scheduler failed: " + e));
        }
        else
        {
            // Issued from a thread of its own: a device that completes inline (MemoryBlockDevice by
            // default) keeps the issuing thread busy in slot 0's loop until the run stops.
            inFlight.addAndGet(qd);
            scheduler = new AgentRunner(new ClosedLoopStart(slots), NoOpIdleStrategy.INSTANCE,
                e -> fail("issuing the first requests failed: " + e));
        }
        scheduler.start();

        final List<IntervalStats> intervals = new ArrayList<>();
        final Histogram readTotal = new Histogram(HIGHEST_TRACKABLE_NANOS, SIGNIFICANT_DIGITS);
        final Histogram writeTotal = new Histogram(HIGHEST_TRACKABLE_NANOS, SIGNIFICANT_DIGITS);
        final Histogram phase = new Histogram(HIGHEST_TRACKABLE_NANOS, SIGNIFICANT_DIGITS);
        Histogram readInterval = null;
        Histogram writeInterval = null;
        Map<String, PathStats> pathsBefore = sample();
        Map<String, PathStats> pathsAtMeasureStart = config.warmup().isZero() ? pathsBefore : null;
        boolean measuring = config.warmup().isZero();
        long intervalStart = t0;
        long stopAt = measureStart;
        long incomplete = 0;
        while (true)
        {
            final long boundary = measuring ? end : measureStart;
            final long next = Math.min(intervalStart + INTERVAL_NANOS, boundary);
            sleepUntil(next);
            final boolean last = measuring && (next >= end || stopping) || stopping;
            long intervalEnd = Math.min(System.nanoTime(), next);
            if (last)
            {
                stopAt = Math.min(System.nanoTime(), end);
                if (config.openLoop() && !stopping)
                {
                    // every request due before the end is issued, even late: its clock is running
                    final long giveUp = System.nanoTime() + drainTimeoutNanos;
                    while (!scheduler.hasEnded() && System.nanoTime() - giveUp < 0)
                    {
                        LockSupport.parkNanos(TimeUnit.MILLISECONDS.toNanos(1));
                    }
                    abandoned = !scheduler.hasEnded();
                }
                stopping = true;
                scheduler.close();
                incomplete = drain();
                intervalEnd = System.nanoTime();
            }
            readInterval = (measuring ? readRecorder : warmReadRecorder).getIntervalHistogram(readInterval);
            writeInterval = (measuring ? writeRecorder : warmWriteRecorder).getIntervalHistogram(writeInterval);
            readInterval.setTag("read");
            writeInterval.setTag("write");
            final Map<String, PathStats> pathsNow = sample();
            final IntervalStats stats = intervalStats(intervalStart, intervalEnd, measureStart, !measuring, readInterval, writeInterval,
                pathsBefore, pathsNow, phase);
            if (measuring)
            {
                readTotal.add(readInterval);
                writeTotal.add(writeInterval);
                intervals.add(stats);
            }
            for (final IntervalSink sink : sinks)
            {
                sink.interval(stats, readInterval, writeInterval, phase);
            }
            pathsBefore = pathsNow;
            intervalStart = intervalEnd;
            if (last)
            {
                break;
            }
            if (!measuring && next >= measureStart)
            {
                measuring = true;
                phase.reset();
                pathsAtMeasureStart = pathsNow;
                readInterval = null;
                writeInterval = null;
            }
        }
        final Histogram service = serviceRecorder.getIntervalHistogram();
        final Histogram allTotal = new Histogram(HIGHEST_TRACKABLE_NANOS, SIGNIFICANT_DIGITS);
        allTotal.add(readTotal);
        allTotal.add(writeTotal);
        final List<PathSample> pathTotals = pathsAtMeasureStart == null ? List.of() : deltas(pathsAtMeasureStart, pathsBefore);
        return new BenchResult(config, device.name(), device.size(), config.regionOffset(), regionLength,
            Math.max(0, stopAt - measureStart), Math.max(0, intervalStart - Math.max(stopAt, measureStart)), readTotal, writeTotal,
            allTotal, service, errors.get(), firstError.get(), incomplete, unissued,
            verifiedSectors.get(), unwrittenSectors.get(), badSectors.get(), badBlocks.get(), badBlockOffsets.size(), List.copyOf(verifyMessages),
            intervals,
            pathTotals);
    }

    private IntervalStats intervalStats(final long start, final long end, final long measureStart, final boolean warmup,
        final Histogram reads, final Histogram writes, final Map<String, PathStats> before, final Map<String, PathStats> now,
        final Histogram phase)
    {
        final Histogram both = reads.copy();
        both.add(writes);
        phase.add(both);
        final long n = both.getTotalCount();
        return new IntervalStats((start - measureStart) / 1e9, (end - measureStart) / 1e9, warmup, reads.getTotalCount(),
            writes.getTotalCount(), n * config.blockSize(), n == 0 ? 0 : both.getValueAtPercentile(50),
            n == 0 ? 0 : both.getValueAtPercentile(99), n == 0 ? 0 : both.getMaxValue(), deltas(before, now));
    }

    private Map<String, PathStats> sample()
    {
        final Map<String, PathStats> m = new HashMap<>();
        for (final PathStats p : pathSource.get())
        {
            m.put(p.localInterface() + ">" + p.remoteMac(), p);
        }
        return m;
    }

    private static List<PathSample> deltas(final Map<String, PathStats> before, final Map<String, PathStats> now)
    {
        final List<PathSample> out = new ArrayList<>();
        for (final PathStats p : now.values())
        {
            final PathStats b = before.get(p.localInterface() + ">" + p.remoteMac());
            out.add(new PathSample(p.localInterface(), p.remoteMac(), String.valueOf(p.state()), p.srttMicros(), p.rtoMicros(),
                p.framesSent() - (b == null ? 0 : b.framesSent()), p.framesReceived() - (b == null ? 0 : b.framesReceived()),
                p.retransmits() - (b == null ? 0 : b.retransmits()), p.timeouts() - (b == null ? 0 : b.timeouts())));
        }
        out.sort((x, y) -> (x.name() + x.remoteMac()).compareTo(y.name() + y.remoteMac()));
        return out;
    }

    /** Sleeps until {@code deadline}, waking early when the run is stopping. */
    private void sleepUntil(final long deadline)
    {
        long left;
        while (!stopping && (left = deadline - System.nanoTime()) > 0)
        {
            LockSupport.parkNanos(Math.min(left, TimeUnit.MILLISECONDS.toNanos(10)));
        }
    }

    /** Waits for the requests in flight; returns how many never completed. */
    private long drain()
    {
        final long giveUp = System.nanoTime() + drainTimeoutNanos;
        while (inFlight.get() > 0 && System.nanoTime() < giveUp)
        {
            LockSupport.parkNanos(TimeUnit.MILLISECONDS.toNanos(1));
        }
        return inFlight.get();
    }

    /**
     * Open loop: request i is due at t0 + i / rate; it waits for a free slot with its clock
     * running. Issues every request that is due and has a slot, then parks until the next one is
     * due or a completion frees a slot. Agent thread "bench-scheduler" only.
     */
    private final class OpenLoopScheduler implements Agent
    {
        private static final int MAX_ISSUES_PER_CYCLE = 256;
        final Wakeup wakeup;
        private final long t0;
        private final long end;
        private final double nanosPerRequest;
        private long next;
        private long nextDue;

        OpenLoopScheduler(final long t0, final long end)
        {
            this.t0 = t0;
            this.end = end;
            this.nanosPerRequest = 1e9 / config.rateIops();
            this.nextDue = t0;
            this.wakeup = new Wakeup(() -> stopping || !freeSlots.isEmpty() && System.nanoTime() - nextDue >= 0);
        }

        @Override
        public String roleName()
        {
            return "bench-scheduler";
        }

        @Override
        public int doWork()
        {
            int issued = 0;
            while (issued < MAX_ISSUES_PER_CYCLE)
            {
                if (stopping)
                {
                    throw new AgentTerminationException("the run is stopping");
                }
                nextDue = t0 + (long)(next * nanosPerRequest);
                if (nextDue - end >= 0)
                {
                    throw new AgentTerminationException("every request due before the end was issued");
                }
                final long left = nextDue - System.nanoTime();
                if (left > 0)
                {
                    wakeup.limitNextPark(left);
                    break;
                }
                final Slot slot = freeSlots.poll();
                if (slot == null)
                {
                    break;  // every slot is busy: the next completion wakes us
                }
                inFlight.incrementAndGet();
                slot.issue(nextDue);
                next++;
                issued++;
            }
            return issued;
        }

        @Override
        public void onClose()
        {
            if (abandoned)
            {
                // indices j >= next that were due before the end: t0 + j / rate < end
                final long due = (long)Math.ceil((end - t0) / nanosPerRequest);
                unissued = Math.max(0, due - next);
            }
        }
    }

    /** Closed loop: issues each slot's first request, then ends. Agent thread "bench-start". */
    private static final class ClosedLoopStart implements Agent
    {
        private final Slot[] slots;

        ClosedLoopStart(final Slot[] slots)
        {
            this.slots = slots;
        }

        @Override
        public String roleName()
        {
            return "bench-start";
        }

        @Override
        public int doWork()
        {
            for (final Slot s : slots)
            {
                s.reissue();
            }
            throw new AgentTerminationException("the first request of every slot was issued");
        }
    }

    private void fail(final String message)
    {
        errors.incrementAndGet();
        firstError.compareAndSet(null, message);
        stopping = true;
    }

    /** One request in flight at most; its buffer, generator and checker. */
    private final class Slot implements IoCallback
    {
        private final ByteBuffer buffer;
        private final Workload.Stream stream;
        private final VerifyPattern pattern;
        private long startNanos;
        private long issuedNanos;
        private boolean read;
        private long offset;
        private long block;
        private long writtenGeneration;
        private final AtomicInteger wip = new AtomicInteger();

        Slot(final ByteBuffer buffer, final Workload.Stream stream)
        {
            this.buffer = buffer;
            this.stream = stream;
            this.pattern = config.verify() ? new VerifyPattern() : null;
        }

        void issue(final long start)
        {
            stream.next();
            read = stream.isRead();
            offset = stream.offset();
            block = stream.block();
            if (!read && pattern != null)
            {
                writtenGeneration = generation.incrementAndGet();
                pattern.fill(buffer, config.blockSize(), offset, writtenGeneration);
            }
            startNanos = start;
            issuedNanos = config.openLoop() ? System.nanoTime() : start;
            if (read)
            {
                device.read(offset, buffer, this);
            }
            else
            {
                device.write(offset, buffer, this);
            }
        }

        /**
         * Closed loop: issues this slot's next request, from whichever thread completed the last one.
         * A device may complete a request inline, inside {@code read()}; the work-in-progress count
         * turns that recursion into a loop (the thread already issuing issues again).
         */
        void reissue()
        {
            if (wip.getAndIncrement() != 0)
            {
                return;
            }
            do
            {
                if (stopping || System.nanoTime() >= end)
                {
                    inFlight.decrementAndGet();
                }
                else
                {
                    issue(System.nanoTime());
                }
            }
            while (wip.decrementAndGet() != 0);
        }

        @Override
        public void complete(final IoError error)
        {
            final long now = System.nanoTime();
            if (error != null)
            {
                fail((read ? "read" : "write") + " of " + config.blockSize() + " bytes at " + offset + " failed: " + error);
            }
            else
            {
                final long latency = Math.min(Math.max(0, now - startNanos), HIGHEST_TRACKABLE_NANOS);
                if (startNanos >= measureStart && startNanos < end)
                {
                    (read ? readRecorder : writeRecorder).recordValue(latency);
                    if (config.openLoop())
                    {
                        serviceRecorder.recordValue(Math.min(Math.max(0, now - issuedNanos), HIGHEST_TRACKABLE_NANOS));
                    }
                }
                else if (startNanos < measureStart)
                {
                    (read ? warmReadRecorder : warmWriteRecorder).recordValue(latency);
                }
                // else: started after the end (the reporting thread woke late); not counted
                if (pattern != null)
                {
                    verify();
                }
            }
            if (config.openLoop())
            {
                freeSlots.offer(this);
                inFlight.decrementAndGet();
                schedulerWakeup.wake();
            }
            else if (error != null || stopping)
            {
                inFlight.decrementAndGet();
            }
            else
            {
                reissue();
            }
        }

        private void verify()
        {
            final long[] table = generations;
            final int index = (int)(block % Integer.MAX_VALUE);
            if (!read)
            {
                if (table != null)
                {
                    table[index] = writtenGeneration;
                }
                return;
            }
            final long expected = table == null ? 0 : table[index];
            final int bad = pattern.check(buffer, config.blockSize(), offset, expected);
            verifiedSectors.addAndGet(config.blockSize() / VerifyPattern.SECTOR);
            if (pattern.unwritten() > 0)
            {
                unwrittenSectors.addAndGet(pattern.unwritten());
            }
            if (bad > 0)
            {
                badSectors.addAndGet(bad);
                badBlocks.incrementAndGet();
                if (badBlockOffsets.add(offset) && badBlockOffsets.size() <= MAX_VERIFY_MESSAGES)
                {
                    verifyMessages.add("verify: block at " + offset + ": " + bad + " bad sector(s); first: " + pattern.describe(expected));
                }
            }
        }
    }
}
