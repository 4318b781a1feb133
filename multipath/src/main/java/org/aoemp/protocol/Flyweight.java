package org.aoemp.protocol;

import java.nio.ByteBuffer;

/**
 * What every codec in this package is: a view over a frame in a {@link ByteBuffer} at an offset,
 * re-pointed with {@code wrap} and never copying. One instance per thread, reused frame after frame.
 */
public abstract class Flyweight
{
    protected ByteBuffer buffer;
    protected int offset;

    /** Points this view at {@code buffer}, the frame starting at {@code offset}. */
    protected final void bind(final ByteBuffer buffer, final int offset)
    {
        this.buffer = buffer;
        this.offset = offset;
    }

    public final ByteBuffer buffer()
    {
        return buffer;
    }

    public final int offset()
    {
        return offset;
    }
}
