package org.aoemp.testing;

import java.io.RandomAccessFile;
import java.nio.ByteBuffer;
import java.nio.file.Path;
import java.util.ArrayDeque;
import java.util.Random;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.TimeUnit;

import org.aoemp.block.BlockDevice;

/** Bulk reads and writes through a {@link BlockDevice} with a bounded number in flight, for tests against real peers. */
public final class BulkIo
{
    private static final long TIMEOUT_SECONDS = 120;

    private BulkIo()
    {
    }

    /** Writes {@code data} at {@code offset} in {@code chunk}-byte requests, at most {@code depth} in flight. */
    public static void write(final BlockDevice d, final long offset, final byte[] data, final int chunk, final int depth) throws Exception
    {
        write(d, offset, data, chunk, depth, () -> { });
    }

    /** As {@link #write(BlockDevice, long, byte[], int, int)}, running {@code afterEachChunk} after each request is issued. */
    public static void write(final BlockDevice d, final long offset, final byte[] data, final int chunk, final int depth,
        final Runnable afterEachChunk) throws Exception
    {
        final ArrayDeque<CompletableFuture<Void>> inFlight = new ArrayDeque<>();
        for (int pos = 0; pos < data.length; pos += chunk)
        {
            if (inFlight.size() >= depth)
            {
                inFlight.poll().get(TIMEOUT_SECONDS, TimeUnit.SECONDS);
            }
            inFlight.add(d.writeAsync(offset + pos, ByteBuffer.wrap(data, pos, Math.min(chunk, data.length - pos)).slice()));
            afterEachChunk.run();
        }
        for (final CompletableFuture<Void> f : inFlight)
        {
            f.get(TIMEOUT_SECONDS, TimeUnit.SECONDS);
        }
    }

    /** Reads {@code length} bytes at {@code offset} in {@code chunk}-byte requests, at most {@code depth} in flight. */
    public static byte[] read(final BlockDevice d, final long offset, final int length, final int chunk, final int depth) throws Exception
    {
        final byte[] out = new byte[length];
        final ArrayDeque<CompletableFuture<Void>> inFlight = new ArrayDeque<>();
        for (int pos = 0; pos < length; pos += chunk)
        {
            if (inFlight.size() >= depth)
            {
                inFlight.poll().get(TIMEOUT_SECONDS, TimeUnit.SECONDS);
            }
            inFlight.add(d.readAsync(offset + pos, ByteBuffer.wrap(out, pos, Math.min(chunk, length - pos)).slice()));
        }
        for (final CompletableFuture<Void> f : inFlight)
        {
            f.get(TIMEOUT_SECONDS, TimeUnit.SECONDS);
        }
        return out;
    }

    /** {@code n} bytes from a seeded generator: the same seed gives the same bytes. */
    public static byte[] random(final int n, final long seed)
    {
        final byte[] b = new byte[n];
        new Random(seed).nextBytes(b);
        return b;
    }

    /** Sets {@code file}'s length to {@code size} (creating it if needed): a sparse disk image. Returns {@code file}. */
    public static Path sparseFile(final Path file, final long size) throws java.io.IOException
    {
        try (RandomAccessFile raf = new RandomAccessFile(file.toFile(), "rw"))
        {
            raf.setLength(size);
        }
        return file;
    }

    /** {@code n} bytes of {@code file} at {@code offset}, read directly, to check what reached the disk. */
    public static byte[] fileBytes(final Path file, final long offset, final int n) throws Exception
    {
        try (RandomAccessFile raf = new RandomAccessFile(file.toFile(), "r"))
        {
            final byte[] b = new byte[n];
            raf.seek(offset);
            raf.readFully(b);
            return b;
        }
    }
}
