package org.aoemp.protocol;

import java.nio.ByteBuffer;
import java.util.Objects;

/**
 * What an initiator needs from the 512-byte ATA IDENTIFY DEVICE data a target returns: whether
 * it takes LBA48 commands, its size, and its identity strings.
 *
 * <p>The block is 256 little-endian 16-bit words. ATA strings put their first character in the
 * high byte of each word (so on the wire each pair of characters is swapped) and are padded with
 * spaces; they are returned here trimmed. Parsing and writing allocate and belong on the control
 * path (once per device), not the per-frame path.
 *
 * @param lba48           word 83 or word 86 has bit 10 set: the target takes the LBA48 (E flag,
 *                        0x24/0x34) commands
 * @param capacitySectors user-addressable 512-byte sectors: words 100-103 when {@code lba48} and
 *                        nonzero, else words 60-61 (which cap at 0x0FFFFFFF); taken as read, so
 *                        check it against {@link AtaHeader#LBA48_LIMIT} before trusting it
 * @param model           words 27-46, trimmed
 * @param serial          words 10-19, trimmed
 * @param firmware        words 23-26, trimmed
 */
public record Identify(boolean lba48, long capacitySectors, String model, String serial, String firmware)
{
    /** Size of the IDENTIFY DEVICE data block. */
    public static final int LENGTH = 512;

    /** Byte offsets within the block (word number × 2) and lengths of the fields used here. */
    public static final int CYLINDERS_OFFSET = 1 * 2;
    public static final int HEADS_OFFSET = 3 * 2;
    public static final int SECTORS_PER_TRACK_OFFSET = 6 * 2;
    public static final int SERIAL_OFFSET = 10 * 2;
    public static final int SERIAL_LENGTH = 20;
    public static final int FIRMWARE_OFFSET = 23 * 2;
    public static final int FIRMWARE_LENGTH = 8;
    public static final int MODEL_OFFSET = 27 * 2;
    public static final int MODEL_LENGTH = 40;
    public static final int MAX_SECTORS_PER_DRQ_OFFSET = 47 * 2;
    public static final int CAPABILITIES_OFFSET = 49 * 2;
    public static final int CAPABILITIES2_OFFSET = 50 * 2;
    public static final int FIELD_VALIDITY_OFFSET = 53 * 2;
    public static final int CURRENT_CYLINDERS_OFFSET = 54 * 2;
    public static final int CURRENT_HEADS_OFFSET = 55 * 2;
    public static final int CURRENT_SECTORS_PER_TRACK_OFFSET = 56 * 2;
    /** Words 57-58: sectors addressable with the current CHS geometry (u32 LE). */
    public static final int CURRENT_CHS_CAPACITY_OFFSET = 57 * 2;
    /** Words 60-61: sectors addressable with LBA28 commands (u32 LE). */
    public static final int LBA28_CAPACITY_OFFSET = 60 * 2;
    public static final int COMMAND_SET_SUPPORTED_OFFSET = 83 * 2;
    public static final int COMMAND_SET_EXTENSION_OFFSET = 84 * 2;
    public static final int COMMAND_SET_ENABLED_OFFSET = 86 * 2;
    public static final int COMMAND_SET_DEFAULT_OFFSET = 87 * 2;
    public static final int HARDWARE_RESET_OFFSET = 93 * 2;
    /** Words 100-103: sectors addressable with LBA48 commands (u64 LE). */
    public static final int LBA48_CAPACITY_OFFSET = 100 * 2;

    /** Bit 10 of words 83 (supported) and 86 (enabled): the 48-bit address feature set. */
    public static final int LBA48_BIT = 1 << 10;
    /** Words 60-61 hold at most this: larger devices report their size in words 100-103 only. */
    public static final long MAX_LBA28_CAPACITY = 0x0FFF_FFFFL;

    /** The fake geometry written for targets: 16 heads, 63 sectors per track, at most 16383 cylinders. */
    public static final int CHS_HEADS = 16;
    public static final int CHS_SECTORS_PER_TRACK = 63;
    public static final int CHS_MAX_CYLINDERS = 16383;

    public Identify
    {
        Objects.requireNonNull(model, "model");
        Objects.requireNonNull(serial, "serial");
        Objects.requireNonNull(firmware, "firmware");
    }

    /**
     * Reads the 512-byte IDENTIFY data starting at {@code offset} (the start of the data, e.g.
     * {@code frameOffset + AtaHeader.DATA_OFFSET}). Never throws on odd contents, only on a buffer
     * too short to hold the block.
     */
    public static Identify parse(final ByteBuffer buf, final int offset)
    {
        checkRoom(buf, offset);
        final int supported = Bytes.u16le(buf, offset + COMMAND_SET_SUPPORTED_OFFSET);
        final int enabled = Bytes.u16le(buf, offset + COMMAND_SET_ENABLED_OFFSET);
        final boolean lba48 = ((supported | enabled) & LBA48_BIT) != 0;

        final long lba48Capacity = Bytes.uLe(buf, offset + LBA48_CAPACITY_OFFSET, 8);
        final long capacity = lba48 && lba48Capacity != 0
            ? lba48Capacity
            : Bytes.uLe(buf, offset + LBA28_CAPACITY_OFFSET, 4);

        return new Identify(
            lba48,
            capacity,
            ataString(buf, offset + MODEL_OFFSET, MODEL_LENGTH),
            ataString(buf, offset + SERIAL_OFFSET, SERIAL_LENGTH),
            ataString(buf, offset + FIRMWARE_OFFSET, FIRMWARE_LENGTH));
    }

