package org.aoemp.initiator;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertNull;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.time.Duration;
import java.util.Arrays;
import java.util.List;
import java.util.Random;
import java.util.concurrent.atomic.AtomicBoolean;
import java.util.concurrent.atomic.AtomicLong;
import java.util.concurrent.atomic.AtomicReference;

import org.aoemp.testing.Await;
import org.aoemp.testing.BulkIo;
import org.aoemp.testing.ScriptedTarget;
import org.aoemp.transport.MemoryHub;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.Test;

/**
 * Issue 11, part 8, with a path that really is idle: two in-memory cables to two scripted targets
 * holding the same disk; the second answers 20 ms late, so at a low queue depth the scheduler
 * (almost) never gives it a command and only the idle probes keep it measured (the RTO is kept at 1 s or more so
 * that no retransmission goes there either). When it goes silent, its
 * lost probes alone take it DOWN within seconds, while the reads over the other path go on with
 * no error; when it answers again, a probe brings it back.
 */
class IdlePathProbeTest
{
    private static final long DISK = 1 << 20;
    private static final long A_MAC = 0x02_00_00_00_0A_02L;
    private static final long B_MAC = 0x02_00_00_00_0B_02L;

    private final MemoryHub hubA = new MemoryHub();
    private final MemoryHub hubB = new MemoryHub();
    private ScriptedTarget targetA;
    private ScriptedTarget targetB;
    private Initiator initiator;
    private Thread reader;
    private final AtomicBoolean stop = new AtomicBoolean();

    @AfterEach
    void tearDown() throws InterruptedException
    {
        stop.set(true);
        if (reader != null)
        {
            reader.join(30_000);
        }
        if (initiator != null)
        {
            initiator.close();
        }
        for (final AutoCloseable c : new AutoCloseable[] {targetA, targetB, hubA, hubB})
        {
            try
            {
                if (c != null)
                {
                    c.close();
                }
            }
            catch (final Exception ignored)
            {
                // best effort
            }
        }
    }

    private PathStats path(final AoeDevice d, final String nic)
    {
        return d.pathStats().stream().filter(p -> p.localInterface().equals(nic)).findFirst()
            .orElseThrow(() -> new AssertionError("no path over " + nic + ": " + d.pathStats()));
    }

    @Test
    void aSilentIdlePathShouldGoDownByItsProbesWhileTheOtherCarriesTheLoad() throws Exception
    {
        targetA = new ScriptedTarget(hubA.attach("tgtA", A_MAC, 1500), 7, 3, DISK, 16);
        targetB = new ScriptedTarget(hubB.attach("tgtB", B_MAC, 1500), 7, 3, DISK, 16);
        final byte[] data = new byte[(int)DISK];
        new Random(8).nextBytes(data);
        System.arraycopy(data, 0, targetA.disk(), 0, data.length);
        System.arraycopy(data, 0, targetB.disk(), 0, data.length);
        final AtomicBoolean silent = new AtomicBoolean();
        targetB.script((n, c, l, s) -> silent.get() ? ScriptedTarget.Fate.DROP : ScriptedTarget.Fate.delay(20));
        initiator = Initiator.start(List.of(hubA.attach("iniA", 0x02_00_00_00_0A_01L, 1500),
            hubB.attach("iniB", 0x02_00_00_00_0B_01L, 1500)), Duration.ZERO);
        // An RTO of at least 1 s: a loaded machine's stalls must not send retransmissions to the idle path (a
        // retry prefers another path), which would then be found silent by timeouts, not by its probes.
        final AoeDevice d = initiator.open(new TargetAddress(7, 3), DeviceOptions.defaults().withRto(Duration.ofSeconds(1),
            Duration.ofSeconds(1), Duration.ofSeconds(5)));
        Await.until(Duration.ofSeconds(30), () -> d.pathStats().size() == 2, () -> "two paths: " + d.pathStats());
        Await.until(Duration.ofSeconds(30), () -> path(d, "iniB").framesReceived() >= 1,
            () -> "the slow path was measured by a probe: " + d.pathStats());
        assertTrue(path(d, "iniB").srttMicros() >= 20_000, "its RTT is the target's 20 ms: " + path(d, "iniB"));

        final int span = 256 << 10;
        final AtomicLong rounds = new AtomicLong();
        final AtomicReference<Throwable> failure = new AtomicReference<>();
        reader = Thread.ofPlatform().name("idle-path-reader").start(() ->
        {
            try
            {
                while (!stop.get())
                {
                    if (!Arrays.equals(Arrays.copyOf(data, span), BulkIo.read(d, 0, span, 4096, 2)))
                    {
                        throw new AssertionError("read back different data in round " + rounds.get());
                    }
                    rounds.incrementAndGet();
                }
            }
            catch (final Throwable t)
            {
                failure.set(t);
            }
        });
        Await.until(Duration.ofSeconds(30), () -> path(d, "iniB").idleProbesSent() >= 3 || failure.get() != null,
            () -> "the idle path keeps being probed while the other carries the reads: " + d.pathStats());
        assertNull(failure.get());
        final PathStats before = path(d, "iniB");
        System.out.println("before the fault: " + d.pathStats());
        assertTrue(before.framesSent() * 100 < path(d, "iniA").framesSent(), "the slow path is all but idle: " + d.pathStats());

        final long t0 = System.nanoTime();
        silent.set(true);
        Await.until(Duration.ofSeconds(30), () -> !path(d, "iniB").state().carriesTraffic(),
            () -> "the silent idle path goes DOWN: " + d.pathStats());
        System.out.printf("silent idle path DOWN after %.2f s: %s%n", (System.nanoTime() - t0) / 1e9, path(d, "iniB"));
        // Its lost probes take it down; on a loaded machine the other path's SRTT may grow past this one's 20 ms,
        // the scheduler then sends it a command or two, and their timeouts count in the same row.
        assertTrue(path(d, "iniB").idleProbesLost() + path(d, "iniB").timeouts() >= DeviceOptions.defaults().downAfterTimeouts(),
            "lost probes (and timeouts) took it down: " + path(d, "iniB"));
        final long roundsAtDown = rounds.get();
        Await.until(Duration.ofSeconds(30), () -> rounds.get() >= roundsAtDown + 3 || failure.get() != null,
            () -> "reads go on");
        assertNull(failure.get(), "no I/O error while the idle path went down");
        assertEquals(PathState.UP, path(d, "iniA").state(), "the loaded path stayed UP: " + path(d, "iniA"));

        silent.set(false);
        Await.until(Duration.ofSeconds(30), () -> path(d, "iniB").state() == PathState.UP,
            () -> "a probe brings the path back: " + d.pathStats());
        assertNull(failure.get());
    }
}
