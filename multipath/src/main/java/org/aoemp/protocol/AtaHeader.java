package org.aoemp.protocol;

import java.nio.ByteBuffer;

/**
 * Flyweight over the AoE Issue-ATA-Command argument (12 bytes) that follows the common header.
 *
 * <pre>
 *  24 aflags (E=0x40 LBA48, D=0x10 device, A=0x02 async, W=0x01 write)
 *  25 error / feature   26 sector count   27 command / status
 *  28 lba0 .. 33 lba5 (little-endian: lba0 = bits 0-7)   34-35 reserved   36 data
 * </pre>
 */
public final class AtaHeader extends Flyweight
{
    public static final int AFLAGS_OFFSET = AoeHeader.LENGTH;
    public static final int ERR_FEATURE_OFFSET = AoeHeader.LENGTH + 1;
    public static final int SECTOR_COUNT_OFFSET = AoeHeader.LENGTH + 2;
    public static final int CMD_STATUS_OFFSET = AoeHeader.LENGTH + 3;
    public static final int LBA_OFFSET = AoeHeader.LENGTH + 4;
    public static final int RESERVED_OFFSET = AoeHeader.LENGTH + 10;
    /** Offset of the sector data from the frame start: 36. */
    public static final int DATA_OFFSET = AoeHeader.LENGTH + 12;
    public static final int SECTOR_SIZE = 512;

    public static final int AFLAG_LBA48 = 0x40;
    public static final int AFLAG_DEVICE = 0x10;
    public static final int AFLAG_ASYNC = 0x02;
    public static final int AFLAG_WRITE = 0x01;

    public static final int ATA_READ = 0x20;
    public static final int ATA_READ_EXT = 0x24;
    public static final int ATA_WRITE = 0x30;
    public static final int ATA_WRITE_EXT = 0x34;
    public static final int ATA_CHECK_POWER = 0xE5;
    public static final int ATA_FLUSH = 0xE7;
    public static final int ATA_FLUSH_EXT = 0xEA;
    public static final int ATA_IDENTIFY = 0xEC;
    public static final int ATA_SMART = 0xB0;

    /** Status bits: BSY 0x80, DRDY 0x40, DF 0x20, DRQ 0x08, ERR 0x01. */
    public static final int STATUS_DRDY = 0x40;
    public static final int STATUS_ERR = 0x01;
    /** BSY|DF|DRQ|ERR: any of these in a response means the command failed (EIO), as in the kernel. */
    public static final int STATUS_FAILURE_MASK = 0xA9;
    /** Error register bits. */
    public static final int ERROR_ABRT = 0x04;
    public static final int ERROR_IDNF = 0x10;

    /** Largest LBA an LBA28 command can address, plus one. */
    public static final long LBA28_LIMIT = 1L << 28;
    public static final long LBA48_LIMIT = 1L << 48;

    public AtaHeader wrap(final ByteBuffer buffer, final int offset)
    {
        bind(buffer, offset);
        return this;
    }

    public int aflags()
    {
        return Bytes.u8(buffer, offset + AFLAGS_OFFSET);
    }

    public AtaHeader aflags(final int flags)
    {
        Bytes.u8(buffer, offset + AFLAGS_OFFSET, flags);
        return this;
    }

    public int errFeature()
    {
        return Bytes.u8(buffer, offset + ERR_FEATURE_OFFSET);
    }

    public AtaHeader errFeature(final int value)
    {
        Bytes.u8(buffer, offset + ERR_FEATURE_OFFSET, value);
        return this;
    }

    public int sectorCount()
    {
        return Bytes.u8(buffer, offset + SECTOR_COUNT_OFFSET);
    }

    public AtaHeader sectorCount(final int count)
    {
        Bytes.u8(buffer, offset + SECTOR_COUNT_OFFSET, count);
        return this;
    }

    public int cmdStatus()
    {
        return Bytes.u8(buffer, offset + CMD_STATUS_OFFSET);
    }

    public AtaHeader cmdStatus(final int value)
    {
        Bytes.u8(buffer, offset + CMD_STATUS_OFFSET, value);
        return this;
    }

    /** The six LBA bytes as one 48-bit number (for LBA28 commands, bits 24-27 are in lba3's low nibble). */
    public long lba()
    {
        return Bytes.uLe(buffer, offset + LBA_OFFSET, 6);
    }

    public AtaHeader lba(final long lba)
    {
        Bytes.uLe(buffer, offset + LBA_OFFSET, 6, lba);
        return this;
    }

    public int lbaByte(final int index)
    {
        return Bytes.u8(buffer, offset + LBA_OFFSET + index);
    }

    public AtaHeader lbaByte(final int index, final int value)
    {
        Bytes.u8(buffer, offset + LBA_OFFSET + index, value);
        return this;
    }

    /**
     * Writes an LBA28 address the way the kernel does: lba0-2 plus bits 24-27 in lba3's low nibble
     * with 0xE0 (LBA mode, obsolete bits) in its high nibble; lba4/lba5 zero.
     */
    public AtaHeader lba28(final long lba)
    {
        Bytes.uLe(buffer, offset + LBA_OFFSET, 3, lba);
        lbaByte(3, 0xE0 | (int)((lba >>> 24) & 0x0F));
        lbaByte(4, 0);
        return lbaByte(5, 0);
    }

    /** Address of an LBA28 command as a target reads it: lba0-2 and the low nibble of lba3. */
    public long lba28()
    {
        return Bytes.uLe(buffer, offset + LBA_OFFSET, 3) | ((long)(lbaByte(3) & 0x0F) << 24);
    }

    public AtaHeader clearReserved()
    {
        Bytes.u16be(buffer, offset + RESERVED_OFFSET, 0);
        return this;
    }

    /** True when the status register says the command failed (BSY, DF, DRQ or ERR). */
    public boolean failed()
    {
        return (cmdStatus() & STATUS_FAILURE_MASK) != 0;
    }
}
