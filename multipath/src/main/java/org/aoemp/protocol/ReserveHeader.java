package org.aoemp.protocol;

import java.nio.ByteBuffer;

/**
 * Flyweight over the AoE Reserve/Release argument (command 3): the list of initiator MACs that
 * may issue ATA commands. vblade answers ATA commands from other MACs with AoE error 6 (target
 * is reserved), except IDENTIFY; an empty list means no reservation. The list is not persistent.
 *
 * <pre>
 *  24 rcmd (0 read, 1 set: only if the list is empty or holds the sender, 2 force set)
 *  25 nmacs   26 MAC[6] x nmacs
 * </pre>
 *
 * Setting an empty list releases the reservation. The response carries the list as it now
 * stands. MAC indexes are not range-checked by the accessors: call {@link #isValid(int)} before
 * reading a received frame.
 */
public final class ReserveHeader extends Flyweight
{
    public static final int RCMD_OFFSET = AoeHeader.LENGTH;
    public static final int NMACS_OFFSET = AoeHeader.LENGTH + 1;
    /** Offset of the first MAC from the frame start: 26. */
    public static final int MACS_OFFSET = AoeHeader.LENGTH + 2;
    /** Ethernet + AoE header + the fixed reserve argument, up to the MACs: 26. */
    public static final int LENGTH = MACS_OFFSET;
    public static final int MAC_LENGTH = 6;

    public static final int RCMD_READ = 0;
    public static final int RCMD_SET = 1;
    public static final int RCMD_FORCE_SET = 2;

    /**
     * vblade's list size. The one-byte nmacs field cannot say more than 255, and a 1500-byte MTU
     * frame holds at most 248 MACs, so this is an upper bound, not a reachable count.
     */
    public static final int MAX_RESERVATIONS = 256;

    public ReserveHeader wrap(final ByteBuffer buffer, final int offset)
    {
        bind(buffer, offset);
        return this;
    }

    /** Frame length (from the frame start) of a reserve frame listing {@code macCount} MACs. */
    public static int lengthFor(final int macCount)
    {
        return LENGTH + macCount * MAC_LENGTH;
    }

    /** True when {@code frameLength} bytes from the wrap offset hold the fixed argument and all declared MACs. */
    public boolean isValid(final int frameLength)
    {
        return frameLength >= LENGTH && lengthFor(macCount()) <= frameLength;
    }

    public int rcmd()
    {
        return Bytes.u8(buffer, offset + RCMD_OFFSET);
    }

    public ReserveHeader rcmd(final int rcmd)
    {
        Bytes.u8(buffer, offset + RCMD_OFFSET, rcmd);
        return this;
    }

    /** The nmacs byte: how many MACs follow. */
    public int macCount()
    {
        return Bytes.u8(buffer, offset + NMACS_OFFSET);
    }

    public ReserveHeader macCount(final int count)
    {
        Bytes.u8(buffer, offset + NMACS_OFFSET, count);
        return this;
    }

    /** Offset from the frame start of MAC {@code index}. */
    public static int macOffset(final int index)
    {
        return MACS_OFFSET + index * MAC_LENGTH;
    }

    /** MAC {@code index}, big-endian in the low 48 bits. */
    public long mac(final int index)
    {
        return Bytes.mac(buffer, offset + macOffset(index));
    }

    public ReserveHeader mac(final int index, final long mac)
    {
        Bytes.mac(buffer, offset + macOffset(index), mac);
        return this;
    }
}
