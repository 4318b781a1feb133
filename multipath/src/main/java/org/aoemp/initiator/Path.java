package org.aoemp.initiator;

import java.lang.invoke.MethodHandles;
import java.lang.invoke.VarHandle;
import java.util.concurrent.TimeUnit;

import org.aoemp.protocol.MacAddress;

/**
 * A path to a target: one local {@link Port} and one remote target MAC. Holds what the
 * scheduler needs to decide where the next command goes: state, congestion window, commands in
 * flight, and the RTT estimate.
 *
 * <p>The window: slow start from half the target's buffer count, +1 per reply below ssthresh,
 * +1 per full window above it; on a timeout event ssthresh = window/2 and window = 1 (commands
 * that time out together are one event, see {@link #onTimeout(int, long, long, long)}); never above the
 * buffer count (the target's queue depth, from its config reply).
 *
 * <p>States: UP carries traffic; a timeout makes it SUSPECT (still carrying, window collapsed);
 * {@code downAfterTimeouts} consecutive timeouts, or the link going down, make it DOWN; a due
 * probe makes it PROBING, a lost probe DOWN again, and any reply UP (afresh: new RTT estimate,
 * slow start).
 *
 * <p>Idle probes ({@link PathProber}): a path that carries traffic but got no reply for
 * {@link PathProber#IDLE_PROBE_INTERVAL_MILLIS} ms (or never, as a path just found) is probed, so
 * its RTT is measured before the scheduler needs it and a standby path that stops answering goes
 * DOWN before a failover relies on it. A lost idle probe counts as a timeout in a row (SUSPECT,
 * then DOWN at {@code downAfterTimeouts}) but touches neither the window nor the RTO.
 *
 * <p>Spurious timeouts: a reply to a command that timed out, arriving after all, proves the
 * command was slow, not lost. A receive thread reports its round trip ({@link #onLateReply}); the
 * engine then raises the RTO floor ({@link RttEstimator#raiseFloor}), gives back half the
 * window the run of timeouts began with, and clears the run of timeouts, so a host or target that was
 * busy for longer than the RTO does not take a live path DOWN.
 *
 * <p>Threading: the device's engine thread alone writes every field and calls every method
 * that is not public, except {@link #onLateReply} (receive threads); monitoring threads read the
 * volatile fields through the public getters and {@link #stats}.
 */
public final class Path
{
    private static final VarHandle LATE_RTT;
    /** Log the raised floor of a path at most this often. */
    private static final long FLOOR_LOG_INTERVAL_NANOS = TimeUnit.MINUTES.toNanos(1);

    static
    {
        try
        {
            LATE_RTT = MethodHandles.lookup().findVarHandle(Path.class, "lateRttNanos", long.class);
        }
        catch (final ReflectiveOperationException e)
        {
            throw new ExceptionInInitializerError(e);
        }
    }

    private final int index;
    private final Port port;
    private final long remoteMac;
    private final RttEstimator rtt;
    /** Every reply's RTT, for monitoring (the estimator keeps only SRTT and RTTVAR). */
    private final RttHistogram rttHistogram = new RttHistogram();
    private volatile int bufferCount;
    private volatile int targetSectors;

    private volatile PathState state = PathState.UP;
    /** Another disk answers from the remote MAC now ({@link TargetIdentities}): DOWN, never probed or revived. */
    private volatile boolean excluded;
    private volatile int window;
    private int ssthresh;
    private int windowCredit;
    private volatile int inFlight;
    private int consecutiveTimeouts;
    /** When the last timeout event began (engine); commands sent before it that time out belong to it. */
    private long timeoutEventNanos;
    private boolean timeoutEventSeen;
    /** The window when the current run of timeouts began (a spurious timeout gives half of it back). */
    private int windowBeforeTimeouts = 1;
    /** When the last reply came ({@link System#nanoTime}); volatile for {@link #stats}. */
    private volatile long lastReplyNanos;
    /** When a refused frame last made the engine read the link state (engine thread). */
    private long lastLinkLookNanos = Long.MIN_VALUE / 2;
    /** When this path is probed next if nothing answers on it before (engine thread). */
    private long nextIdleProbeNanos;
    private volatile long idleProbesSent;
    private volatile long idleProbesLost;
    private long nextProbeNanos;
    private long probeIntervalNanos;
    /** The path's queue of frames to its port; set once by the engine right after construction. */
    private SendQueue sendQueue;
    /** Sectors one frame of the send queue holds. */
    private volatile int frameSectors = PathScheduler.MAX_SECTORS;

