package org.aoemp.protocol;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.nio.ByteBuffer;
import java.nio.ByteOrder;
import java.nio.charset.StandardCharsets;

import org.junit.jupiter.api.Test;

class IdentifyTest
{
    private static final String MODEL = "Coraid EtherDrive vblade";
    private static final String SERIAL = "7.3:storage01";
    private static final String FIRMWARE = "V25";
    /** 1 GB: both capacity words can hold it. */
    private static final long SMALL_DISK = 2_000_000L;
    /** 3 TiB: too big for words 60-61. */
    private static final long THREE_TIB = 3L * (1L << 40) / 512;

    private static ByteBuffer written(final long sectors, final ByteOrder order)
    {
        final ByteBuffer buffer = Frames.buffer(Identify.LENGTH, order, 0xFF);
        Identify.write(buffer, 0, sectors, MODEL, SERIAL, FIRMWARE);
        return buffer;
    }

    private static int word(final ByteBuffer buffer, final int word)
    {
        return (buffer.get(2 * word) & 0xFF) | (buffer.get(2 * word + 1) & 0xFF) << 8;
    }

    private static void word(final ByteBuffer buffer, final int word, final int value)
    {
        buffer.put(2 * word, (byte)value);
        buffer.put(2 * word + 1, (byte)(value >>> 8));
    }

    @Test
    void shouldRoundTripASmallDisk()
    {
        final ByteBuffer buffer = written(SMALL_DISK, ByteOrder.BIG_ENDIAN);
        final Identify identify = Identify.parse(buffer, 0);
        assertEquals(new Identify(true, SMALL_DISK, MODEL, SERIAL, FIRMWARE), identify);
        assertEquals(SMALL_DISK, Bytes.uLe(buffer, Identify.LBA28_CAPACITY_OFFSET, 4), "words 60-61 hold it too");
        assertEquals(SMALL_DISK, Bytes.uLe(buffer, Identify.LBA48_CAPACITY_OFFSET, 8));
    }

    @Test
    void shouldRoundTripAThreeTebibyteDiskThroughTheLba48Words()
    {
        final ByteBuffer buffer = written(THREE_TIB, ByteOrder.BIG_ENDIAN);
        final Identify identify = Identify.parse(buffer, 0);
        assertTrue(identify.lba48());
        assertEquals(6_442_450_944L, identify.capacitySectors());
        assertEquals(3L << 40, identify.capacitySectors() * 512);
        assertEquals(0x0FFF_FFFFL, Bytes.uLe(buffer, Identify.LBA28_CAPACITY_OFFSET, 4), "words 60-61 are capped");
        assertArrayEquals(Frames.hex("00 00 00 80 01 00 00 00"), Frames.bytes(buffer, 200, 8));
    }

    @Test
    void shouldRoundTripCapacitiesAcrossTheRange()
    {
        final long[] sizes = {0L, 1L, 1008L, 0x0FFF_FFFEL, 0x0FFF_FFFFL, 0x1000_0000L, 0xFFFF_FFFFL,
            0x1_0000_0000L, AtaHeader.LBA48_LIMIT - 1, AtaHeader.LBA48_LIMIT};
        for (final long size : sizes)
        {
            final ByteBuffer buffer = written(size, ByteOrder.LITTLE_ENDIAN);
            final Identify identify = Identify.parse(buffer, 0);
            assertTrue(identify.lba48());
            assertEquals(size, identify.capacitySectors(), "size " + size);
            assertEquals(Math.min(size, Identify.MAX_LBA28_CAPACITY), Bytes.uLe(buffer, Identify.LBA28_CAPACITY_OFFSET, 4));
        }
    }

