package org.aoemp.initiator;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertNull;
import static org.junit.jupiter.api.Assertions.assertSame;

import org.junit.jupiter.api.Test;

/** Where a command goes and how many sectors it carries. */
class PathSchedulerTest
{
    private static final long MS = 1_000_000;
    private int next;

    /** A path over a port of {@code mtu} with the target's {@code bufferCount}, measured at {@code srttMillis}. */
    private Path path(final int mtu, final int bufferCount, final int targetSectors, final long srttMillis)
    {
        final int i = next++;
        final Path p = new Path(i, StubTransport.port(i, mtu), 0x02_00_00_00_01_00L + i, bufferCount, targetSectors,
            new RttEstimator(200 * MS, MS / 1000, 2000 * MS));
        p.onSend(0, 0, false);
        p.onReply(srttMillis * MS, 0, 0);  // first sample: SRTT = it; window + 1
        return p;
    }

    private static void load(final Path p, final int commands)
    {
        for (int i = 0; i < commands; i++)
        {
            p.onSend(0, 2, false);
        }
    }

    private static void takeDown(final Path p)
    {
        p.markDown(0, 20 * MS);
    }

    @Test
    void shouldPickThePathWhoseNextCommandIsExpectedToCompleteFirst()
    {
        final Path slow = path(1500, 16, 0, 10);  // (0 + 1) × 10 = 10
        final Path busy = path(1500, 16, 0, 4);   // (2 + 1) × 4 = 12
        final Path best = path(1500, 16, 0, 5);   // (0 + 1) × 5 = 5
        load(busy, 2);
        assertSame(best, PathScheduler.forCommand(new Path[] {slow, busy, best}));
        load(best, 2);  // now 15
        assertSame(slow, PathScheduler.forCommand(new Path[] {slow, busy, best}));
    }

    @Test
    void shouldSkipPathsWithoutRoomOrThatAreDown()
    {
        final Path full = path(1500, 4, 0, 1);  // window 2 + 1 = 3
        final Path down = path(1500, 16, 0, 1);
        final Path open = path(1500, 16, 0, 50);
        load(full, full.window());
        takeDown(down);
        assertSame(open, PathScheduler.forCommand(new Path[] {full, down, open}));
        load(open, open.window());
        assertNull(PathScheduler.forCommand(new Path[] {full, down, open}), "no path has room: the command waits");
        assertNull(PathScheduler.forCommand(new Path[0]));
    }

    @Test
    void shouldSendARetransmissionOnAnotherPathWhenOneHasRoom()
    {
        final Path previous = path(1500, 16, 0, 1);
        final Path other = path(1500, 16, 0, 50);
        assertSame(other, PathScheduler.forRetry(new Path[] {previous, other}, previous), "even though it is slower");
        assertSame(previous, PathScheduler.forRetry(new Path[] {previous, other}, null), "a command never sent: the best path");
    }

    @Test
    void shouldFallBackToThePreviousPathWhenNoOtherHasRoomAndItStillCarriesTraffic()
    {
        final Path previous = path(1500, 4, 0, 1);
        final Path other = path(1500, 4, 0, 1);
        load(previous, previous.window());
        load(other, other.window());
        previous.onTimeout(3, 0, 20 * MS);  // SUSPECT, window 1, and full
        load(previous, 1);
        assertSame(previous, PathScheduler.forRetry(new Path[] {previous, other}, previous), "room or not");
    }

    @Test
    void shouldUseTheCheapestPathThatCarriesTrafficWhenThePreviousIsDownAndNoneHasRoom()
    {
        final Path previous = path(1500, 4, 0, 1);
        final Path slow = path(1500, 4, 0, 30);
        final Path fast = path(1500, 4, 0, 10);
        final Path down = path(1500, 4, 0, 1);
        takeDown(previous);
        takeDown(down);
        load(slow, slow.window());
        load(fast, fast.window());
        assertSame(fast, PathScheduler.forRetry(new Path[] {previous, slow, fast, down}, previous));
        takeDown(slow);
        takeDown(fast);
        assertNull(PathScheduler.forRetry(new Path[] {previous, slow, fast, down}, previous), "every path is down: it waits");
    }

