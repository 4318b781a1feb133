package org.aoemp.initiator;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.util.concurrent.TimeUnit;

import org.junit.jupiter.api.Test;

/** A path's congestion window and its states, driven as the engine drives them. */
class PathTest
{
    private static final long MS = 1_000_000;
    private static final long FIRST_PROBE = 20 * MS;
    private static final long MAX_PROBE_INTERVAL = 2000 * MS;

    private static Path path(final int bufferCount)
    {
        return new Path(0, StubTransport.port(0, 1500), 0x02_00_00_00_00_02L, bufferCount, 0,
            new RttEstimator(200 * MS, 20 * MS, 2000 * MS));
    }

    /** One command sent and answered after {@code rtt}. */
    private static void roundTrip(final Path p, final long rtt, final long now)
    {
        p.onSend(1024, 2, false);
        p.onReply(rtt, 1024, now);
    }

    @Test
    void shouldSlowStartFromHalfTheBufferCountAndGrowByOnePerReply()
    {
        final Path p = path(16);
        assertEquals(8, p.window());
        for (int i = 1; i <= 8; i++)
        {
            roundTrip(p, MS, i);
            assertEquals(8 + i, p.window(), "+1 per reply below ssthresh");
        }
    }

    @Test
    void shouldNeverGrowTheWindowAboveTheTargetsBufferCount()
    {
        final Path p = path(16);
        for (int i = 0; i < 200; i++)
        {
            roundTrip(p, MS, i);
        }
        assertEquals(16, p.window());
        p.updateTarget(4, 0);
        assertEquals(4, p.window(), "a target that now offers fewer buffers caps the window at once");
        assertEquals(4, p.bufferCount());
    }

    @Test
    void shouldCollapseTheWindowToOneOnATimeoutAndHalveSsthresh()
    {
        final Path p = path(16);
        for (int i = 0; i < 8; i++)
        {
            roundTrip(p, MS, i);
        }
        assertEquals(16, p.window());
        p.onSend(0, 2, false);
        p.onTimeout(3, 100 * MS, FIRST_PROBE);
        assertEquals(1, p.window());
        // slow start again up to ssthresh = 16 / 2 = 8 ...
        for (int i = 2; i <= 8; i++)
        {
            roundTrip(p, MS, i);
            assertEquals(i, p.window());
        }
        // ... then congestion avoidance: +1 per full window of replies
        for (int i = 0; i < 7; i++)
        {
            roundTrip(p, MS, i);
        }
        assertEquals(8, p.window(), "7 replies do not fill a window of 8");
        roundTrip(p, MS, 9);
        assertEquals(9, p.window(), "the 8th does");
    }

    @Test
    void shouldBeSuspectAfterATimeoutAndUpAgainAfterAReply()
    {
        final Path p = path(16);
        assertEquals(PathState.UP, p.state());
        p.onSend(0, 2, false);
        assertFalse(p.onTimeout(3, MS, FIRST_PROBE), "one timeout does not take the path down");
        assertEquals(PathState.SUSPECT, p.state());
        assertTrue(p.state().carriesTraffic(), "a suspect path still carries traffic");
        assertTrue(p.hasRoom());
        roundTrip(p, MS, 2 * MS);
        assertEquals(PathState.UP, p.state());
    }

    @Test
    void shouldGoDownAfterDownAfterTimeoutsInARow()
    {
        final Path p = path(16);
        for (int i = 0; i < 2; i++)
        {
            p.onSend(0, 2, false);
            assertFalse(p.onTimeout(3, i * MS, FIRST_PROBE));
        }
        roundTrip(p, MS, 3 * MS);  // a reply resets the count
        for (int i = 0; i < 2; i++)
        {
            p.onSend(0, 2, false);
            assertFalse(p.onTimeout(3, (4 + i) * MS, FIRST_PROBE));
        }
        p.onSend(0, 2, false);
        assertTrue(p.onTimeout(3, 10 * MS, FIRST_PROBE), "the third in a row takes it down");
        assertEquals(PathState.DOWN, p.state());
        assertFalse(p.hasRoom(), "a down path carries no traffic");
        assertEquals(0, p.inFlight());
    }

    @Test
    void shouldProbeADownPathAtDoublingIntervalsAndComeBackUpAfresh()
    {
        final Path p = path(16);
        roundTrip(p, 5 * MS, 0);
        final long t0 = 100 * MS;
        p.markDown(t0, FIRST_PROBE);
        assertEquals(PathState.DOWN, p.state());
        assertFalse(p.probeDue(t0 + FIRST_PROBE - 1));
        assertTrue(p.probeDue(t0 + FIRST_PROBE));

        p.onProbeSent(t0 + FIRST_PROBE, MAX_PROBE_INTERVAL);
        assertEquals(PathState.PROBING, p.state());
        assertFalse(p.probeDue(t0 + FIRST_PROBE), "a probing path is not probed again");
        p.onProbeLost();
        assertEquals(PathState.DOWN, p.state(), "a lost probe: down again");
        assertFalse(p.probeDue(t0 + 3 * FIRST_PROBE - 1), "the next probe waits twice as long");
        assertTrue(p.probeDue(t0 + 3 * FIRST_PROBE));

        p.revive();
        assertEquals(PathState.UP, p.state());
        assertEquals(8, p.window(), "slow start again");
        assertEquals(0, p.rtt().samples(), "measured afresh");
    }

