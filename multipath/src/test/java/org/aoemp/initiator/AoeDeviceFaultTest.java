package org.aoemp.initiator;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertInstanceOf;
import static org.junit.jupiter.api.Assertions.assertNull;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.nio.ByteBuffer;
import java.time.Duration;
import java.util.List;
import java.util.Random;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.CountDownLatch;
import java.util.concurrent.ExecutionException;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicInteger;

import org.aoemp.block.IoError;
import org.aoemp.protocol.AtaHeader;
import org.aoemp.testing.Await;
import org.aoemp.testing.ScriptedTarget;
import org.aoemp.testing.ScriptedTarget.Fate;
import org.aoemp.transport.MemoryHub;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.Test;

/**
 * The device engine against a scripted target on the in-memory hub: every request completes
 * exactly once with the right bytes, whatever happens to the replies.
 */
class AoeDeviceFaultTest
{
    private static final long INITIATOR_MAC = 0x02_00_00_00_00_01L;
    private static final long TARGET_MAC = 0x02_00_00_00_00_02L;
    private static final long STRANGER_MAC = 0x02_00_00_00_00_99L;
    private static final int DISK = 4 << 20;

    private MemoryHub hub;
    private ScriptedTarget target;
    private Initiator initiator;
    private AoeDevice device;

    private AoeDevice open(final DeviceOptions options) throws Exception
    {
        hub = new MemoryHub();
        target = new ScriptedTarget(hub.attach("tgt0", TARGET_MAC, 1500), 7, 3, DISK, 16);
        initiator = Initiator.start(List.of(hub.attach("ini0", INITIATOR_MAC, 1500)), Duration.ZERO);
        device = initiator.open(new TargetAddress(7, 3), options);
        return device;
    }

    /**
     * For tests that assert no retransmission: an RTO of at least 5 s, so that a descheduled JVM on
     * a loaded machine (stalls of tens of ms were seen with the 20 ms default floor) cannot make a
     * command look lost; what they test (reordering, splitting) is independent of the RTO.
     */
    private static DeviceOptions patientRetries()
    {
        return DeviceOptions.defaults().withRto(Duration.ofSeconds(5), Duration.ofSeconds(5), Duration.ofSeconds(30));
    }

    private static DeviceOptions fastRetries()
    {
        return DeviceOptions.defaults().withRto(Duration.ofMillis(20), Duration.ofMillis(5), Duration.ofMillis(200));
    }

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

    private static byte[] random(final int n, final long seed)
    {
        final byte[] b = new byte[n];
        new Random(seed).nextBytes(b);
        return b;
    }

    /** Writes then reads back {@code n} bytes at {@code offset}; returns how often each callback ran (must be 1). */
    private void roundTrip(final long offset, final int n, final long seed) throws Exception
    {
        final byte[] data = random(n, seed);
        final AtomicInteger writeCalls = new AtomicInteger();
        final CompletableFuture<IoError> w = new CompletableFuture<>();
        device.write(offset, ByteBuffer.wrap(data), e ->
        {
            writeCalls.incrementAndGet();
            w.complete(e);
        });
        assertNull(w.get(30, TimeUnit.SECONDS));
        final ByteBuffer back = ByteBuffer.allocate(n);
        final AtomicInteger readCalls = new AtomicInteger();
        final CompletableFuture<IoError> r = new CompletableFuture<>();
        device.read(offset, back, e ->
        {
            readCalls.incrementAndGet();
            r.complete(e);
        });
        assertNull(r.get(30, TimeUnit.SECONDS));
        Thread.sleep(50); // let any late duplicate callback show itself
        assertEquals(1, writeCalls.get(), "write callback ran once");
        assertEquals(1, readCalls.get(), "read callback ran once");
        assertArrayEquals(data, back.array(), "read back what was written");
        final byte[] onDisk = new byte[n];
        System.arraycopy(target.disk(), (int)offset, onDisk, 0, n);
        assertArrayEquals(data, onDisk, "the target holds what was written");
    }

