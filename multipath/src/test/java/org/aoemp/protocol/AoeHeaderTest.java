package org.aoemp.protocol;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertNotEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.nio.ByteBuffer;
import java.nio.ByteOrder;
import java.util.HashSet;
import java.util.Set;

import org.junit.jupiter.api.Test;

class AoeHeaderTest
{
    private static final long DST = 0x0011_2233_4455L;
    private static final long SRC = 0xAABB_CCDD_EEFFL;

    private final AoeHeader header = new AoeHeader();

    private ByteBuffer request(final ByteOrder order, final int size, final int offset)
    {
        final ByteBuffer buffer = Frames.buffer(size, order, 0);
        header.wrap(buffer, offset).request(DST, SRC, 0x1234, 0x56, AoeHeader.CMD_ATA, 0x89AB_CDEF);
        return buffer;
    }

    @Test
    void shouldHaveTheWireOffsets()
    {
        assertEquals(12, AoeHeader.ETHERTYPE_OFFSET);
        assertEquals(14, AoeHeader.VERSION_FLAGS_OFFSET);
        assertEquals(15, AoeHeader.ERROR_OFFSET);
        assertEquals(16, AoeHeader.MAJOR_OFFSET);
        assertEquals(18, AoeHeader.MINOR_OFFSET);
        assertEquals(19, AoeHeader.COMMAND_OFFSET);
        assertEquals(20, AoeHeader.TAG_OFFSET);
        assertEquals(24, AoeHeader.LENGTH);
    }

    @Test
    void shouldRoundTripEveryField()
    {
        final int[] shelves = {0, 1, 0x1234, 0x7FFF, 0x8000, 0xFFFE, 0xFFFF};
        final int[] slots = {0, 1, 0x7F, 0x80, 0xFE, 0xFF};
        final int[] tags = {0, 1, 0x7FFF_FFFF, 0x8000_0000, 0x8000_0001, 0xFFFF_FFFF, 0x89AB_CDEF};
        final long[] macs = {0L, 1L, DST, SRC, 0x8000_0000_0000L, MacAddress.BROADCAST_BITS};
        final ByteBuffer buffer = Frames.buffer(AoeHeader.LENGTH, ByteOrder.BIG_ENDIAN, 0);
        header.wrap(buffer, 0);
        for (final int shelf : shelves)
        {
            for (final int slot : slots)
            {
                for (final int tag : tags)
                {
                    for (int command = 0; command <= 0xFF; command += 0x33)
                    {
                        final long dst = macs[(shelf + slot) % macs.length];
                        final long src = macs[(tag & 0xFF) % macs.length];
                        header.dst(dst).src(src).etherType(AoeHeader.ETHERTYPE)
                            .versionFlags(AoeHeader.VERSION, AoeHeader.FLAG_RESPONSE | AoeHeader.FLAG_ERROR)
                            .error(slot).shelf(shelf).slot(slot).command(command).tag(tag);
                        assertEquals(dst, header.dst());
                        assertEquals(src, header.src());
                        assertEquals(AoeHeader.ETHERTYPE, header.etherType());
                        assertEquals(AoeHeader.VERSION, header.version());
                        assertEquals(AoeHeader.FLAG_RESPONSE | AoeHeader.FLAG_ERROR, header.flags());
                        assertEquals(slot, header.error());
                        assertEquals(shelf, header.shelf());
                        assertEquals(slot, header.slot());
                        assertEquals(command, header.command());
                        assertEquals(tag, header.tag());
                    }
                }
            }
        }
    }

    @Test
    void shouldKeepTagBit31()
    {
        final ByteBuffer buffer = Frames.buffer(AoeHeader.LENGTH, ByteOrder.BIG_ENDIAN, 0);
        header.wrap(buffer, 0).tag(AoeHeader.USERLAND_TAG_BIT | 0x1234);
        assertEquals(0x8000_1234, header.tag());
        assertTrue(header.tag() < 0);
        assertArrayEquals(Frames.hex("80 00 12 34"), Frames.bytes(buffer, AoeHeader.TAG_OFFSET, 4));
    }

