package org.aoemp.bench;

import java.nio.ByteBuffer;
import java.nio.ByteOrder;
import java.util.zip.CRC32C;

/**
 * The self-checking data {@code --verify} writes. Every 512-byte sector carries, little-endian:
 *
 * <pre>
 *   0   8  byte offset of this sector on the device
 *   8   8  write generation (1, 2, ... over the run; 0 is never written)
 *  16 492  filler derived from offset and generation
 * 508   4  CRC32C of bytes 0..507
 * </pre>
 *
 * A read checks every sector: all zeros means "never written" (a sparse disk), anything else must
 * have a good CRC, its own offset (else it was written elsewhere or read from the wrong place) and,
 * when the caller knows it, the generation last written there (else a write was lost).
 *
 * <p>Not thread-safe: one instance per queue slot. Allocates nothing per call.
 */
public final class VerifyPattern
{
    public static final int SECTOR = 512;
    static final int CRC_AT = SECTOR - 4;

    /** What {@link #check} found wrong with a sector. */
    public enum Problem
    {
        NONE, CRC, OFFSET, GENERATION, ZEROES
    }

    private final CRC32C crc = new CRC32C();
    private Problem firstProblem = Problem.NONE;
    private long firstBadOffset = -1;
    private long firstBadFoundGeneration;
    private int unwritten;

    /** Fills {@code [0, length)} of {@code buf} (absolute; position and limit are kept) for {@code deviceOffset}. */
    public void fill(final ByteBuffer buf, final int length, final long deviceOffset, final long generation)
    {
        final ByteBuffer b = buf.order(ByteOrder.LITTLE_ENDIAN);
        for (int s = 0; s < length; s += SECTOR)
        {
            final long offset = deviceOffset + s;
            b.putLong(s, offset);
            b.putLong(s + 8, generation);
            long x = offset * 0x9E3779B97F4A7C15L ^ generation;
            for (int i = 16; i < CRC_AT; i += 4)
            {
                x ^= x << 13;
                x ^= x >>> 7;
                x ^= x << 17;
                b.putInt(s + i, (int)x);
            }
            b.putInt(s + CRC_AT, crc(b, s));
        }
    }

    /**
     * Checks {@code [0, length)} of {@code buf} read at {@code deviceOffset}.
     *
     * @param expectedGeneration the generation last written to this block, or 0 if unknown
     * @return the number of bad sectors (0 = all good); {@link #firstProblem()} and
     *         {@link #firstBadOffset()} describe the first one, {@link #unwritten()} counts the zero sectors
     */
    public int check(final ByteBuffer buf, final int length, final long deviceOffset, final long expectedGeneration)
    {
        final ByteBuffer b = buf.order(ByteOrder.LITTLE_ENDIAN);
        firstProblem = Problem.NONE;
        firstBadOffset = -1;
        unwritten = 0;
        int bad = 0;
        for (int s = 0; s < length; s += SECTOR)
        {
            final long offset = deviceOffset + s;
            final Problem p;
            final long storedGeneration = b.getLong(s + 8);
            if (isZero(b, s))
            {
                p = expectedGeneration != 0 ? Problem.ZEROES : Problem.NONE;
                if (p == Problem.NONE)
                {
                    unwritten++;
                }
            }
            else if (b.getInt(s + CRC_AT) != crc(b, s))
            {
                p = Problem.CRC;
            }
            else if (b.getLong(s) != offset)
            {
                p = Problem.OFFSET;
            }
            else if (expectedGeneration != 0 && storedGeneration != expectedGeneration)
            {
                p = Problem.GENERATION;
            }
            else
            {
                p = Problem.NONE;
            }
            if (p != Problem.NONE)
            {
                if (bad == 0)
                {
                    firstProblem = p;
                    firstBadOffset = offset;
                    firstBadFoundGeneration = storedGeneration;
                }
                bad++;
            }
        }
        return bad;
    }

    public Problem firstProblem()
    {
        return firstProblem;
    }

    public long firstBadOffset()
    {
        return firstBadOffset;
    }

    /** The generation the first bad sector carried (meaningful for {@link Problem#GENERATION}). */
    public long firstBadFoundGeneration()
    {
        return firstBadFoundGeneration;
    }

    /** Sectors of the last check that were all zeros and not expected to hold data. */
    public int unwritten()
    {
        return unwritten;
    }

    /** A sentence for people about the first bad sector of the last check. */
    public String describe(final long expectedGeneration)
    {
        return switch (firstProblem)
        {
            case NONE -> "no problem";
            case CRC -> "sector at byte " + firstBadOffset + ": CRC32C does not match (corrupted data)";
            case OFFSET -> "sector at byte " + firstBadOffset + ": holds data written for another offset (misplaced write or read)";
            case GENERATION -> "sector at byte " + firstBadOffset + ": holds write generation " + firstBadFoundGeneration + ", expected "
                + expectedGeneration + " (a write was lost)";
            case ZEROES -> "sector at byte " + firstBadOffset + ": reads zeros but generation " + expectedGeneration + " was written";
        };
    }

    private int crc(final ByteBuffer b, final int sectorStart)
    {
        final int position = b.position();
        final int limit = b.limit();
        b.limit(sectorStart + CRC_AT).position(sectorStart);
        crc.reset();
        crc.update(b);
        b.limit(limit).position(position);
        return (int)crc.getValue();
    }

    private static boolean isZero(final ByteBuffer b, final int s)
    {
        for (int i = 0; i < SECTOR; i += 8)
        {
            if (b.getLong(s + i) != 0)
            {
                return false;
            }
        }
        return true;
    }
}