    @Test
    void shouldCarryTheSmallestSectorLimitOfThePathsThatCarryTraffic()
    {
        final Path jumbo = path(9000, 16, 0, 1);
        final Path jumboTarget = path(9000, 16, 17, 1);
        final Path standard = path(1500, 16, 255, 1);  // MTU: 2
        assertEquals(2, jumbo.maxSectors(), "a target that advertises 0 sectors gets 2");
        assertEquals(17, jumboTarget.maxSectors(), "(9000 - 36) / 512");
        assertEquals(2, PathScheduler.sectorsPerCommand(new Path[] {jumboTarget, standard}, 0));
        takeDown(standard);
        assertEquals(17, PathScheduler.sectorsPerCommand(new Path[] {jumboTarget, standard}, 0), "a down path does not count");
        takeDown(jumboTarget);
        assertEquals(2, PathScheduler.sectorsPerCommand(new Path[] {jumboTarget, standard}, 0), "all down: every path counts");
        assertEquals(PathScheduler.DEFAULT_SECTORS, PathScheduler.sectorsPerCommand(new Path[0], 0), "no path yet");
    }

    @Test
    void shouldCapSectorsPerCommandByTheDeviceOption()
    {
        final Path jumbo = path(9000, 16, 255, 1);
        assertEquals(17, PathScheduler.sectorsPerCommand(new Path[] {jumbo}, 0));
        assertEquals(8, PathScheduler.sectorsPerCommand(new Path[] {jumbo}, 8));
        assertEquals(1, PathScheduler.sectorsPerCommand(new Path[0], 1));
        final Path target4 = path(9000, 16, 4, 1);
        assertEquals(4, PathScheduler.sectorsPerCommand(new Path[] {jumbo, target4}, 8), "the target's own limit");
    }

    /** Issue 11, part 2: a retransmission made for jumbo frames must not go to a path whose MTU was lowered. */
    @Test
    void aRetransmissionShouldGoOnlyToAPathWhoseMtuCarriesItNow()
    {
        final Path previous = path(9000, 16, 17, 1);
        final Path lowered = path(9000, 16, 17, 1);
        final Path[] both = {previous, lowered};
        assertSame(lowered, PathScheduler.forRetry(both, previous, 17), "another path with room, as always");
        ((StubTransport)lowered.port().transport()).mtu(1500);
        assertEquals(2, lowered.maxSectors(), "the MTU now, not at the start");
        assertEquals(2, PathScheduler.sectorsPerCommand(both, 0), "new commands fit every path");
        assertSame(previous, PathScheduler.forRetry(both, previous, 17), "not the path that cannot carry it");
        assertSame(lowered, PathScheduler.forRetry(both, previous, 2), "a command that fits may go there");
        assertEquals(false, PathScheduler.fitsNone(both, 17));
        ((StubTransport)previous.port().transport()).mtu(1500);
        assertNull(PathScheduler.forRetry(both, previous, 17), "no path carries 17 sectors any more");
        assertEquals(true, PathScheduler.fitsNone(both, 17), "so it must be split");
        assertEquals(false, PathScheduler.fitsNone(both, 2));
        takeDown(previous);
        takeDown(lowered);
        assertEquals(false, PathScheduler.fitsNone(both, 17), "no path carries traffic: it waits for one rather than splitting");
    }

    @Test
    void aMtuRaisedAfterTheStartShouldNotOutgrowTheSendQueuesFrames()
    {
        final Path p = path(1500, 16, 255, 1);
        p.sendQueue(new SendQueue(p, 32, 1500 + 14, () -> { }));
        assertEquals(2, p.maxSectors());
        ((StubTransport)p.port().transport()).mtu(9000);
        assertEquals(2, p.maxSectors(), "the frames were made for 1500 bytes");
    }
}