    @Test
    void shouldReadIdentifyAndRoundTripData() throws Exception
    {
        open(patientRetries());
        assertEquals(DISK, device.size());
        assertEquals("Scripted Target", device.identity().model());
        assertEquals(2, device.sectorsPerCommand(), "MTU 1500 carries 2 sectors");
        roundTrip(0, 1 << 20, 1);
        roundTrip(DISK - 4096, 4096, 2);
        final PathStats p = device.pathStats().get(0);
        assertEquals(0, p.retransmits());
        assertEquals(2, p.maxSectorsSent());
    }

    @Test
    void shouldUseLba28CommandsWhenIdentifyDoesNotOfferLba48() throws Exception
    {
        hub = new MemoryHub();
        target = new ScriptedTarget(hub.attach("tgt0", TARGET_MAC, 1500), 7, 3, DISK, 16).lba28Only();
        initiator = Initiator.start(List.of(hub.attach("ini0", INITIATOR_MAC, 1500)), Duration.ZERO);
        device = initiator.open(new TargetAddress(7, 3), DeviceOptions.defaults());
        assertEquals(false, device.isLba48());
        roundTrip(DISK - (256 << 10), 256 << 10, 12);
        assertEquals(java.util.Set.of(AtaHeader.ATA_IDENTIFY, AtaHeader.ATA_READ, AtaHeader.ATA_WRITE), target.commandsSeen());
    }

    @Test
    void shouldUseLba48CommandsWhenIdentifyOffersThem() throws Exception
    {
        open(DeviceOptions.defaults());
        roundTrip(0, 64 << 10, 13);
        assertEquals(java.util.Set.of(AtaHeader.ATA_IDENTIFY, AtaHeader.ATA_READ_EXT, AtaHeader.ATA_WRITE_EXT), target.commandsSeen());
    }

    /** Holds back the first copy of the first write to sector {@code lba} for {@code millis} on the hub. */
    private CountDownLatch delayFirstCopyOfWriteTo(final long lba, final long millis)
    {
        final CountDownLatch delivered = new CountDownLatch(1); // opens when the held-back copy is let go
        final java.util.concurrent.ScheduledExecutorService later = java.util.concurrent.Executors.newSingleThreadScheduledExecutor();
        final java.util.concurrent.atomic.AtomicBoolean done = new java.util.concurrent.atomic.AtomicBoolean();
        hub.interceptor((source, frame, forward) ->
        {
            final ByteBuffer b = ByteBuffer.wrap(frame);
            final AtaHeader a = new AtaHeader().wrap(b, 0);
            final boolean write = source.mac() == INITIATOR_MAC && frame.length > AtaHeader.DATA_OFFSET
                && new org.aoemp.protocol.AoeHeader().wrap(b, 0).command() == org.aoemp.protocol.AoeHeader.CMD_ATA
                && a.cmdStatus() == AtaHeader.ATA_WRITE_EXT && a.lba() == lba;
            if (write && done.compareAndSet(false, true))
            {
                later.schedule(() ->
                {
                    forward.deliver(frame);
                    delivered.countDown();
                }, millis, TimeUnit.MILLISECONDS);
            }
            else
            {
                forward.deliver(frame);
            }
        });
        return delivered;
    }

    private void olderWriteDelayedThenNewerWrite(final DeviceOptions options) throws Exception
    {
        open(options);
        final CountDownLatch lateCopyDelivered = delayFirstCopyOfWriteTo(64, 300);
        final byte[] older = random(1024, 21);
        final byte[] newer = random(1024, 22);
        device.writeAsync(64 * 512, ByteBuffer.wrap(older)).get(10, TimeUnit.SECONDS); // completes via the retransmission
        device.writeAsync(64 * 512, ByteBuffer.wrap(newer)).get(10, TimeUnit.SECONDS);
        assertTrue(lateCopyDelivered.await(30, TimeUnit.SECONDS), "the held-back copy was let go");
        device.readAsync(0, ByteBuffer.allocate(512)).get(10, TimeUnit.SECONDS); // queued behind it at the target: it has landed
        final byte[] onDisk = new byte[1024];
        System.arraycopy(target.disk(), 64 * 512, onDisk, 0, 1024);
        assertArrayEquals(newer, onDisk, "the newer write survived the late copy of the older one");
    }

