package org.aoemp.nbd;

import java.nio.ByteBuffer;
import java.util.ArrayDeque;
import java.util.Deque;
import java.util.concurrent.ExecutorService;
import java.util.concurrent.Executors;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicInteger;
import java.util.function.Consumer;

import org.aoemp.block.BlockDevice;
import org.aoemp.block.IoCallback;
import org.aoemp.block.IoError;
import org.aoemp.block.MemoryBlockDevice;

/**
 * A memory disk that misbehaves on purpose, for the bridge's backend-failure tests. READ, WRITE
 * and WRITE_ZEROES fail by region: the {@value #REGION}-byte region {@code i} gets
 * {@code regions[i]} (beyond the array: no fault). FLUSH takes the next fault from a queue (empty:
 * no fault). The accessors can be made to throw. Well-behaved completions are inline; injected
 * ones on two "test-initiator" threads.
 */
final class FaultyBlockDevice implements BlockDevice
{
    static final int REGION = 1 << 20;

    /** How one request misbehaves. */
    enum Kind
    {
        NONE,
        /** Throws a RuntimeException instead of calling back. */
        THROW,
        /** Throws an Error (AssertionError) instead of calling back. */
        THROW_ERROR,
        /** Calls back with an IoError of the fault's errno, from another thread. */
        IO_ERROR,
        /** Calls back twice on the calling thread: the real result, then EIO. */
        TWICE_INLINE,
        /** Calls back twice with the real result, from two other threads at once. */
        TWICE_OTHER_THREADS,
        /** Calls back with the real result, then throws. */
        CALLBACK_THEN_THROW
    }

    record Fault(Kind kind, int errno)
    {
        static final Fault NONE = new Fault(Kind.NONE, 0);

        static Fault of(final Kind kind)
        {
            return new Fault(kind, 0);
        }

        static Fault ioError(final int errno)
        {
            return new Fault(Kind.IO_ERROR, errno);
        }
    }

    private final MemoryBlockDevice memory;
    private final Fault[] regions;
    private final Deque<Fault> flushFaults = new ArrayDeque<>();
    private final ExecutorService others = Executors.newFixedThreadPool(2, r -> new Thread(r, "test-initiator"));
    private final AtomicInteger callbacks = new AtomicInteger();
    volatile boolean sizeThrows;
    volatile boolean blockSizeThrows;
    volatile boolean nameThrows;

    FaultyBlockDevice(final String name, final long size, final Fault... regions)
    {
        this.memory = new MemoryBlockDevice(name, size);
        this.regions = regions.clone();
    }

    MemoryBlockDevice memory()
    {
        return memory;
    }

    /** The next flushes get these faults, in order. */
    synchronized void failFlushes(final Fault... faults)
    {
        flushFaults.addAll(java.util.List.of(faults));
    }

    /** Callback invocations so far, duplicates included (counted after each returns). */
    int callbacks()
    {
        return callbacks.get();
    }

    private Fault faultAt(final long offset)
    {
        final long region = offset / REGION;
        return region < regions.length ? regions[(int)region] : Fault.NONE;
    }

    private synchronized Fault nextFlushFault()
    {
        final Fault f = flushFaults.poll();
        return f == null ? Fault.NONE : f;
    }

    private void counted(final IoCallback callback, final IoError error)
    {
        callback.complete(error);
        callbacks.incrementAndGet();
    }

    /** Runs {@code op} (which calls back inline with the memory device's result) as {@code fault} says. */
    private void run(final Fault fault, final Consumer<IoCallback> op, final IoCallback callback)
    {
        switch (fault.kind())
        {
            case NONE -> op.accept(e -> counted(callback, e));
            case THROW -> throw new IllegalStateException("injected: the device throws");
            case THROW_ERROR -> throw new AssertionError("injected: the device throws an Error");
            case IO_ERROR -> others.execute(() -> counted(callback, new IoError(fault.errno(), "injected failure")));
            case TWICE_INLINE -> op.accept(e ->
            {
                counted(callback, e);
                counted(callback, new IoError(IoError.EIO, "injected second callback"));
            });
            case TWICE_OTHER_THREADS -> op.accept(e ->
            {
                others.execute(() -> counted(callback, e));
                others.execute(() -> counted(callback, e));
            });
            case CALLBACK_THEN_THROW ->
            {
                op.accept(e -> counted(callback, e));
                throw new IllegalStateException("injected: the device throws after calling back");
            }
            default -> throw new IllegalStateException(fault.toString());
        }
    }

    @Override
    public long size()
    {
        if (sizeThrows)
        {
            throw new IllegalStateException("injected: size() fails");
        }
        return memory.size();
    }

    @Override
    public int blockSize()
    {
        if (blockSizeThrows)
        {
            throw new IllegalStateException("injected: blockSize() fails");
        }
        return memory.blockSize();
    }

    @Override
    public int preferredIoSize()
    {
        return memory.preferredIoSize();
    }

    @Override
    public boolean isReadOnly()
    {
        return false;
    }

    @Override
    public void read(final long offset, final ByteBuffer dst, final IoCallback callback)
    {
        run(faultAt(offset), cb -> memory.read(offset, dst, cb), callback);
    }

    @Override
    public void write(final long offset, final ByteBuffer src, final IoCallback callback)
    {
        run(faultAt(offset), cb -> memory.write(offset, src, cb), callback);
    }

    @Override
    public void flush(final IoCallback callback)
    {
        run(nextFlushFault(), memory::flush, callback);
    }

    @Override
    public void writeZeroes(final long offset, final long length, final IoCallback callback)
    {
        run(faultAt(offset), cb -> memory.writeZeroes(offset, length, cb), callback);
    }

    @Override
    public String name()
    {
        if (nameThrows)
        {
            throw new IllegalStateException("injected: name() fails");
        }
        return memory.name();
    }

    @Override
    public void close()
    {
        others.shutdown();
        try
        {
            others.awaitTermination(5, TimeUnit.SECONDS);
        }
        catch (final InterruptedException e)
        {
            Thread.currentThread().interrupt();
        }
        memory.close();
    }
}
