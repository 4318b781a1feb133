package org.aoemp.protocol;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.nio.ByteBuffer;
import java.nio.ByteOrder;
import java.nio.charset.StandardCharsets;
import java.util.Arrays;

import org.junit.jupiter.api.Test;

class ConfigHeaderTest
{
    private static final byte[] STRING = "rack4/disk2".getBytes(StandardCharsets.ISO_8859_1);

    private final AoeHeader aoe = new AoeHeader();
    private final ConfigHeader config = new ConfigHeader();

    /** A config response like vblade's: 16 buffers, firmware 0x4019, 17 sectors, a config string. */
    private ByteBuffer response(final ByteOrder order, final int size, final int offset)
    {
        final ByteBuffer buffer = Frames.buffer(size, order, 0);
        aoe.wrap(buffer, offset).request(0x0011_2233_4455L, 0x0066_7788_99AAL, 0x1234, 0x56, AoeHeader.CMD_CONFIG, 0x8000_0001)
            .versionFlags(AoeHeader.VERSION, AoeHeader.FLAG_RESPONSE);
        config.wrap(buffer, offset).bufferCount(16).firmwareVersion(0x4019).sectorCount(17)
            .versionCcmd(1, ConfigHeader.CCMD_READ).configString(STRING, STRING.length);
        return buffer;
    }

    @Test
    void shouldHaveTheWireOffsets()
    {
        assertEquals(24, ConfigHeader.BUFFER_COUNT_OFFSET);
        assertEquals(26, ConfigHeader.FIRMWARE_VERSION_OFFSET);
        assertEquals(28, ConfigHeader.SECTOR_COUNT_OFFSET);
        assertEquals(29, ConfigHeader.VERSION_CCMD_OFFSET);
        assertEquals(30, ConfigHeader.STRING_LENGTH_OFFSET);
        assertEquals(32, ConfigHeader.STRING_OFFSET);
        assertEquals(32, ConfigHeader.LENGTH);
        assertEquals(32 + 1024, ConfigHeader.lengthFor(ConfigHeader.MAX_CONFIG_STRING));
    }

    @Test
    void shouldRoundTripEveryField()
    {
        final ByteBuffer buffer = Frames.buffer(ConfigHeader.LENGTH, ByteOrder.BIG_ENDIAN, 0);
        config.wrap(buffer, 0);
        final int[] shorts = {0, 1, 0x00FF, 0x0100, 0x1234, 0x7FFF, 0x8000, 0xFFFF};
        for (final int count : shorts)
        {
            for (final int firmware : shorts)
            {
                for (int sectors = 0; sectors <= 0xFF; sectors += 0x33)
                {
                    for (int ccmd = 0; ccmd <= 0xF; ccmd++)
                    {
                        config.bufferCount(count).firmwareVersion(firmware).sectorCount(sectors)
                            .versionCcmd(0xF - ccmd, ccmd).configStringLength(firmware);
                        assertEquals(count, config.bufferCount());
                        assertEquals(firmware, config.firmwareVersion());
                        assertEquals(sectors, config.sectorCount());
                        assertEquals(0xF - ccmd, config.aoeVersion());
                        assertEquals(ccmd, config.ccmd());
                        assertEquals(firmware, config.configStringLength());
                    }
                }
            }
        }
    }

    @Test
    void shouldSetVersionAndCcmdNibblesIndependently()
    {
        final ByteBuffer buffer = Frames.buffer(ConfigHeader.LENGTH, ByteOrder.BIG_ENDIAN, 0);
        config.wrap(buffer, 0).versionCcmd(1, ConfigHeader.CCMD_FORCE_SET);
        assertEquals(0x14, buffer.get(29));
        config.ccmd(ConfigHeader.CCMD_TEST_PREFIX);
        assertEquals(1, config.aoeVersion());
        assertEquals(0x12, buffer.get(29));
        config.aoeVersion(2);
        assertEquals(ConfigHeader.CCMD_TEST_PREFIX, config.ccmd());
        assertEquals(0x22, buffer.get(29));
    }

    @Test
    void shouldNumberTheConfigCommandsAsTheSpecDoes()
    {
        assertEquals(0, ConfigHeader.CCMD_READ);
        assertEquals(1, ConfigHeader.CCMD_TEST);
        assertEquals(2, ConfigHeader.CCMD_TEST_PREFIX);
        assertEquals(3, ConfigHeader.CCMD_SET);
        assertEquals(4, ConfigHeader.CCMD_FORCE_SET);
    }