    @Test
    void shouldNotLetALateCopyOfAnOlderWriteOverwriteANewerWrite() throws Exception
    {
        olderWriteDelayedThenNewerWrite(fastRetries().withFenceTimeout(Duration.ofSeconds(2)));
        final DeviceStats st = device.stats();
        assertTrue(st.fencesRaised() >= 1, "the retransmitted write fenced its range");
        assertEquals(1, st.fencesLiftedByReply(), "the reply to the late first copy lifted the fence");
    }

    @Test
    void withoutTheFenceTheLateCopyWouldWin() throws Exception
    {
        // Control: the hazard is real. A fence that expires at once lets the newer write through, and
        // the late copy of the older write then lands on top of it.
        final org.opentest4j.AssertionFailedError e = org.junit.jupiter.api.Assertions.assertThrows(
            org.opentest4j.AssertionFailedError.class,
            () -> olderWriteDelayedThenNewerWrite(fastRetries().withFenceTimeout(Duration.ofNanos(1))));
        assertTrue(e.getMessage().contains("newer write survived"), e.getMessage());
    }

    @Test
    void shouldSurviveDroppedReplies() throws Exception
    {
        open(fastRetries());
        target.script((n, cmd, lba, sectors) -> n % 5 == 4 ? Fate.DROP : Fate.SEND);
        roundTrip(8192, 512 << 10, 3);
        assertTrue(device.pathStats().get(0).retransmits() > 0, "drops were retransmitted");
    }

    @Test
    void shouldCompleteOnceWhenRepliesAreDuplicated() throws Exception
    {
        open(fastRetries());
        target.script((n, cmd, lba, sectors) -> Fate.TWICE);
        roundTrip(0, 256 << 10, 4);
        assertTrue(device.stats().staleReplies() > 0, "duplicates were recognised and dropped");
    }

    @Test
    void shouldDropLateRepliesOfAnOldGenerationEvenWhenTheSlotWasReused() throws Exception
    {
        // Four slots: a slot is reused within a few commands, so a late reply meets a newer command in it.
        open(new DeviceOptions(Duration.ofSeconds(60), Duration.ofMillis(10), Duration.ofMillis(5), Duration.ofMillis(50), 1000, 4, 0,
            Duration.ofSeconds(5), false, Duration.ofSeconds(1)));
        final byte[] image = random(1 << 20, 5);
        System.arraycopy(image, 0, target.disk(), 0, image.length);
        target.script((n, cmd, lba, sectors) -> n % 7 == 3 ? Fate.delay(40) : n % 11 == 5 ? Fate.delay(120) : Fate.SEND);
        final ByteBuffer back = ByteBuffer.allocate(image.length);
        device.readAsync(0, back).get(60, TimeUnit.SECONDS);
        assertArrayEquals(image, back.array(), "every sector came from the reply to its own command");
        assertTrue(device.stats().staleReplies() > 0, "late replies arrived and were dropped");
        assertTrue(device.pathStats().get(0).retransmits() > 0);
    }

    /** {@code fate} for the reply to the first read of sector {@code lba} (not 0: idle probes read sector 0), SEND for all else. */
    private static ScriptedTarget.Script firstCopyOf(final long lba, final Fate fate)
    {
        final java.util.concurrent.atomic.AtomicBoolean done = new java.util.concurrent.atomic.AtomicBoolean();
        return (n, cmd, l, sectors) -> l == lba && (cmd == AtaHeader.ATA_READ || cmd == AtaHeader.ATA_READ_EXT)
            && done.compareAndSet(false, true) ? fate : Fate.SEND;
    }

