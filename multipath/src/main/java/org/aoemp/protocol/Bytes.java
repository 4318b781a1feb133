package org.aoemp.protocol;

import java.lang.invoke.MethodHandles;
import java.lang.invoke.VarHandle;
import java.nio.ByteBuffer;
import java.nio.ByteOrder;

/**
 * Explicit-byte-order accessors over a {@link ByteBuffer}, independent of the buffer's own
 * {@link ByteBuffer#order()} setting. AoE header and config integers are big-endian; LBA bytes
 * and IDENTIFY words are little-endian, so every codec says which one it means.
 */
public final class Bytes
{
    private static final VarHandle SHORT_BE = MethodHandles.byteBufferViewVarHandle(short[].class, ByteOrder.BIG_ENDIAN);
    private static final VarHandle INT_BE = MethodHandles.byteBufferViewVarHandle(int[].class, ByteOrder.BIG_ENDIAN);
    private static final VarHandle SHORT_LE = MethodHandles.byteBufferViewVarHandle(short[].class, ByteOrder.LITTLE_ENDIAN);

    private Bytes()
    {
    }

    public static int u8(final ByteBuffer b, final int index)
    {
        return b.get(index) & 0xFF;
    }

    public static void u8(final ByteBuffer b, final int index, final int value)
    {
        b.put(index, (byte)value);
    }

    public static int u16be(final ByteBuffer b, final int index)
    {
        return ((short)SHORT_BE.get(b, index)) & 0xFFFF;
    }

    public static void u16be(final ByteBuffer b, final int index, final int value)
    {
        SHORT_BE.set(b, index, (short)value);
    }

    public static int u16le(final ByteBuffer b, final int index)
    {
        return ((short)SHORT_LE.get(b, index)) & 0xFFFF;
    }

    public static void u16le(final ByteBuffer b, final int index, final int value)
    {
        SHORT_LE.set(b, index, (short)value);
    }

    public static int i32be(final ByteBuffer b, final int index)
    {
        return (int)INT_BE.get(b, index);
    }

    public static void i32be(final ByteBuffer b, final int index, final int value)
    {
        INT_BE.set(b, index, value);
    }

    /** Reads {@code count} little-endian bytes (at most 8) as an unsigned value. */
    public static long uLe(final ByteBuffer b, final int index, final int count)
    {
        long v = 0;
        for (int i = count - 1; i >= 0; i--)
        {
            v = (v << 8) | (b.get(index + i) & 0xFF);
        }
        return v;
    }

    /** Writes the low {@code count} bytes of {@code value} little-endian. */
    public static void uLe(final ByteBuffer b, final int index, final int count, final long value)
    {
        long v = value;
        for (int i = 0; i < count; i++)
        {
            b.put(index + i, (byte)v);
            v >>>= 8;
        }
    }

    /** A 48-bit MAC stored big-endian as the low 6 bytes of a long. */
    public static long mac(final ByteBuffer b, final int index)
    {
        return ((long)u16be(b, index) << 32) | (i32be(b, index + 2) & 0xFFFF_FFFFL);
    }

    public static void mac(final ByteBuffer b, final int index, final long mac)
    {
        u16be(b, index, (int)(mac >>> 32));
        i32be(b, index + 2, (int)mac);
    }
}
