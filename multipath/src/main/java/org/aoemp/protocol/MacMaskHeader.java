package org.aoemp.protocol;

import java.nio.ByteBuffer;

/**
 * Flyweight over the AoE MAC Mask List argument (command 2): the target's allow-list of initiator
 * MACs. A target with a non-empty list silently ignores frames from MACs not on it, so every NIC
 * of a multipath initiator must be listed.
 *
 * <pre>
 *  24 reserved   25 mcmd (0 read, 1 edit)   26 merror (1 unspecified, 2 bad dcmd, 3 list full)
 *  27 directive count
 *  28 directives, 8 bytes each: reserved(1), dcmd(1: 0 none, 1 add, 2 delete), MAC(6)
 * </pre>
 *
 * A request edits the list with its directives; the response carries the target's list as it
 * now stands, one directive per MAC. Directive indexes are not range-checked by the accessors:
 * call {@link #isValid(int)} before reading a received frame.
 */
public final class MacMaskHeader extends Flyweight
{
    public static final int RESERVED_OFFSET = AoeHeader.LENGTH;
    public static final int MCMD_OFFSET = AoeHeader.LENGTH + 1;
    public static final int MERROR_OFFSET = AoeHeader.LENGTH + 2;
    public static final int DIRECTIVE_COUNT_OFFSET = AoeHeader.LENGTH + 3;
    /** Offset of the first directive from the frame start: 28. */
    public static final int DIRECTIVES_OFFSET = AoeHeader.LENGTH + 4;
    /** Ethernet + AoE header + the fixed mask argument, up to the directives: 28. */
    public static final int LENGTH = DIRECTIVES_OFFSET;

    /** Offsets inside one directive, from its start. */
    public static final int DIRECTIVE_RESERVED_OFFSET = 0;
    public static final int DIRECTIVE_DCMD_OFFSET = 1;
    public static final int DIRECTIVE_MAC_OFFSET = 2;
    public static final int DIRECTIVE_LENGTH = 8;

    public static final int MCMD_READ = 0;
    public static final int MCMD_EDIT = 1;

    public static final int MERROR_UNSPECIFIED = 1;
    public static final int MERROR_BAD_DCMD = 2;
    public static final int MERROR_LIST_FULL = 3;

    public static final int DCMD_NONE = 0;
    public static final int DCMD_ADD = 1;
    public static final int DCMD_DELETE = 2;

    /** Most masks vblade holds; a longer list is answered with {@link #MERROR_LIST_FULL}. */
    public static final int MAX_MASKS = 32;

    public MacMaskHeader wrap(final ByteBuffer buffer, final int offset)
    {
        bind(buffer, offset);
        return this;
    }

    /** Frame length (from the frame start) of a mask frame with {@code directiveCount} directives. */
    public static int lengthFor(final int directiveCount)
    {
        return LENGTH + directiveCount * DIRECTIVE_LENGTH;
    }

    /**
     * True when {@code frameLength} bytes from the wrap offset hold the fixed argument and all
     * declared directives; trailing padding is ignored. A count above {@link #MAX_MASKS} is not
     * rejected here: that is vblade's limit, not the protocol's.
     */
    public boolean isValid(final int frameLength)
    {
        return frameLength >= LENGTH && lengthFor(directiveCount()) <= frameLength;
    }

    public int reserved()
    {
        return Bytes.u8(buffer, offset + RESERVED_OFFSET);
    }

    /** Zeroes the reserved byte of the fixed argument (directives are cleared by {@link #directive}). */
    public MacMaskHeader clearReserved()
    {
        Bytes.u8(buffer, offset + RESERVED_OFFSET, 0);
        return this;
    }

    public int mcmd()
    {
        return Bytes.u8(buffer, offset + MCMD_OFFSET);
    }

    public MacMaskHeader mcmd(final int mcmd)
    {
        Bytes.u8(buffer, offset + MCMD_OFFSET, mcmd);
        return this;
    }

    /** Why an edit failed, as the target reports it in its response; 0 when nothing went wrong. */
    public int merror()
    {
        return Bytes.u8(buffer, offset + MERROR_OFFSET);
    }

    public MacMaskHeader merror(final int merror)
    {
        Bytes.u8(buffer, offset + MERROR_OFFSET, merror);
        return this;
    }

    public int directiveCount()
    {
        return Bytes.u8(buffer, offset + DIRECTIVE_COUNT_OFFSET);
    }

    public MacMaskHeader directiveCount(final int count)
    {
        Bytes.u8(buffer, offset + DIRECTIVE_COUNT_OFFSET, count);
        return this;
    }

    /** Offset from the frame start of directive {@code index}. */
    public static int directiveOffset(final int index)
    {
        return DIRECTIVES_OFFSET + index * DIRECTIVE_LENGTH;
    }

    public int dcmd(final int index)
    {
        return Bytes.u8(buffer, offset + directiveOffset(index) + DIRECTIVE_DCMD_OFFSET);
    }

    public MacMaskHeader dcmd(final int index, final int dcmd)
    {
        Bytes.u8(buffer, offset + directiveOffset(index) + DIRECTIVE_DCMD_OFFSET, dcmd);
        return this;
    }

    /** MAC of directive {@code index}, big-endian in the low 48 bits. */
    public long mac(final int index)
    {
        return Bytes.mac(buffer, offset + directiveOffset(index) + DIRECTIVE_MAC_OFFSET);
    }

    public MacMaskHeader mac(final int index, final long mac)
    {
        Bytes.mac(buffer, offset + directiveOffset(index) + DIRECTIVE_MAC_OFFSET, mac);
        return this;
    }

    /** Writes a whole directive: reserved byte zeroed, then dcmd and MAC. Does not touch the count. */
    public MacMaskHeader directive(final int index, final int dcmd, final long mac)
    {
        Bytes.u8(buffer, offset + directiveOffset(index) + DIRECTIVE_RESERVED_OFFSET, 0);
        return dcmd(index, dcmd).mac(index, mac);
    }
}
