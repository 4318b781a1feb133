package org.aoemp.protocol;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.nio.ByteBuffer;
import java.nio.ByteOrder;

import org.junit.jupiter.api.Test;

class AtaHeaderTest
{
    private final AoeHeader aoe = new AoeHeader();
    private final AtaHeader ata = new AtaHeader();

    /** A READ EXT request for 2 sectors at 0x0102030405, as an initiator would build it. */
    private ByteBuffer readExt(final ByteOrder order, final int size, final int offset)
    {
        final ByteBuffer buffer = Frames.buffer(size, order, 0);
        aoe.wrap(buffer, offset).request(0x0011_2233_4455L, 0x0066_7788_99AAL, 7, 3, AoeHeader.CMD_ATA, 0x8000_0042);
        ata.wrap(buffer, offset).aflags(AtaHeader.AFLAG_LBA48).errFeature(0).sectorCount(2)
            .cmdStatus(AtaHeader.ATA_READ_EXT).lba(0x01_0203_0405L).clearReserved();
        return buffer;
    }

    @Test
    void shouldHaveTheWireOffsets()
    {
        assertEquals(24, AtaHeader.AFLAGS_OFFSET);
        assertEquals(25, AtaHeader.ERR_FEATURE_OFFSET);
        assertEquals(26, AtaHeader.SECTOR_COUNT_OFFSET);
        assertEquals(27, AtaHeader.CMD_STATUS_OFFSET);
        assertEquals(28, AtaHeader.LBA_OFFSET);
        assertEquals(34, AtaHeader.RESERVED_OFFSET);
        assertEquals(36, AtaHeader.DATA_OFFSET);
    }

    @Test
    void shouldRoundTripEveryField()
    {
        final ByteBuffer buffer = Frames.buffer(AtaHeader.DATA_OFFSET, ByteOrder.BIG_ENDIAN, 0);
        ata.wrap(buffer, 0);
        final int[] flags = {0, AtaHeader.AFLAG_LBA48, AtaHeader.AFLAG_DEVICE, AtaHeader.AFLAG_ASYNC,
            AtaHeader.AFLAG_WRITE, AtaHeader.AFLAG_LBA48 | AtaHeader.AFLAG_WRITE, 0xFF};
        final long[] lbas = {0L, 1L, 0xFFL, 0x100L, 0x0FFF_FFFFL, 0x1000_0000L, 0x01_0203_0405L,
            0x8000_0000_0000L, 0xFFFF_FFFF_FFFFL};
        for (final int flag : flags)
        {
            for (int value = 0; value <= 0xFF; value += 0x11)
            {
                for (final long lba : lbas)
                {
                    ata.aflags(flag).errFeature(value).sectorCount(0xFF - value).cmdStatus(value ^ 0x5A).lba(lba);
                    assertEquals(flag, ata.aflags());
                    assertEquals(value, ata.errFeature());
                    assertEquals(0xFF - value, ata.sectorCount());
                    assertEquals(value ^ 0x5A, ata.cmdStatus());
                    assertEquals(lba, ata.lba());
                }
            }
        }
    }

    @Test
    void shouldPutLbaLeastSignificantByteFirst()
    {
        final ByteBuffer buffer = readExt(ByteOrder.BIG_ENDIAN, AoeHeader.MIN_ETHERNET_FRAME, 0);
        assertArrayEquals(Frames.hex("05 04 03 02 01 00"), Frames.bytes(buffer, 28, 6));
        for (int i = 0; i < 6; i++)
        {
            assertEquals(i < 5 ? 5 - i : 0, ata.lbaByte(i));
        }
        assertEquals(0x05, buffer.get(AtaHeader.LBA_OFFSET), "lba0 comes first");
    }

