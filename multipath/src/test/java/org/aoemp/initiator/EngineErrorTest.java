package org.aoemp.initiator;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertNotNull;
import static org.junit.jupiter.api.Assertions.assertNull;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.nio.ByteBuffer;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import java.util.Random;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.TimeUnit;
import java.util.function.BooleanSupplier;

import org.aoemp.block.IoError;
import org.aoemp.testing.ScriptedTarget;
import org.aoemp.testing.ScriptedTarget.Fate;
import org.aoemp.transport.FrameTransport;
import org.aoemp.transport.MemoryHub;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.Test;

/**
 * No request is ever left hanging: whatever a transport or the engine's own duty cycle throws,
 * every request completes (with its data or with EIO) and the device goes on, or gives up and
 * fails every request at once. Against a scripted target on the in-memory hub.
 */
class EngineErrorTest
{
    private static final long INITIATOR_MAC = 0x02_00_00_00_00_01L;
    private static final long SECOND_INITIATOR_MAC = 0x02_00_00_00_00_03L;
    private static final long TARGET_MAC = 0x02_00_00_00_00_02L;
    private static final int DISK = 4 << 20;
    private static final Duration GENEROUS = Duration.ofSeconds(30);

    private MemoryHub hub;
    private ScriptedTarget target;
    private Initiator initiator;
    private AoeDevice device;

    @AfterEach
    void tearDown()
    {
        if (initiator != null)
        {
            initiator.close();
        }
        if (target != null)
        {
            target.close();
        }
        if (hub != null)
        {
            hub.close();
        }
    }

    private static DeviceOptions fastRetries()
    {
        return DeviceOptions.defaults().withRto(Duration.ofMillis(20), Duration.ofMillis(5), Duration.ofMillis(200));
    }

    /** A hub with the target on it; the initiator's NICs are made by {@code nics}. */
    private AoeDevice open(final DeviceOptions options, final List<FrameTransport> nics) throws Exception
    {
        initiator = Initiator.start(nics, Duration.ZERO);
        device = initiator.open(new TargetAddress(7, 3), options);
        return device;
    }

    private void hubWithTarget()
    {
        hub = new MemoryHub();
        target = new ScriptedTarget(hub.attach("tgt0", TARGET_MAC, 1500), 7, 3, DISK, 16);
    }

    private static void await(final BooleanSupplier condition, final Duration limit, final String what) throws InterruptedException
    {
        final long deadline = System.nanoTime() + limit.toNanos();
        while (!condition.getAsBoolean())
        {
            assertTrue(System.nanoTime() - deadline < 0, "waited " + limit.toSeconds() + " s for: " + what);
            Thread.sleep(5);
        }
    }

    /** {@code n} reads of 4 KiB, each completing its future with its error (null: success). */
    private PathStats ini0()
    {
        return device.pathStats().stream().filter(p -> p.localInterface().equals("ini0")).findFirst().orElseThrow();
    }

    private List<CompletableFuture<IoError>> reads(final int n)
    {
        final List<CompletableFuture<IoError>> out = new ArrayList<>();
        for (int i = 0; i < n; i++)
        {
            final CompletableFuture<IoError> f = new CompletableFuture<>();
            device.read((long)(i % 256) * 4096, ByteBuffer.allocate(4096), f::complete);
            out.add(f);
        }
        return out;
    }

    /** Waits for every request (generously) and returns the errors, null for successes. */
    private static List<IoError> outcomes(final List<CompletableFuture<IoError>> requests) throws Exception
    {
        CompletableFuture.allOf(requests.toArray(CompletableFuture[]::new)).get(GENEROUS.toSeconds(), TimeUnit.SECONDS);
        final List<IoError> out = new ArrayList<>();
        for (final CompletableFuture<IoError> f : requests)
        {
            out.add(f.getNow(null));
        }
        return out;
    }

    /** Writes random data at {@code offset} and reads it back: the device works. */
    private void roundTrip(final long offset, final int n, final long seed) throws Exception
    {
        final byte[] data = new byte[n];
        new Random(seed).nextBytes(data);
        device.writeAsync(offset, ByteBuffer.wrap(data)).get(GENEROUS.toSeconds(), TimeUnit.SECONDS);
        final ByteBuffer back = ByteBuffer.allocate(n);
        device.readAsync(offset, back).get(GENEROUS.toSeconds(), TimeUnit.SECONDS);
        assertArrayEquals(data, back.array());
    }

    private static void assertEio(final IoError e, final String... mentions)
    {
        assertNotNull(e, "failed");
        assertEquals(IoError.EIO, e.errno(), e.getMessage());
        for (final String m : mentions)
        {
            assertTrue(e.getMessage().contains(m), "'" + e.getMessage() + "' names " + m);
        }
    }

