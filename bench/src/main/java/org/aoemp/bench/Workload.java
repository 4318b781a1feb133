package org.aoemp.bench;

import java.util.SplittableRandom;
import java.util.concurrent.atomic.AtomicLong;

/**
 * Where the next request goes and whether it reads or writes: one {@link Stream} per queue slot,
 * seeded from the run's seed and the slot number, so a run is reproducible and the streams need
 * no lock. Nothing is allocated per request.
 *
 * <p>The region is cut into {@code blocks} blocks of the block size. Sequential modes walk them
 * in order (one shared cursor, wrapping at the end of the region); random modes pick uniformly.
 * With {@code partitioned} (what {@code --verify} uses), slot {@code k} only ever touches blocks
 * {@code b} with {@code b % queueDepth == k}: no two requests in flight overlap, so a read never
 * races a write to the same block and every block's last written generation is known.
 */
public final class Workload
{
    private final BenchConfig config;
    private final long regionOffset;
    private final long blocks;
    private final boolean partitioned;
    private final AtomicLong cursor = new AtomicLong();

    public Workload(final BenchConfig config, final long regionOffset, final long regionLength, final boolean partitioned)
    {
        this.config = config;
        this.regionOffset = regionOffset;
        this.blocks = regionLength / config.blockSize();
        this.partitioned = partitioned;
        if (blocks < 1)
        {
            throw new IllegalArgumentException("the region holds no whole block of " + config.blockSize() + " bytes");
        }
        if (partitioned && blocks < config.queueDepth())
        {
            throw new IllegalArgumentException("with --verify the region must hold at least --qd (" + config.queueDepth()
                + ") blocks; it holds " + blocks);
        }
    }

    public long blocks()
    {
        return blocks;
    }

    /** The generator of slot {@code slot} (0 ≤ slot &lt; queue depth). */
    public Stream stream(final int slot)
    {
        return new Stream(slot);
    }

    /** One slot's generator. Owned by whichever thread drives that slot at the time (one at a time). */
    public final class Stream
    {
        private final int slot;
        private final SplittableRandom random;
        private final long ownBlocks;
        private long sequence;
        private boolean read;
        private long block;

        Stream(final int slot)
        {
            this.slot = slot;
            this.random = new SplittableRandom(config.seed() * 0x9E3779B97F4A7C15L + slot);
            final int qd = config.queueDepth();
            this.ownBlocks = partitioned ? (blocks - slot + qd - 1) / qd : blocks;
        }

        /** Picks the next request; then {@link #isRead()}, {@link #block()} and {@link #offset()} describe it. */
        public void next()
        {
            final BenchConfig.Mode mode = config.mode();
            read = mode.reads() && (!mode.writes() || random.nextInt(100) < config.readPercent());
            final long j;
            if (mode.random())
            {
                j = random.nextLong(ownBlocks);
            }
            else if (partitioned)
            {
                j = sequence++ % ownBlocks;
            }
            else
            {
                j = cursor.getAndIncrement() % blocks;
            }
            block = partitioned ? slot + (long)config.queueDepth() * j : j;
        }

        public boolean isRead()
        {
            return read;
        }

        /** Block index within the region. */
        public long block()
        {
            return block;
        }

        /** Byte offset on the device. */
        public long offset()
        {
            return regionOffset + block * config.blockSize();
        }
    }
}