    // Monitoring counters: single writer (engine thread), volatile for readers.
    private volatile long framesSent;
    private volatile long bytesSent;
    private volatile long framesReceived;
    private volatile long bytesReceived;
    private volatile long retransmits;
    private volatile long timeouts;
    private volatile long maxSectorsSent;
    private volatile long stateChanges;
    private volatile long spuriousTimeouts;
    /** The longest round trip of a late reply to a timed-out command since the engine last looked; 0: none (receive threads). */
    @SuppressWarnings("unused") // accessed through LATE_RTT
    private volatile long lateRttNanos;
    private long floorLoggedNanos = Long.MIN_VALUE / 2;
    /** Retransmits as of the last retransmit-storm check (engine thread). */
    private long retransmitsMark;
    private final PathEventLog log;

    Path(final int index, final Port port, final long remoteMac, final int bufferCount, final int targetSectors, final RttEstimator rtt)
    {
        this("?", index, port, remoteMac, bufferCount, targetSectors, rtt);
    }

    /** @param device the device's name, for the log lines of this path's state changes */
    Path(final String device, final int index, final Port port, final long remoteMac, final int bufferCount, final int targetSectors,
        final RttEstimator rtt)
    {
        this.log = new PathEventLog(device, port, remoteMac);
        this.index = index;
        this.port = port;
        this.remoteMac = remoteMac;
        this.rtt = rtt;
        this.bufferCount = Math.max(1, bufferCount);
        this.targetSectors = targetSectors;
        resetWindow();
    }

    void resetWindow()
    {
        window = Math.max(1, bufferCount / 2);
        ssthresh = bufferCount;
        windowCredit = 0;
    }

    /**
     * Sectors per command on this path: the limit of the port's MTU now (it may be changed while
     * we run), of the target's advertised count (0 means 2), and of the send queue's frames (sized
     * by the MTU at the start).
     */
    public int maxSectors()
    {
        final int target = targetSectors == 0 ? 2 : targetSectors;
        return Math.min(Math.min(port.maxSectors(), target), frameSectors);
    }

    /** Whether a command of {@code sectors} fits one frame on this path now. */
    boolean carries(final int sectors)
    {
        return sectors <= maxSectors();
    }

    boolean hasRoom()
    {
        return state.carriesTraffic() && inFlight < window;
    }

    /** Expected time until a new command on this path is answered: (queue + 1) × SRTT. */
    long expectedCompletionNanos()
    {
        return (inFlight + 1L) * rtt.srttNanos();
    }

    void onSend(final int dataBytes, final int sectors, final boolean retransmit)
    {
        inFlight++;
        framesSent = framesSent + 1;
        bytesSent = bytesSent + dataBytes;
        if (retransmit)
        {
            retransmits = retransmits + 1;
        }
        if (sectors > maxSectorsSent)
        {
            maxSectorsSent = sectors;
        }
    }

    /** A command left this path without a reply (moved elsewhere or abandoned). */
    void onAbandon()
    {
        inFlight--;
    }

    /** A timely reply: grow the window and recover from SUSPECT. Returns true if the state changed. */
    boolean onReply(final long rttNanos, final int dataBytes, final long nowNanos)
    {
        inFlight--;
        lastReplyNanos = nowNanos;  // before framesReceived: a reader that sees a reply counted sees its time
        framesReceived = framesReceived + 1;
        bytesReceived = bytesReceived + dataBytes;
        // a reply postpones the next idle probe by the busy interval, never brings a later (at rest) one forward
        final long postponed = nowNanos + PathProber.IDLE_PROBE_INTERVAL_NANOS;
        if (postponed - nextIdleProbeNanos > 0)
        {
            nextIdleProbeNanos = postponed;
        }
        consecutiveTimeouts = 0;
        if (rttNanos >= 0)
        {
            rtt.sample(rttNanos);
            rttHistogram.record(rttNanos);
        }
        if (window < ssthresh)
        {
            window = Math.min(bufferCount, window + 1);
        }
        else if (++windowCredit >= window)
        {
            windowCredit = 0;
            window = Math.min(bufferCount, window + 1);
        }
        if (state != PathState.UP)
        {
            state(PathState.UP, PathEventLog.Reason.REPLY, nowNanos);
            return true;
        }
        return false;
    }

