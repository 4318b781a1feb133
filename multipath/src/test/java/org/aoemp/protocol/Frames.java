package org.aoemp.protocol;

import java.nio.ByteBuffer;
import java.nio.ByteOrder;
import java.util.HexFormat;

/** Test helpers for building and inspecting frames byte by byte. */
final class Frames
{
    private Frames()
    {
    }

    /** A heap buffer of {@code size} bytes in the given order, filled with {@code fill} so stray reads show. */
    static ByteBuffer buffer(final int size, final ByteOrder order, final int fill)
    {
        final ByteBuffer buffer = ByteBuffer.allocate(size).order(order);
        for (int i = 0; i < size; i++)
        {
            buffer.put(i, (byte)fill);
        }
        return buffer;
    }

    /** {@code length} bytes of {@code buffer} from {@code offset}, ignoring position and limit. */
    static byte[] bytes(final ByteBuffer buffer, final int offset, final int length)
    {
        final byte[] out = new byte[length];
        buffer.get(offset, out, 0, length);
        return out;
    }

    /** A copy of all of {@code source}'s bytes in a buffer of the opposite byte order. */
    static ByteBuffer flippedCopy(final ByteBuffer source)
    {
        final ByteOrder other = source.order() == ByteOrder.BIG_ENDIAN ? ByteOrder.LITTLE_ENDIAN : ByteOrder.BIG_ENDIAN;
        final ByteBuffer copy = ByteBuffer.allocate(source.capacity()).order(other);
        copy.put(0, source, 0, source.capacity());
        return copy;
    }

    /** A copy of {@code length} bytes of {@code source} from {@code from} at {@code to} of a buffer of {@code size}. */
    static ByteBuffer moved(final ByteBuffer source, final int from, final int length, final int to, final int size)
    {
        final ByteBuffer copy = buffer(size, source.order(), 0xA5);
        copy.put(to, source, from, length);
        return copy;
    }

    static byte[] hex(final String hex)
    {
        return HexFormat.of().parseHex(hex.replace(" ", ""));
    }
}
