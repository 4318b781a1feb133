package org.aoemp.nbd;

import static org.junit.jupiter.api.Assertions.fail;

import java.util.List;
import java.util.concurrent.ConcurrentLinkedQueue;

import io.netty.buffer.AbstractByteBufAllocator;
import io.netty.buffer.ByteBuf;
import io.netty.buffer.UnpooledByteBufAllocator;

/**
 * An allocator that remembers every buffer it hands out, so a test can check after the server
 * closed that each one was released: a deterministic leak check, where Netty's leak detector
 * depends on garbage collection. Unpooled underneath, so a released buffer is never recycled
 * into another allocation and {@code refCnt() == 0} means what it says.
 */
final class TrackingAllocator extends AbstractByteBufAllocator
{
    private final UnpooledByteBufAllocator delegate = new UnpooledByteBufAllocator(true, false, false);
    private final ConcurrentLinkedQueue<ByteBuf> allocated = new ConcurrentLinkedQueue<>();

    TrackingAllocator()
    {
        super(true);
    }

    @Override
    protected ByteBuf newHeapBuffer(final int initialCapacity, final int maxCapacity)
    {
        return track(delegate.heapBuffer(initialCapacity, maxCapacity));
    }

    @Override
    protected ByteBuf newDirectBuffer(final int initialCapacity, final int maxCapacity)
    {
        return track(delegate.directBuffer(initialCapacity, maxCapacity));
    }

    @Override
    public boolean isDirectBufferPooled()
    {
        return false;
    }

    private ByteBuf track(final ByteBuf buf)
    {
        allocated.add(buf);
        return buf;
    }

    int allocations()
    {
        return allocated.size();
    }

    /** Fails listing the buffers that are still referenced. Call after the server has closed. */
    void assertAllReleased()
    {
        final List<ByteBuf> live = allocated.stream().filter(b -> b.refCnt() != 0).toList();
        if (!live.isEmpty())
        {
            fail(live.size() + " of " + allocated.size() + " buffers never released, e.g. " + live.getFirst());
        }
    }
}
