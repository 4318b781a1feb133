package org.aoemp.bench;

import java.time.Duration;
import java.util.Locale;

/**
 * What one benchmark run does.
 *
 * @param mode          access pattern
 * @param readPercent   share of reads for {@link Mode#RANDRW}, 0..100 (ignored otherwise)
 * @param blockSize     bytes per request, a positive multiple of 512
 * @param queueDepth    requests in flight at most (closed loop: always, open loop: the cap)
 * @param duration      measured time
 * @param warmup        time run before measuring, not counted
 * @param regionOffset  first byte of the region the requests fall in (multiple of 512)
 * @param regionSize    bytes in that region; 0 = up to the end of the device
 * @param rateIops      0 = closed loop; otherwise open loop at this many requests per second
 * @param verify        writes carry a checksummed pattern, reads check it
 * @param seed          seed of the offset and op generators (a run is reproducible)
 */
public record BenchConfig(
    Mode mode,
    int readPercent,
    int blockSize,
    int queueDepth,
    Duration duration,
    Duration warmup,
    long regionOffset,
    long regionSize,
    long rateIops,
    boolean verify,
    long seed)
{
    /** The access patterns, named as fio names them. */
    public enum Mode
    {
        READ(false, true, false),
        WRITE(false, false, true),
        RANDREAD(true, true, false),
        RANDWRITE(true, false, true),
        RANDRW(true, true, true);

        private final boolean random;
        private final boolean reads;
        private final boolean writes;

        Mode(final boolean random, final boolean reads, final boolean writes)
        {
            this.random = random;
            this.reads = reads;
            this.writes = writes;
        }

        public boolean random()
        {
            return random;
        }

        public boolean reads()
        {
            return reads;
        }

        public boolean writes()
        {
            return writes;
        }

        public String label()
        {
            return name().toLowerCase(Locale.ROOT);
        }
    }

    public BenchConfig
    {
        if (mode == null)
        {
            throw new IllegalArgumentException("mode is required (read, write, randread, randwrite, randrw)");
        }
        if (readPercent < 0 || readPercent > 100)
        {
            throw new IllegalArgumentException("--mix must be 0..100 (percent reads): " + readPercent);
        }
        if (blockSize <= 0 || blockSize % 512 != 0)
        {
            throw new IllegalArgumentException("--bs must be a positive multiple of 512: " + blockSize);
        }
        if (queueDepth < 1 || queueDepth > 65536)
        {
            throw new IllegalArgumentException("--qd must be 1..65536: " + queueDepth);
        }
        if (duration == null || duration.isNegative() || duration.isZero())
        {
            throw new IllegalArgumentException("--duration must be positive");
        }
        if (warmup == null || warmup.isNegative())
        {
            throw new IllegalArgumentException("--warmup must not be negative");
        }
        if (regionOffset < 0 || regionOffset % 512 != 0)
        {
            throw new IllegalArgumentException("--offset must be a non-negative multiple of 512: " + regionOffset);
        }
        if (regionSize < 0)
        {
            throw new IllegalArgumentException("--size must not be negative: " + regionSize);
        }
        if (rateIops < 0 || rateIops > 100_000_000)
        {
            throw new IllegalArgumentException("--rate must be 0 (closed loop) or 1..100000000 IOPS: " + rateIops);
        }
    }

    /** A closed-loop 4 KiB random read, queue depth 32, 30 s after 5 s of warm-up, over the whole device. */
    public static BenchConfig defaults()
    {
        return new BenchConfig(Mode.RANDREAD, 70, 4096, 32, Duration.ofSeconds(30), Duration.ofSeconds(5), 0, 0, 0, false, 1);
    }

    public boolean openLoop()
    {
        return rateIops > 0;
    }

    /** The region's length on a device of {@code deviceSize} bytes, checked against it. */
    public long regionLength(final long deviceSize)
    {
        if (regionOffset >= deviceSize)
        {
            throw new IllegalArgumentException("--offset " + regionOffset + " is at or beyond the end of the device (" + deviceSize
                + " bytes)");
        }
        final long length = regionSize == 0 ? deviceSize - regionOffset : regionSize;
        if (length > deviceSize - regionOffset)
        {
            throw new IllegalArgumentException("region [" + regionOffset + ", " + (regionOffset + length)
                + ") goes beyond the end of the device (" + deviceSize + " bytes)");
        }
        if (length < blockSize)
        {
            throw new IllegalArgumentException("the region (" + length + " bytes) is smaller than one block (--bs " + blockSize + ")");
        }
        return length;
    }
}