    @Test
    void shouldRaiseTheRtoFloorWhenTheReplyToATimedOutCommandComesAfterAll() throws Exception
    {
        // floor 5 ms: a reply held back 150 ms makes its command time out, and then arrives
        open(DeviceOptions.defaults().withRto(Duration.ofMillis(20), Duration.ofMillis(5), Duration.ofSeconds(2)));
        final byte[] image = random(64 << 10, 21);
        System.arraycopy(image, 0, target.disk(), 0, image.length);
        target.script(firstCopyOf(8, Fate.delay(150)));
        final ByteBuffer back = ByteBuffer.allocate(image.length);
        device.readAsync(0, back).get(30, TimeUnit.SECONDS);
        assertArrayEquals(image, back.array());
        Await.until(Duration.ofSeconds(10), () -> device.pathStats().get(0).spuriousTimeouts() == 1,
            () -> "the late reply was taken as a spurious timeout: " + device.pathStats().get(0));
        final PathStats p = device.pathStats().get(0);
        assertTrue(p.rtoFloorMicros() >= 225_000, "the floor is 1.5 x the late round trip (>= 150 ms): " + p);
        assertTrue(p.rtoMicros() >= p.rtoFloorMicros(), "the RTO follows: " + p);
        assertEquals(PathState.UP, p.state());

        // the same hold-back again is now within the RTO: nothing is sent twice
        final long retransmits = p.retransmits();
        target.script(firstCopyOf(16, Fate.delay(150)));
        device.readAsync(16 * 512, ByteBuffer.allocate(4096)).get(30, TimeUnit.SECONDS);
        assertEquals(retransmits, device.pathStats().get(0).retransmits(), "no retransmission under the raised floor");
    }

    @Test
    void shouldKeepTheRtoFloorWhenAReplyIsLostForGood() throws Exception
    {
        open(DeviceOptions.defaults().withRto(Duration.ofMillis(20), Duration.ofMillis(5), Duration.ofSeconds(2)));
        target.script(firstCopyOf(8, Fate.DROP));
        device.readAsync(0, ByteBuffer.allocate(64 << 10)).get(30, TimeUnit.SECONDS);
        Thread.sleep(300);  // a late reply would have come by now; none will
        final PathStats p = device.pathStats().get(0);
        assertTrue(p.retransmits() >= 1, "the lost reply's command was sent again: " + p);
        assertEquals(0, p.spuriousTimeouts(), "a lost frame is no spurious timeout: " + p);
        assertEquals(5_000, p.rtoFloorMicros());
    }

    @Test
    void shouldReorderRepliesWithoutMixingData() throws Exception
    {
        open(patientRetries());
        target.script((n, cmd, lba, sectors) -> Fate.delay(1 + (n * 7919) % 13));
        roundTrip(0, 128 << 10, 6);
        assertEquals(0, device.pathStats().get(0).retransmits(), "reordering within the RTO needs no retransmission");
    }

    @Test
    void shouldIgnoreRepliesFromAMacThatIsNoPathOfTheTarget() throws Exception
    {
        open(fastRetries());
        target.script((n, cmd, lba, sectors) -> n % 3 == 0 ? Fate.from(STRANGER_MAC) : Fate.SEND);
        roundTrip(0, 64 << 10, 7);
        assertTrue(device.stats().foreignReplies() > 0, "replies from a stranger were dropped");
    }

    @Test
    void shouldFallBackToFlushCacheWhenFlushCacheExtIsAborted() throws Exception
    {
        open(DeviceOptions.defaults());
        device.flushAsync().get(10, TimeUnit.SECONDS);
        device.flushAsync().get(10, TimeUnit.SECONDS);
    }