    @Test
    void shouldCapTheProbeInterval()
    {
        final Path p = path(16);
        p.markDown(0, FIRST_PROBE);
        long now = 0;
        for (int i = 0; i < 20; i++)
        {
            now += MAX_PROBE_INTERVAL;
            assertTrue(p.probeDue(now));
            p.onProbeSent(now, MAX_PROBE_INTERVAL);
            p.onProbeLost();
        }
        assertTrue(p.probeDue(now + MAX_PROBE_INTERVAL), "never more than the maximum interval apart");
    }

    @Test
    void shouldCountStateChangesRetransmitsAndTimeouts()
    {
        final Path p = path(16);
        p.onSend(1024, 2, true);
        p.onTimeout(1, MS, FIRST_PROBE);  // UP -> SUSPECT -> DOWN
        final PathStats s = p.stats();
        assertEquals(1, s.retransmits());
        assertEquals(1, s.timeouts());
        assertEquals(2, s.stateChanges());
        assertEquals(PathState.DOWN, s.state());
        assertEquals(2, s.maxSectors(), "MTU 1500 and a target that says 0 (= 2)");
    }

    /** At rest the idle probes slow down: the probe's own answer does not bring the next one forward; work again does. */
    @Test
    void anIdleProbeAtRestShouldKeepItsLongIntervalUntilTheDeviceIsBusyAgain()
    {
        final Path p = path(16);
        final long rest = TimeUnit.MILLISECONDS.toNanos(PathProber.REST_PROBE_INTERVAL_MILLIS);
        p.onIdleProbeSent(0, rest);
        p.onSend(0, 1, false);
        p.onReply(MS, 0, MS);
        assertFalse(p.idleProbeDue(rest - 1), "the answer to a probe at rest does not shorten the rest interval");
        assertTrue(p.idleProbeDue(rest));
        p.idleProbeBy(2 * MS + PathProber.IDLE_PROBE_INTERVAL_NANOS);
        assertTrue(p.idleProbeDue(2 * MS + PathProber.IDLE_PROBE_INTERVAL_NANOS), "busy again: probed within the busy interval");
    }

    /** Issue 11, part 8: a path found is probed at once; a path that answers is not probed for a second. */
    @Test
    void anIdleProbeShouldBeDueWhenThePathIsFoundAndASecondAfterItsLastAnswer()
    {
        final Path p = path(16);
        p.probeSoon(5 * MS);
        assertTrue(p.idleProbeDue(5 * MS), "a new path is measured at once");
        p.onIdleProbeSent(5 * MS, PathProber.IDLE_PROBE_INTERVAL_NANOS);
        assertFalse(p.idleProbeDue(6 * MS));
        p.onSend(0, 1, false);
        p.onReply(MS, 0, 7 * MS);
        assertTrue(p.rtt().samples() == 1, "the probe's answer seeds the RTT");
        assertFalse(p.idleProbeDue(7 * MS + PathProber.IDLE_PROBE_INTERVAL_NANOS - 1));
        assertTrue(p.idleProbeDue(7 * MS + PathProber.IDLE_PROBE_INTERVAL_NANOS), "a second after its last answer");
        roundTrip(p, MS, 500 * MS);
        assertFalse(p.idleProbeDue(1007 * MS), "traffic postpones the probe");
        p.markDown(1100 * MS, FIRST_PROBE);
        assertFalse(p.idleProbeDue(5000 * MS), "a DOWN path has probes of its own");
        assertEquals(0, p.stats().lastAnsweredMillisAgo() < 0 ? 1 : 0, "it answered");
    }

