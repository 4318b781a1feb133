package org.aoemp.initiator;

import java.nio.ByteBuffer;

import org.aoemp.protocol.AoeHeader;
import org.aoemp.protocol.AtaHeader;

/**
 * Writes the frame of one ATA command: Ethernet and AoE headers (userland tag), the ATA header
 * (LBA48 or LBA28 addressing after the command, the write flag for writes), the data of a write,
 * and zeroes up to the 60-byte Ethernet minimum.
 *
 * <ul>
 * <li>READ/WRITE SECTORS EXT and FLUSH CACHE EXT: the LBA48 flag, all six LBA bytes.</li>
 * <li>READ/WRITE SECTORS: LBA28 (24 bits in bytes 0–2, bits 24–27 in byte 3 with the LBA bit).</li>
 * <li>FLUSH CACHE: LBA 0. IDENTIFY DEVICE: LBA 0 with the device byte 0xA0.</li>
 * </ul>
 *
 * <p>Threading: one writer per engine, used on the engine thread only (its header flyweights are
 * its own). It writes into the frame it is given and allocates nothing.
 */
final class AtaCommandWriter
{
    private static final int SECTOR = AtaHeader.SECTOR_SIZE;
    /** The data of WRITE ZEROES: as much as one command carries. */
    private static final ByteBuffer ZEROES = ByteBuffer.allocateDirect(PathScheduler.MAX_SECTORS * SECTOR).asReadOnlyBuffer();

    private final AoeHeader header = new AoeHeader();
    private final AtaHeader ata = new AtaHeader();

    static boolean isWrite(final int ataCommand)
    {
        return ataCommand == AtaHeader.ATA_WRITE || ataCommand == AtaHeader.ATA_WRITE_EXT;
    }

    static boolean isLba48(final int ataCommand)
    {
        return ataCommand == AtaHeader.ATA_READ_EXT || ataCommand == AtaHeader.ATA_WRITE_EXT
            || ataCommand == AtaHeader.ATA_FLUSH_EXT;
    }

    /** Bytes of the frame of a command: headers, the data of a write, at least 60. */
    static int frameLength(final int ataCommand, final int sectors)
    {
        return Math.max(AoeHeader.MIN_ETHERNET_FRAME, AtaHeader.DATA_OFFSET + (isWrite(ataCommand) ? sectors * SECTOR : 0));
    }

    /**
     * Writes one command's frame at the start of {@code frame}, which must hold
     * {@link #frameLength} bytes.
     *
     * @param data      for a write: the buffer holding its data at {@code dataIndex}; null writes zeroes
     * @return the frame's length
     */
    int write(final ByteBuffer frame, final long dstMac, final long srcMac, final int shelf, final int slot, final int tag,
        final int ataCommand, final long lba, final int sectors, final ByteBuffer data, final int dataIndex)
    {
        header.wrap(frame, 0).request(dstMac, srcMac, shelf, slot, AoeHeader.CMD_ATA, tag);
        final boolean write = isWrite(ataCommand);
        final boolean ext = isLba48(ataCommand);
        final AtaHeader a = ata.wrap(frame, 0);
        a.aflags((ext ? AtaHeader.AFLAG_LBA48 : 0) | (write ? AtaHeader.AFLAG_WRITE : 0))
            .errFeature(0).sectorCount(sectors).cmdStatus(ataCommand).clearReserved();
        if (ataCommand == AtaHeader.ATA_IDENTIFY)
        {
            a.lba(0).lbaByte(3, 0xA0);
        }
        else if (ext)
        {
            a.lba(lba);
        }
        else if (ataCommand == AtaHeader.ATA_FLUSH)
        {
            a.lba(0);
        }
        else
        {
            a.lba28(lba);
        }
        int length = AtaHeader.DATA_OFFSET;
        if (write)
        {
            final int dataBytes = sectors * SECTOR;
            if (data == null)
            {
                frame.put(length, ZEROES, 0, dataBytes);
            }
            else
            {
                frame.put(length, data, dataIndex, dataBytes);
            }
            length += dataBytes;
        }
        while (length < AoeHeader.MIN_ETHERNET_FRAME)
        {
            frame.put(length++, (byte)0);
        }
        return length;
    }
}