    @Test
    void shouldRefuseRequestsBeyondTheEndBeforeTheWire() throws Exception
    {
        open(DeviceOptions.defaults());
        final long before = target.ataRequests();
        final ExecutionException read = org.junit.jupiter.api.Assertions.assertThrows(ExecutionException.class,
            () -> device.readAsync(DISK, ByteBuffer.allocate(512)).get(5, TimeUnit.SECONDS));
        assertEquals(IoError.EINVAL, ((IoError)read.getCause()).errno());
        final ExecutionException write = org.junit.jupiter.api.Assertions.assertThrows(ExecutionException.class,
            () -> device.writeAsync(DISK - 512, ByteBuffer.allocate(1024)).get(5, TimeUnit.SECONDS));
        assertEquals(IoError.ENOSPC, ((IoError)write.getCause()).errno());
        final ExecutionException unaligned = org.junit.jupiter.api.Assertions.assertThrows(ExecutionException.class,
            () -> device.readAsync(100, ByteBuffer.allocate(512)).get(5, TimeUnit.SECONDS));
        assertEquals(IoError.EINVAL, ((IoError)unaligned.getCause()).errno());
        assertEquals(before, target.ataRequests(), "nothing reached the wire");
    }

    @Test
    void shouldFailWithEioAfterDeadAfterAndRecoverWhenTheTargetAnswersAgain() throws Exception
    {
        open(fastRetries().withDeadAfter(Duration.ofMillis(700)));
        target.script((n, cmd, lba, sectors) -> Fate.DROP);
        final long t0 = System.nanoTime();
        final ExecutionException e = org.junit.jupiter.api.Assertions.assertThrows(ExecutionException.class,
            () -> device.readAsync(0, ByteBuffer.allocate(4096)).get(60, TimeUnit.SECONDS));
        final long ms = TimeUnit.NANOSECONDS.toMillis(System.nanoTime() - t0);
        assertInstanceOf(IoError.class, e.getCause());
        assertEquals(IoError.EIO, ((IoError)e.getCause()).errno());
        // Not before dead-after; how soon after it depends on the machine's load (the timer's
        // latency is a benchmark's business), so the bound above is only "no hang" (the get).
        assertTrue(ms >= 600, "failed after dead-after, not before: took " + ms + " ms");
        final PathState state = device.pathStats().get(0).state();
        assertTrue(state == PathState.DOWN || state == PathState.PROBING, "path is down or probing, was " + state);
        // while dead, a new request is failed by the engine (woken for it although no path has room), not held
        final ExecutionException again = org.junit.jupiter.api.Assertions.assertThrows(ExecutionException.class,
            () -> device.readAsync(4096, ByteBuffer.allocate(4096)).get(60, TimeUnit.SECONDS));
        assertEquals(IoError.EIO, ((IoError)again.getCause()).errno());

        target.script((n, cmd, lba, sectors) -> Fate.SEND);
        Await.reached(Duration.ofSeconds(10), () -> device.pathStats().get(0).state() == PathState.UP);
        assertEquals(PathState.UP, device.pathStats().get(0).state(), "a probe brought the path back");
        roundTrip(0, 64 << 10, 8);
    }

    @Test
    void shouldKeepManyRequestsInFlightAndCompleteEachOnce() throws Exception
    {
        open(fastRetries());
        target.script((n, cmd, lba, sectors) -> n % 17 == 0 ? Fate.DROP : n % 13 == 0 ? Fate.TWICE : Fate.SEND);
        final int requests = 200;
        final CountDownLatch latch = new CountDownLatch(requests);
        final AtomicInteger calls = new AtomicInteger();
        final AtomicInteger errors = new AtomicInteger();
        for (int i = 0; i < requests; i++)
        {
            final ByteBuffer b = ByteBuffer.wrap(random(4096, 100 + i));
            device.write((long)i * 4096, b, e ->
            {
                calls.incrementAndGet();
                if (e != null)
                {
                    errors.incrementAndGet();
                }
                latch.countDown();
            });
        }
        assertTrue(latch.await(60, TimeUnit.SECONDS));
        Thread.sleep(100); // not synchronisation: gives a duplicate callback time to show itself
        assertEquals(requests, calls.get(), "each callback once");
        assertEquals(0, errors.get());
        for (int i = 0; i < requests; i++)
        {
            final byte[] expect = random(4096, 100 + i);
            final byte[] got = new byte[4096];
            System.arraycopy(target.disk(), i * 4096, got, 0, 4096);
            assertArrayEquals(expect, got, "block " + i);
        }
        assertEquals(AtaHeader.SECTOR_SIZE, device.blockSize());
    }
}
