package org.aoemp.nbd;

import java.util.concurrent.atomic.AtomicLong;

import io.netty.buffer.AbstractByteBufAllocator;
import io.netty.buffer.ByteBuf;
import io.netty.buffer.UnpooledByteBufAllocator;

/**
 * An unpooled allocator that knows how much direct memory its live buffers hold right now and
 * the most they held at any allocation: what a memory bound test asserts on. Unpooled, so the
 * figure is the bytes the server's buffers really use, not arena chunks kept for reuse.
 */
final class PeakDirectAllocator extends AbstractByteBufAllocator
{
    private final UnpooledByteBufAllocator delegate = new UnpooledByteBufAllocator(true, false, false);
    private final AtomicLong peak = new AtomicLong();

    PeakDirectAllocator()
    {
        super(true);
    }

    @Override
    protected ByteBuf newHeapBuffer(final int initialCapacity, final int maxCapacity)
    {
        return delegate.heapBuffer(initialCapacity, maxCapacity);
    }

    @Override
    protected ByteBuf newDirectBuffer(final int initialCapacity, final int maxCapacity)
    {
        final ByteBuf buf = delegate.directBuffer(initialCapacity, maxCapacity);
        sample();
        return buf;
    }

    @Override
    public boolean isDirectBufferPooled()
    {
        return false;
    }

    /** Direct memory held by live buffers now. */
    long used()
    {
        return delegate.metric().usedDirectMemory();
    }

    /** Records the current use into the peak (buffers also grow in place, which no allocation sees). */
    long sample()
    {
        final long now = used();
        peak.accumulateAndGet(now, Math::max);
        return now;
    }

    long peak()
    {
        sample();
        return peak.get();
    }

    void resetPeak()
    {
        peak.set(used());
    }
}