    /**
     * Receive thread: a reply to a command of this path that had timed out came after all,
     * {@code rttNanos} after that command was sent. The engine takes it at its next tick
     * ({@link #onSpuriousTimeouts}). Any thread; no allocation, no lock.
     */
    void onLateReply(final long rttNanos)
    {
        long seen;
        while (rttNanos > (seen = (long)LATE_RTT.getVolatile(this)))
        {
            if (LATE_RTT.compareAndSet(this, seen, rttNanos))
            {
                return;
            }
        }
    }

    /**
     * Engine, once per tick: takes what {@link #onLateReply} reported. A timeout that was
     * spurious raises the RTO floor, gives back half the window the run of timeouts began with
     * and clears the run (the path answers); and a floor raised long ago relaxes.
     *
     * @return whether a spurious timeout was taken
     */
    boolean onSpuriousTimeouts(final long nowNanos)
    {
        final long late = (long)LATE_RTT.getAndSet(this, 0L);
        if (late <= 0)
        {
            rtt.relax(nowNanos);
            return false;
        }
        spuriousTimeouts = spuriousTimeouts + 1;
        consecutiveTimeouts = 0;
        window = Math.min(bufferCount, Math.max(window, windowBeforeTimeouts / 2));
        ssthresh = Math.max(ssthresh, window);
        if (rtt.raiseFloor(late, nowNanos) && nowNanos - floorLoggedNanos >= FLOOR_LOG_INTERVAL_NANOS)
        {
            floorLoggedNanos = nowNanos;
            PathEventLog.LOG.info("{}: a reply came {} ms after its command was sent, after that command had timed out (the host or "
                + "the target was busy, the network did not lose it); the RTO floor of this path is now {} ms (it relaxes after {} s "
                + "without another)", log.name(), late / 1_000_000, rtt.floorNanos() / 1_000_000, RttEstimator.RELAX_SECONDS);
        }
        return true;
    }

    /** A command sent on this path just now timed out (tests: each call is a timeout event of its own). */
    boolean onTimeout(final int downAfterTimeouts, final long nowNanos, final long firstProbeNanos)
    {
        return onTimeout(downAfterTimeouts, nowNanos, firstProbeNanos, nowNanos);
    }

    /**
     * A command sent on this path at {@code sentNanos} timed out. Returns true if the path just
     * went DOWN.
     *
     * <p>Commands that were already in flight at the last timeout event belong to that event: a
     * burst sent together and late together (a stalled host, a target that paused) is one event,
     * as for TCP's retransmission timer, not one per command. Only the first timeout of an event
     * halves ssthresh, collapses the window, doubles the RTO and counts towards
     * {@code downAfterTimeouts}; so a path goes DOWN after that many timeouts of commands each sent
     * after the one before had timed out, never because a full window timed out in one scan.
     */
    boolean onTimeout(final int downAfterTimeouts, final long nowNanos, final long firstProbeNanos, final long sentNanos)
    {
        inFlight--;
        timeouts = timeouts + 1;
        if (timeoutEventSeen && sentNanos - timeoutEventNanos < 0)
        {
            return false;  // in flight when the current event began: part of it
        }
        timeoutEventSeen = true;
        timeoutEventNanos = nowNanos;
        if (consecutiveTimeouts++ == 0)
        {
            windowBeforeTimeouts = window;
        }
        ssthresh = Math.max(1, window / 2);
        window = 1;
        windowCredit = 0;
        rtt.backoff();
        if (state == PathState.UP)
        {
            state(PathState.SUSPECT, PathEventLog.Reason.TIMEOUT, nowNanos);
        }
        if (state.carriesTraffic() && consecutiveTimeouts >= downAfterTimeouts)
        {
            markDown(nowNanos, firstProbeNanos, PathEventLog.Reason.TIMEOUTS);
            return true;
        }
        return false;
    }

