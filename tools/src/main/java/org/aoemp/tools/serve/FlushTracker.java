package org.aoemp.tools.serve;

import java.nio.ByteBuffer;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.atomic.AtomicLong;

import org.aoemp.block.BlockDevice;
import org.aoemp.block.IoCallback;

/**
 * A {@link BlockDevice} that remembers whether it was written since its last successful flush,
 * so a clean stop flushes exactly the devices that need it. Every call goes straight to the
 * device; a write costs one atomic increment, a flush one callback object.
 *
 * <p>A flush covers the writes submitted before it (the NBD client waits for their replies
 * before it sends FLUSH; at shutdown nothing is in flight). Threading: any thread.
 */
public final class FlushTracker implements BlockDevice
{
    private static final org.slf4j.Logger LOG = org.slf4j.LoggerFactory.getLogger(FlushTracker.class);
    private final BlockDevice device;
    /** Writes (and write-zeroes) submitted so far. */
    private final AtomicLong writes = new AtomicLong();
    /** The value of {@link #writes} when the latest successful flush was submitted. */
    private final AtomicLong flushedUpTo = new AtomicLong();

    public FlushTracker(final BlockDevice device)
    {
        this.device = device;
    }

    public BlockDevice device()
    {
        return device;
    }

    /** True when a write was submitted after the latest successful flush was. */
    public boolean dirty()
    {
        return writes.get() > flushedUpTo.get();
    }

    /** Flushes when {@link #dirty()}; completes with false when there was nothing to flush. */
    public CompletableFuture<Boolean> flushIfDirty()
    {
        if (!dirty())
        {
            return CompletableFuture.completedFuture(false);
        }
        final CompletableFuture<Boolean> done = new CompletableFuture<>();
        flush(e ->
        {
            if (e == null)
            {
                done.complete(true);
            }
            else
            {
                done.completeExceptionally(e);
            }
        });
        return done;
    }

    /**
     * On the way out: flushes when dirty and waits up to 30 s; a failure is logged, not thrown
     * (the caller is closing everything regardless).
     */
    public void finalFlush()
    {
        try
        {
            if (flushIfDirty().get(30, java.util.concurrent.TimeUnit.SECONDS))
            {
                LOG.info("{}: final FLUSH done", name());
            }
        }
        catch (final java.util.concurrent.ExecutionException | java.util.concurrent.TimeoutException e)
        {
            LOG.error("{}: final FLUSH failed: {}", name(), e.getCause() == null ? e.toString() : e.getCause().getMessage());
        }
        catch (final InterruptedException e)
        {
            Thread.currentThread().interrupt();
        }
    }

    @Override
    public void write(final long offset, final ByteBuffer src, final IoCallback callback)
    {
        writes.incrementAndGet();
        device.write(offset, src, callback);
    }

    @Override
    public void writeZeroes(final long offset, final long length, final IoCallback callback)
    {
        writes.incrementAndGet();
        device.writeZeroes(offset, length, callback);
    }

    @Override
    public void flush(final IoCallback callback)
    {
        final long upTo = writes.get();
        device.flush(e ->
        {
            if (e == null)
            {
                flushedUpTo.accumulateAndGet(upTo, Math::max);
            }
            callback.complete(e);
        });
    }

    @Override
    public void read(final long offset, final ByteBuffer dst, final IoCallback callback)
    {
        device.read(offset, dst, callback);
    }

    @Override
    public long size()
    {
        return device.size();
    }

    @Override
    public int blockSize()
    {
        return device.blockSize();
    }

    @Override
    public int preferredIoSize()
    {
        return device.preferredIoSize();
    }

    @Override
    public boolean isReadOnly()
    {
        return device.isReadOnly();
    }

    @Override
    public String name()
    {
        return device.name();
    }

    @Override
    public void close()
    {
        device.close();
    }
}