    @Test
    void shouldPutTheWholeRequestOnTheWireAsSpecified()
    {
        final ByteBuffer buffer = readExt(ByteOrder.LITTLE_ENDIAN, AtaHeader.DATA_OFFSET, 0);
        final byte[] expected = Frames.hex(
            "001122334455 0066778899aa 88a2 10 00 0007 03 00 80000042"
                + " 40 00 02 24 050403020100 0000");
        assertArrayEquals(expected, Frames.bytes(buffer, 0, AtaHeader.DATA_OFFSET));
    }

    @Test
    void shouldRoundTripTheLargestLba48Address()
    {
        final ByteBuffer buffer = Frames.buffer(AtaHeader.DATA_OFFSET, ByteOrder.BIG_ENDIAN, 0);
        ata.wrap(buffer, 0).lba(AtaHeader.LBA48_LIMIT - 1);
        assertEquals(0xFFFF_FFFF_FFFFL, ata.lba());
        assertArrayEquals(Frames.hex("ff ff ff ff ff ff"), Frames.bytes(buffer, 28, 6));
        assertEquals(0, buffer.get(34), "the reserved bytes are untouched");
    }

    @Test
    void shouldEncodeLba28WithTheLbaModeNibble()
    {
        final ByteBuffer buffer = Frames.buffer(AtaHeader.DATA_OFFSET, ByteOrder.BIG_ENDIAN, 0xFF);
        ata.wrap(buffer, 0).lba28(0x0ABC_DEF1L);
        assertArrayEquals(Frames.hex("f1 de bc ea 00 00"), Frames.bytes(buffer, 28, 6));
        assertEquals(0x0ABC_DEF1L, ata.lba28());
        assertEquals(0xEA_BCDE_F1L, ata.lba(), "the raw 48-bit view shows the 0xE0 nibble");

        ata.lba28(AtaHeader.LBA28_LIMIT - 1);
        assertArrayEquals(Frames.hex("ff ff ff ef 00 00"), Frames.bytes(buffer, 28, 6));
        assertEquals(0x0FFF_FFFFL, ata.lba28());

        ata.lba28(0);
        assertArrayEquals(Frames.hex("00 00 00 e0 00 00"), Frames.bytes(buffer, 28, 6));
        assertEquals(0, ata.lba28());
    }

    @Test
    void shouldRoundTripLba28AcrossItsRange()
    {
        final ByteBuffer buffer = Frames.buffer(AtaHeader.DATA_OFFSET, ByteOrder.LITTLE_ENDIAN, 0);
        ata.wrap(buffer, 0);
        for (long lba = 0; lba < AtaHeader.LBA28_LIMIT; lba = lba * 3 + 1)
        {
            ata.lba28(lba);
            assertEquals(lba, ata.lba28());
            assertEquals(0xE0, ata.lbaByte(3) & 0xF0);
            assertEquals(lba >>> 24, ata.lbaByte(3) & 0x0F);
        }
    }

    @Test
    void shouldReadLba28IgnoringTheHighNibbleOfLba3()
    {
        final ByteBuffer buffer = Frames.buffer(AtaHeader.DATA_OFFSET, ByteOrder.BIG_ENDIAN, 0);
        ata.wrap(buffer, 0).lba(0x1234_A056_7890L);
        assertEquals(0x0056_7890L, ata.lba28());
        ata.lbaByte(3, 0x40);
        assertEquals(0x0056_7890L, ata.lba28(), "the IDENTIFY-style 0xA0/0x40 device byte is not address");
    }

    @Test
    void shouldClearTheReservedBytes()
    {
        final ByteBuffer buffer = Frames.buffer(AtaHeader.DATA_OFFSET + 2, ByteOrder.BIG_ENDIAN, 0xFF);
        ata.wrap(buffer, 0).clearReserved();
        assertArrayEquals(Frames.hex("0000"), Frames.bytes(buffer, 34, 2));
        assertEquals((byte)0xFF, buffer.get(33));
        assertEquals((byte)0xFF, buffer.get(36), "data is not touched");
    }