    /** At most once per {@link RetransmitTimer#TICK_NANOS}: whether a refused frame may make the engine read the link state now. */
    boolean linkLookDue(final long nowNanos)
    {
        if (nowNanos - lastLinkLookNanos < RetransmitTimer.TICK_NANOS)
        {
            return false;
        }
        lastLinkLookNanos = nowNanos;
        return true;
    }

    /** An idle probe is due: the path carries traffic and nothing answered on it for the idle interval (or ever). */
    boolean idleProbeDue(final long nowNanos)
    {
        return state.carriesTraffic() && nowNanos - nextIdleProbeNanos >= 0;
    }

    /** Probe this path at the next chance (it was just found: seed its RTT). */
    void probeSoon(final long nowNanos)
    {
        nextIdleProbeNanos = nowNanos;
    }

    /** An idle probe went out; the next is due {@code intervalNanos} later unless a reply comes first. */
    void onIdleProbeSent(final long nowNanos, final long intervalNanos)
    {
        idleProbesSent = idleProbesSent + 1;
        nextIdleProbeNanos = nowNanos + intervalNanos;
    }

    /** The next idle probe goes out by {@code deadlineNanos} at the latest (the device is busy again after a rest). */
    void idleProbeBy(final long deadlineNanos)
    {
        if (nextIdleProbeNanos - deadlineNanos > 0)
        {
            nextIdleProbeNanos = deadlineNanos;
        }
    }

    /**
     * An idle probe went unanswered: SUSPECT, and DOWN once {@code downAfterTimeouts} timeouts or
     * lost probes came in a row. The window and the RTO stay as they are: the probe says nothing
     * about load. Returns true if the path just went DOWN.
     */
    boolean onIdleProbeLost(final int downAfterTimeouts, final long nowNanos, final long firstProbeNanos)
    {
        inFlight--;
        idleProbesLost = idleProbesLost + 1;
        if (!state.carriesTraffic())
        {
            return false;  // already DOWN (its own probes take over)
        }
        consecutiveTimeouts++;
        if (state == PathState.UP)
        {
            state(PathState.SUSPECT, PathEventLog.Reason.IDLE_PROBE_LOST, nowNanos);
        }
        if (consecutiveTimeouts >= downAfterTimeouts)
        {
            markDown(nowNanos, firstProbeNanos, PathEventLog.Reason.IDLE_PROBES_LOST);
            return true;
        }
        return false;
    }

    /** The link went down. */
    void markDown(final long nowNanos, final long firstProbeNanos)
    {
        markDown(nowNanos, firstProbeNanos, PathEventLog.Reason.LINK_DOWN);
    }

    void markDown(final long nowNanos, final long firstProbeNanos, final PathEventLog.Reason reason)
    {
        state(PathState.DOWN, reason, nowNanos);
        probeIntervalNanos = firstProbeNanos;
        nextProbeNanos = nowNanos + firstProbeNanos;
    }

    /** A DOWN path whose probe is due. */
    boolean probeDue(final long nowNanos)
    {
        return state == PathState.DOWN && !excluded && nowNanos - nextProbeNanos >= 0;
    }

    /** Another disk answers from this path's MAC: DOWN for good, until {@link #readmit}. The caller evacuates it. */
    void exclude(final long nowNanos)
    {
        excluded = true;
        state(PathState.DOWN, PathEventLog.Reason.IDENTITY_CHANGED, nowNanos);
    }

    /** The device's own disk answers from this path's MAC again: DOWN with a probe due now, which brings it UP. */
    void readmit(final long nowNanos, final long firstProbeNanos)
    {
        excluded = false;
        probeIntervalNanos = firstProbeNanos;
        nextProbeNanos = nowNanos;
    }

    /** True while another disk than the device's answers from this path's MAC. */
    public boolean isExcluded()
    {
        return excluded;
    }

    /** The earlier of this path's next probe (a DOWN path's, or an idle probe of a path that carries traffic) and {@code other}. */
    long nextProbeAt(final long other)
    {
        final long next = state == PathState.DOWN ? nextProbeNanos : state.carriesTraffic() ? nextIdleProbeNanos : other;
        return next - other < 0 ? next : other;
    }

    void onProbeSent(final long nowNanos, final long maxProbeIntervalNanos)
    {
        state(PathState.PROBING, PathEventLog.Reason.PROBE_SENT, nowNanos);
        probeIntervalNanos = Math.min(maxProbeIntervalNanos, probeIntervalNanos * 2);
        nextProbeNanos = nowNanos + probeIntervalNanos;
    }

