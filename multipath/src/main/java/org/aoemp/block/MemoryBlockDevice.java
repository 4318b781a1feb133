package org.aoemp.block;

import java.lang.invoke.VarHandle;
import java.nio.ByteBuffer;
import java.util.Arrays;
import java.util.Objects;
import java.util.concurrent.Executor;
import java.util.concurrent.atomic.AtomicReferenceArray;

/**
 * A {@link BlockDevice} in memory, for tests, demos and {@code aoe nbd --backend memory:SIZE}.
 *
 * <p>Storage is sparse: the disk is cut into {@value #CHUNK_SIZE}-byte chunks, each allocated on
 * its first write, so a 1 GiB disk costs a few KiB until it is written. Reading a chunk that was
 * never written returns zeroes; {@link #writeZeroes} that covers whole chunks frees them again.
 *
 * <p>Threads: any thread may call any method. Each request is executed on the calling thread,
 * and its callback then runs either at once on that same thread (the default: the fastest, but
 * the callback may run before the submitting method returns) or on the {@code completions}
 * executor given to the constructor (closer to a real initiator, whose callbacks arrive on its
 * own threads). Concurrent requests to overlapping ranges see each other's bytes in an
 * unspecified order, as on a real disk; a request that completed before another was submitted
 * is always visible to it (release fence after each copy, acquire fence before each).
 */
public final class MemoryBlockDevice implements BlockDevice
{
    /** Allocation unit of the sparse storage. */
    public static final int CHUNK_SIZE = 1 << 20;
    public static final int BLOCK_SIZE = 512;
    private static final int CHUNK_SHIFT = 20;
    private static final int PREFERRED_IO_SIZE = 128 * 1024;
    private static final byte[] ZEROES = new byte[64 * 1024];

    private final String name;
    private final long size;
    private final boolean readOnly;
    private final Executor completions;
    private final AtomicReferenceArray<byte[]> chunks;
    private volatile boolean closed;

    /** A writable disk whose callbacks run on the submitting thread. */
    public MemoryBlockDevice(final String name, final long size)
    {
        this(name, size, false, null);
    }

    /**
     * @param size        bytes, a positive multiple of {@value #BLOCK_SIZE}
     * @param readOnly    whether writes fail with EPERM
     * @param completions where callbacks run, or null to run them on the submitting thread
     */
    public MemoryBlockDevice(final String name, final long size, final boolean readOnly, final Executor completions)
    {
        if (size <= 0 || size % BLOCK_SIZE != 0)
        {
            throw new IllegalArgumentException("size must be a positive multiple of " + BLOCK_SIZE + ": " + size);
        }
        final long chunkCount = (size + CHUNK_SIZE - 1) >>> CHUNK_SHIFT;
        if (chunkCount > Integer.MAX_VALUE)
        {
            throw new IllegalArgumentException("size too large: " + size);
        }
        this.name = Objects.requireNonNull(name, "name");
        this.size = size;
        this.readOnly = readOnly;
        this.completions = completions;
        this.chunks = new AtomicReferenceArray<>((int)chunkCount);
    }

    @Override
    public long size()
    {
        return size;
    }

    @Override
    public int blockSize()
    {
        return BLOCK_SIZE;
    }

    @Override
    public int preferredIoSize()
    {
        return PREFERRED_IO_SIZE;
    }

    @Override
    public boolean isReadOnly()
    {
        return readOnly;
    }

    @Override
    public String name()
    {
        return name;
    }

    /** Bytes of storage currently allocated: a multiple of {@link #CHUNK_SIZE}. */
    public long allocatedBytes()
    {
        long allocated = 0;
        for (int i = 0; i < chunks.length(); i++)
        {
            if (chunks.get(i) != null)
            {
                allocated += CHUNK_SIZE;
            }
        }
        return allocated;
    }

    @Override
    public void read(final long offset, final ByteBuffer dst, final IoCallback callback)
    {
        final int length = dst.remaining();
        final IoError error = check(offset, length, IoError.EINVAL, false);
        if (error == null)
        {
            VarHandle.acquireFence();
            int done = 0;
            while (done < length)
            {
                final long position = offset + done;
                final int within = (int)(position & (CHUNK_SIZE - 1));
                final int n = Math.min(length - done, CHUNK_SIZE - within);
                final byte[] chunk = chunks.get((int)(position >>> CHUNK_SHIFT));
                if (chunk == null)
                {
                    fillZeroes(dst, dst.position() + done, n);
                }
                else
                {
                    dst.put(dst.position() + done, chunk, within, n);
                }
                done += n;
            }
        }
        complete(callback, error);
    }

