package org.aoemp.initiator;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import org.junit.jupiter.api.Test;

/** The RTT estimator follows RFC 6298's rules, within the floor and ceiling of the device options. */
class RttEstimatorTest
{
    private static final long MS = 1_000_000;

    /** Floor and ceiling wide enough not to interfere. */
    private static RttEstimator wide()
    {
        return new RttEstimator(200 * MS, 1, 100_000 * MS);
    }

    @Test
    void shouldStartWithTheInitialRtoAndReportItAsSrttUntilTheFirstSample()
    {
        final RttEstimator rtt = wide();
        assertEquals(200 * MS, rtt.rtoNanos());
        assertEquals(200 * MS, rtt.srttNanos(), "an unmeasured path looks slow, not free");
        assertEquals(0, rtt.samples());
    }

    @Test
    void shouldSetSrttToTheFirstSampleAndRttvarToHalfOfIt()
    {
        final RttEstimator rtt = wide();
        rtt.sample(8 * MS);
        assertEquals(8 * MS, rtt.srttNanos());
        assertEquals(4 * MS, rtt.rttvarNanos());
        assertEquals(8 * MS + 4 * 4 * MS, rtt.rtoNanos(), "RTO = SRTT + 4 RTTVAR");
    }

    @Test
    void shouldUpdateRttvarWithTheOldSrttThenSrttWithGainsOfAQuarterAndAnEighth()
    {
        final RttEstimator rtt = wide();
        rtt.sample(8 * MS);   // SRTT 8, RTTVAR 4
        rtt.sample(16 * MS);  // RTTVAR = 3/4·4 + 1/4·|8 − 16| = 5; SRTT = 7/8·8 + 1/8·16 = 9
        assertEquals(5 * MS, rtt.rttvarNanos());
        assertEquals(9 * MS, rtt.srttNanos());
        assertEquals(9 * MS + 4 * 5 * MS, rtt.rtoNanos());
        assertEquals(2, rtt.samples());
    }

    @Test
    void shouldAddTheClockGranularityWhenRttvarIsZero()
    {
        final RttEstimator rtt = wide();
        rtt.sample(1);  // 1 ns: RTTVAR = 1/2, which is 0 in whole nanoseconds
        assertEquals(0, rtt.rttvarNanos());
        assertEquals(1 + RttEstimator.CLOCK_GRANULARITY_NANOS, rtt.rtoNanos(), "RTO = SRTT + max(G, 4 RTTVAR)");
    }

    @Test
    void shouldClampTheRtoToTheFloorAndTheCeiling()
    {
        final RttEstimator rtt = new RttEstimator(200 * MS, 20 * MS, 2000 * MS);
        rtt.sample(MS / 10);
        assertEquals(20 * MS, rtt.rtoNanos(), "a microsecond LAN still gets the floor");
        rtt.sample(10_000 * MS);
        assertEquals(2000 * MS, rtt.rtoNanos(), "a huge sample still gets the ceiling");
        assertEquals(2000 * MS, new RttEstimator(60_000 * MS, 20 * MS, 2000 * MS).rtoNanos(), "so does the initial RTO");
    }

    @Test
    void shouldDoubleTheRtoOnEachBackoffUpToTheCeiling()
    {
        final RttEstimator rtt = new RttEstimator(200 * MS, 20 * MS, 1000 * MS);
        rtt.sample(10 * MS);  // RTO 10 + 4·5 = 30
        assertEquals(30 * MS, rtt.rtoNanos());
        rtt.backoff();
        assertEquals(60 * MS, rtt.rtoNanos());
        rtt.backoff();
        rtt.backoff();
        rtt.backoff();
        assertEquals(480 * MS, rtt.rtoNanos());
        rtt.backoff();
        assertEquals(960 * MS, rtt.rtoNanos());
        rtt.backoff();
        assertEquals(1000 * MS, rtt.rtoNanos(), "capped");
        rtt.sample(10 * MS);
        assertEquals(10 * MS - (10 * MS >> 3) + (10 * MS >> 3), rtt.srttNanos());
        assertEquals(rtt.srttNanos() + 4 * rtt.rttvarNanos(), rtt.rtoNanos(), "a new sample ends the backoff");
    }

    @Test
    void shouldForgetEverySampleOnReset()
    {
        final RttEstimator rtt = wide();
        rtt.sample(8 * MS);
        rtt.reset();
        assertEquals(0, rtt.samples());
        assertEquals(200 * MS, rtt.rtoNanos());
        rtt.sample(2 * MS);
        assertEquals(2 * MS, rtt.srttNanos(), "the next sample is a first sample again");
        assertEquals(MS, rtt.rttvarNanos());
    }

    @Test
    void shouldRefuseAFloorAboveTheCeiling()
    {
        assertThrows(IllegalArgumentException.class, () -> new RttEstimator(1, 10, 5));
        assertThrows(IllegalArgumentException.class, () -> new RttEstimator(1, 0, 5));
    }

    @Test
    void shouldRaiseTheFloorToOneAndAHalfTimesTheRoundTripOfALateReplyAndRelaxItByHalvesAfterTenQuietSeconds()
    {
        final RttEstimator rtt = new RttEstimator(200 * MS, 20 * MS, 2000 * MS);
        for (int i = 0; i < 50; i++)
        {
            rtt.sample(MS);
        }
        assertEquals(20 * MS, rtt.rtoNanos(), "a 1 ms LAN sits on the floor");
        assertTrue(rtt.raiseFloor(60 * MS, 0));
        assertEquals(90 * MS, rtt.floorNanos());
        assertEquals(90 * MS, rtt.rtoNanos(), "the RTO follows the floor at once");
        assertFalse(rtt.raiseFloor(40 * MS, 5_000 * MS), "a smaller late round trip does not lower it");
        rtt.relax(14_999 * MS);
        assertEquals(90 * MS, rtt.floorNanos(), "the last spurious timeout, 5 s ago, resets the quiet time");
        rtt.relax(15_000 * MS);
        assertEquals(45 * MS, rtt.floorNanos(), "halved after 10 quiet seconds");
        assertEquals(45 * MS, rtt.rtoNanos());
        rtt.relax(25_000 * MS);
        assertEquals(22_500_000, rtt.floorNanos());
        rtt.relax(35_000 * MS);
        assertEquals(20 * MS, rtt.floorNanos(), "never below the configured floor");
        assertEquals(20 * MS, rtt.rtoNanos());
    }

    @Test
    void shouldNeverRaiseTheFloorAboveTheCeilingNorUndoABackoffWhenRelaxing()
    {
        final RttEstimator rtt = new RttEstimator(200 * MS, 20 * MS, 500 * MS);
        rtt.sample(MS);
        rtt.raiseFloor(10_000 * MS, 0);
        assertEquals(500 * MS, rtt.floorNanos());
        assertEquals(500 * MS, rtt.rtoNanos());
        final RttEstimator backedOff = new RttEstimator(200 * MS, 20 * MS, 2000 * MS);
        backedOff.sample(MS);
        backedOff.raiseFloor(100 * MS, 0);
        backedOff.backoff();
        assertEquals(300 * MS, backedOff.rtoNanos());
        backedOff.relax(10_000 * MS);
        assertEquals(75 * MS, backedOff.floorNanos());
        assertEquals(300 * MS, backedOff.rtoNanos(), "a backed-off RTO waits for the next sample");
    }
}
