package org.aoemp.protocol;

import java.util.HexFormat;
import java.util.Locale;

/**
 * An Ethernet MAC address. On the data path MACs travel as {@code long}s (the 48 bits in the low
 * six bytes, big-endian), so comparing a reply's source against a path costs one compare; this
 * class is the readable form for configuration, logs and the command line.
 */
public record MacAddress(long bits)
{
    public static final long BROADCAST_BITS = 0xFFFF_FFFF_FFFFL;
    public static final MacAddress BROADCAST = new MacAddress(BROADCAST_BITS);

    public MacAddress
    {
        if ((bits & ~BROADCAST_BITS) != 0)
        {
            throw new IllegalArgumentException("a MAC address has 48 bits: " + Long.toHexString(bits));
        }
    }

    public static MacAddress of(final byte[] bytes)
    {
        if (bytes == null || bytes.length != 6)
        {
            throw new IllegalArgumentException("a MAC address has 6 bytes");
        }
        long v = 0;
        for (final byte b : bytes)
        {
            v = (v << 8) | (b & 0xFF);
        }
        return new MacAddress(v);
    }

    private static final java.util.regex.Pattern FORMS = java.util.regex.Pattern.compile(
        "\\p{XDigit}{2}(:\\p{XDigit}{2}){5}|\\p{XDigit}{2}(-\\p{XDigit}{2}){5}|\\p{XDigit}{12}");

    /** Parses {@code 00:11:22:33:44:55}, {@code 00-11-22-33-44-55} or {@code 001122334455}, nothing looser. */
    public static MacAddress parse(final String text)
    {
        if (text == null || !FORMS.matcher(text.trim()).matches())
        {
            throw new IllegalArgumentException("not a MAC address (expected 00:11:22:33:44:55): '" + text + "'");
        }
        return of(HexFormat.of().parseHex(text.trim().replace(":", "").replace("-", "")));
    }

    public byte[] toBytes()
    {
        final byte[] out = new byte[6];
        for (int i = 0; i < 6; i++)
        {
            out[i] = (byte)(bits >>> (40 - 8 * i));
        }
        return out;
    }

    public boolean isBroadcast()
    {
        return bits == BROADCAST_BITS;
    }

    @Override
    public String toString()
    {
        return HexFormat.ofDelimiter(":").formatHex(toBytes()).toLowerCase(Locale.ROOT);
    }
}