    /**
     * Fills the 512 bytes at {@code offset} with IDENTIFY data for a target of {@code sectors}
     * 512-byte sectors, with the same capability words vblade sends (LBA, LBA48 supported and
     * enabled, FLUSH CACHE) plus a 16-head, 63-sector fake geometry. Every other word is zero.
     * Strings longer than their field are truncated; characters outside printable ASCII become '?'.
     *
     * @throws IllegalArgumentException if {@code sectors} is negative or above 2^48
     */
    public static void write(
        final ByteBuffer buf,
        final int offset,
        final long sectors,
        final String model,
        final String serial,
        final String firmware)
    {
        if (sectors < 0 || sectors > AtaHeader.LBA48_LIMIT)
        {
            throw new IllegalArgumentException("sector count not in 0..2^48: " + sectors);
        }
        checkRoom(buf, offset);
        for (int i = 0; i < LENGTH; i += 8)
        {
            buf.putLong(offset + i, 0L);
        }

        final int cylinders = (int)Math.min(sectors / (CHS_HEADS * CHS_SECTORS_PER_TRACK), CHS_MAX_CYLINDERS);
        Bytes.u16le(buf, offset + CYLINDERS_OFFSET, cylinders);
        Bytes.u16le(buf, offset + HEADS_OFFSET, CHS_HEADS);
        Bytes.u16le(buf, offset + SECTORS_PER_TRACK_OFFSET, CHS_SECTORS_PER_TRACK);
        ataString(buf, offset + SERIAL_OFFSET, SERIAL_LENGTH, serial);
        ataString(buf, offset + FIRMWARE_OFFSET, FIRMWARE_LENGTH, firmware);
        ataString(buf, offset + MODEL_OFFSET, MODEL_LENGTH, model);

        // Bit 15 must be one; low byte 0: READ/WRITE MULTIPLE not supported.
        Bytes.u16le(buf, offset + MAX_SECTORS_PER_DRQ_OFFSET, 0x8000);
        // LBA supported.
        Bytes.u16le(buf, offset + CAPABILITIES_OFFSET, 0x0200);
        Bytes.u16le(buf, offset + CAPABILITIES2_OFFSET, 0x4000);
        // Bit 0: words 54-58 (current geometry) are valid.
        Bytes.u16le(buf, offset + FIELD_VALIDITY_OFFSET, 0x0001);
        Bytes.u16le(buf, offset + CURRENT_CYLINDERS_OFFSET, cylinders);
        Bytes.u16le(buf, offset + CURRENT_HEADS_OFFSET, CHS_HEADS);
        Bytes.u16le(buf, offset + CURRENT_SECTORS_PER_TRACK_OFFSET, CHS_SECTORS_PER_TRACK);
        Bytes.uLe(buf, offset + CURRENT_CHS_CAPACITY_OFFSET, 4, (long)cylinders * CHS_HEADS * CHS_SECTORS_PER_TRACK);
        Bytes.uLe(buf, offset + LBA28_CAPACITY_OFFSET, 4, Math.min(sectors, MAX_LBA28_CAPACITY));

        // 83: bit 14 one, bit 12 FLUSH CACHE, bit 10 LBA48; 86 the same enabled; 84/87 bit 14 one.
        Bytes.u16le(buf, offset + COMMAND_SET_SUPPORTED_OFFSET, 0x5400);
        Bytes.u16le(buf, offset + COMMAND_SET_EXTENSION_OFFSET, 0x4000);
        Bytes.u16le(buf, offset + COMMAND_SET_ENABLED_OFFSET, 0x1400);
        Bytes.u16le(buf, offset + COMMAND_SET_DEFAULT_OFFSET, 0x4000);
        Bytes.u16le(buf, offset + HARDWARE_RESET_OFFSET, 0x400b);
        Bytes.uLe(buf, offset + LBA48_CAPACITY_OFFSET, 8, sectors);
    }

    private static void checkRoom(final ByteBuffer buf, final int offset)
    {
        if (offset < 0 || offset > buf.limit() - LENGTH)
        {
            throw new IndexOutOfBoundsException(
                "IDENTIFY data needs " + LENGTH + " bytes at " + offset + ", buffer limit is " + buf.limit());
        }
    }

    /** Decodes an ATA string: per word, high byte (the odd address) first; trimmed of spaces and NULs. */
    private static String ataString(final ByteBuffer buf, final int index, final int length)
    {
        final char[] chars = new char[length];
        for (int i = 0; i < length; i += 2)
        {
            chars[i] = (char)Bytes.u8(buf, index + i + 1);
            chars[i + 1] = (char)Bytes.u8(buf, index + i);
        }
        return new String(chars).trim();
    }

    /** Encodes an ATA string: space padded, truncated to {@code length}, each character pair swapped. */
    private static void ataString(final ByteBuffer buf, final int index, final int length, final String text)
    {
        for (int i = 0; i < length; i++)
        {
            final char c = i < text.length() ? text.charAt(i) : ' ';
            final int b = c >= 0x20 && c < 0x7F ? c : '?';
            Bytes.u8(buf, index + (i ^ 1), b);
        }
    }
}
