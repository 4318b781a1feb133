package org.aoemp.initiator;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertNotEquals;
import static org.junit.jupiter.api.Assertions.assertNull;
import static org.junit.jupiter.api.Assertions.assertSame;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.util.HashSet;
import java.util.Set;

import org.junit.jupiter.api.Test;

/** The slot pool: FIFO reuse, tags, generations, and which replies may claim a slot. */
class SlotTableTest
{
    @Test
    void shouldHandOutEverySlotOnceThenNone()
    {
        final SlotTable t = new SlotTable(4);
        final Set<Integer> seen = new HashSet<>();
        for (int i = 0; i < 4; i++)
        {
            final Slot s = t.take();
            assertTrue(s.busy);
            seen.add(s.index);
        }
        assertEquals(Set.of(0, 1, 2, 3), seen);
        assertNull(t.take());
        assertFalse(t.hasFree());
        assertEquals(4, t.busy());
    }

    @Test
    void shouldReuseTheSlotFreeLongestFirst()
    {
        final SlotTable t = new SlotTable(3);
        final Slot a = t.take();
        final Slot b = t.take();
        t.release(b);
        t.release(a);
        assertEquals(2, t.take().index, "slot 2 was never used: it is first in line");
        assertSame(b, t.take(), "then b, released before a");
        assertSame(a, t.take());
    }

    @Test
    void shouldEncodeIndexAndGenerationInTheTag()
    {
        final Slot s = new Slot(0x1234);
        s.generation = 0x2ABC;
        final int tag = s.tag();
        assertTrue(tag < 0, "bit 31: the userland tag space");
        assertEquals(0, tag & 0x4000_0000, "bit 30 clear: a device command, not a control exchange");
        assertEquals(0x1234, Slot.indexOf(tag));
        assertEquals(0x2ABC, Slot.generationOf(tag));
    }

    @Test
    void shouldLetOnlyAReplyWithTheCurrentGenerationFindAnInFlightSlot()
    {
        final SlotTable t = new SlotTable(2);
        final Slot s = t.take();
        s.publish(Slot.INFLIGHT);
        final int tag = s.tag();
        assertSame(s, t.inFlightFor(tag));
        assertNull(t.inFlightFor(tag ^ (1 << Slot.INDEX_BITS)), "another generation");
        assertNull(t.inFlightFor(0x8000_0000 | 7), "an index beyond the table");
    }

    @Test
    void shouldRefuseALateReplyForASlotThatWasReused()
    {
        final SlotTable t = new SlotTable(1);
        final Slot s = t.take();
        s.publish(Slot.INFLIGHT);
        final int oldTag = s.tag();
        assertTrue(s.claim(Slot.generationOf(oldTag), Slot.INFLIGHT, Slot.RECEIVING), "the first reply wins");
        t.release(s);
        final Slot again = t.take();
        assertSame(s, again);
        again.publish(Slot.INFLIGHT);
        assertNotEquals(oldTag, again.tag(), "a fresh generation for the next command");
        assertNull(t.inFlightFor(oldTag), "a duplicate of the old reply finds nothing");
        assertFalse(again.claim(Slot.generationOf(oldTag), Slot.INFLIGHT, Slot.RECEIVING), "and cannot claim the new command");
        assertSame(again, t.inFlightFor(again.tag()));
    }

    @Test
    void shouldRefuseAReplyToACommandThatWasRecalledForRetransmission()
    {
        final SlotTable t = new SlotTable(1);
        final Slot s = t.take();
        s.publish(Slot.INFLIGHT);
        final int first = s.tag();
        assertTrue(s.recall());
        s.publish(Slot.INFLIGHT);  // the retransmission
        assertNull(t.inFlightFor(first));
        assertSame(s, t.inFlightFor(s.tag()));
        assertFalse(s.claim(Slot.generationOf(first), Slot.INFLIGHT, Slot.RECEIVING), "the old copy's reply cannot claim it");
    }

    @Test
    void shouldWrapTheGenerationAfter16384Commands()
    {
        final SlotTable t = new SlotTable(1);
        final Slot s = t.take();
        s.generation = Slot.GENERATION_MASK;
        s.publish(Slot.INFLIGHT);
        final int last = s.tag();
        assertEquals(Slot.GENERATION_MASK, Slot.generationOf(last));
        assertTrue(s.recall());
        assertEquals(0, s.generation, "wraps to 0");
        s.publish(Slot.INFLIGHT);
        assertEquals(0, Slot.generationOf(s.tag()));
        assertTrue(s.tag() < 0, "the userland bit survives the wrap");
        assertNull(t.inFlightFor(last), "the reply to generation 16383 does not match generation 0");
        assertSame(s, t.inFlightFor(s.tag()));
    }

    @Test
    void shouldRebuildTheFreeListFromTheBusyFlags()
    {
        final SlotTable t = new SlotTable(4);
        final Slot a = t.take();
        t.take();
        t.take();
        a.recycle();  // freed behind the table's back, as an engine reset does
        t.rebuildFreeList();
        assertEquals(2, t.busy());
        assertSame(a, t.take());
        assertEquals(3, t.take().index);
        assertNull(t.take());
    }

    @Test
    void shouldRefuseAnImpossibleSize()
    {
        assertThrows(IllegalArgumentException.class, () -> new SlotTable(0));
        assertThrows(IllegalArgumentException.class, () -> new SlotTable(Slot.MAX_SLOTS + 1));
    }
}
