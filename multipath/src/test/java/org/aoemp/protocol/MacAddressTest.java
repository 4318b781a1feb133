package org.aoemp.protocol;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertNotEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.nio.ByteBuffer;
import java.nio.ByteOrder;
import java.util.SplittableRandom;

import org.junit.jupiter.api.Test;

class MacAddressTest
{
    private static final long BITS = 0x0011_2233_44AAL;

    @Test
    void shouldParseColonSeparatedForm()
    {
        assertEquals(BITS, MacAddress.parse("00:11:22:33:44:aa").bits());
    }

    @Test
    void shouldParseDashSeparatedForm()
    {
        assertEquals(BITS, MacAddress.parse("00-11-22-33-44-aa").bits());
    }

    @Test
    void shouldParseBareHexForm()
    {
        assertEquals(BITS, MacAddress.parse("0011223344aa").bits());
    }

    @Test
    void shouldParseUpperCaseAndSurroundingWhitespace()
    {
        assertEquals(BITS, MacAddress.parse("00:11:22:33:44:AA").bits());
        assertEquals(BITS, MacAddress.parse("  0011223344Aa\n").bits());
    }

    @Test
    void shouldFormatAsLowerCaseColonSeparated()
    {
        assertEquals("00:11:22:33:44:aa", new MacAddress(BITS).toString());
        assertEquals("ff:ff:ff:ff:ff:ff", MacAddress.BROADCAST.toString());
        assertEquals("00:00:00:00:00:00", new MacAddress(0).toString());
    }

    @Test
    void shouldRoundTripThroughEveryTextualForm()
    {
        final SplittableRandom random = new SplittableRandom(42);
        for (int i = 0; i < 1000; i++)
        {
            final MacAddress mac = new MacAddress(random.nextLong() & MacAddress.BROADCAST_BITS);
            final String colons = mac.toString();
            assertEquals(mac, MacAddress.parse(colons));
            assertEquals(mac, MacAddress.parse(colons.replace(':', '-')));
            assertEquals(mac, MacAddress.parse(colons.replace(":", "")));
            assertEquals(mac, MacAddress.parse(colons.toUpperCase()));
        }
    }

    @Test
    void shouldConvertToAndFromBytesMostSignificantFirst()
    {
        final byte[] bytes = Frames.hex("0011223344aa");
        assertEquals(BITS, MacAddress.of(bytes).bits());
        assertArrayEquals(bytes, new MacAddress(BITS).toBytes());
        assertArrayEquals(Frames.hex("ffffffffffff"), MacAddress.BROADCAST.toBytes());
    }

    @Test
    void shouldAgreeWithTheFrameEncodingOfMacs()
    {
        final ByteBuffer buffer = ByteBuffer.allocate(12).order(ByteOrder.LITTLE_ENDIAN);
        Bytes.mac(buffer, 3, BITS);
        assertArrayEquals(new MacAddress(BITS).toBytes(), Frames.bytes(buffer, 3, 6));
        assertEquals(BITS, Bytes.mac(buffer, 3));
    }

    @Test
    void shouldRecogniseBroadcast()
    {
        assertTrue(MacAddress.BROADCAST.isBroadcast());
        assertTrue(MacAddress.parse("FF:FF:FF:FF:FF:FF").isBroadcast());
        assertFalse(new MacAddress(BITS).isBroadcast());
        assertFalse(new MacAddress(0xFFFF_FFFF_FFFEL).isBroadcast());
    }

    @Test
    void shouldCompareByValue()
    {
        assertEquals(new MacAddress(BITS), MacAddress.parse("00:11:22:33:44:aa"));
        assertEquals(new MacAddress(BITS).hashCode(), MacAddress.parse("0011223344aa").hashCode());
        assertNotEquals(new MacAddress(BITS), new MacAddress(BITS + 1));
    }

    @Test
    void shouldRejectMalformedText()
    {
        final String[] bad = {
            "", "   ", "00:11:22:33:44", "00:11:22:33:44:aa:bb", "0011223344a", "0011223344aab",
            "00:11:22:33:44:ag", "zz-11-22-33-44-55", "00.11.22.33.44.55", "00 11 22 33 44 55",
            "+0:11:22:33:44:55", "0x11223344aa", "0:01:12:23:34:45:5", "00:1122-33:4455", "::0011223344aa--",
            "00:11-22:33:44:55", null};
        for (final String text : bad)
        {
            final IllegalArgumentException e =
                assertThrows(IllegalArgumentException.class, () -> MacAddress.parse(text), "'" + text + "'");
            assertTrue(e.getMessage().contains("not a MAC address"), e.getMessage());
        }
    }

    @Test
    void shouldRejectWrongByteCounts()
    {
        assertThrows(IllegalArgumentException.class, () -> MacAddress.of(new byte[5]));
        assertThrows(IllegalArgumentException.class, () -> MacAddress.of(new byte[7]));
        assertThrows(IllegalArgumentException.class, () -> MacAddress.of(null));
    }

    @Test
    void shouldRejectMoreThan48Bits()
    {
        assertThrows(IllegalArgumentException.class, () -> new MacAddress(1L << 48));
        assertThrows(IllegalArgumentException.class, () -> new MacAddress(-1L));
        assertEquals(MacAddress.BROADCAST_BITS, new MacAddress(MacAddress.BROADCAST_BITS).bits());
    }
}
