package org.aoemp.protocol;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.nio.ByteBuffer;
import java.nio.ByteOrder;

import org.junit.jupiter.api.Test;

class MacMaskHeaderTest
{
    private static final long MAC_A = 0x0011_2233_4455L;
    private static final long MAC_B = 0xFFFF_FFFF_FFFFL;

    private final MacMaskHeader mask = new MacMaskHeader();

    /** An edit adding MAC_A and deleting MAC_B. */
    private ByteBuffer edit(final ByteOrder order, final int size, final int offset)
    {
        final ByteBuffer buffer = Frames.buffer(size, order, 0xFF);
        new AoeHeader().wrap(buffer, offset)
            .request(MacAddress.BROADCAST_BITS, 0x0066_7788_99AAL, 1, 2, AoeHeader.CMD_MAC_MASK, 0x8000_0007);
        mask.wrap(buffer, offset).clearReserved().mcmd(MacMaskHeader.MCMD_EDIT).merror(0).directiveCount(2)
            .directive(0, MacMaskHeader.DCMD_ADD, MAC_A)
            .directive(1, MacMaskHeader.DCMD_DELETE, MAC_B);
        return buffer;
    }

    @Test
    void shouldHaveTheWireOffsets()
    {
        assertEquals(24, MacMaskHeader.RESERVED_OFFSET);
        assertEquals(25, MacMaskHeader.MCMD_OFFSET);
        assertEquals(26, MacMaskHeader.MERROR_OFFSET);
        assertEquals(27, MacMaskHeader.DIRECTIVE_COUNT_OFFSET);
        assertEquals(28, MacMaskHeader.DIRECTIVES_OFFSET);
        assertEquals(28, MacMaskHeader.LENGTH);
        assertEquals(28, MacMaskHeader.directiveOffset(0));
        assertEquals(36, MacMaskHeader.directiveOffset(1));
        assertEquals(28 + 8 * 32, MacMaskHeader.lengthFor(MacMaskHeader.MAX_MASKS));
    }

    @Test
    void shouldRoundTripEveryField()
    {
        final int count = MacMaskHeader.MAX_MASKS;
        final ByteBuffer buffer = Frames.buffer(MacMaskHeader.lengthFor(count), ByteOrder.BIG_ENDIAN, 0);
        mask.wrap(buffer, 0);
        for (int value = 0; value <= 0xFF; value += 0x0F)
        {
            mask.mcmd(value).merror(0xFF - value).directiveCount(value);
            assertEquals(value, mask.mcmd());
            assertEquals(0xFF - value, mask.merror());
            assertEquals(value, mask.directiveCount());
        }
        mask.directiveCount(count);
        for (int i = 0; i < count; i++)
        {
            mask.directive(i, i % 3, macFor(i));
        }
        for (int i = 0; i < count; i++)
        {
            assertEquals(i % 3, mask.dcmd(i), "dcmd " + i);
            assertEquals(macFor(i), mask.mac(i), "mac " + i);
        }
        assertTrue(mask.isValid(buffer.capacity()));
    }

    @Test
    void shouldRoundTripExtremeMacs()
    {
        final ByteBuffer buffer = Frames.buffer(MacMaskHeader.lengthFor(4), ByteOrder.BIG_ENDIAN, 0);
        mask.wrap(buffer, 0);
        final long[] macs = {0L, 1L, 0x8000_0000_0000L, MacAddress.BROADCAST_BITS};
        for (int i = 0; i < macs.length; i++)
        {
            mask.dcmd(i, MacMaskHeader.DCMD_ADD).mac(i, macs[i]);
        }
        for (int i = 0; i < macs.length; i++)
        {
            assertEquals(macs[i], mask.mac(i));
            assertEquals(MacMaskHeader.DCMD_ADD, mask.dcmd(i));
        }
    }

    @Test
    void shouldPutEveryFieldOnTheWireAsSpecified()
    {
        final ByteBuffer buffer = edit(ByteOrder.LITTLE_ENDIAN, MacMaskHeader.lengthFor(2), 0);
        final byte[] expected = Frames.hex("00 01 00 02  00 01 001122334455  00 02 ffffffffffff");
        assertArrayEquals(expected, Frames.bytes(buffer, 24, 20));
    }

    @Test
    void shouldZeroTheReservedByteOfEachDirective()
    {
        final ByteBuffer buffer = Frames.buffer(MacMaskHeader.lengthFor(1), ByteOrder.BIG_ENDIAN, 0xFF);
        mask.wrap(buffer, 0).directive(0, MacMaskHeader.DCMD_NONE, 0);
        assertArrayEquals(new byte[8], Frames.bytes(buffer, 28, 8));
        assertEquals(0xFF, mask.reserved());
        assertEquals(0, mask.clearReserved().reserved());
    }

