package org.aoemp.initiator;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;

import java.nio.ByteBuffer;
import java.util.Arrays;

import org.aoemp.protocol.AtaHeader;
import org.junit.jupiter.api.Test;

/** The bytes of the frames the engine sends, checked byte by byte against the AoE and ATA layouts. */
class AtaCommandWriterTest
{
    private static final long DST = 0x02_11_22_33_44_55L;
    private static final long SRC = 0x02_AA_BB_CC_DD_EEL;
    private static final int SHELF = 0x0102;
    private static final int SLOT = 0x07;
    private static final int TAG = 0x8123_4567;

    private final AtaCommandWriter writer = new AtaCommandWriter();

    /** A frame buffer full of garbage, so that every byte the writer leaves alone shows. */
    private static ByteBuffer garbage(final int size)
    {
        final ByteBuffer b = ByteBuffer.allocateDirect(size);
        for (int i = 0; i < size; i++)
        {
            b.put(i, (byte)0xEE);
        }
        return b;
    }

    private static int[] bytes(final ByteBuffer b, final int from, final int to)
    {
        final int[] out = new int[to - from];
        for (int i = from; i < to; i++)
        {
            out[i - from] = b.get(i) & 0xFF;
        }
        return out;
    }

    /** Ethernet header, AoE header with the userland tag: bytes 0–23. */
    private static void assertHeaders(final ByteBuffer f)
    {
        assertArrayEquals(new int[] {0x02, 0x11, 0x22, 0x33, 0x44, 0x55}, bytes(f, 0, 6), "destination MAC");
        assertArrayEquals(new int[] {0x02, 0xAA, 0xBB, 0xCC, 0xDD, 0xEE}, bytes(f, 6, 12), "source MAC");
        assertArrayEquals(new int[] {0x88, 0xA2}, bytes(f, 12, 14), "EtherType AoE");
        assertArrayEquals(new int[] {0x10, 0x00}, bytes(f, 14, 16), "version 1, no flags; no error");
        assertArrayEquals(new int[] {0x01, 0x02, 0x07, 0x00}, bytes(f, 16, 20), "shelf (major), slot (minor), command ATA");
        assertArrayEquals(new int[] {0x81, 0x23, 0x45, 0x67}, bytes(f, 20, 24), "tag, big-endian");
    }

    private static void assertZeroes(final ByteBuffer f, final int from, final int to)
    {
        final int[] zeroes = new int[to - from];
        assertArrayEquals(zeroes, bytes(f, from, to), "zeroes in [" + from + ", " + to + ")");
    }

    @Test
    void shouldWriteAReadExtWithAllSixLbaBytesAndPadTo60Bytes()
    {
        final ByteBuffer f = garbage(1514);
        final int length = writer.write(f, DST, SRC, SHELF, SLOT, TAG, AtaHeader.ATA_READ_EXT, 0x0605_0403_0201L, 2, null, 0);
        assertEquals(60, length, "padded to the Ethernet minimum");
        assertHeaders(f);
        assertArrayEquals(new int[] {0x40, 0x00, 0x02, 0x24}, bytes(f, 24, 28), "aflags LBA48, feature 0, 2 sectors, READ EXT");
        assertArrayEquals(new int[] {0x01, 0x02, 0x03, 0x04, 0x05, 0x06}, bytes(f, 28, 34), "LBA, little-endian");
        assertZeroes(f, 34, 60);
        assertEquals(0xEE, f.get(60) & 0xFF, "nothing written past the frame");
    }

    @Test
    void shouldWriteAnLba28ReadWithTheLbaModeNibble()
    {
        final ByteBuffer f = garbage(1514);
        final int length = writer.write(f, DST, SRC, SHELF, SLOT, TAG, AtaHeader.ATA_READ, 0x0ABC_DEF1L, 1, null, 0);
        assertEquals(60, length);
        assertArrayEquals(new int[] {0x00, 0x00, 0x01, 0x20}, bytes(f, 24, 28), "no LBA48 flag, 1 sector, READ");
        assertArrayEquals(new int[] {0xF1, 0xDE, 0xBC, 0xEA, 0x00, 0x00}, bytes(f, 28, 34),
            "bits 0-23, then 0xE0 | bits 24-27, then zero");
        assertZeroes(f, 34, 60);
    }