    @Test
    void shouldTreatBusyDeviceFaultDataRequestAndErrorAsFailure()
    {
        final ByteBuffer buffer = Frames.buffer(AtaHeader.DATA_OFFSET, ByteOrder.BIG_ENDIAN, 0);
        ata.wrap(buffer, 0);
        assertFalse(ata.cmdStatus(AtaHeader.STATUS_DRDY).failed());
        assertFalse(ata.cmdStatus(0x50).failed(), "DRDY|DSC is fine");
        assertFalse(ata.cmdStatus(0).failed());
        assertTrue(ata.cmdStatus(AtaHeader.STATUS_DRDY | AtaHeader.STATUS_ERR).failed(), "vblade's abort");
        assertTrue(ata.cmdStatus(0x80).failed(), "BSY");
        assertTrue(ata.cmdStatus(0x20).failed(), "DF");
        assertTrue(ata.cmdStatus(0x08).failed(), "DRQ");
        int failing = 0;
        for (int status = 0; status <= 0xFF; status++)
        {
            failing += ata.cmdStatus(status).failed() ? 1 : 0;
        }
        assertEquals(256 - 16, failing, "only the 16 combinations of bits 0x56 pass");
    }

    @Test
    void shouldDecodePaddedFramesLikeUnpaddedOnes()
    {
        final ByteBuffer exact = readExt(ByteOrder.BIG_ENDIAN, AtaHeader.DATA_OFFSET, 0);
        final ByteBuffer padded = Frames.buffer(AoeHeader.MIN_ETHERNET_FRAME, ByteOrder.BIG_ENDIAN, 0xEE);
        padded.put(0, exact, 0, AtaHeader.DATA_OFFSET);
        assertTrue(new AoeHeader().wrap(padded, 0).isAoeV1(AoeHeader.MIN_ETHERNET_FRAME));
        assertSameFields(new AtaHeader().wrap(exact, 0), new AtaHeader().wrap(padded, 0));
    }

    @Test
    void shouldDecodeTheSameWhateverTheBufferByteOrder()
    {
        final ByteBuffer big = readExt(ByteOrder.BIG_ENDIAN, AtaHeader.DATA_OFFSET, 0);
        assertSameFields(new AtaHeader().wrap(big, 0), new AtaHeader().wrap(Frames.flippedCopy(big), 0));
        final ByteBuffer little = readExt(ByteOrder.LITTLE_ENDIAN, AtaHeader.DATA_OFFSET, 0);
        assertArrayEquals(Frames.bytes(big, 0, AtaHeader.DATA_OFFSET), Frames.bytes(little, 0, AtaHeader.DATA_OFFSET));
    }

    @Test
    void shouldWorkAtANonZeroOffset()
    {
        final int offset = 11;
        final ByteBuffer buffer = readExt(ByteOrder.BIG_ENDIAN, offset + AtaHeader.DATA_OFFSET, offset);
        assertEquals(0x05, buffer.get(offset + 28));
        assertEquals(0x24, buffer.get(offset + 27));
        final ByteBuffer atZero = Frames.moved(buffer, offset, AtaHeader.DATA_OFFSET, 0, AtaHeader.DATA_OFFSET);
        assertSameFields(new AtaHeader().wrap(atZero, 0), new AtaHeader().wrap(buffer, offset));
        assertEquals(0x01_0203_0405L, new AtaHeader().wrap(buffer, offset).lba());
    }

    private static void assertSameFields(final AtaHeader expected, final AtaHeader actual)
    {
        assertEquals(expected.aflags(), actual.aflags());
        assertEquals(expected.errFeature(), actual.errFeature());
        assertEquals(expected.sectorCount(), actual.sectorCount());
        assertEquals(expected.cmdStatus(), actual.cmdStatus());
        assertEquals(expected.lba(), actual.lba());
        assertEquals(expected.lba28(), actual.lba28());
    }
}