    @Test
    void shouldWriteTheCapabilityWordsVbladeSends()
    {
        final ByteBuffer buffer = written(SMALL_DISK, ByteOrder.BIG_ENDIAN);
        assertEquals(0x8000, word(buffer, 47));
        assertEquals(0x0200, word(buffer, 49));
        assertEquals(0x4000, word(buffer, 50));
        assertEquals(0x5400, word(buffer, 83));
        assertEquals(0x4000, word(buffer, 84));
        assertEquals(0x1400, word(buffer, 86));
        assertEquals(0x4000, word(buffer, 87));
        assertEquals(0x400B, word(buffer, 93));
        assertEquals(0x00, buffer.get(166), "word 83 is little-endian: low byte first");
        assertEquals(0x54, buffer.get(167));
        assertEquals(0x0B, buffer.get(186));
        assertEquals(0x40, buffer.get(187));
    }

    @Test
    void shouldWriteAFakeGeometryOf16HeadsAnd63Sectors()
    {
        final ByteBuffer small = written(SMALL_DISK, ByteOrder.BIG_ENDIAN);
        final int cylinders = (int)(SMALL_DISK / (16 * 63));
        assertEquals(cylinders, word(small, 1));
        assertEquals(16, word(small, 3));
        assertEquals(63, word(small, 6));
        assertEquals(1, word(small, 53) & 1, "words 54-58 valid");
        assertEquals(cylinders, word(small, 54));
        assertEquals(16, word(small, 55));
        assertEquals(63, word(small, 56));
        assertEquals(cylinders * 16L * 63, Bytes.uLe(small, Identify.CURRENT_CHS_CAPACITY_OFFSET, 4));

        final ByteBuffer big = written(THREE_TIB, ByteOrder.BIG_ENDIAN);
        assertEquals(16383, word(big, 1));
        assertEquals(16383, word(big, 54));
        assertEquals(16383L * 16 * 63, Bytes.uLe(big, Identify.CURRENT_CHS_CAPACITY_OFFSET, 4));
    }

    @Test
    void shouldZeroEveryWordItDoesNotSet()
    {
        final ByteBuffer buffer = written(SMALL_DISK, ByteOrder.BIG_ENDIAN);
        final int[] zero = {0, 2, 4, 5, 7, 8, 9, 20, 21, 22, 48, 51, 52, 59, 62, 80, 81, 82, 85, 88, 103, 104, 255};
        for (final int w : zero)
        {
            assertEquals(0, word(buffer, w), "word " + w);
        }
    }

    @Test
    void shouldFindLba48WhenOnlyWord86HasBit10()
    {
        final ByteBuffer buffer = written(THREE_TIB, ByteOrder.BIG_ENDIAN);
        word(buffer, 83, 0x4000);
        final Identify identify = Identify.parse(buffer, 0);
        assertTrue(identify.lba48());
        assertEquals(THREE_TIB, identify.capacitySectors());
    }

    @Test
    void shouldFindLba48WhenOnlyWord83HasBit10()
    {
        final ByteBuffer buffer = written(THREE_TIB, ByteOrder.BIG_ENDIAN);
        word(buffer, 86, 0x1000);
        assertTrue(Identify.parse(buffer, 0).lba48());
    }

    @Test
    void shouldTakeCapacityFromWords60And61WithoutLba48()
    {
        final ByteBuffer buffer = written(THREE_TIB, ByteOrder.BIG_ENDIAN);
        word(buffer, 83, 0x5000);
        word(buffer, 86, 0x1000);
        final Identify identify = Identify.parse(buffer, 0);
        assertFalse(identify.lba48());
        assertEquals(0x0FFF_FFFFL, identify.capacitySectors(), "words 100-103 are ignored");
    }

    @Test
    void shouldReadWords60And61LittleEndianFromAHandBuiltBlock()
    {
        final ByteBuffer buffer = Frames.buffer(Identify.LENGTH, ByteOrder.BIG_ENDIAN, 0);
        word(buffer, 60, 0x5678);
        word(buffer, 61, 0x0123);
        final Identify identify = Identify.parse(buffer, 0);
        assertFalse(identify.lba48());
        assertEquals(0x0123_5678L, identify.capacitySectors());
        assertEquals("", identify.model());
        assertEquals("", identify.serial());
        assertEquals("", identify.firmware());
    }