    @Test
    void shouldPutEveryFieldOnTheWireInNetworkOrder()
    {
        final ByteBuffer buffer = request(ByteOrder.LITTLE_ENDIAN, AoeHeader.LENGTH, 0);
        final byte[] expected = Frames.hex(
            "001122334455 aabbccddeeff 88a2 10 00 1234 56 00 89abcdef");
        assertArrayEquals(expected, Frames.bytes(buffer, 0, AoeHeader.LENGTH));
    }

    @Test
    void shouldPlaceShelfHighByteFirstAtOffset16()
    {
        final ByteBuffer buffer = Frames.buffer(AoeHeader.LENGTH, ByteOrder.LITTLE_ENDIAN, 0);
        header.wrap(buffer, 0).shelf(0x1234).slot(0xFF);
        assertEquals(0x12, buffer.get(16));
        assertEquals(0x34, buffer.get(17));
        assertEquals((byte)0xFF, buffer.get(18));
    }

    @Test
    void shouldBuildARequestWithVersionOneAndNoFlags()
    {
        request(ByteOrder.BIG_ENDIAN, AoeHeader.LENGTH, 0);
        assertEquals(1, header.version());
        assertEquals(0, header.flags());
        assertFalse(header.isResponse());
        assertFalse(header.isError());
        assertEquals(0, header.error());
        assertTrue(header.isAoeV1(AoeHeader.LENGTH));
    }

    @Test
    void shouldReportResponseAndErrorFlagsIndependently()
    {
        final ByteBuffer buffer = Frames.buffer(AoeHeader.LENGTH, ByteOrder.BIG_ENDIAN, 0);
        header.wrap(buffer, 0);
        header.versionFlags(1, AoeHeader.FLAG_RESPONSE);
        assertTrue(header.isResponse());
        assertFalse(header.isError());
        header.versionFlags(1, AoeHeader.FLAG_ERROR);
        assertFalse(header.isResponse());
        assertTrue(header.isError());
        header.versionFlags(1, 0x1F);
        assertEquals(1, header.version());
        assertEquals(0x0F, header.flags());
        assertEquals(0x1F, buffer.get(AoeHeader.VERSION_FLAGS_OFFSET));
    }

    @Test
    void shouldCarryEachErrorCodeWithTheErrorFlag()
    {
        final Set<String> names = new HashSet<>();
        for (int code = AoeHeader.ERR_UNRECOGNIZED_COMMAND; code <= AoeHeader.ERR_TARGET_RESERVED; code++)
        {
            final ByteBuffer buffer = request(ByteOrder.BIG_ENDIAN, AoeHeader.MIN_ETHERNET_FRAME, 0);
            header.versionFlags(AoeHeader.VERSION, AoeHeader.FLAG_RESPONSE | AoeHeader.FLAG_ERROR).error(code);
            assertEquals(0x1C, buffer.get(14));
            assertEquals(code, buffer.get(15));

            header.wrap(Frames.flippedCopy(buffer), 0);
            assertTrue(header.isAoeV1(AoeHeader.MIN_ETHERNET_FRAME));
            assertTrue(header.isResponse());
            assertTrue(header.isError());
            assertEquals(code, header.error());

            final String name = AoeHeader.errorName(code);
            assertFalse(name.startsWith("AoE error"), name);
            names.add(name);
        }
        assertEquals(6, names.size(), "each error code has its own name");
        assertEquals("target is reserved by another host", AoeHeader.errorName(AoeHeader.ERR_TARGET_RESERVED));
        assertEquals("unsupported version", AoeHeader.errorName(5));
    }

    @Test
    void shouldNameUnknownErrorCodesByNumber()
    {
        assertEquals("AoE error 0", AoeHeader.errorName(0));
        assertEquals("AoE error 7", AoeHeader.errorName(7));
        assertEquals("AoE error 255", AoeHeader.errorName(255));
    }

    @Test
    void shouldDecodePaddedFramesLikeUnpaddedOnes()
    {
        final ByteBuffer exact = request(ByteOrder.BIG_ENDIAN, AoeHeader.LENGTH, 0);
        final ByteBuffer padded = Frames.buffer(AoeHeader.MIN_ETHERNET_FRAME, ByteOrder.BIG_ENDIAN, 0xEE);
        padded.put(0, exact, 0, AoeHeader.LENGTH);

        final AoeHeader other = new AoeHeader().wrap(padded, 0);
        header.wrap(exact, 0);
        assertTrue(header.isAoeV1(AoeHeader.LENGTH));
        assertTrue(other.isAoeV1(AoeHeader.MIN_ETHERNET_FRAME));
        assertSameFields(header, other);
    }