    @Test
    void shouldCompleteEveryRequestAndGoOnWhenASendOnTheEngineThreadThrows() throws Exception
    {
        hubWithTarget();
        final FaultyTransport nic = new FaultyTransport(hub.attach("ini0", INITIATOR_MAC, 1500), true);
        open(fastRetries(), List.of(nic));
        nic.throwOnNextSends(1);
        final List<IoError> results = outcomes(reads(64));

        assertEquals(1, nic.sendsThrown());
        assertEquals("aoe-e7.3", nic.lastSender().getName(), "the engine sent the frame itself");
        final long failed = results.stream().filter(e -> e != null).count();
        assertTrue(failed >= 1, "the requests the engine held failed");
        results.stream().filter(e -> e != null).forEach(e -> assertEio(e, "e7.3", "injected send failure"));
        final DeviceStats st = device.stats();
        assertEquals(1, st.engineErrors());
        assertTrue(st.lastEngineError().contains("injected send failure"), st.lastEngineError());
        assertFalse(st.givenUp());
        assertEquals(failed, st.requestsFailed());
        assertEquals(1, device.runner().errorCount(), "the runner counted it too");

        roundTrip(0, 256 << 10, 1);
        assertEquals(1, device.stats().engineErrors(), "and nothing else went wrong");
    }

    @Test
    void shouldRetransmitTheCommandWhenASendOnThePortSenderThrows() throws Exception
    {
        hubWithTarget();
        final FaultyTransport nic = new FaultyTransport(hub.attach("ini0", INITIATOR_MAC, 1500), false);
        open(fastRetries(), List.of(nic));
        nic.throwOnNextSends(1);
        final List<IoError> results = outcomes(reads(64));

        assertEquals(1, nic.sendsThrown());
        assertEquals("aoe-tx-ini0", nic.lastSender().getName(), "the port's sender sent it");
        results.forEach(e -> assertNull(e, "a lost frame is only a retransmission"));
        assertTrue(device.pathStats().get(0).retransmits() >= 1);
        assertEquals(1, initiator.ports().get(0).sender().runner().errorCount(), "the sender's runner counted the error");
        assertEquals(0, device.stats().engineErrors());
        roundTrip(0, 64 << 10, 2);
    }

    @Test
    void shouldCompleteRequestsOverTheOtherPathWhenOnePortsReceiveSideThrows() throws Exception
    {
        hubWithTarget();
        final FaultyTransport broken = new FaultyTransport(hub.attach("ini0", INITIATOR_MAC, 1500), false);
        open(fastRetries(), List.of(broken, hub.attach("ini1", SECOND_INITIATOR_MAC, 1500)));
        await(() -> device.pathStats().size() == 2, GENEROUS, "both paths");
        broken.throwOnReceive(true);

        // rounds of reads until the scheduler has put some on ini0 (it may prefer ini1 for a while
        // by its RTT) and they timed out there; every one completes, over ini1 in the end
        final long deadline = System.nanoTime() + GENEROUS.toNanos();
        do
        {
            final List<IoError> results = outcomes(reads(200));
            results.forEach(e -> assertNull(e, "completed over the other path"));
            assertTrue(System.nanoTime() - deadline < 0, "no read went over ini0 within " + GENEROUS.toSeconds() + " s: "
                + device.pathStats());
        }
        while (ini0().timeouts() == 0);
        roundTrip(0, 512 << 10, 3);
        assertTrue(broken.receivesThrown() > 0, "replies to ini0 were lost in its receive side");
        assertEquals(0, device.stats().requestsFailed());
    }

    @Test
    void shouldFailWithEioAfterDeadAfterWhenTheOnlyPortsReceiveSideThrowsAndRecoverAfterwards() throws Exception
    {
        hubWithTarget();
        final FaultyTransport broken = new FaultyTransport(hub.attach("ini0", INITIATOR_MAC, 1500), false);
        open(fastRetries().withDeadAfter(Duration.ofMillis(700)), List.of(broken));
        broken.throwOnReceive(true);

        final List<IoError> results = outcomes(reads(16));
        results.forEach(e -> assertEio(e, "e7.3", "dead-after"));

        broken.throwOnReceive(false);
        await(() -> device.pathStats().get(0).state() == PathState.UP, GENEROUS, "a probe brings the path back");
        roundTrip(0, 64 << 10, 4);
    }