    @Test
    void shouldFallBackToWords60And61WhenTheLba48WordsAreZero()
    {
        final ByteBuffer buffer = written(SMALL_DISK, ByteOrder.BIG_ENDIAN);
        for (int w = 100; w <= 103; w++)
        {
            word(buffer, w, 0);
        }
        final Identify identify = Identify.parse(buffer, 0);
        assertTrue(identify.lba48());
        assertEquals(SMALL_DISK, identify.capacitySectors());
    }

    @Test
    void shouldReadAll64BitsOfTheLba48Words()
    {
        final ByteBuffer buffer = written(SMALL_DISK, ByteOrder.BIG_ENDIAN);
        word(buffer, 100, 0x0004);
        word(buffer, 101, 0x0003);
        word(buffer, 102, 0x0002);
        word(buffer, 103, 0x0001);
        assertEquals(0x0001_0002_0003_0004L, Identify.parse(buffer, 0).capacitySectors());
    }

    @Test
    void shouldDecodeByteSwappedStringsFromAHandBuiltBlock()
    {
        final ByteBuffer buffer = Frames.buffer(Identify.LENGTH, ByteOrder.LITTLE_ENDIAN, ' ');
        putAscii(buffer, 54, "oCardiE htrerDvi ebvaled");
        putAscii(buffer, 20, ".7:3tsroga0e 1");
        putAscii(buffer, 46, "2V5     ");
        final Identify identify = Identify.parse(buffer, 0);
        assertEquals(MODEL, identify.model());
        assertEquals("7.3:storage01", identify.serial());
        assertEquals("V2 5", identify.firmware(), "only the ends are trimmed");
    }

    @Test
    void shouldWriteStringsByteSwappedAndSpacePadded()
    {
        final ByteBuffer buffer = Frames.buffer(Identify.LENGTH, ByteOrder.BIG_ENDIAN, 0);
        Identify.write(buffer, 0, SMALL_DISK, "ABCDE", "XYZ", "V25");
        assertEquals("BADC E", new String(Frames.bytes(buffer, 54, 6), StandardCharsets.ISO_8859_1));
        assertEquals(" ".repeat(34), new String(Frames.bytes(buffer, 60, 34), StandardCharsets.ISO_8859_1));
        assertEquals("YX Z" + " ".repeat(16), new String(Frames.bytes(buffer, 20, 20), StandardCharsets.ISO_8859_1));
        assertEquals("2V 5    ", new String(Frames.bytes(buffer, 46, 8), StandardCharsets.ISO_8859_1));
        assertEquals('A', buffer.get(55), "first character in the high byte of word 27");
    }

    @Test
    void shouldTruncateStringsLongerThanTheirField()
    {
        final ByteBuffer buffer = Frames.buffer(Identify.LENGTH, ByteOrder.BIG_ENDIAN, 0);
        final String longModel = "M".repeat(39) + "0123456789";
        final String longSerial = "S".repeat(19) + "0123456789";
        Identify.write(buffer, 0, SMALL_DISK, longModel, longSerial, "FIRMWARE-TOO-LONG");
        final Identify identify = Identify.parse(buffer, 0);
        assertEquals("M".repeat(39) + "0", identify.model());
        assertEquals("S".repeat(19) + "0", identify.serial());
        assertEquals("FIRMWARE", identify.firmware());
        for (int w = 20; w <= 22; w++)
        {
            assertEquals(0, word(buffer, w), "the serial did not spill into word " + w);
        }
    }

    @Test
    void shouldTrimLeadingSpacesAndTrailingNuls()
    {
        final ByteBuffer buffer = Frames.buffer(Identify.LENGTH, ByteOrder.BIG_ENDIAN, 0);
        putAscii(buffer, 20, "  AB");
        final Identify identify = Identify.parse(buffer, 0);
        assertEquals("BA", identify.serial());
    }