    @Test
    void shouldRejectTruncatedFrames()
    {
        request(ByteOrder.BIG_ENDIAN, AoeHeader.LENGTH, 0);
        for (int length = 0; length < AoeHeader.LENGTH; length++)
        {
            assertFalse(header.isAoeV1(length), "length " + length);
        }
        assertTrue(header.isAoeV1(AoeHeader.LENGTH));
    }

    @Test
    void shouldRejectOtherVersions()
    {
        request(ByteOrder.BIG_ENDIAN, AoeHeader.MIN_ETHERNET_FRAME, 0);
        for (final int version : new int[] {0, 2, 0xF})
        {
            header.versionFlags(version, AoeHeader.FLAG_RESPONSE);
            assertEquals(version, header.version());
            assertFalse(header.isAoeV1(AoeHeader.MIN_ETHERNET_FRAME), "version " + version);
        }
    }

    @Test
    void shouldRejectOtherEtherTypes()
    {
        request(ByteOrder.BIG_ENDIAN, AoeHeader.MIN_ETHERNET_FRAME, 0);
        for (final int type : new int[] {0x0800, 0x86DD, 0xA288, 0x88A3, 0x8100})
        {
            header.etherType(type);
            assertFalse(header.isAoeV1(AoeHeader.MIN_ETHERNET_FRAME), Integer.toHexString(type));
        }
    }

    @Test
    void shouldDecodeTheSameWhateverTheBufferByteOrder()
    {
        final ByteBuffer big = request(ByteOrder.BIG_ENDIAN, AoeHeader.LENGTH, 0);
        final ByteBuffer little = Frames.flippedCopy(big);
        assertEquals(ByteOrder.LITTLE_ENDIAN, little.order());
        assertSameFields(new AoeHeader().wrap(big, 0), new AoeHeader().wrap(little, 0));

        final ByteBuffer writtenLittle = request(ByteOrder.LITTLE_ENDIAN, AoeHeader.LENGTH, 0);
        assertArrayEquals(Frames.bytes(big, 0, AoeHeader.LENGTH), Frames.bytes(writtenLittle, 0, AoeHeader.LENGTH));
    }

    @Test
    void shouldWorkAtANonZeroOffset()
    {
        final int offset = 37;
        final ByteBuffer buffer = request(ByteOrder.BIG_ENDIAN, offset + AoeHeader.LENGTH + 5, offset);
        assertEquals(offset, header.offset());
        assertEquals(0, buffer.get(offset - 1), "nothing written before the offset");
        assertEquals(0x12, buffer.get(offset + 16));
        assertEquals((byte)0x88, buffer.get(offset + 12));

        final AoeHeader atZero = new AoeHeader().wrap(request(ByteOrder.BIG_ENDIAN, AoeHeader.LENGTH, 0), 0);
        final AoeHeader atOffset = new AoeHeader().wrap(buffer, offset);
        assertTrue(atOffset.isAoeV1(AoeHeader.LENGTH));
        assertSameFields(atZero, atOffset);
    }

    @Test
    void shouldRewrapOverAnotherBuffer()
    {
        final ByteBuffer first = request(ByteOrder.BIG_ENDIAN, AoeHeader.LENGTH, 0);
        final ByteBuffer second = Frames.buffer(AoeHeader.LENGTH, ByteOrder.BIG_ENDIAN, 0);
        header.wrap(second, 0).shelf(7);
        assertEquals(second, header.buffer());
        assertEquals(7, header.shelf());
        assertEquals(0x1234, header.wrap(first, 0).shelf());
    }

    private static void assertSameFields(final AoeHeader expected, final AoeHeader actual)
    {
        assertEquals(expected.dst(), actual.dst());
        assertEquals(expected.src(), actual.src());
        assertEquals(expected.etherType(), actual.etherType());
        assertEquals(expected.version(), actual.version());
        assertEquals(expected.flags(), actual.flags());
        assertEquals(expected.error(), actual.error());
        assertEquals(expected.shelf(), actual.shelf());
        assertEquals(expected.slot(), actual.slot());
        assertEquals(expected.command(), actual.command());
        assertEquals(expected.tag(), actual.tag());
        assertNotEquals(0, actual.etherType());
    }
}