    @Test
    void shouldWriteAWriteExtWithItsDataFromTheRequestBuffer()
    {
        final ByteBuffer f = garbage(1514);
        final byte[] data = new byte[3 * 512];
        for (int i = 0; i < data.length; i++)
        {
            data[i] = (byte)(i * 7);
        }
        // the command's two sectors start one sector into the request's buffer
        final int length = writer.write(f, DST, SRC, SHELF, SLOT, TAG, AtaHeader.ATA_WRITE_EXT, 64, 2, ByteBuffer.wrap(data), 512);
        assertEquals(36 + 1024, length);
        assertHeaders(f);
        assertArrayEquals(new int[] {0x41, 0x00, 0x02, 0x34}, bytes(f, 24, 28), "aflags LBA48 | write, 2 sectors, WRITE EXT");
        assertArrayEquals(new int[] {64, 0, 0, 0, 0, 0}, bytes(f, 28, 34));
        assertZeroes(f, 34, 36);
        final byte[] sent = new byte[1024];
        f.get(36, sent);
        assertArrayEquals(Arrays.copyOfRange(data, 512, 1536), sent);
    }

    @Test
    void shouldWriteAnLba28WriteOfZeroesWhenItHasNoBuffer()
    {
        final ByteBuffer f = garbage(1514);
        final int length = writer.write(f, DST, SRC, SHELF, SLOT, TAG, AtaHeader.ATA_WRITE, 5, 2, null, 0);
        assertEquals(36 + 1024, length);
        assertArrayEquals(new int[] {0x01, 0x00, 0x02, 0x30}, bytes(f, 24, 28), "write flag without LBA48, WRITE");
        assertArrayEquals(new int[] {5, 0, 0, 0xE0, 0, 0}, bytes(f, 28, 34));
        assertZeroes(f, 34, 36 + 1024);
    }

    @Test
    void shouldWriteFlushCacheExtAndFlushCacheWithoutAnLba()
    {
        final ByteBuffer f = garbage(1514);
        assertEquals(60, writer.write(f, DST, SRC, SHELF, SLOT, TAG, AtaHeader.ATA_FLUSH_EXT, 0, 0, null, 0));
        assertArrayEquals(new int[] {0x40, 0x00, 0x00, 0xEA}, bytes(f, 24, 28), "FLUSH CACHE EXT is an LBA48 command");
        assertZeroes(f, 28, 60);
        final ByteBuffer g = garbage(1514);
        assertEquals(60, writer.write(g, DST, SRC, SHELF, SLOT, TAG, AtaHeader.ATA_FLUSH, 0, 0, null, 0));
        assertArrayEquals(new int[] {0x00, 0x00, 0x00, 0xE7}, bytes(g, 24, 28));
        assertZeroes(g, 28, 60);
    }

    @Test
    void shouldWriteIdentifyWithTheDeviceByte()
    {
        final ByteBuffer f = garbage(1514);
        assertEquals(60, writer.write(f, DST, SRC, SHELF, SLOT, TAG, AtaHeader.ATA_IDENTIFY, 0, 1, null, 0));
        assertHeaders(f);
        assertArrayEquals(new int[] {0x00, 0x00, 0x01, 0xEC}, bytes(f, 24, 28), "1 sector, IDENTIFY DEVICE");
        assertArrayEquals(new int[] {0, 0, 0, 0xA0, 0, 0}, bytes(f, 28, 34), "device byte 0xA0");
        assertZeroes(f, 34, 60);
    }

    @Test
    void shouldKnowFrameLengthsBeforeWriting()
    {
        assertEquals(60, AtaCommandWriter.frameLength(AtaHeader.ATA_READ_EXT, 17), "a read carries no data");
        assertEquals(36 + 17 * 512, AtaCommandWriter.frameLength(AtaHeader.ATA_WRITE_EXT, 17));
        assertEquals(60, AtaCommandWriter.frameLength(AtaHeader.ATA_WRITE, 0));
    }
}