    @Override
    public void write(final long offset, final ByteBuffer src, final IoCallback callback)
    {
        final int length = src.remaining();
        final IoError error = check(offset, length, IoError.ENOSPC, true);
        if (error == null)
        {
            int done = 0;
            while (done < length)
            {
                final long position = offset + done;
                final int within = (int)(position & (CHUNK_SIZE - 1));
                final int n = Math.min(length - done, CHUNK_SIZE - within);
                src.get(src.position() + done, chunk((int)(position >>> CHUNK_SHIFT)), within, n);
                done += n;
            }
            VarHandle.releaseFence();
        }
        complete(callback, error);
    }

    @Override
    public void flush(final IoCallback callback)
    {
        // Memory is as durable as this device gets; the fence orders earlier writes before the reply.
        VarHandle.fullFence();
        complete(callback, closed ? new IoError(IoError.ESHUTDOWN, name + " is closed") : null);
    }

    @Override
    public void writeZeroes(final long offset, final long length, final IoCallback callback)
    {
        final IoError error = check(offset, length, IoError.ENOSPC, true);
        if (error == null)
        {
            long done = 0;
            while (done < length)
            {
                final long position = offset + done;
                final int within = (int)(position & (CHUNK_SIZE - 1));
                final int n = (int)Math.min(length - done, CHUNK_SIZE - within);
                final int index = (int)(position >>> CHUNK_SHIFT);
                if (n == CHUNK_SIZE || (within == 0 && position + n == size))
                {
                    chunks.set(index, null);
                }
                else
                {
                    final byte[] chunk = chunks.get(index);
                    if (chunk != null)
                    {
                        Arrays.fill(chunk, within, within + n, (byte)0);
                    }
                }
                done += n;
            }
            VarHandle.releaseFence();
        }
        complete(callback, error);
    }

    /** Frees the storage; later requests fail with ESHUTDOWN. */
    @Override
    public void close()
    {
        closed = true;
        for (int i = 0; i < chunks.length(); i++)
        {
            chunks.set(i, null);
        }
    }

    private IoError check(final long offset, final long length, final int outOfRangeErrno, final boolean writes)
    {
        if (closed)
        {
            return new IoError(IoError.ESHUTDOWN, name + " is closed");
        }
        if (writes && readOnly)
        {
            return new IoError(IoError.EPERM, name + " is read-only");
        }
        if (offset < 0 || length < 0 || offset % BLOCK_SIZE != 0 || length % BLOCK_SIZE != 0)
        {
            return new IoError(IoError.EINVAL, "unaligned request: offset " + offset + " length " + length);
        }
        if (offset > size || length > size - offset)
        {
            return new IoError(outOfRangeErrno, "beyond the end: offset " + offset + " length " + length + " size " + size);
        }
        return null;
    }

    private byte[] chunk(final int index)
    {
        byte[] chunk = chunks.get(index);
        while (chunk == null)
        {
            // A racing writer may install its own chunk first, and a racing writeZeroes may free it again.
            final byte[] fresh = new byte[(int)Math.min(CHUNK_SIZE, size - ((long)index << CHUNK_SHIFT))];
            chunk = chunks.compareAndSet(index, null, fresh) ? fresh : chunks.get(index);
        }
        return chunk;
    }

    private static void fillZeroes(final ByteBuffer dst, final int index, final int length)
    {
        for (int done = 0; done < length; done += ZEROES.length)
        {
            dst.put(index + done, ZEROES, 0, Math.min(ZEROES.length, length - done));
        }
    }

    private void complete(final IoCallback callback, final IoError error)
    {
        if (completions == null)
        {
            callback.complete(error);
        }
        else
        {
            completions.execute(() -> callback.complete(error));
        }
    }

    @Override
    public String toString()
    {
        return "MemoryBlockDevice[" + name + ", " + size + " bytes]";
    }
}