    @Test
    void shouldReplaceCharactersOutsidePrintableAscii()
    {
        final ByteBuffer buffer = Frames.buffer(Identify.LENGTH, ByteOrder.BIG_ENDIAN, 0);
        Identify.write(buffer, 0, SMALL_DISK, "caf\u00e9\tdisk", "\u20ac1", "");
        final Identify identify = Identify.parse(buffer, 0);
        assertEquals("caf??disk", identify.model());
        assertEquals("?1", identify.serial());
        assertEquals("", identify.firmware());
    }

    @Test
    void shouldRoundTripEveryPrintableAsciiCharacter()
    {
        final StringBuilder all = new StringBuilder();
        for (char c = 0x21; c < 0x7F; c++)
        {
            all.append(c);
        }
        final ByteBuffer buffer = Frames.buffer(Identify.LENGTH, ByteOrder.BIG_ENDIAN, 0);
        for (int start = 0; start < all.length(); start += Identify.MODEL_LENGTH)
        {
            final String model = all.substring(start, Math.min(all.length(), start + Identify.MODEL_LENGTH));
            Identify.write(buffer, 0, 1, model, "s", "f");
            assertEquals(model, Identify.parse(buffer, 0).model());
        }
    }

    @Test
    void shouldDecodeTheSameWhateverTheBufferByteOrder()
    {
        final ByteBuffer big = written(THREE_TIB, ByteOrder.BIG_ENDIAN);
        final ByteBuffer little = written(THREE_TIB, ByteOrder.LITTLE_ENDIAN);
        assertArrayEquals(Frames.bytes(big, 0, Identify.LENGTH), Frames.bytes(little, 0, Identify.LENGTH));
        assertEquals(Identify.parse(big, 0), Identify.parse(Frames.flippedCopy(big), 0));
        assertEquals(Identify.parse(big, 0), Identify.parse(little, 0));
    }

    @Test
    void shouldWorkAtTheDataOffsetOfAFrame()
    {
        final int size = AtaHeader.DATA_OFFSET + Identify.LENGTH + 4;
        final ByteBuffer frame = Frames.buffer(size, ByteOrder.BIG_ENDIAN, 0xEE);
        Identify.write(frame, AtaHeader.DATA_OFFSET, THREE_TIB, MODEL, SERIAL, FIRMWARE);
        assertEquals((byte)0xEE, frame.get(AtaHeader.DATA_OFFSET - 1), "nothing written before the data");
        assertEquals((byte)0xEE, frame.get(AtaHeader.DATA_OFFSET + Identify.LENGTH), "nor after it");
        assertEquals(new Identify(true, THREE_TIB, MODEL, SERIAL, FIRMWARE), Identify.parse(frame, AtaHeader.DATA_OFFSET));
        assertEquals(0x54, frame.get(AtaHeader.DATA_OFFSET + 167));
    }

    @Test
    void shouldRejectABufferTooShortForTheBlock()
    {
        final ByteBuffer buffer = ByteBuffer.allocate(Identify.LENGTH + 10);
        assertThrows(IndexOutOfBoundsException.class, () -> Identify.parse(buffer, 11));
        assertThrows(IndexOutOfBoundsException.class, () -> Identify.parse(buffer, -1));
        assertThrows(IndexOutOfBoundsException.class, () -> Identify.write(buffer, 11, 1, "", "", ""));
        Identify.parse(buffer, 10);
    }

    @Test
    void shouldRejectImpossibleSectorCounts()
    {
        final ByteBuffer buffer = ByteBuffer.allocate(Identify.LENGTH);
        assertThrows(IllegalArgumentException.class, () -> Identify.write(buffer, 0, -1, "", "", ""));
        assertThrows(IllegalArgumentException.class, () -> Identify.write(buffer, 0, AtaHeader.LBA48_LIMIT + 1, "", "", ""));
    }

    private static void putAscii(final ByteBuffer buffer, final int index, final String text)
    {
        final byte[] bytes = text.getBytes(StandardCharsets.US_ASCII);
        buffer.put(index, bytes, 0, bytes.length);
    }
}