    @Test
    void lostIdleProbesInARowShouldTakeThePathDownWithoutTouchingWindowOrRto()
    {
        final Path p = path(16);
        roundTrip(p, MS, 0);
        final int window = p.window();
        final long rto = p.rtt().rtoNanos();
        p.onSend(0, 1, false);
        assertFalse(p.onIdleProbeLost(3, 1000 * MS, FIRST_PROBE));
        assertEquals(PathState.SUSPECT, p.state());
        p.onSend(0, 1, false);
        assertFalse(p.onIdleProbeLost(3, 2000 * MS, FIRST_PROBE));
        roundTrip(p, MS, 2500 * MS);
        assertEquals(PathState.UP, p.state(), "an answer in between starts the count again");
        for (int i = 1; i <= 2; i++)
        {
            p.onSend(0, 1, false);
            assertFalse(p.onIdleProbeLost(3, (3000 + i * 1000) * MS, FIRST_PROBE));
        }
        p.onSend(0, 1, false);
        assertTrue(p.onIdleProbeLost(3, 6000 * MS, FIRST_PROBE), "the third in a row");
        assertEquals(PathState.DOWN, p.state());
        assertEquals(window + 1, p.window(), "the window is as the last answer left it");
        assertTrue(p.rtt().rtoNanos() <= rto, "the RTO was not backed off");
        assertEquals(0, p.inFlight());
        assertEquals(5, p.stats().idleProbesLost());
        p.onSend(0, 1, false);
        assertFalse(p.onIdleProbeLost(3, 7000 * MS, FIRST_PROBE), "a probe lost after the path went DOWN changes nothing");
        assertEquals(PathState.DOWN, p.state());
    }

    @Test
    void shouldTakeASpuriousTimeoutAsAnAnswerRaisingTheFloorAndGivingBackHalfTheWindow()
    {
        final Path p = path(16);
        for (int i = 0; i < 200; i++)
        {
            roundTrip(p, MS, i);
        }
        assertEquals(16, p.window());
        p.onSend(1024, 2, false);
        p.onSend(1024, 2, false);
        assertFalse(p.onTimeout(3, 300, FIRST_PROBE));
        assertFalse(p.onTimeout(3, 301, FIRST_PROBE));
        assertEquals(1, p.window());
        assertEquals(PathState.SUSPECT, p.state());
        assertFalse(p.onSpuriousTimeouts(302), "nothing came late yet");

        p.onLateReply(30 * MS);
        p.onLateReply(50 * MS);
        p.onLateReply(40 * MS);
        assertTrue(p.onSpuriousTimeouts(303));
        assertEquals(75 * MS, p.rtt().floorNanos(), "1.5 x the longest late round trip");
        assertEquals(8, p.window(), "half the window of before the timeouts");
        assertFalse(p.onSpuriousTimeouts(304), "taken once");
        final PathStats stats = p.stats();
        assertEquals(1, stats.spuriousTimeouts());
        assertEquals(75_000, stats.rtoFloorMicros());

        // the run of timeouts was cleared: two more do not take the path DOWN (three in a row would)
        p.onSend(1024, 2, false);
        p.onSend(1024, 2, false);
        assertFalse(p.onTimeout(3, 305, FIRST_PROBE));
        assertFalse(p.onTimeout(3, 306, FIRST_PROBE));
        assertEquals(PathState.SUSPECT, p.state());
    }

    @Test
    void shouldTakeAFullWindowTimingOutInOneScanAsOneTimeoutEvent()
    {
        final Path p = path(16);
        for (int i = 0; i < 200; i++)
        {
            roundTrip(p, MS, i);
        }
        final long rto = p.rtt().rtoNanos();
        final long sent = 1000 * MS;
        for (int i = 0; i < 16; i++)
        {
            p.onSend(1024, 2, false);
        }
        final long late = sent + 500 * MS;
        for (int i = 0; i < 16; i++)
        {
            assertFalse(p.onTimeout(3, late, FIRST_PROBE, sent), "one event never takes the path DOWN");
        }
        assertEquals(PathState.SUSPECT, p.state());
        assertEquals(1, p.window());
        assertEquals(2 * rto, p.rtt().rtoNanos(), "the RTO doubled once, not 16 times");
        assertEquals(16, p.stats().timeouts(), "every command's timeout is counted");

        // retransmissions sent after the event: each timing out is a new event; the third in a row takes it DOWN
        p.onSend(1024, 2, true);
        assertFalse(p.onTimeout(3, late + 100 * MS, FIRST_PROBE, late + 1));
        p.onSend(1024, 2, true);
        assertTrue(p.onTimeout(3, late + 300 * MS, FIRST_PROBE, late + 100 * MS + 1));
        assertEquals(PathState.DOWN, p.state());
    }

    @Test
    void shouldGrowBackFromHalfTheWindowAfterATimeoutEventNotFromOne()
    {
        final Path p = path(16);
        for (int i = 0; i < 200; i++)
        {
            roundTrip(p, MS, i);
        }
        for (int i = 0; i < 16; i++)
        {
            p.onSend(1024, 2, false);
        }
        for (int i = 0; i < 16; i++)
        {
            p.onTimeout(3, 2000 * MS, FIRST_PROBE, 1000 * MS);
        }
        for (int i = 1; i <= 7; i++)
        {
            roundTrip(p, MS, 2000 * MS + i);
        }
        assertEquals(8, p.window(), "slow start up to ssthresh = 16 / 2, not to 1");
    }
}
