package org.aoemp.block;

import java.nio.ByteBuffer;
import java.util.concurrent.CompletableFuture;

/**
 * An asynchronous disk addressed in bytes. Every method returns at once; the callback runs when
 * the request has completed, with {@code null} or an {@link IoError}. Any thread may call.
 *
 * <p>Offsets and lengths must be multiples of {@link #blockSize()}; requests outside
 * {@code [0, size())} fail with EINVAL (reads) or ENOSPC (writes) before anything is sent.
 * Buffers are used from their position to their limit and must not be touched until the
 * callback; their position is not changed.
 */
public interface BlockDevice extends AutoCloseable
{
    /** Size in bytes. */
    long size();

    /** Logical block size (512 for AoE). */
    int blockSize();

    /** Largest request that is sent as one ATA command, in bytes: a hint for preferred I/O size. */
    int preferredIoSize();

    boolean isReadOnly();

    /** Reads {@code dst.remaining()} bytes at {@code offset} into {@code dst}. */
    void read(long offset, ByteBuffer dst, IoCallback callback);

    /** Writes {@code src.remaining()} bytes at {@code offset}. Completes when the target has acknowledged every byte. */
    void write(long offset, ByteBuffer src, IoCallback callback);

    /** Completes when every write that completed before this call is durable on the target. */
    void flush(IoCallback callback);

    /** Writes {@code length} zero bytes at {@code offset}. */
    void writeZeroes(long offset, long length, IoCallback callback);

    /** A short name for logs and the NBD export list, e.g. {@code e7.3}. */
    String name();

    @Override
    void close();

    // Blocking conveniences for tools and tests; never use them on an event loop.

    default CompletableFuture<Void> readAsync(final long offset, final ByteBuffer dst)
    {
        final CompletableFuture<Void> f = new CompletableFuture<>();
        read(offset, dst, e -> complete(f, e));
        return f;
    }

    default CompletableFuture<Void> writeAsync(final long offset, final ByteBuffer src)
    {
        final CompletableFuture<Void> f = new CompletableFuture<>();
        write(offset, src, e -> complete(f, e));
        return f;
    }

    default CompletableFuture<Void> flushAsync()
    {
        final CompletableFuture<Void> f = new CompletableFuture<>();
        flush(e -> complete(f, e));
        return f;
    }

    default CompletableFuture<Void> writeZeroesAsync(final long offset, final long length)
    {
        final CompletableFuture<Void> f = new CompletableFuture<>();
        writeZeroes(offset, length, e -> complete(f, e));
        return f;
    }

    private static void complete(final CompletableFuture<Void> f, final IoError e)
    {
        if (e == null)
        {
            f.complete(null);
        }
        else
        {
            f.completeExceptionally(e);
        }
    }
}
