package org.aoemp.bench;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.nio.ByteBuffer;

import org.junit.jupiter.api.Test;

class VerifyPatternTest
{
    private final VerifyPattern pattern = new VerifyPattern();
    private final ByteBuffer block = ByteBuffer.allocateDirect(4096);

    @Test
    void aFilledBlockChecksCleanAndKeepsPositionAndLimit()
    {
        block.position(0).limit(4096);
        pattern.fill(block, 4096, 1 << 20, 7);
        assertEquals(0, pattern.check(block, 4096, 1 << 20, 7));
        assertEquals(0, pattern.check(block, 4096, 1 << 20, 0), "unknown generation: offset and CRC still check");
        assertEquals(0, pattern.unwritten());
        assertEquals(0, block.position());
        assertEquals(4096, block.limit());
    }

    @Test
    void oneFlippedByteIsACrcErrorAtThatSector()
    {
        pattern.fill(block, 4096, 8192, 3);
        block.put(3 * 512 + 100, (byte)(block.get(3 * 512 + 100) ^ 1));
        assertEquals(1, pattern.check(block, 4096, 8192, 3));
        assertEquals(VerifyPattern.Problem.CRC, pattern.firstProblem());
        assertEquals(8192 + 3 * 512, pattern.firstBadOffset());
        assertTrue(pattern.describe(3).contains("byte " + (8192 + 3 * 512)), pattern.describe(3));
    }

    @Test
    void dataWrittenForAnotherOffsetIsMisplaced()
    {
        pattern.fill(block, 4096, 8192, 3);
        assertEquals(8, pattern.check(block, 4096, 12288, 0));
        assertEquals(VerifyPattern.Problem.OFFSET, pattern.firstProblem());
        assertEquals(12288, pattern.firstBadOffset());
    }

    @Test
    void anOlderGenerationIsALostWrite()
    {
        pattern.fill(block, 4096, 0, 4);
        assertEquals(8, pattern.check(block, 4096, 0, 5));
        assertEquals(VerifyPattern.Problem.GENERATION, pattern.firstProblem());
        assertEquals(4, pattern.firstBadFoundGeneration());
    }

    @Test
    void zeroSectorsAreUnwrittenUnlessAGenerationWasWritten()
    {
        final ByteBuffer zero = ByteBuffer.allocate(1024);
        assertEquals(0, pattern.check(zero, 1024, 0, 0));
        assertEquals(2, pattern.unwritten());
        assertEquals(2, pattern.check(zero, 1024, 0, 9));
        assertEquals(VerifyPattern.Problem.ZEROES, pattern.firstProblem());
    }

    @Test
    void differentGenerationsGiveDifferentBytes()
    {
        final ByteBuffer other = ByteBuffer.allocateDirect(4096);
        pattern.fill(block, 4096, 0, 1);
        pattern.fill(other, 4096, 0, 2);
        assertTrue(block.mismatch(other) >= 0);
    }
}
