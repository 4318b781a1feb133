package org.aoemp.transport;

import java.lang.foreign.MemorySegment;
import java.nio.ByteBuffer;

/**
 * The native segments of the direct buffers one thread sends from, keyed by the buffer's identity,
 * so a sender that rotates through a fixed set of frame buffers (a send queue's ring, a target's
 * disk buffers) creates no garbage per frame: {@link MemorySegment#ofBuffer} allocates, a lookup
 * here does not.
 *
 * <p>Open addressing with linear probing over {@link #PROBES} slots from the buffer's identity
 * hash: a few hundred buffers all stay cached (a direct-mapped table of the same size lets two of
 * 32 buffers share a slot in about a third of runs, and those two then allocate on every send).
 * When every slot of a probe run is taken the home slot is replaced, so at most {@code slots}
 * buffers stay reachable from here. Each segment spans the whole buffer, whatever its position,
 * and keeps the buffer's own liveness checks.
 *
 * <p>Threading: one thread only (each sending thread has its own).
 */
final class DirectSegmentCache
{
    /** Slots examined from a buffer's home slot before one is replaced. */
    static final int PROBES = 16;

    private final ByteBuffer[] buffers;
    private final MemorySegment[] segments;
    private final int mask;

    /** @param slots table size, a power of two */
    DirectSegmentCache(final int slots)
    {
        if (slots < PROBES || Integer.bitCount(slots) != 1)
        {
            throw new IllegalArgumentException("slots must be a power of two >= " + PROBES + ": " + slots);
        }
        buffers = new ByteBuffer[slots];
        segments = new MemorySegment[slots];
        mask = slots - 1;
    }

    /** The segment spanning all of the direct buffer {@code buffer}. */
    MemorySegment segment(final ByteBuffer buffer)
    {
        final int home = System.identityHashCode(buffer) & mask;
        for (int probe = 0; probe < PROBES; probe++)
        {
            final int i = (home + probe) & mask;
            final ByteBuffer cached = buffers[i];
            if (cached == buffer)
            {
                return segments[i];
            }
            if (cached == null)
            {
                return remember(i, buffer);
            }
        }
        return remember(home, buffer);
    }

    private MemorySegment remember(final int slot, final ByteBuffer buffer)
    {
        final MemorySegment segment = MemorySegment.ofBuffer(buffer.duplicate().clear());
        buffers[slot] = buffer;
        segments[slot] = segment;
        return segment;
    }
}
