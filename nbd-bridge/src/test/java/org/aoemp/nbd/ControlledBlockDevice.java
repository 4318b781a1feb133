package org.aoemp.nbd;

import java.nio.ByteBuffer;
import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.ExecutorService;
import java.util.concurrent.Executors;
import java.util.concurrent.TimeUnit;

import org.aoemp.block.BlockDevice;
import org.aoemp.block.IoCallback;
import org.aoemp.block.IoError;
import org.aoemp.block.MemoryBlockDevice;

/**
 * A memory disk whose completions a test controls: they run on a separate "initiator" thread,
 * can be held back and released later (to force out-of-order replies or in-flight requests at
 * disconnect), and can be made to fail with an errno.
 */
final class ControlledBlockDevice implements BlockDevice
{
    private final MemoryBlockDevice memory;
    private final ExecutorService initiator = Executors.newSingleThreadExecutor(r -> new Thread(r, "test-initiator"));
    private final List<Runnable> held = new ArrayList<>();
    private boolean holding;
    private volatile int failWith;

    ControlledBlockDevice(final String name, final long size)
    {
        this.memory = new MemoryBlockDevice(name, size);
    }

    MemoryBlockDevice memory()
    {
        return memory;
    }

    /** From now on completions wait for {@link #release()}. */
    synchronized void hold()
    {
        holding = true;
    }

    synchronized int heldCount()
    {
        return held.size();
    }

    /** Runs the held completions (in submission order, or reversed) and stops holding. */
    void release(final boolean reversed)
    {
        final List<Runnable> toRun;
        synchronized (this)
        {
            holding = false;
            toRun = new ArrayList<>(held);
            held.clear();
        }
        if (reversed)
        {
            toRun.reversed().forEach(initiator::execute);
        }
        else
        {
            toRun.forEach(initiator::execute);
        }
    }

    /** Every later request fails with this errno (0: succeed again). */
    void failWith(final int errno)
    {
        this.failWith = errno;
    }

    private void deliver(final IoCallback callback, final IoError error)
    {
        final IoError e = failWith != 0 ? new IoError(failWith, "injected failure") : error;
        final Runnable completion = () -> callback.complete(e);
        synchronized (this)
        {
            if (holding)
            {
                held.add(completion);
                return;
            }
        }
        initiator.execute(completion);
    }

    @Override
    public long size()
    {
        return memory.size();
    }

    @Override
    public int blockSize()
    {
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
        memory.read(offset, dst, e -> deliver(callback, e));
    }

    @Override
    public void write(final long offset, final ByteBuffer src, final IoCallback callback)
    {
        memory.write(offset, src, e -> deliver(callback, e));
    }

    @Override
    public void flush(final IoCallback callback)
    {
        memory.flush(e -> deliver(callback, e));
    }

    @Override
    public void writeZeroes(final long offset, final long length, final IoCallback callback)
    {
        memory.writeZeroes(offset, length, e -> deliver(callback, e));
    }

    @Override
    public String name()
    {
        return memory.name();
    }

    @Override
    public void close()
    {
        release(false);
        initiator.shutdown();
        try
        {
            initiator.awaitTermination(5, TimeUnit.SECONDS);
        }
        catch (final InterruptedException e)
        {
            Thread.currentThread().interrupt();
        }
        memory.close();
    }
}
