package org.aoemp.block;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.nio.ByteBuffer;
import java.util.Random;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.ExecutionException;
import java.util.concurrent.ExecutorService;
import java.util.concurrent.Executors;
import java.util.concurrent.atomic.AtomicReference;

import org.junit.jupiter.api.Test;

// Lives with the NBD bridge, its first user; the class itself is in multipath's main code.
class MemoryBlockDeviceTest
{
    private static final int MIB = 1 << 20;

    @Test
    void shouldReadZeroesWhereNothingWasWrittenAndAllocateNothing() throws Exception
    {
        try (MemoryBlockDevice d = new MemoryBlockDevice("m", 1L << 30))
        {
            final ByteBuffer dst = ByteBuffer.allocateDirect(3 * MIB);
            dst.put(0, new byte[3 * MIB]).put(5, (byte)1);
            d.readAsync(512L * MIB, dst).get();
            assertEquals(0, dst.get(5));
            assertEquals(0, d.allocatedBytes());
        }
    }

    @Test
    void shouldRoundTripAcrossChunkBoundariesWithoutMovingBufferPositions() throws Exception
    {
        try (MemoryBlockDevice d = new MemoryBlockDevice("m", 8L * MIB))
        {
            final byte[] data = new byte[2 * MIB + 4096];
            new Random(1).nextBytes(data);
            final ByteBuffer src = ByteBuffer.allocate(data.length + 100).position(100);
            src.put(data).position(100);
            d.writeAsync(MIB - 4096, src).get();
            assertEquals(100, src.position());
            assertEquals(3L * MIB, d.allocatedBytes(), "chunks 0..2 touched, no more");

            final ByteBuffer dst = ByteBuffer.allocateDirect(data.length);
            d.readAsync(MIB - 4096, dst).get();
            assertEquals(0, dst.position());
            final byte[] back = new byte[data.length];
            dst.get(back);
            assertArrayEquals(data, back);
        }
    }

    @Test
    void shouldZeroPartialRangesAndFreeWholeChunks() throws Exception
    {
        final long size = 3L * MIB + 512;
        try (MemoryBlockDevice d = new MemoryBlockDevice("m", size))
        {
            final byte[] ones = new byte[(int)size];
            java.util.Arrays.fill(ones, (byte)1);
            d.writeAsync(0, ByteBuffer.wrap(ones)).get();
            assertEquals(4L * MIB, d.allocatedBytes());

            d.writeZeroesAsync(512, size - 1024).get();
            assertEquals(2L * MIB, d.allocatedBytes(), "chunks 1 and 2 freed, 0 and the short last one kept");
            final ByteBuffer all = ByteBuffer.allocate((int)size);
            d.readAsync(0, all).get();
            assertEquals(1, all.get(511));
            assertEquals(0, all.get(512));
            assertEquals(0, all.get((int)size - 513));
            assertEquals(1, all.get((int)size - 512));

            d.writeZeroesAsync(3L * MIB, 512).get();
            assertEquals(MIB, d.allocatedBytes(), "the short last chunk, zeroed whole, is freed too");
        }
    }

    @Test
    void shouldRejectWhatTheBlockDeviceContractRejects()
    {
        try (MemoryBlockDevice d = new MemoryBlockDevice("m", MIB))
        {
            assertEquals(IoError.EINVAL, errno(d.readAsync(MIB, ByteBuffer.allocate(512))));
            assertEquals(IoError.EINVAL, errno(d.readAsync(100, ByteBuffer.allocate(512))));
            assertEquals(IoError.EINVAL, errno(d.readAsync(0, ByteBuffer.allocate(100))));
            assertEquals(IoError.ENOSPC, errno(d.writeAsync(MIB - 512, ByteBuffer.allocate(1024))));
            assertEquals(IoError.ENOSPC, errno(d.writeZeroesAsync(512, Long.MAX_VALUE - 511)));
            assertEquals(IoError.EINVAL, errno(d.readAsync(-512, ByteBuffer.allocate(512))));
        }
        try (MemoryBlockDevice ro = new MemoryBlockDevice("ro", MIB, true, null))
        {
            assertTrue(ro.isReadOnly());
            assertEquals(IoError.EPERM, errno(ro.writeAsync(0, ByteBuffer.allocate(512))));
            assertEquals(IoError.EPERM, errno(ro.writeZeroesAsync(0, 512)));
        }
        final MemoryBlockDevice closed = new MemoryBlockDevice("c", MIB);
        closed.close();
        assertEquals(IoError.ESHUTDOWN, errno(closed.readAsync(0, ByteBuffer.allocate(512))));
        assertThrows(IllegalArgumentException.class, () -> new MemoryBlockDevice("bad", 1000));
    }

    @Test
    void shouldCompleteOnTheCallingThreadOrOnTheGivenExecutor() throws Exception
    {
        final AtomicReference<Thread> where = new AtomicReference<>();
        try (MemoryBlockDevice inline = new MemoryBlockDevice("m", MIB))
        {
            inline.flush(e -> where.set(Thread.currentThread()));
            assertEquals(Thread.currentThread(), where.get());
        }
        final ExecutorService executor = Executors.newSingleThreadExecutor(r -> new Thread(r, "completions"));
        try (MemoryBlockDevice async = new MemoryBlockDevice("m", MIB, false, executor))
        {
            final CompletableFuture<String> thread = new CompletableFuture<>();
            async.read(0, ByteBuffer.allocate(512), e -> thread.complete(Thread.currentThread().getName()));
            assertEquals("completions", thread.get());
        }
        finally
        {
            executor.shutdownNow();
        }
    }

    @Test
    void shouldKeepEveryWriteOfConcurrentWritersToDisjointBlocks() throws Exception
    {
        final int threads = 4;
        final int blocksPerThread = 2048;
        try (MemoryBlockDevice d = new MemoryBlockDevice("m", (long)threads * blocksPerThread * 512))
        {
            final Thread[] writers = new Thread[threads];
            for (int t = 0; t < threads; t++)
            {
                final int id = t;
                writers[t] = new Thread(() ->
                {
                    final ByteBuffer block = ByteBuffer.allocate(512);
                    for (int i = 0; i < blocksPerThread; i++)
                    {
                        // Interleave the threads so they race for the same lazily allocated chunks.
                        final long lba = (long)i * threads + id;
                        block.clear();
                        block.putLong(0, lba);
                        d.write(lba * 512, block, e ->
                        {
                            if (e != null)
                            {
                                throw new AssertionError(e);
                            }
                        });
                    }
                });
                writers[t].start();
            }
            for (final Thread w : writers)
            {
                w.join();
            }
            final ByteBuffer all = ByteBuffer.allocate((int)d.size());
            d.readAsync(0, all).get();
            for (long lba = 0; lba < (long)threads * blocksPerThread; lba++)
            {
                assertEquals(lba, all.getLong((int)(lba * 512)), "block " + lba);
            }
        }
    }

    private static int errno(final CompletableFuture<Void> f)
    {
        final ExecutionException e = assertThrows(ExecutionException.class, f::get);
        return ((IoError)e.getCause()).errno();
    }
}
