package org.aoemp.bench;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.time.Duration;

import org.junit.jupiter.api.Test;

class WorkloadTest
{
    private static BenchConfig config(final BenchConfig.Mode mode, final int qd, final long seed)
    {
        return new BenchConfig(mode, 70, 4096, qd, Duration.ofSeconds(1), Duration.ZERO, 0, 0, 0, false, seed);
    }

    @Test
    void randomOffsetsAreAlignedInsideTheRegionAndReproducible()
    {
        final BenchConfig c = config(BenchConfig.Mode.RANDREAD, 4, 42);
        final Workload.Stream a = new Workload(c, 1 << 20, 64 << 20, false).stream(2);
        final Workload.Stream b = new Workload(c, 1 << 20, 64 << 20, false).stream(2);
        for (int i = 0; i < 10_000; i++)
        {
            a.next();
            b.next();
            assertEquals(a.offset(), b.offset());
            assertTrue(a.isRead());
            assertTrue(a.offset() >= 1 << 20 && a.offset() + 4096 <= (1 << 20) + (64 << 20), "offset " + a.offset());
            assertEquals(0, (a.offset() - (1 << 20)) % 4096);
        }
    }

    @Test
    void sequentialWalksTheRegionInOrderAndWraps()
    {
        final Workload w = new Workload(config(BenchConfig.Mode.WRITE, 2, 1), 0, 4 * 4096, false);
        final Workload.Stream s0 = w.stream(0);
        final Workload.Stream s1 = w.stream(1);
        final long[] expected = {0, 4096, 8192, 12288, 0, 4096};
        for (int i = 0; i < expected.length; i++)
        {
            final Workload.Stream s = i % 2 == 0 ? s0 : s1;
            s.next();
            assertEquals(expected[i], s.offset());
            assertTrue(!s.isRead());
        }
    }

    @Test
    void randrwHonoursTheMix()
    {
        final Workload.Stream s = new Workload(config(BenchConfig.Mode.RANDRW, 1, 3), 0, 1 << 30, false).stream(0);
        int reads = 0;
        for (int i = 0; i < 100_000; i++)
        {
            s.next();
            reads += s.isRead() ? 1 : 0;
        }
        assertTrue(reads > 69_000 && reads < 71_000, "reads " + reads);
    }

    @Test
    void partitionedSlotsOwnDisjointBlocks()
    {
        final int qd = 3;
        final Workload w = new Workload(config(BenchConfig.Mode.RANDRW, qd, 9), 0, 10 * 4096, true);
        for (int slot = 0; slot < qd; slot++)
        {
            final Workload.Stream s = w.stream(slot);
            final boolean[] seen = new boolean[10];
            for (int i = 0; i < 1000; i++)
            {
                s.next();
                assertEquals(slot, s.block() % qd);
                assertTrue(s.block() < 10);
                seen[(int)s.block()] = true;
            }
            for (int b = slot; b < 10; b += qd)
            {
                assertTrue(seen[b], "slot " + slot + " never reached its block " + b);
            }
        }
    }

    @Test
    void aRegionTooSmallForTheQueueIsRefusedWithVerify()
    {
        final IllegalArgumentException e = assertThrows(IllegalArgumentException.class,
            () -> new Workload(config(BenchConfig.Mode.RANDRW, 8, 1), 0, 4 * 4096, true));
        assertTrue(e.getMessage().contains("--qd"), e.getMessage());
    }

    @Test
    void badConfigurationsAreRefusedWithTheOptionNamed()
    {
        assertTrue(assertThrows(IllegalArgumentException.class,
            () -> new BenchConfig(BenchConfig.Mode.READ, 70, 1000, 1, Duration.ofSeconds(1), Duration.ZERO, 0, 0, 0, false, 1))
            .getMessage().contains("--bs"));
        assertTrue(assertThrows(IllegalArgumentException.class,
            () -> new BenchConfig(BenchConfig.Mode.READ, 170, 512, 1, Duration.ofSeconds(1), Duration.ZERO, 0, 0, 0, false, 1))
            .getMessage().contains("--mix"));
        assertTrue(assertThrows(IllegalArgumentException.class,
            () -> config(BenchConfig.Mode.READ, 1, 1).regionLength(2048)).getMessage().contains("smaller than one block"));
    }
}
