package org.aoemp.initiator;

/**
 * Smoothed round-trip time and retransmission timeout of one path, after RFC 6298, in
 * nanoseconds: the first sample R sets SRTT = R and RTTVAR = R/2; each later one sets
 * RTTVAR = 3/4·RTTVAR + 1/4·|SRTT − R| and then SRTT = 7/8·SRTT + 1/8·R; and
 * RTO = SRTT + max(G, 4·RTTVAR), where G is the clock granularity ({@link System#nanoTime}: 1 ns).
 * A timeout doubles the RTO (Karn's backoff) until the next sample.
 *
 * <p>Unlike the Linux aoe driver (initial RTO ≈ 16 s, average gain 1/256) the first sample sets
 * SRTT directly, so the RTO is useful after one or two replies. The RTO is clamped to
 * [floor, ceiling] rather than RFC 6298's 1 s minimum: the floor keeps a microsecond LAN from
 * retransmitting on a disk hiccup, the ceiling keeps failover prompt.
 *
 * <p>The floor adapts to spurious timeouts: when the reply to a command that timed out arrives
 * after all (the command was slow, not lost: a host or target busy for longer than the RTO), the
 * floor rises to 1.5× that reply's round trip ({@link #raiseFloor}), at most to the ceiling; it
 * halves back towards the configured floor every {@value #RELAX_SECONDS} s without another one
 * ({@link #relax}). So a loaded host stops retransmitting (and collapsing windows, and taking
 * paths DOWN) for delays that are its own, while a quiet LAN keeps the fast recovery of a low floor.
 *
 * <p>Threading: written by the device's engine thread only (single writer); other threads may
 * read the last published values for monitoring.
 */
public final class RttEstimator
{
    /** G of RFC 6298: the clock granularity, one tick of {@link System#nanoTime}. */
    static final long CLOCK_GRANULARITY_NANOS = 1;

    /** How long the raised floor holds before each halving. */
    static final long RELAX_SECONDS = 10;
    private static final long RELAX_NANOS = RELAX_SECONDS * 1_000_000_000L;

    private final long floorNanos;
    /** The floor in force: {@link #floorNanos}, or higher after spurious timeouts. */
    private volatile long adaptiveFloorNanos;
    private long floorRaisedNanos;
    private final long ceilingNanos;
    private final long initialRtoNanos;
    private volatile long srttNanos;
    private volatile long rttvarNanos;
    private volatile long rtoNanos;
    private volatile long samples;

    public RttEstimator(final long initialRtoNanos, final long floorNanos, final long ceilingNanos)
    {
        if (floorNanos <= 0 || ceilingNanos < floorNanos)
        {
            throw new IllegalArgumentException("need 0 < floor <= ceiling");
        }
        this.floorNanos = floorNanos;
        this.adaptiveFloorNanos = floorNanos;
        this.ceilingNanos = ceilingNanos;
        this.initialRtoNanos = clamp(initialRtoNanos);
        reset();
    }

    /** Forgets every sample (a path that came back after being down is measured afresh). */
    public void reset()
    {
        srttNanos = 0;
        rttvarNanos = 0;
        samples = 0;
        rtoNanos = initialRtoNanos;
    }

    public void sample(final long rttNanos)
    {
        final long r = Math.max(1, rttNanos);
        if (samples == 0)
        {
            srttNanos = r;
            rttvarNanos = r / 2;
        }
        else
        {
            final long srtt = srttNanos;
            rttvarNanos = rttvarNanos - (rttvarNanos >> 2) + (Math.abs(srtt - r) >> 2);
            srttNanos = srtt - (srtt >> 3) + (r >> 3);
        }
        samples = samples + 1;  // single writer
        rtoNanos = clamp(srttNanos + Math.max(CLOCK_GRANULARITY_NANOS, 4 * rttvarNanos));
    }

    /** Doubles the RTO after a timeout (Karn's backoff), up to the ceiling, until a new sample arrives. */
    public void backoff()
    {
        rtoNanos = clamp(rtoNanos * 2);
    }

    /**
     * A reply came {@code lateRttNanos} after its command was sent, after that command had timed
     * out: raises the floor to 1.5× that (at most the ceiling) and the RTO with it.
     *
     * @return whether the floor rose
     */
    public boolean raiseFloor(final long lateRttNanos, final long nowNanos)
    {
        final long wanted = Math.min(ceilingNanos, lateRttNanos + (lateRttNanos >> 1));
        floorRaisedNanos = nowNanos;
        if (wanted <= adaptiveFloorNanos)
        {
            return false;
        }
        adaptiveFloorNanos = wanted;
        rtoNanos = clamp(rtoNanos);
        return true;
    }

    /** Halves a raised floor (towards the configured one) when it was last raised {@value #RELAX_SECONDS} s ago or more. */
    public void relax(final long nowNanos)
    {
        final long raised = adaptiveFloorNanos;
        if (raised > floorNanos && nowNanos - floorRaisedNanos >= RELAX_NANOS)
        {
            adaptiveFloorNanos = Math.max(floorNanos, raised >> 1);
            floorRaisedNanos = nowNanos;
            if (samples > 0 && rtoNanos <= raised)  // pinned at the old floor (not backed off): follow the estimate down
            {
                rtoNanos = clamp(srttNanos + Math.max(CLOCK_GRANULARITY_NANOS, 4 * rttvarNanos));
            }
        }
    }

    /** The floor in force now (the configured one, or higher after spurious timeouts). */
    public long floorNanos()
    {
        return adaptiveFloorNanos;
    }

    private long clamp(final long v)
    {
        return Math.max(adaptiveFloorNanos, Math.min(ceilingNanos, v));
    }

    public long rtoNanos()
    {
        return rtoNanos;
    }

    /** SRTT, or the initial RTO when nothing was measured yet (so an unmeasured path looks slow, not free). */
    public long srttNanos()
    {
        return samples == 0 ? initialRtoNanos : srttNanos;
    }

    public long rttvarNanos()
    {
        return rttvarNanos;
    }

    public long samples()
    {
        return samples;
    }

    public long ceilingNanos()
    {
        return ceilingNanos;
    }
}