    @Test
    void shouldNumberCommandsDirectivesAndErrorsAsTheSpecDoes()
    {
        assertEquals(0, MacMaskHeader.MCMD_READ);
        assertEquals(1, MacMaskHeader.MCMD_EDIT);
        assertEquals(0, MacMaskHeader.DCMD_NONE);
        assertEquals(1, MacMaskHeader.DCMD_ADD);
        assertEquals(2, MacMaskHeader.DCMD_DELETE);
        assertEquals(1, MacMaskHeader.MERROR_UNSPECIFIED);
        assertEquals(2, MacMaskHeader.MERROR_BAD_DCMD);
        assertEquals(3, MacMaskHeader.MERROR_LIST_FULL);
        assertEquals(32, MacMaskHeader.MAX_MASKS);
    }

    @Test
    void shouldRejectFramesTooShortForTheFixedPart()
    {
        final ByteBuffer buffer = Frames.buffer(AoeHeader.MIN_ETHERNET_FRAME, ByteOrder.BIG_ENDIAN, 0);
        mask.wrap(buffer, 0);
        for (int length = 0; length < MacMaskHeader.LENGTH; length++)
        {
            assertFalse(mask.isValid(length), "length " + length);
        }
        assertTrue(mask.isValid(MacMaskHeader.LENGTH), "an empty list is a valid read");
    }

    @Test
    void shouldRejectDirectivesRunningPastTheFrame()
    {
        final ByteBuffer buffer = Frames.buffer(4096, ByteOrder.BIG_ENDIAN, 0);
        mask.wrap(buffer, 0);
        for (int count = 0; count <= 0xFF; count++)
        {
            mask.directiveCount(count);
            final int needed = MacMaskHeader.LENGTH + 8 * count;
            assertTrue(mask.isValid(needed), "count " + count);
            assertTrue(mask.isValid(needed + 17), "count " + count + " padded");
            assertFalse(mask.isValid(needed - 1), "count " + count + " truncated");
        }
    }

    @Test
    void shouldAcceptMoreDirectivesThanVbladeHolds()
    {
        final ByteBuffer buffer = Frames.buffer(MacMaskHeader.lengthFor(33), ByteOrder.BIG_ENDIAN, 0);
        mask.wrap(buffer, 0).directiveCount(MacMaskHeader.MAX_MASKS + 1);
        assertTrue(mask.isValid(buffer.capacity()));
    }

    @Test
    void shouldDecodePaddedFramesLikeUnpaddedOnes()
    {
        final int exactLength = MacMaskHeader.lengthFor(2);
        final ByteBuffer exact = edit(ByteOrder.BIG_ENDIAN, exactLength, 0);
        final ByteBuffer padded = Frames.buffer(AoeHeader.MIN_ETHERNET_FRAME, ByteOrder.BIG_ENDIAN, 0xEE);
        padded.put(0, exact, 0, exactLength);
        final MacMaskHeader fromPadded = new MacMaskHeader().wrap(padded, 0);
        assertTrue(fromPadded.isValid(AoeHeader.MIN_ETHERNET_FRAME));
        assertSameFields(new MacMaskHeader().wrap(exact, 0), fromPadded);
    }

    @Test
    void shouldDecodeTheSameWhateverTheBufferByteOrder()
    {
        final int length = MacMaskHeader.lengthFor(2);
        final ByteBuffer big = edit(ByteOrder.BIG_ENDIAN, length, 0);
        assertSameFields(new MacMaskHeader().wrap(big, 0), new MacMaskHeader().wrap(Frames.flippedCopy(big), 0));
        final ByteBuffer little = edit(ByteOrder.LITTLE_ENDIAN, length, 0);
        assertArrayEquals(Frames.bytes(big, 0, length), Frames.bytes(little, 0, length));
    }

    @Test
    void shouldWorkAtANonZeroOffset()
    {
        final int offset = 3;
        final int length = MacMaskHeader.lengthFor(2);
        final ByteBuffer buffer = edit(ByteOrder.BIG_ENDIAN, offset + length, offset);
        assertEquals((byte)0xFF, buffer.get(offset - 1), "nothing written before the offset");
        assertEquals(0x11, buffer.get(offset + 31));
        final MacMaskHeader atOffset = new MacMaskHeader().wrap(buffer, offset);
        assertTrue(atOffset.isValid(length));
        assertFalse(atOffset.isValid(length - 1));
        assertEquals(MAC_A, atOffset.mac(0));
        assertEquals(MAC_B, atOffset.mac(1));
        assertSameFields(new MacMaskHeader().wrap(Frames.moved(buffer, offset, length, 0, length), 0), atOffset);
    }

    private static long macFor(final int i)
    {
        return (0x0A0B_0C0D_0E00L + i * 0x0101_0101_0101L) & MacAddress.BROADCAST_BITS;
    }

    private static void assertSameFields(final MacMaskHeader expected, final MacMaskHeader actual)
    {
        assertEquals(expected.mcmd(), actual.mcmd());
        assertEquals(expected.merror(), actual.merror());
        assertEquals(expected.directiveCount(), actual.directiveCount());
        for (int i = 0; i < expected.directiveCount(); i++)
        {
            assertEquals(expected.dcmd(i), actual.dcmd(i));
            assertEquals(expected.mac(i), actual.mac(i));
        }
    }
}
