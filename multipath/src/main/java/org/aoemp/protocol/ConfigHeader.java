package org.aoemp.protocol;

import java.nio.ByteBuffer;
import java.nio.charset.StandardCharsets;

/**
 * Flyweight over the AoE Query Config argument (command 1) that follows the common header:
 * 8 fixed bytes, then up to 1024 bytes of config string.
 *
 * <pre>
 *  24 buffer count (2, BE): how many requests the target queues; more are dropped
 *  26 firmware version (2, BE)
 *  28 sector count: most sectors per ATA command (0 means 2, for backward compatibility)
 *  29 AoE version (hi 4) | ccmd (lo 4: read, test, test prefix, set, force set)
 *  30 config string length (2, BE, at most 1024)
 *  32 config string
 * </pre>
 *
 * A request with ccmd read asks every target to answer; test and test-prefix ask only targets
 * whose string matches (exactly, or as a prefix) to answer; set stores the string if the target
 * has none (else error 4), force set stores it regardless. Read fields only after
 * {@link #isValid(int)} accepted the frame: the accessors trust the declared string length.
 */
public final class ConfigHeader extends Flyweight
{
    public static final int BUFFER_COUNT_OFFSET = AoeHeader.LENGTH;
    public static final int FIRMWARE_VERSION_OFFSET = AoeHeader.LENGTH + 2;
    public static final int SECTOR_COUNT_OFFSET = AoeHeader.LENGTH + 4;
    public static final int VERSION_CCMD_OFFSET = AoeHeader.LENGTH + 5;
    public static final int STRING_LENGTH_OFFSET = AoeHeader.LENGTH + 6;
    /** Offset of the config string from the frame start: 32. */
    public static final int STRING_OFFSET = AoeHeader.LENGTH + 8;
    /** Ethernet + AoE header + the fixed config argument, up to the string: 32. */
    public static final int LENGTH = STRING_OFFSET;

    public static final int CCMD_READ = 0;
    public static final int CCMD_TEST = 1;
    public static final int CCMD_TEST_PREFIX = 2;
    public static final int CCMD_SET = 3;
    public static final int CCMD_FORCE_SET = 4;

    public static final int MAX_CONFIG_STRING = 1024;
    /** What a sector count of 0 on the wire means. */
    public static final int LEGACY_SECTOR_COUNT = 2;

    public ConfigHeader wrap(final ByteBuffer buffer, final int offset)
    {
        bind(buffer, offset);
        return this;
    }

    /** Frame length (from the frame start) of a config frame carrying a string of {@code stringLength} bytes. */
    public static int lengthFor(final int stringLength)
    {
        return LENGTH + stringLength;
    }

    /**
     * True when {@code frameLength} bytes from the wrap offset hold the fixed argument and the whole
     * declared config string, and the declared length is at most {@link #MAX_CONFIG_STRING}. Bytes
     * beyond the string (Ethernet padding) are ignored.
     */
    public boolean isValid(final int frameLength)
    {
        if (frameLength < LENGTH)
        {
            return false;
        }
        final int stringLength = configStringLength();
        return stringLength <= MAX_CONFIG_STRING && LENGTH + stringLength <= frameLength;
    }

    /** Most requests the target will queue; the initiator keeps at most this many outstanding. */
    public int bufferCount()
    {
        return Bytes.u16be(buffer, offset + BUFFER_COUNT_OFFSET);
    }

    public ConfigHeader bufferCount(final int count)
    {
        Bytes.u16be(buffer, offset + BUFFER_COUNT_OFFSET, count);
        return this;
    }

    public int firmwareVersion()
    {
        return Bytes.u16be(buffer, offset + FIRMWARE_VERSION_OFFSET);
    }

    public ConfigHeader firmwareVersion(final int version)
    {
        Bytes.u16be(buffer, offset + FIRMWARE_VERSION_OFFSET, version);
        return this;
    }

    /** The sector count byte as sent: the most sectors the target accepts in one ATA command, 0 meaning 2. */
    public int sectorCount()
    {
        return Bytes.u8(buffer, offset + SECTOR_COUNT_OFFSET);
    }

    public ConfigHeader sectorCount(final int count)
    {
        Bytes.u8(buffer, offset + SECTOR_COUNT_OFFSET, count);
        return this;
    }

    /** Sectors per ATA command the target accepts, with the legacy 0 read as 2. */
    public int effectiveSectorCount()
    {
        final int count = sectorCount();
        return count == 0 ? LEGACY_SECTOR_COUNT : count;
    }

    /** AoE protocol version the target speaks (high nibble of byte 29). */
    public int aoeVersion()
    {
        return Bytes.u8(buffer, offset + VERSION_CCMD_OFFSET) >>> 4;
    }

    /** Sets the version nibble, keeping ccmd. */
    public ConfigHeader aoeVersion(final int version)
    {
        return versionCcmd(version, ccmd());
    }

    public int ccmd()
    {
        return Bytes.u8(buffer, offset + VERSION_CCMD_OFFSET) & 0x0F;
    }

    /** Sets the ccmd nibble, keeping the version. */
    public ConfigHeader ccmd(final int ccmd)
    {
        return versionCcmd(aoeVersion(), ccmd);
    }

    /** Sets AoE version and ccmd together (the version is always 1 on what we send). */
    public ConfigHeader versionCcmd(final int version, final int ccmd)
    {
        Bytes.u8(buffer, offset + VERSION_CCMD_OFFSET, ((version & 0x0F) << 4) | (ccmd & 0x0F));
        return this;
    }

    /** Declared length of the config string; not checked against the frame (see {@link #isValid(int)}). */
    public int configStringLength()
    {
        return Bytes.u16be(buffer, offset + STRING_LENGTH_OFFSET);
    }

    /** Sets the length field only; {@link #configString(byte[], int)} sets it together with the bytes. */
    public ConfigHeader configStringLength(final int length)
    {
        Bytes.u16be(buffer, offset + STRING_LENGTH_OFFSET, length);
        return this;
    }

    /**
     * Copies the config string into {@code dst}, at most {@code dst.length} bytes, and returns how
     * many were copied. Allocates nothing.
     */
    public int configString(final byte[] dst)
    {
        final int length = Math.min(configStringLength(), dst.length);
        buffer.get(offset + STRING_OFFSET, dst, 0, length);
        return length;
    }

    /**
     * Writes the first {@code length} bytes of {@code src} as the config string and sets the length
     * field. The frame to send is then {@link #lengthFor(int) lengthFor(length)} bytes long.
     *
     * @throws IllegalArgumentException if {@code length} is negative, above 1024 or beyond {@code src}
     */
    public ConfigHeader configString(final byte[] src, final int length)
    {
        if (length < 0 || length > MAX_CONFIG_STRING || length > src.length)
        {
            throw new IllegalArgumentException(
                "config string length " + length + " not in 0.." + Math.min(MAX_CONFIG_STRING, src.length));
        }
        buffer.put(offset + STRING_OFFSET, src, 0, length);
        return configStringLength(length);
    }

    /**
     * The config string decoded as ISO-8859-1: AoE gives the string no charset and targets compare
     * it byte by byte, and ISO-8859-1 maps every byte to exactly one char, so
     * {@code s.getBytes(ISO_8859_1)} gives back the same bytes. Allocates: control path only.
     */
    public String configStringAsString()
    {
        final byte[] bytes = new byte[configStringLength()];
        buffer.get(offset + STRING_OFFSET, bytes, 0, bytes.length);
        return new String(bytes, StandardCharsets.ISO_8859_1);
    }
}