    @Test
    void shouldFailPendingRequestsWithEioWhenTheDutyCycleThrowsAndThenRecover() throws Exception
    {
        hubWithTarget();
        open(fastRetries(), List.of(hub.attach("ini0", INITIATOR_MAC, 1500)));
        final long before = target.ataRequests();
        target.script((n, cmd, lba, sectors) -> Fate.DROP);
        final List<CompletableFuture<IoError>> pending = reads(20);
        await(() -> target.ataRequests() > before, GENEROUS, "commands in flight");

        device.engine().runOnEngine(() ->
        {
            throw new IllegalStateException("injected engine failure");
        });
        final long t0 = System.nanoTime();
        final List<IoError> results = outcomes(pending);
        assertTrue(System.nanoTime() - t0 < TimeUnit.SECONDS.toNanos(10), "failed at once, not after dead-after (60 s)");
        results.forEach(e -> assertEio(e, "e7.3", "injected engine failure"));
        final DeviceStats st = device.stats();
        assertEquals(1, st.engineErrors());
        assertTrue(st.lastEngineError().contains("IllegalStateException: injected engine failure"), st.lastEngineError());
        assertFalse(st.givenUp());
        assertEquals(20, st.requestsFailed());

        target.script((n, cmd, lba, sectors) -> Fate.SEND);
        roundTrip(8192, 256 << 10, 5);
        assertEquals(1, device.stats().engineErrors());
    }

    @Test
    void shouldGiveUpAfterRepeatedEngineErrorsAndFailLaterRequestsAtOnce() throws Exception
    {
        hubWithTarget();
        open(fastRetries(), List.of(hub.attach("ini0", INITIATOR_MAC, 1500)));
        final long before = target.ataRequests();
        target.script((n, cmd, lba, sectors) -> Fate.DROP);
        final List<CompletableFuture<IoError>> pending = reads(10);
        await(() -> target.ataRequests() > before, GENEROUS, "commands in flight");

        for (int i = 0; i < EngineErrorBudget.MAX_ERRORS; i++)
        {
            final int n = i;
            device.engine().runOnEngine(() ->
            {
                throw new IllegalStateException("injected engine failure " + n);
            });
        }
        await(() -> device.stats().givenUp(), GENEROUS, "the device gives up");
        outcomes(pending).forEach(e -> assertEio(e, "e7.3"));
        assertEquals(EngineErrorBudget.MAX_ERRORS, device.stats().engineErrors());

        target.script((n, cmd, lba, sectors) -> Fate.SEND);
        final CompletableFuture<IoError> later = new CompletableFuture<>();
        device.read(0, ByteBuffer.allocate(4096), later::complete);
        assertTrue(later.isDone(), "failed at once, on the caller's thread");
        assertEio(later.getNow(null), "e7.3", "gave up", "injected engine failure 4");
        final CompletableFuture<IoError> flush = new CompletableFuture<>();
        device.flush(flush::complete);
        assertEio(flush.getNow(null), "gave up");
    }

    @Test
    void shouldNotLetACallbackThatThrowsAffectOtherRequests() throws Exception
    {
        hubWithTarget();
        open(DeviceOptions.defaults(), List.of(hub.attach("ini0", INITIATOR_MAC, 1500)));
        final List<CompletableFuture<IoError>> others = new ArrayList<>();
        for (int i = 0; i < 10; i++)
        {
            final CompletableFuture<IoError> f = new CompletableFuture<>();
            final boolean buggy = i == 3;
            device.read((long)i * 4096, ByteBuffer.allocate(4096), e ->
            {
                if (buggy)
                {
                    throw new IllegalStateException("a caller's bug");
                }
                f.complete(e);
            });
            if (!buggy)
            {
                others.add(f);
            }
        }
        outcomes(others).forEach(e -> assertNull(e));
        await(() -> device.stats().callbackFailures() == 1, GENEROUS, "the failed callback counted");
        assertEquals(0, device.stats().engineErrors(), "the engine did not notice");
        roundTrip(0, 64 << 10, 6);
    }

    @Test
    void shouldFailTheReadWhenItsBufferNoLongerHoldsTheDataInsteadOfHanging() throws Exception
    {
        hubWithTarget();
        open(DeviceOptions.defaults(), List.of(hub.attach("ini0", INITIATOR_MAC, 1500)));
        target.script((n, cmd, lba, sectors) -> Fate.delay(5));
        final ByteBuffer buffer = ByteBuffer.allocate(64 << 10);
        final CompletableFuture<IoError> read = new CompletableFuture<>();
        device.read(0, buffer, read::complete);
        buffer.limit(512);  // the caller's bug: the buffer changes while the read is in flight
        final IoError e = read.get(GENEROUS.toSeconds(), TimeUnit.SECONDS);
        assertEio(e, "e7.3", "buffer");
        target.script((n, cmd, lba, sectors) -> Fate.SEND);
        roundTrip(0, 64 << 10, 7);
    }
}
