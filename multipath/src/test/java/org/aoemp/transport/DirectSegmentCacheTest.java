package org.aoemp.transport;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertSame;
import static org.junit.jupiter.api.Assertions.assertThrows;

import java.lang.foreign.MemorySegment;
import java.nio.ByteBuffer;
import java.util.ArrayList;
import java.util.List;

import org.junit.jupiter.api.Test;

class DirectSegmentCacheTest
{
    @Test
    void shouldKeepEverySegmentOfARotatingSetOfBuffers()
    {
        // a quarter of the table: a direct-mapped table of this size almost surely puts two in one slot
        final DirectSegmentCache cache = new DirectSegmentCache(2048);
        final List<ByteBuffer> buffers = buffers(512, 64);
        final List<MemorySegment> first = new ArrayList<>();
        for (final ByteBuffer b : buffers)
        {
            first.add(cache.segment(b));
        }
        for (int round = 0; round < 3; round++)
        {
            for (int i = 0; i < buffers.size(); i++)
            {
                assertSame(first.get(i), cache.segment(buffers.get(i)), "buffer " + i + " in round " + round);
            }
        }
    }

    @Test
    void shouldSpanTheWholeBufferWhateverItsPosition()
    {
        final DirectSegmentCache cache = new DirectSegmentCache(16);
        final ByteBuffer b = ByteBuffer.allocateDirect(100).position(10).limit(20);
        final MemorySegment s = cache.segment(b);
        assertEquals(100, s.byteSize());
        assertEquals(MemorySegment.ofBuffer(b.duplicate().clear()).address(), s.address());
        assertEquals(10, b.position(), "the buffer itself is left as it was");
        assertEquals(20, b.limit());
    }

    @Test
    void shouldStillAnswerRightWhenMoreBuffersThanSlotsRotate()
    {
        final DirectSegmentCache cache = new DirectSegmentCache(16);
        final List<ByteBuffer> buffers = buffers(100, 32);
        for (int round = 0; round < 3; round++)
        {
            for (final ByteBuffer b : buffers)
            {
                assertEquals(MemorySegment.ofBuffer(b.duplicate().clear()).address(), cache.segment(b).address());
            }
        }
    }

    @Test
    void shouldRefuseATableSizeThatIsNotAPowerOfTwo()
    {
        assertThrows(IllegalArgumentException.class, () -> new DirectSegmentCache(1000));
        assertThrows(IllegalArgumentException.class, () -> new DirectSegmentCache(8));
    }

    private static List<ByteBuffer> buffers(final int count, final int capacity)
    {
        final List<ByteBuffer> buffers = new ArrayList<>();
        for (int i = 0; i < count; i++)
        {
            buffers.add(ByteBuffer.allocateDirect(capacity));
        }
        return buffers;
    }
}
