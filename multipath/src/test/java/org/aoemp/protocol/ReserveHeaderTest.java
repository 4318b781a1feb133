package org.aoemp.protocol;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.nio.ByteBuffer;
import java.nio.ByteOrder;

import org.junit.jupiter.api.Test;

class ReserveHeaderTest
{
    private static final long MAC_A = 0x0011_2233_4455L;
    private static final long MAC_B = 0x0066_7788_99AAL;

    private final ReserveHeader reserve = new ReserveHeader();

    /** A set naming two initiator NICs. */
    private ByteBuffer set(final ByteOrder order, final int size, final int offset)
    {
        final ByteBuffer buffer = Frames.buffer(size, order, 0xFF);
        new AoeHeader().wrap(buffer, offset).request(0x0A0B_0C0D_0E0FL, MAC_A, 9, 9, AoeHeader.CMD_RESERVE, 5);
        reserve.wrap(buffer, offset).rcmd(ReserveHeader.RCMD_SET).macCount(2).mac(0, MAC_A).mac(1, MAC_B);
        return buffer;
    }

    @Test
    void shouldHaveTheWireOffsets()
    {
        assertEquals(24, ReserveHeader.RCMD_OFFSET);
        assertEquals(25, ReserveHeader.NMACS_OFFSET);
        assertEquals(26, ReserveHeader.MACS_OFFSET);
        assertEquals(26, ReserveHeader.LENGTH);
        assertEquals(32, ReserveHeader.macOffset(1));
        assertEquals(26 + 6 * 255, ReserveHeader.lengthFor(255));
        assertEquals(0, ReserveHeader.RCMD_READ);
        assertEquals(1, ReserveHeader.RCMD_SET);
        assertEquals(2, ReserveHeader.RCMD_FORCE_SET);
        assertEquals(256, ReserveHeader.MAX_RESERVATIONS);
    }

    @Test
    void shouldRoundTripEveryField()
    {
        final int count = 0xFF;
        final ByteBuffer buffer = Frames.buffer(ReserveHeader.lengthFor(count), ByteOrder.BIG_ENDIAN, 0);
        reserve.wrap(buffer, 0);
        for (int value = 0; value <= 0xFF; value++)
        {
            reserve.rcmd(value).macCount(0xFF - value);
            assertEquals(value, reserve.rcmd());
            assertEquals(0xFF - value, reserve.macCount());
        }
        reserve.macCount(count);
        for (int i = 0; i < count; i++)
        {
            reserve.mac(i, macFor(i));
        }
        for (int i = 0; i < count; i++)
        {
            assertEquals(macFor(i), reserve.mac(i), "mac " + i);
        }
        assertTrue(reserve.isValid(buffer.capacity()));
        reserve.mac(0, 0).mac(count - 1, MacAddress.BROADCAST_BITS);
        assertEquals(0, reserve.mac(0));
        assertEquals(MacAddress.BROADCAST_BITS, reserve.mac(count - 1));
        assertEquals(macFor(1), reserve.mac(1), "neighbours are untouched");
    }

    @Test
    void shouldPutEveryFieldOnTheWireAsSpecified()
    {
        final ByteBuffer buffer = set(ByteOrder.LITTLE_ENDIAN, ReserveHeader.lengthFor(2), 0);
        assertArrayEquals(Frames.hex("01 02 001122334455 0066778899aa"), Frames.bytes(buffer, 24, 2 + 6 + 6));
        assertEquals(ReserveHeader.lengthFor(2), buffer.capacity());
    }

    @Test
    void shouldRejectFramesTooShortForTheFixedPart()
    {
        final ByteBuffer buffer = Frames.buffer(AoeHeader.MIN_ETHERNET_FRAME, ByteOrder.BIG_ENDIAN, 0);
        reserve.wrap(buffer, 0);
        for (int length = 0; length < ReserveHeader.LENGTH; length++)
        {
            assertFalse(reserve.isValid(length), "length " + length);
        }
        assertTrue(reserve.isValid(ReserveHeader.LENGTH), "an empty list is a valid release");
    }

    @Test
    void shouldRejectMacsRunningPastTheFrame()
    {
        final ByteBuffer buffer = Frames.buffer(2048, ByteOrder.BIG_ENDIAN, 0);
        reserve.wrap(buffer, 0);
        for (int count = 0; count <= 0xFF; count++)
        {
            reserve.macCount(count);
            final int needed = ReserveHeader.LENGTH + 6 * count;
            assertTrue(reserve.isValid(needed), "count " + count);
            assertTrue(reserve.isValid(needed + 5), "count " + count + " padded");
            assertFalse(reserve.isValid(needed - 1), "count " + count + " truncated");
        }
    }

    @Test
    void shouldFitAtMost248MacsInAStandardMtuFrame()
    {
        final int frame = 1500 + 14;
        assertTrue(ReserveHeader.lengthFor(248) <= frame);
        assertTrue(ReserveHeader.lengthFor(249) > frame);
    }

    @Test
    void shouldDecodePaddedFramesLikeUnpaddedOnes()
    {
        final int exactLength = ReserveHeader.lengthFor(2);
        final ByteBuffer exact = set(ByteOrder.BIG_ENDIAN, exactLength, 0);
        final ByteBuffer padded = Frames.buffer(AoeHeader.MIN_ETHERNET_FRAME, ByteOrder.BIG_ENDIAN, 0xEE);
        padded.put(0, exact, 0, exactLength);
        final ReserveHeader fromPadded = new ReserveHeader().wrap(padded, 0);
        assertTrue(fromPadded.isValid(AoeHeader.MIN_ETHERNET_FRAME));
        assertSameFields(new ReserveHeader().wrap(exact, 0), fromPadded);
    }

    @Test
    void shouldDecodeTheSameWhateverTheBufferByteOrder()
    {
        final int length = ReserveHeader.lengthFor(2);
        final ByteBuffer big = set(ByteOrder.BIG_ENDIAN, length, 0);
        assertSameFields(new ReserveHeader().wrap(big, 0), new ReserveHeader().wrap(Frames.flippedCopy(big), 0));
        final ByteBuffer little = set(ByteOrder.LITTLE_ENDIAN, length, 0);
        assertArrayEquals(Frames.bytes(big, 0, length), Frames.bytes(little, 0, length));
    }

    @Test
    void shouldWorkAtANonZeroOffset()
    {
        final int offset = 64;
        final int length = ReserveHeader.lengthFor(2);
        final ByteBuffer buffer = set(ByteOrder.BIG_ENDIAN, offset + length, offset);
        assertEquals((byte)0xFF, buffer.get(offset - 1), "nothing written before the offset");
        assertEquals(0x02, buffer.get(offset + 25));
        final ReserveHeader atOffset = new ReserveHeader().wrap(buffer, offset);
        assertTrue(atOffset.isValid(length));
        assertFalse(atOffset.isValid(length - 1));
        assertEquals(MAC_B, atOffset.mac(1));
        assertSameFields(new ReserveHeader().wrap(Frames.moved(buffer, offset, length, 0, length), 0), atOffset);
    }

    private static long macFor(final int i)
    {
        return (0x0200_0000_0000L | (long)i << 16 | i) & MacAddress.BROADCAST_BITS;
    }

    private static void assertSameFields(final ReserveHeader expected, final ReserveHeader actual)
    {
        assertEquals(expected.rcmd(), actual.rcmd());
        assertEquals(expected.macCount(), actual.macCount());
        for (int i = 0; i < expected.macCount(); i++)
        {
            assertEquals(expected.mac(i), actual.mac(i));
        }
    }
}
