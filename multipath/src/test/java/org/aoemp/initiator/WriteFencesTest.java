package org.aoemp.initiator;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertTrue;

import org.aoemp.protocol.AtaHeader;
import org.junit.jupiter.api.Test;

/** A retransmitted write fences its range until a reply proves its old copy landed, or until the fence expires. */
class WriteFencesTest
{
    private static final long MS = 1_000_000;
    private static final long TIMEOUT = 1000 * MS;

    /** A write of {@code sectors} at {@code lba} in a slot, sent once and then recalled for retransmission. */
    private static Slot recalledWrite(final long lba, final int sectors)
    {
        final Slot s = new Slot(3);
        s.lba = lba;
        s.sectors = sectors;
        s.ataCommand = AtaHeader.ATA_WRITE_EXT;
        s.commandFirstGeneration = s.generation;
        s.publish(Slot.INFLIGHT);
        assertTrue(s.recall());
        return s;
    }

    @Test
    void shouldHoldBackALaterWriteThatOverlapsTheFencedRange()
    {
        final WriteFences fences = new WriteFences(TIMEOUT);
        final Slot s = recalledWrite(100, 2);
        fences.raise(s, (s.generation - 1) & Slot.GENERATION_MASK, 0);
        assertFalse(fences.isEmpty());
        assertTrue(fences.blocks(101, 2), "overlaps the end");
        assertTrue(fences.blocks(99, 2), "overlaps the start");
        assertTrue(fences.blocks(0, 1000), "covers it");
        assertFalse(fences.blocks(102, 2), "right after it");
        assertFalse(fences.blocks(98, 2), "right before it");
        assertEquals(1, fences.raised());
    }

    @Test
    void shouldLiftTheFenceWhenAReplyToTheOldCopyArrives()
    {
        final WriteFences fences = new WriteFences(TIMEOUT);
        final Slot s = recalledWrite(100, 2);
        final int oldGeneration = (s.generation - 1) & Slot.GENERATION_MASK;
        fences.raise(s, oldGeneration, 0);
        fences.lift(MS);
        assertTrue(fences.blocks(100, 1), "no proof yet, not expired");
        s.onLateReply(oldGeneration);  // the receive thread sees the late reply to the first copy
        fences.lift(2 * MS);
        assertFalse(fences.blocks(100, 1));
        assertTrue(fences.isEmpty());
        assertEquals(1, fences.liftedByReply());
        assertEquals(0, fences.expired());
    }

    @Test
    void shouldNotLiftTheFenceForAReplyToAGenerationItDoesNotWatch()
    {
        final WriteFences fences = new WriteFences(TIMEOUT);
        final Slot s = recalledWrite(100, 2);
        fences.raise(s, (s.generation - 1) & Slot.GENERATION_MASK, 0);
        s.onLateReply((s.generation + 5) & Slot.GENERATION_MASK);
        fences.lift(MS);
        assertTrue(fences.blocks(100, 1));
    }

    @Test
    void shouldExpireTheFenceAfterItsTimeout()
    {
        final WriteFences fences = new WriteFences(TIMEOUT);
        final Slot s = recalledWrite(100, 2);
        fences.raise(s, (s.generation - 1) & Slot.GENERATION_MASK, 0);
        fences.lift(TIMEOUT - 1);
        assertTrue(fences.blocks(100, 2));
        fences.lift(TIMEOUT);
        assertFalse(fences.blocks(100, 2), "the old copy is taken to be lost");
        assertEquals(1, fences.expired());
    }

    @Test
    void shouldExtendOneFenceWhenTheSameWriteIsSentAgainAndAgain()
    {
        final WriteFences fences = new WriteFences(TIMEOUT);
        final Slot s = recalledWrite(100, 2);
        fences.raise(s, (s.generation - 1) & Slot.GENERATION_MASK, 0);
        s.publish(Slot.INFLIGHT);
        assertTrue(s.recall());
        fences.raise(s, (s.generation - 1) & Slot.GENERATION_MASK, TIMEOUT / 2);
        assertEquals(1, fences.raised(), "one fence per write, however often it is resent");
        fences.lift(TIMEOUT);
        assertTrue(fences.blocks(100, 2), "the second raise extended the fence");
        s.onLateReply((s.generation - 1) & Slot.GENERATION_MASK);  // the reply to the second copy
        fences.lift(TIMEOUT + 1);
        assertFalse(fences.blocks(100, 2));
    }
}