    @Test
    void shouldPutEveryFieldOnTheWireInNetworkOrder()
    {
        final ByteBuffer buffer = response(ByteOrder.LITTLE_ENDIAN, ConfigHeader.lengthFor(STRING.length), 0);
        final byte[] expected = Frames.hex("0010 4019 11 10 000b");
        assertArrayEquals(expected, Frames.bytes(buffer, 24, 8));
        assertArrayEquals(STRING, Frames.bytes(buffer, 32, STRING.length));

        config.bufferCount(0x1234).configStringLength(0x0102);
        assertEquals(0x12, buffer.get(24));
        assertEquals(0x34, buffer.get(25));
        assertEquals(0x01, buffer.get(30));
        assertEquals(0x02, buffer.get(31));
    }

    @Test
    void shouldReadSectorCountZeroAsTwo()
    {
        final ByteBuffer buffer = Frames.buffer(ConfigHeader.LENGTH, ByteOrder.BIG_ENDIAN, 0);
        config.wrap(buffer, 0).sectorCount(0);
        assertEquals(0, config.sectorCount());
        assertEquals(2, config.effectiveSectorCount());
        for (int sectors = 1; sectors <= 0xFF; sectors++)
        {
            assertEquals(sectors, config.sectorCount(sectors).effectiveSectorCount());
        }
    }

    @Test
    void shouldRoundTripTheConfigStringAndItsLength()
    {
        final ByteBuffer buffer = response(ByteOrder.BIG_ENDIAN, ConfigHeader.lengthFor(STRING.length), 0);
        assertEquals(STRING.length, config.configStringLength());
        assertEquals("rack4/disk2", config.configStringAsString());
        final byte[] dst = new byte[64];
        assertEquals(STRING.length, config.configString(dst));
        assertArrayEquals(STRING, Arrays.copyOf(dst, STRING.length));
        assertEquals(0, dst[STRING.length], "nothing copied past the string");
        assertTrue(config.isValid(ConfigHeader.lengthFor(STRING.length)));
        assertEquals(ConfigHeader.lengthFor(STRING.length), buffer.capacity());
    }

    @Test
    void shouldCopyOnlyWhatFitsInTheDestination()
    {
        response(ByteOrder.BIG_ENDIAN, ConfigHeader.lengthFor(STRING.length), 0);
        final byte[] dst = new byte[4];
        assertEquals(4, config.configString(dst));
        assertArrayEquals("rack".getBytes(StandardCharsets.ISO_8859_1), dst);
    }

    @Test
    void shouldRoundTripAMaximalStringOfEveryByteValue()
    {
        final byte[] src = new byte[ConfigHeader.MAX_CONFIG_STRING];
        for (int i = 0; i < src.length; i++)
        {
            src[i] = (byte)i;
        }
        final ByteBuffer buffer = Frames.buffer(ConfigHeader.lengthFor(src.length), ByteOrder.BIG_ENDIAN, 0);
        config.wrap(buffer, 0).configString(src, src.length);
        assertEquals(1024, config.configStringLength());
        assertArrayEquals(Frames.hex("0400"), Frames.bytes(buffer, 30, 2));
        assertTrue(config.isValid(buffer.capacity()));

        final byte[] dst = new byte[2048];
        assertEquals(1024, config.configString(dst));
        assertArrayEquals(src, Arrays.copyOf(dst, 1024));

        final String text = config.configStringAsString();
        assertEquals(1024, text.length());
        for (int i = 0; i < 1024; i++)
        {
            assertEquals(i & 0xFF, text.charAt(i), "ISO-8859-1 maps byte " + i + " to one char");
        }
        assertArrayEquals(src, text.getBytes(StandardCharsets.ISO_8859_1));
    }

    @Test
    void shouldSetOnlyThePrefixAskedFor()
    {
        final ByteBuffer buffer = Frames.buffer(ConfigHeader.lengthFor(STRING.length), ByteOrder.BIG_ENDIAN, 0);
        config.wrap(buffer, 0).configString(STRING, 4);
        assertEquals(4, config.configStringLength());
        assertEquals("rack", config.configStringAsString());
        assertEquals(0, buffer.get(ConfigHeader.STRING_OFFSET + 4));
        config.configString(STRING, 0);
        assertEquals("", config.configStringAsString());
    }

    @Test
    void shouldRejectStringsLongerThan1024OrThanTheSource()
    {
        final ByteBuffer buffer = Frames.buffer(ConfigHeader.lengthFor(2048), ByteOrder.BIG_ENDIAN, 0);
        config.wrap(buffer, 0);
        assertThrows(IllegalArgumentException.class, () -> config.configString(new byte[2048], 1025));
        assertThrows(IllegalArgumentException.class, () -> config.configString(new byte[10], 11));
        assertThrows(IllegalArgumentException.class, () -> config.configString(new byte[10], -1));
        assertEquals(0, config.configStringLength(), "a rejected string leaves the length alone");
    }

