package org.aoemp.initiator;

import java.util.ArrayDeque;
import java.util.concurrent.ConcurrentLinkedQueue;

import org.aoemp.agent.Agent;
import org.aoemp.agent.ErrorHandler;
import org.aoemp.agent.Wakeup;
import org.aoemp.block.IoError;
import org.aoemp.protocol.MacAddress;
import org.jctools.queues.atomic.MpscAtomicArrayQueue;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * The engine of one device, an {@link Agent} on its own thread {@code aoe-eX.Y}: it owns every
 * slot, path and request of the device. Each duty cycle it
 * <ol>
 * <li>applies control changes (paths added by discovery),</li>
 * <li>processes the replies the receive threads completed ({@link CompletionProcessor}),</li>
 * <li>once per tick, takes back commands past their deadline ({@link RetransmitTimer}), probes
 *     DOWN paths ({@link PathProber}) and declares the device dead after dead-after,</li>
 * <li>issues retransmissions and new commands ({@link CommandIssuer}),</li>
 * <li>and flushes the paths' send queues: sends the frames itself when the port's transport
 *     never waits (AF_PACKET), else wakes the port's {@link PortSender}, once per round.</li>
 * </ol>
 * With nothing to do it lets its idle strategy back off ({@link IdleStrategies#engine}), bounding
 * the park by the next command deadline; a request, a reply or a refused frame wakes it.
 *
 * <p>Errors: when a duty cycle throws, the runner hands the error to {@link #onError}, which has
 * the {@link RequestFailer} fail every request the engine holds (in flight, waiting for
 * retransmission, fenced, being split, queued) with EIO and rebuild the slot pool and the paths'
 * in-flight counts, records the error and lets the engine go on. At the {@value EngineErrorBudget#MAX_ERRORS}th error within
 * {@value EngineErrorBudget#WINDOW_SECONDS} s ({@link EngineErrorBudget}) the device gives up:
 * every request fails with EIO at once from then on, until it is closed.
 *
 * <p>Threading: {@link #submit}, {@link #addPath}, {@link #runOnEngine}, {@link #wake} and the
 * monitoring accessors from any thread; {@link #doWork}, {@link #onError}, {@link #onStart} and
 * {@link #onClose} on the engine thread (or, for {@code onClose} of a runner never started, the
 * closing thread); {@link #failLateSubmissions} on the closing thread once the engine has ended.
 */
final class DeviceEngine implements Agent, ErrorHandler
{
    private static final Logger LOG = LoggerFactory.getLogger(DeviceEngine.class);
    static final int SUBMIT_QUEUE_CAPACITY = 1 << 16;
    /** Smallest frame buffer of a send queue: room for any command without data at any MTU. */
    private static final int MIN_FRAME_BUFFER = 1024;

    private final TargetAddress address;
    private final DeviceOptions options;
    private final DeviceCounters counters;
    private final SlotTable slots;
    private final PathList paths = new PathList();
    private final MpscAtomicArrayQueue<IoRequest> submitted = new MpscAtomicArrayQueue<>(SUBMIT_QUEUE_CAPACITY);
    private final MpscAtomicArrayQueue<Slot> completed;
    private final ConcurrentLinkedQueue<Runnable> control = new ConcurrentLinkedQueue<>();
    /** Commands taken back, to be sent again (timer, evacuation, FLUSH fallback); their slots are busy and HELD. */
    private final ArrayDeque<Slot> retry;
    private final WriteFences fences;
    private final AtaCommandSet commands = new AtaCommandSet();
    private final RetransmitTimer timer;
    private final CompletionProcessor completions;
    private final CommandIssuer issuer;
    private final PathProber prober;
    private final RequestFailer failer;
    private final ReplyReceiver replies;
    private final Wakeup wakeup;
    private final EngineErrorBudget errorBudget = new EngineErrorBudget();
    private volatile boolean givenUp;

    DeviceEngine(final TargetAddress address, final DeviceOptions options, final DeviceCounters counters)
    {
        this.address = address;
        this.options = options;
        this.counters = counters;
        this.slots = new SlotTable(options.slots());
        this.completed = new MpscAtomicArrayQueue<>(Math.max(2, options.slots()));
        this.retry = new ArrayDeque<>(options.slots());
        this.fences = new WriteFences(options.fenceTimeout().toNanos());
        this.wakeup = new Wakeup(this::hasPendingWork);
        this.timer = new RetransmitTimer(address, options, slots, paths, retry, fences);
        final Transmitter transmitter = new Transmitter(address, timer);
        this.completions = new CompletionProcessor(address, completed, slots, retry, commands, timer, counters);
        this.issuer = new CommandIssuer(options, submitted, slots, paths, retry, fences, commands, transmitter, completions, timer);
        this.prober = new PathProber(paths, slots, transmitter, commands);
        this.failer = new RequestFailer(slots, paths, retry, completions, issuer, timer);
        this.replies = new ReplyReceiver(slots, completed, wakeup, counters);
    }

    // ---------------------------------------------------------------------------------------
    // Any thread

    @Override
    public String roleName()
    {
        return "aoe-" + address;
    }

    /** Queues a request for the engine and wakes it; false when the submit queue is full. */
    boolean submit(final IoRequest request)
    {
        if (!submitted.offer(request))
        {
            return false;
        }
        wakeup.wake();
        return true;
    }

    /** Requests in the submit queue, not yet taken by the engine (monitoring). */
    int queuedRequests()
    {
        return submitted.size();
    }

    /** Makes a parked engine look at its queues now; cheap when it is awake. */
    void wake()
    {
        wakeup.wake();
    }

    /** Runs {@code change} on the engine thread at the start of its next duty cycle. */
    void runOnEngine(final Runnable change)
    {
        control.add(change);
        wakeup.wake();
    }

    /** Adds the path over {@code port} to {@code remoteMac}, or updates the target's limits if it exists. */
    void addPath(final Port port, final long remoteMac, final int bufferCount, final int targetSectors)
    {
        runOnEngine(() ->
        {
            final Path existing = paths.find(port, remoteMac);
            if (existing != null)
            {
                if (existing.bufferCount() != Math.max(1, bufferCount) || existing.targetSectors() != targetSectors)
                {
                    existing.updateTarget(bufferCount, targetSectors);
                    LOG.info("{}: path {} -> {} changed: buffers {}, {} sectors per frame", address, port.name(),
                        new MacAddress(remoteMac), existing.bufferCount(), existing.maxSectors());
                }
                return;
            }
            final RttEstimator rtt = new RttEstimator(options.initialRto().toNanos(), options.rtoFloor().toNanos(),
                options.rtoCeiling().toNanos());
            final Path path = new Path(address.toString(), paths.size(), port, remoteMac, bufferCount, targetSectors, rtt);
            final SendQueue queue = new SendQueue(path, sendQueueFrames(bufferCount), Math.max(MIN_FRAME_BUFFER, port.mtu() + 14),
                wakeup::wake);
            path.sendQueue(queue);
            try
            {
                port.sender().register(queue);
            }
            catch (final IllegalStateException closing)
            {
                return;  // the initiator is closing its ports
            }
            path.probeSoon(System.nanoTime());  // measure its RTT now, not when a failover needs it
            paths.add(path);
            LOG.info("{}: path {} -> {} found: buffers {}, {} sectors per frame (MTU {})", address, port.name(),
                new MacAddress(remoteMac), path.bufferCount(), path.maxSectors(), port.mtu());
        });
    }

    /**
     * Takes every path to {@code remoteMac} out of service (another disk answers from it now), or
     * puts them back ({@code excluded} false: probed at once, UP on the answer).
     */
    void excludeMac(final long remoteMac, final boolean excluded)
    {
        runOnEngine(() ->
        {
            final long now = System.nanoTime();
            for (final Path p : paths.all())
            {
                if (p.remoteMac() == remoteMac)
                {
                    if (excluded)
                    {
                        timer.exclude(p, now);
                    }
                    else if (p.isExcluded())
                    {
                        p.readmit(now, RetransmitTimer.FIRST_PROBE_NANOS);
                    }
                }
            }
        });
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

    /** The retransmit timer (tests: shorter retransmit-storm intervals). */
    RetransmitTimer timer()
    {
        return timer;
    }

    /** How often the engine parked since start (tests: how often a device at rest wakes). Any thread, racy. */
    long parks()
    {
        return wakeup.parks();
    }

    /** The wake-up the engine's idle strategy parks with. */
    Wakeup wakeupForIdle()
    {
        return wakeup;
    }

    ReplyReceiver replies()
    {
        return replies;
    }

    PathList paths()
    {
        return paths;
    }

    WriteFences fences()
    {
        return fences;
    }

    AtaCommandSet commands()
    {
        return commands;
    }

    int sectorsPerCommand()
    {
        return PathScheduler.sectorsPerCommand(paths.all(), options.maxSectors());
    }

    boolean isDead()
    {
        return timer.isDead();
    }

    IoError deadError()
    {
        return timer.deadError();
    }

    /** The device gave up after repeated engine errors: every request fails at once. */
    boolean hasGivenUp()
    {
        return givenUp;
    }

    IoError givenUpError()
    {
        return new IoError(IoError.EIO, address + " gave up after " + EngineErrorBudget.MAX_ERRORS + " engine errors within "
            + EngineErrorBudget.WINDOW_SECONDS + " s (last: " + counters.lastEngineError() + "); close and reopen it");
    }

    // ---------------------------------------------------------------------------------------
    // Engine thread

    @Override
    public void onStart()
    {
        timer.start(System.nanoTime());
    }

    @Override
    public int doWork()
    {
        if (givenUp)
        {
            return failWhileGivenUp();
        }
        int work = runControl();
        work += completions.drain();
        final long now = System.nanoTime();
        if (timer.tickDue(now))
        {
            final boolean queued = issuer.hasWaiting();
            work += timer.scan(now);
            work += prober.probe(now, queued || timer.commandsInFlight());
            if (timer.checkDeadAfter(now, queued))
            {
                LOG.error("{}: DEAD: no path answered for {} while requests waited (dead-after); paths: {}; requests fail with EIO "
                    + "until a path answers again", address, PathEventLog.seconds(options.deadAfter().toNanos()), describePaths());
                failer.failOnDeadAfter(timer.deadError());
                work++;
            }
            for (final Path p : paths.all())
            {
                work += p.onSpuriousTimeouts(now) ? 1 : 0;
                p.flushLog(now);
            }
        }
        work += issuer.issue(now);
        if (work > 0)
        {
            flushSendQueues();
        }
        else
        {
            wakeup.limitNextPark(parkLimit(now));
        }
        return work;
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

    /** Every path and its state, for a log line. */
    private String describePaths()
    {
        final StringBuilder b = new StringBuilder();
        for (final Path p : paths.all())
        {
            b.append(b.isEmpty() ? "" : ", ").append(p.label()).append(' ').append(p.state());
        }
        return b.isEmpty() ? "none" : b.toString();
    }

    /** Sends (or hands to the senders) what this round queued: one flush per path, not per frame. */
    private void flushSendQueues()
    {
        for (final Path p : paths.all())
        {
            p.sendQueue().flush();
        }
    }

    /**
     * How long an engine with nothing to do may park: with commands in flight until the next
     * deadline (a tick while writes are fenced), at most {@link IdleStrategies#ENGINE_MAX_PARK_NANOS};
     * at rest until the next path probe, at most {@link IdleStrategies#ENGINE_IDLE_PARK_NANOS}.
     */
    /**
     * Whether the engine must not park: a completion or a control task waits, or a submitted
     * request can make progress: be issued, or be failed at once because the device is dead or
     * has given up. With every window full (a deep queue of large requests) submissions wait for
     * a completion, which wakes the engine; staying awake for them spun a core.
     */
    private boolean hasPendingWork()
    {
        return !completed.isEmpty() || !control.isEmpty()
            || !submitted.isEmpty() && (givenUp || timer.isDead() || issuer.canTakeNew());
    }

    private long parkLimit(final long now)
    {
        if (slots.busy() == 0 && !issuer.hasStarted())
        {
            // at least the busy bound: a probe that is due but could not go out (no IDENTIFY yet) must not make it spin
            return Math.max(IdleStrategies.ENGINE_MAX_PARK_NANOS,
                Math.min(paths.nextProbeAt(now + IdleStrategies.ENGINE_IDLE_PARK_NANOS) - now, IdleStrategies.ENGINE_IDLE_PARK_NANOS));
        }
        long limit = Math.min(timer.nextDeadline() - now, IdleStrategies.ENGINE_MAX_PARK_NANOS);
        if (issuer.hasFenced())
        {
            limit = Math.min(limit, RetransmitTimer.TICK_NANOS);
        }
        return limit;
    }

    /** After giving up: fail what was queued meanwhile, let replies still coming free their slots. */
    private int failWhileGivenUp()
    {
        control.clear();
        int n = completions.drain();
        if (issuer.hasWaiting())
        {
            n += issuer.failQueuedNow(givenUpError());
        }
        if (n == 0)
        {
            wakeup.limitNextPark(IdleStrategies.ENGINE_MAX_PARK_NANOS);
        }
        return n;
    }

    /**
     * A duty cycle threw: fail every request the engine holds with EIO, make its state
     * consistent again, record the error, and give up if errors keep coming.
     */
    @Override
    public void onError(final Throwable error)
    {
        final long n = counters.engineError(error);
        final int failed = failer.failAndReset(new IoError(IoError.EIO, address + ": engine error (" + error
            + "); every request in progress was failed"));
        if (givenUp)
        {
            return;  // logged when it gave up; the runner counts and logs the rest
        }
        if (errorBudget.exhaustedBy(System.nanoTime()))
        {
            givenUp = true;
            LOG.error("{}: engine error {} ({}): failed {} requests with EIO; {} errors within {} s, so the device gives up: "
                + "every request fails with EIO until it is closed", address, n, error, failed, EngineErrorBudget.MAX_ERRORS,
                EngineErrorBudget.WINDOW_SECONDS);
            issuer.failQueuedNow(givenUpError());
        }
        else
        {
            LOG.error("{}: engine error {} ({}): failed {} requests with EIO and reset the engine", address, n, error, failed);
        }
    }

    /** The device is closing: fail everything with ESHUTDOWN and detach from the ports. */
    @Override
    public void onClose()
    {
        for (final Path p : paths.all())
        {
            p.port().sender().unregister(p.sendQueue());
        }
        failer.failOnClose(new IoError(IoError.ESHUTDOWN, address + " was closed"));
    }

    /** Closing thread, after the engine ended: fails requests submitted after its last look (a close racing a submit). */
    void failLateSubmissions()
    {
        issuer.failQueued(new IoError(IoError.ESHUTDOWN, address + " was closed"), false);
    }
}