    /** The probe went unanswered: back to DOWN, probe again later. */
    void onProbeLost()
    {
        if (state == PathState.PROBING)
        {
            state(PathState.DOWN, PathEventLog.Reason.PROBE_LOST, System.nanoTime());
        }
    }

    /** A path that comes back starts afresh: new RTT estimate, slow start. */
    void revive()
    {
        revive(PathEventLog.Reason.PROBE_ANSWERED);
    }

    /** As {@link #revive()}, saying why (a probe's reply, or a late reply to a command sent before it went down). */
    void revive(final PathEventLog.Reason reason)
    {
        if (excluded)
        {
            return;
        }
        rtt.reset();
        resetWindow();
        consecutiveTimeouts = 0;
        state(PathState.UP, reason, System.nanoTime());
    }

    private void state(final PathState s, final PathEventLog.Reason reason, final long nowNanos)
    {
        final PathState from = state;
        if (from != s)
        {
            state = s;
            stateChanges = stateChanges + 1;
            log.changed(from, s, reason, consecutiveTimeouts, nowNanos);
        }
    }

    /** {@code eth1 -> 02:00:00:00:00:02}: this path in log lines. */
    String label()
    {
        return log.label();
    }

    /** Every timer tick: logs state changes the rate limit held back, when their time has come. */
    void flushLog(final long nowNanos)
    {
        log.flushHeld(state, nowNanos);
    }

    /** Retransmits since the last call (the retransmit-storm check, once per interval). */
    long takeRetransmits()
    {
        final long now = retransmits;
        final long since = now - retransmitsMark;
        retransmitsMark = now;
        return since;
    }

    /**
     * After an engine error: the engine recounted the commands in flight on this path from its
     * slots, since a duty cycle that failed half-way may have left the count wrong.
     */
    void resyncInFlight(final int commands)
    {
        inFlight = commands;
    }

    void updateTarget(final int bufferCount, final int targetSectors)
    {
        final int bc = Math.max(1, bufferCount);
        if (bc != this.bufferCount)
        {
            this.bufferCount = bc;
            window = Math.min(window, bc);
            ssthresh = Math.min(ssthresh, bc);
        }
        this.targetSectors = targetSectors;
    }

    SendQueue sendQueue()
    {
        return sendQueue;
    }

    void sendQueue(final SendQueue queue)
    {
        this.sendQueue = queue;
        this.frameSectors = Port.sectorsForMtu(queue.frameCapacity() - 14);
    }

    public int index()
    {
        return index;
    }

    public Port port()
    {
        return port;
    }

    public long remoteMac()
    {
        return remoteMac;
    }

    public PathState state()
    {
        return state;
    }

    public int window()
    {
        return window;
    }

    public int inFlight()
    {
        return inFlight;
    }

    public int bufferCount()
    {
        return bufferCount;
    }

    /** Sectors per command the target advertised (0: it did not say, 2 is used). */
    int targetSectors()
    {
        return targetSectors;
    }

    public RttEstimator rtt()
    {
        return rtt;
    }

    long lastReplyNanos()
    {
        return lastReplyNanos;
    }

    /** Milliseconds since the last reply on this path, -1 if none ever came. Any thread. */
    long lastAnsweredMillisAgo(final long nowNanos)
    {
        return framesReceived == 0 ? -1 : Math.max(0, (nowNanos - lastReplyNanos) / 1_000_000);
    }

    public PathStats stats()
    {
        return new PathStats(port.name(), new MacAddress(remoteMac).toString(), state, window, inFlight, bufferCount,
            maxSectors(), rtt.srttNanos() / 1000, rtt.rtoNanos() / 1000, framesSent, bytesSent, framesReceived, bytesReceived,
            retransmits, timeouts, maxSectorsSent, stateChanges, lastAnsweredMillisAgo(System.nanoTime()), idleProbesSent,
            idleProbesLost, spuriousTimeouts, rtt.floorNanos() / 1000, rttHistogram.snapshot());
    }

    @Override
    public String toString()
    {
        return port.name() + "->" + new MacAddress(remoteMac);
    }
}