    @Test
    void shouldRejectFramesTooShortForTheFixedPart()
    {
        response(ByteOrder.BIG_ENDIAN, AoeHeader.MIN_ETHERNET_FRAME, 0);
        config.configStringLength(0);
        for (int length = 0; length < ConfigHeader.LENGTH; length++)
        {
            assertFalse(config.isValid(length), "length " + length);
        }
        assertTrue(config.isValid(ConfigHeader.LENGTH));
    }

    @Test
    void shouldRejectAStringRunningPastTheFrame()
    {
        response(ByteOrder.BIG_ENDIAN, AoeHeader.MIN_ETHERNET_FRAME, 0);
        final int needed = ConfigHeader.lengthFor(STRING.length);
        for (int length = ConfigHeader.LENGTH; length < needed; length++)
        {
            assertFalse(config.isValid(length), "length " + length);
        }
        assertTrue(config.isValid(needed));
        assertTrue(config.isValid(AoeHeader.MIN_ETHERNET_FRAME));
    }

    @Test
    void shouldRejectADeclaredLengthAbove1024EvenIfTheFrameHoldsIt()
    {
        final ByteBuffer buffer = Frames.buffer(9000, ByteOrder.BIG_ENDIAN, 0);
        config.wrap(buffer, 0).configStringLength(1024);
        assertTrue(config.isValid(9000));
        config.configStringLength(1025);
        assertFalse(config.isValid(9000));
        config.configStringLength(0xFFFF);
        assertFalse(config.isValid(9000));
    }

    @Test
    void shouldDecodePaddedFramesLikeUnpaddedOnes()
    {
        final int exactLength = ConfigHeader.lengthFor(STRING.length);
        final ByteBuffer exact = response(ByteOrder.BIG_ENDIAN, exactLength, 0);
        final ByteBuffer padded = Frames.buffer(AoeHeader.MIN_ETHERNET_FRAME, ByteOrder.BIG_ENDIAN, 0xEE);
        padded.put(0, exact, 0, exactLength);
        final ConfigHeader fromPadded = new ConfigHeader().wrap(padded, 0);
        assertTrue(fromPadded.isValid(AoeHeader.MIN_ETHERNET_FRAME));
        assertSameFields(new ConfigHeader().wrap(exact, 0), fromPadded);
        assertEquals("rack4/disk2", fromPadded.configStringAsString(), "padding is not part of the string");
    }

    @Test
    void shouldDecodeTheSameWhateverTheBufferByteOrder()
    {
        final int length = ConfigHeader.lengthFor(STRING.length);
        final ByteBuffer big = response(ByteOrder.BIG_ENDIAN, length, 0);
        assertSameFields(new ConfigHeader().wrap(big, 0), new ConfigHeader().wrap(Frames.flippedCopy(big), 0));
        final ByteBuffer little = response(ByteOrder.LITTLE_ENDIAN, length, 0);
        assertArrayEquals(Frames.bytes(big, 0, length), Frames.bytes(little, 0, length));
    }

    @Test
    void shouldWorkAtANonZeroOffset()
    {
        final int offset = 100;
        final int length = ConfigHeader.lengthFor(STRING.length);
        final ByteBuffer buffer = response(ByteOrder.BIG_ENDIAN, offset + length, offset);
        assertEquals(0, buffer.get(offset - 1));
        assertEquals(16, buffer.get(offset + 25));
        assertEquals('r', buffer.get(offset + 32));
        final ConfigHeader atOffset = new ConfigHeader().wrap(buffer, offset);
        assertTrue(atOffset.isValid(length));
        assertFalse(atOffset.isValid(length - 1));
        final ByteBuffer atZero = Frames.moved(buffer, offset, length, 0, length);
        assertSameFields(new ConfigHeader().wrap(atZero, 0), atOffset);
    }

    private static void assertSameFields(final ConfigHeader expected, final ConfigHeader actual)
    {
        assertEquals(expected.bufferCount(), actual.bufferCount());
        assertEquals(expected.firmwareVersion(), actual.firmwareVersion());
        assertEquals(expected.sectorCount(), actual.sectorCount());
        assertEquals(expected.effectiveSectorCount(), actual.effectiveSectorCount());
        assertEquals(expected.aoeVersion(), actual.aoeVersion());
        assertEquals(expected.ccmd(), actual.ccmd());
        assertEquals(expected.configStringLength(), actual.configStringLength());
        assertEquals(expected.configStringAsString(), actual.configStringAsString());
    }
}
