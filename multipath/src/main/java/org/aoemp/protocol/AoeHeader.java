package org.aoemp.protocol;

import java.nio.ByteBuffer;

/**
 * Flyweight over the Ethernet + AoE common header at the start of a frame (24 bytes).
 *
 * <pre>
 *  0  dst MAC (6)        6  src MAC (6)        12 EtherType 0x88A2 (2, BE)
 *  14 version(hi 4) | flags(lo 4: R=8 E=4)      15 error (valid with E)
 *  16 major = shelf (2, BE)   18 minor = slot   19 command   20 tag (4, BE)
 * </pre>
 *
 * Wrap it over a received buffer, read the fields in place, re-wrap for the next frame: no
 * allocation. Field offsets are absolute from the frame start plus the wrap offset.
 */
public final class AoeHeader extends Flyweight
{
    public static final int DST_OFFSET = 0;
    public static final int SRC_OFFSET = 6;
    public static final int ETHERTYPE_OFFSET = 12;
    public static final int VERSION_FLAGS_OFFSET = 14;
    public static final int ERROR_OFFSET = 15;
    public static final int MAJOR_OFFSET = 16;
    public static final int MINOR_OFFSET = 18;
    public static final int COMMAND_OFFSET = 19;
    public static final int TAG_OFFSET = 20;
    /** Ethernet (14) + AoE common header (10). */
    public static final int LENGTH = 24;
    /** Ethernet's minimum frame without FCS; shorter frames are padded on real NICs (not on veth). */
    public static final int MIN_ETHERNET_FRAME = 60;

    public static final int ETHERTYPE = 0x88A2;
    public static final int VERSION = 1;
    public static final int FLAG_RESPONSE = 0x08;
    public static final int FLAG_ERROR = 0x04;

    public static final int CMD_ATA = 0;
    public static final int CMD_CONFIG = 1;
    public static final int CMD_MAC_MASK = 2;
    public static final int CMD_RESERVE = 3;

    public static final int ERR_UNRECOGNIZED_COMMAND = 1;
    public static final int ERR_BAD_ARGUMENT = 2;
    public static final int ERR_DEVICE_UNAVAILABLE = 3;
    public static final int ERR_CONFIG_STRING_PRESENT = 4;
    public static final int ERR_UNSUPPORTED_VERSION = 5;
    public static final int ERR_TARGET_RESERVED = 6;

    /** Wildcard shelf (major) and slot (minor) for broadcast queries. */
    public static final int SHELF_ANY = 0xFFFF;
    public static final int SLOT_ANY = 0xFF;

    /** Tags with bit 31 set are the userland tag space: the kernel driver ignores replies to them. */
    public static final int USERLAND_TAG_BIT = 0x8000_0000;

    public AoeHeader wrap(final ByteBuffer buffer, final int offset)
    {
        bind(buffer, offset);
        return this;
    }

    /** True when {@code length} bytes from the wrap offset hold an AoE v1 header. */
    public boolean isAoeV1(final int length)
    {
        return length >= LENGTH && etherType() == ETHERTYPE && version() == VERSION;
    }

    public long dst()
    {
        return Bytes.mac(buffer, offset + DST_OFFSET);
    }

    public AoeHeader dst(final long mac)
    {
        Bytes.mac(buffer, offset + DST_OFFSET, mac);
        return this;
    }

    public long src()
    {
        return Bytes.mac(buffer, offset + SRC_OFFSET);
    }

    public AoeHeader src(final long mac)
    {
        Bytes.mac(buffer, offset + SRC_OFFSET, mac);
        return this;
    }

    public int etherType()
    {
        return Bytes.u16be(buffer, offset + ETHERTYPE_OFFSET);
    }

    public AoeHeader etherType(final int type)
    {
        Bytes.u16be(buffer, offset + ETHERTYPE_OFFSET, type);
        return this;
    }

    public int version()
    {
        return Bytes.u8(buffer, offset + VERSION_FLAGS_OFFSET) >>> 4;
    }

    public int flags()
    {
        return Bytes.u8(buffer, offset + VERSION_FLAGS_OFFSET) & 0x0F;
    }

    /** Sets version and flags together (the version is always 1 on what we send). */
    public AoeHeader versionFlags(final int version, final int flags)
    {
        Bytes.u8(buffer, offset + VERSION_FLAGS_OFFSET, (version << 4) | (flags & 0x0F));
        return this;
    }

    public boolean isResponse()
    {
        return (flags() & FLAG_RESPONSE) != 0;
    }

    public boolean isError()
    {
        return (flags() & FLAG_ERROR) != 0;
    }

    public int error()
    {
        return Bytes.u8(buffer, offset + ERROR_OFFSET);
    }

    public AoeHeader error(final int error)
    {
        Bytes.u8(buffer, offset + ERROR_OFFSET, error);
        return this;
    }

    public int shelf()
    {
        return Bytes.u16be(buffer, offset + MAJOR_OFFSET);
    }

    public AoeHeader shelf(final int shelf)
    {
        Bytes.u16be(buffer, offset + MAJOR_OFFSET, shelf);
        return this;
    }

    public int slot()
    {
        return Bytes.u8(buffer, offset + MINOR_OFFSET);
    }

    public AoeHeader slot(final int slot)
    {
        Bytes.u8(buffer, offset + MINOR_OFFSET, slot);
        return this;
    }

    public int command()
    {
        return Bytes.u8(buffer, offset + COMMAND_OFFSET);
    }

    public AoeHeader command(final int command)
    {
        Bytes.u8(buffer, offset + COMMAND_OFFSET, command);
        return this;
    }

    public int tag()
    {
        return Bytes.i32be(buffer, offset + TAG_OFFSET);
    }

    public AoeHeader tag(final int tag)
    {
        Bytes.i32be(buffer, offset + TAG_OFFSET, tag);
        return this;
    }

    /**
     * Writes a request header (version 1, no flags, error 0) addressed to {@code dst}; the
     * command-specific argument follows at {@link #LENGTH}.
     */
    public AoeHeader request(final long dst, final long src, final int shelf, final int slot, final int command, final int tag)
    {
        return dst(dst).src(src).etherType(ETHERTYPE).versionFlags(VERSION, 0).error(0)
            .shelf(shelf).slot(slot).command(command).tag(tag);
    }

    /** Human-readable name of an AoE error code, for messages. */
    public static String errorName(final int error)
    {
        return switch (error)
        {
            case ERR_UNRECOGNIZED_COMMAND -> "unrecognized command code";
            case ERR_BAD_ARGUMENT -> "bad argument parameter";
            case ERR_DEVICE_UNAVAILABLE -> "device unavailable";
            case ERR_CONFIG_STRING_PRESENT -> "config string present";
            case ERR_UNSUPPORTED_VERSION -> "unsupported version";
            case ERR_TARGET_RESERVED -> "target is reserved by another host";
            default -> "AoE error " + error;
        };
    }
}
