package org.aoemp.transport;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertNotNull;
import static org.junit.jupiter.api.Assertions.assertNull;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.lang.management.ManagementFactory;
import java.nio.ByteBuffer;
import java.time.Duration;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.List;
import java.util.Random;
import java.util.Set;
import java.util.concurrent.BlockingQueue;
import java.util.concurrent.CountDownLatch;
import java.util.concurrent.LinkedBlockingQueue;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicInteger;
import java.util.concurrent.atomic.AtomicLong;
import java.util.function.BooleanSupplier;

import org.aoemp.protocol.AoeHeader;
import org.aoemp.protocol.Bytes;
import org.aoemp.protocol.MacAddress;
import org.aoemp.testing.Await;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.Test;

/**
 * The behaviour every {@link FrameTransport} promises, run against each implementation by a
 * subclass that wires two transports A and B back to back over a link with MTU 9000.
 */
abstract class FrameTransportContractTest
{
    static final int MTU = 9000;
    static final long OTHER_STATION = 0x02_00_00_00_00_99L;

    /** Two connected transports, both unstarted, and a way to take A's side of the link down. */
    interface Link extends AutoCloseable
    {
        FrameTransport a();

        FrameTransport b();

        void takeDownA();

        void bringUpA();

        @Override
        void close();
    }

    private Link link;

    /** Opens a fresh link whose two ends are at {@link #MTU}. */
    abstract Link openLink();

    /** Opens (or looks up) a transport on an interface that does not exist; must throw. */
    abstract FrameTransport openMissing(String name);

    Link link()
    {
        if (link == null)
        {
            link = openLink();
        }
        return link;
    }

    @AfterEach
    void closeLink()
    {
        if (link != null)
        {
            link.close();
            link = null;
        }
    }

    /** Collects copies of received frames and the thread names that delivered them. */
    static final class Collector implements FrameHandler
    {
        final BlockingQueue<byte[]> frames = new LinkedBlockingQueue<>();
        final BlockingQueue<String> threads = new LinkedBlockingQueue<>();

        @Override
        public void onFrame(final ByteBuffer frame, final int length)
        {
            final byte[] copy = new byte[length];
            frame.get(0, copy, 0, length);
            frames.add(copy);
            threads.add(Thread.currentThread().getName());
        }

        byte[] next() throws InterruptedException
        {
            return frames.poll(5, TimeUnit.SECONDS);
        }

        List<byte[]> take(final int count) throws InterruptedException
        {
            final List<byte[]> out = new ArrayList<>();
            final long deadline = System.nanoTime() + TimeUnit.SECONDS.toNanos(10);
            while (out.size() < count)
            {
                final byte[] frame = frames.poll(Math.max(0, deadline - System.nanoTime()), TimeUnit.NANOSECONDS);
                if (frame == null)
                {
                    break;
                }
                out.add(frame);
            }
            return out;
        }
    }

    /** An AoE-typed frame of {@code length} bytes from {@code src} to {@code dst}, random payload. */
    static byte[] frame(final long dst, final long src, final int length, final long seed)
    {
        final byte[] bytes = new byte[length];
        new Random(seed).nextBytes(bytes);
        final ByteBuffer buffer = ByteBuffer.wrap(bytes);
        Bytes.mac(buffer, 0, dst);
        Bytes.mac(buffer, 6, src);
        Bytes.u16be(buffer, 12, AoeHeader.ETHERTYPE);
        return bytes;
    }

    static ByteBuffer direct(final byte[] bytes)
    {
        final ByteBuffer buffer = ByteBuffer.allocateDirect(bytes.length + 64);
        buffer.put(0, bytes);
        buffer.position(17);  // send() ignores position and limit
        return buffer;
    }

    static void await(final BooleanSupplier condition, final String what) throws InterruptedException
    {
        Await.until(Duration.ofSeconds(10), condition, "timed out waiting for " + what);
    }

    static boolean threadAlive(final String name)
    {
        return Thread.getAllStackTraces().keySet().stream().anyMatch(t -> t.getName().equals(name) && t.isAlive());
    }

    @Test
    void shouldDeliverFramesByteExactFromHeapAndDirectBuffers() throws Exception
    {
        final FrameTransport a = link().a();
        final FrameTransport b = link().b();
        assertEquals(MTU, a.mtu());
        final Collector atB = new Collector();
        b.start(atB);
        a.start(new Collector());

        final int[] lengths = {60, MTU + 14, 32, 1060};
        for (int i = 0; i < lengths.length; i++)
        {
            final byte[] sent = frame(b.mac(), a.mac(), lengths[i], i);
            final ByteBuffer buffer = i % 2 == 0 ? ByteBuffer.wrap(sent) : direct(sent);
            assertTrue(a.send(buffer, lengths[i]), "send of " + lengths[i] + " bytes");
            final byte[] received = atB.next();
            assertNotNull(received, lengths[i] + "-byte frame did not arrive");
            assertArrayEquals(sent, received, lengths[i] + "-byte frame changed on the way");
        }
        assertEquals("aoe-rx-" + b.name(), atB.threads.take(), "handler runs on B's receive thread");
    }

    @Test
    void shouldSendOnlyTheFirstLengthBytesOfALargerBuffer() throws Exception
    {
        final FrameTransport a = link().a();
        final FrameTransport b = link().b();
        final Collector atB = new Collector();
        b.start(atB);
        final byte[] sent = frame(b.mac(), a.mac(), 200, 7);
        final ByteBuffer buffer = ByteBuffer.allocate(4096).put(0, sent).position(100).limit(150);

        assertTrue(a.send(buffer, 80));

        final byte[] received = atB.next();
        assertNotNull(received);
        assertArrayEquals(Arrays.copyOf(sent, 80), received);
    }

    @Test
    void shouldDeliverBroadcast() throws Exception
    {
        final FrameTransport a = link().a();
        final FrameTransport b = link().b();
        final Collector atB = new Collector();
        b.start(atB);
        final byte[] sent = frame(MacAddress.BROADCAST_BITS, a.mac(), 60, 42);

        assertTrue(a.send(ByteBuffer.wrap(sent), sent.length));

        assertArrayEquals(sent, atB.next());
    }

    @Test
    void shouldNotEchoOwnFramesNorPassFramesForOtherStations() throws Exception
    {
        final FrameTransport a = link().a();
        final FrameTransport b = link().b();
        final Collector atA = new Collector();
        final Collector atB = new Collector();
        a.start(atA);
        b.start(atB);

        assertTrue(a.send(ByteBuffer.wrap(frame(MacAddress.BROADCAST_BITS, a.mac(), 60, 1)), 60));
        assertTrue(a.send(ByteBuffer.wrap(frame(OTHER_STATION, a.mac(), 60, 2)), 60));
        final byte[] last = frame(b.mac(), a.mac(), 60, 3);
        assertTrue(a.send(ByteBuffer.wrap(last), 60));

        final List<byte[]> atBFrames = atB.take(2);
        assertEquals(2, atBFrames.size());
        assertEquals(MacAddress.BROADCAST_BITS, Bytes.mac(ByteBuffer.wrap(atBFrames.get(0)), 0));
        assertArrayEquals(last, atBFrames.get(1), "the frame for another station must not be passed up");
        Thread.sleep(200); // not synchronisation: gives a wrongly passed-up frame time to show up
        assertNull(atA.frames.poll(), "A must not see its own frames");
        assertNull(atB.frames.poll());
    }

    @Test
    void shouldDeliverABurstOf1000FramesCompleteAndInOrder() throws Exception
    {
        final FrameTransport a = link().a();
        final FrameTransport b = link().b();
        final Collector atB = new Collector();
        b.start(atB);
        final ByteBuffer buffer = ByteBuffer.allocateDirect(1060);
        buffer.put(0, frame(b.mac(), a.mac(), 1060, 9));

        for (int i = 0; i < 1000; i++)
        {
            buffer.putInt(AoeHeader.TAG_OFFSET, i);
            assertTrue(a.send(buffer, 1060), "send " + i);
        }

        final List<byte[]> received = atB.take(1000);
        assertEquals(1000, received.size(), "frames lost in a burst");
        for (int i = 0; i < received.size(); i++)
        {
            assertEquals(i, ByteBuffer.wrap(received.get(i)).getInt(AoeHeader.TAG_OFFSET), "frame order");
        }
    }

    /** Counts frames and batch ends; throws on the frames whose tag is in {@code throwOn}. */
    static final class BatchCounter implements FrameHandler
    {
        final Set<Integer> throwOn;
        final AtomicInteger frames = new AtomicInteger();
        final AtomicInteger batchEnds = new AtomicInteger();
        /** Frames delivered since the last batch end: 0 once every frame's batch has ended. */
        final AtomicInteger open = new AtomicInteger();

        BatchCounter(final Set<Integer> throwOn)
        {
            this.throwOn = throwOn;
        }

        @Override
        public void onFrame(final ByteBuffer frame, final int length)
        {
            frames.incrementAndGet();
            open.incrementAndGet();
            if (throwOn.contains(frame.getInt(AoeHeader.TAG_OFFSET)))
            {
                throw new IllegalStateException("handler fails on purpose");
            }
        }

        @Override
        public void onBatchEnd()
        {
            open.set(0);
            batchEnds.incrementAndGet();
        }
    }

    @Test
    void shouldEndEveryBatchAfterItsLastFrameAlsoWhenAFrameFailed() throws Exception
    {
        final FrameTransport a = link().a();
        final FrameTransport b = link().b();
        final BatchCounter atB = new BatchCounter(Set.of(7, 150));
        b.start(atB);
        final int count = 200;
        final ByteBuffer[] frames = new ByteBuffer[count];
        final int[] lengths = new int[count];
        for (int i = 0; i < count; i++)
        {
            frames[i] = direct(frame(b.mac(), a.mac(), 1060, i));
            frames[i].putInt(AoeHeader.TAG_OFFSET, i);
            lengths[i] = 1060;
        }
        assertEquals(count, a.sendBatch(frames, lengths, count));

        // a handler that defers its work to the batch end (wake-ups, replies) must never be left with frames pending
        await(() -> atB.frames.get() == count && atB.open.get() == 0,
            "every frame delivered and its batch ended (frames " + atB.frames.get() + ", since the last end " + atB.open.get() + ")");
        assertTrue(atB.batchEnds.get() >= 1 && atB.batchEnds.get() <= count, atB.batchEnds.get() + " batch ends for " + count + " frames");
    }

    @Test
    void shouldCloseWithinASecondOnAnIdleLinkAndStopTheReceiveThread() throws Exception
    {
        final FrameTransport a = link().a();
        final FrameTransport b = link().b();
        a.start(new Collector());
        b.start(new Collector());
        final String rxA = "aoe-rx-" + a.name();
        final String rxB = "aoe-rx-" + b.name();
        assertTrue(threadAlive(rxA) && threadAlive(rxB));
        Thread.sleep(300); // not synchronisation: lets the link sit idle, so close() must wake receive threads parked in their wait

        final long start = System.nanoTime();
        b.close();
        final long micros = TimeUnit.NANOSECONDS.toMicros(System.nanoTime() - start);
        a.close();
        a.close();

        System.out.printf("%s: close() on an idle link took %d µs%n", getClass().getSimpleName(), micros);
        assertTrue(micros < 1_000_000, "close took " + micros + " µs");
        assertFalse(threadAlive(rxA), rxA + " still alive after close");
        assertFalse(threadAlive(rxB), rxB + " still alive after close");
        assertFalse(a.send(ByteBuffer.wrap(frame(b.mac(), a.mac(), 60, 5)), 60), "send after close");
        assertFalse(a.isUp());
    }

    @Test
    void shouldLetTheHandlerCloseItsOwnTransport() throws Exception
    {
        final FrameTransport a = link().a();
        final FrameTransport b = link().b();
        final CountDownLatch closed = new CountDownLatch(1);
        b.start((frame, length) ->
        {
            b.close();
            closed.countDown();
        });

        assertTrue(a.send(ByteBuffer.wrap(frame(b.mac(), a.mac(), 60, 13)), 60));

        assertTrue(closed.await(5, TimeUnit.SECONDS), "handler did not run");
        await(() -> !threadAlive("aoe-rx-" + b.name()), "B's receive thread to end after closing itself");
        assertFalse(b.isUp());
        b.close();
    }

    /** sendBatch: 150 frames of different lengths from 150 direct buffers (more than one sendmmsg), all arrive in order, byte-exact. */
    @Test
    void shouldSendABatchCompleteInOrderAndByteExact() throws Exception
    {
        final FrameTransport a = link().a();
        final FrameTransport b = link().b();
        final Collector atB = new Collector();
        b.start(atB);
        final int count = 150;
        final ByteBuffer[] frames = new ByteBuffer[count];
        final int[] lengths = new int[count];
        final byte[][] expected = new byte[count][];
        for (int i = 0; i < count; i++)
        {
            lengths[i] = 60 + i * 37;
            expected[i] = frame(b.mac(), a.mac(), lengths[i], 100 + i);
            ByteBuffer.wrap(expected[i]).putInt(AoeHeader.TAG_OFFSET, i);
            frames[i] = direct(expected[i]);
        }
        assertEquals(count, a.sendBatch(frames, lengths, count), "frames the batch sent");
        final List<byte[]> received = atB.take(count);
        assertEquals(count, received.size(), "frames lost from a batch");
        for (int i = 0; i < count; i++)
        {
            assertArrayEquals(expected[i], received.get(i), "frame " + i + " of the batch");
        }
        assertEquals(count, a.counters().framesSent.sum(), "each frame of the batch counted");
    }

    /** A batch mixing heap and direct buffers goes out too (frame by frame), in order. */
    @Test
    void shouldSendABatchWithHeapBuffersInOrder() throws Exception
    {
        final FrameTransport a = link().a();
        final FrameTransport b = link().b();
        final Collector atB = new Collector();
        b.start(atB);
        final ByteBuffer[] frames = new ByteBuffer[4];
        final int[] lengths = {60, 200, 1060, 9014};
        for (int i = 0; i < frames.length; i++)
        {
            final byte[] bytes = frame(b.mac(), a.mac(), lengths[i], 200 + i);
            ByteBuffer.wrap(bytes).putInt(AoeHeader.TAG_OFFSET, i);
            frames[i] = i % 2 == 0 ? ByteBuffer.wrap(bytes) : direct(bytes);
        }
        assertEquals(frames.length, a.sendBatch(frames, lengths, frames.length));
        final List<byte[]> received = atB.take(frames.length);
        assertEquals(frames.length, received.size());
        for (int i = 0; i < frames.length; i++)
        {
            assertEquals(i, ByteBuffer.wrap(received.get(i)).getInt(AoeHeader.TAG_OFFSET), "frame order");
            assertEquals(lengths[i], received.get(i).length);
        }
    }

    @Test
    void shouldSendNothingOfABatchWhenTheLinkIsDown() throws Exception
    {
        final FrameTransport a = link().a();
        final FrameTransport b = link().b();
        a.start(new Collector());
        b.start(new Collector());
        link().takeDownA();
        await(() -> !a.isUp(), "A to report the link down");
        final ByteBuffer one = direct(frame(b.mac(), a.mac(), 60, 7));
        assertEquals(0, a.sendBatch(new ByteBuffer[] {one, one, one}, new int[] {60, 60, 60}, 3), "frames sent on a down link");
        link().bringUpA();
    }

    @Test
    void shouldReturnFalseInsteadOfThrowingWhenTheLinkIsDown() throws Exception
    {
        final FrameTransport a = link().a();
        final FrameTransport b = link().b();
        final Collector atB = new Collector();
        a.start(new Collector());
        b.start(atB);
        assertTrue(a.isUp());
        final ByteBuffer frame = ByteBuffer.wrap(frame(b.mac(), a.mac(), 60, 6));

        link().takeDownA();
        await(() -> !a.isUp(), "A to report the link down");
        final long failuresBefore = a.counters().sendFailures.sum();
        assertFalse(a.send(frame, 60), "send on a down link");
        assertEquals(failuresBefore + 1, a.counters().sendFailures.sum());

        link().bringUpA();
        await(a::isUp, "A to report the link up again");
        atB.frames.clear();
        final long deadline = System.nanoTime() + TimeUnit.SECONDS.toNanos(5);
        byte[] received = null;
        while (received == null && System.nanoTime() < deadline)
        {
            a.send(frame, 60);  // the first sends after link up may still be refused or lost
            received = atB.frames.poll(100, TimeUnit.MILLISECONDS);
        }
        assertNotNull(received, "no frame passed after the link came back up");
    }

    /**
     * The receive side of a link flap: after A's link went down (Linux unhooks a bound packet
     * socket and reports ENETDOWN) and came back, A receives again, several times over.
     */
    @Test
    void shouldReceiveAgainAfterTheLinkWentDownAndCameBack() throws Exception
    {
        final FrameTransport a = link().a();
        final FrameTransport b = link().b();
        final Collector atA = new Collector();
        a.start(atA);
        b.start(new Collector());
        final ByteBuffer frame = ByteBuffer.wrap(frame(a.mac(), b.mac(), 60, 7));
        for (int flap = 0; flap < 3; flap++)
        {
            link().takeDownA();
            await(() -> !a.isUp(), "A to report the link down");
            link().bringUpA();
            await(a::isUp, "A to report the link up again");
            atA.frames.clear();
            final long deadline = System.nanoTime() + TimeUnit.SECONDS.toNanos(5);
            byte[] received = null;
            while (received == null && System.nanoTime() < deadline)
            {
                b.send(frame, 60);
                received = atA.frames.poll(100, TimeUnit.MILLISECONDS);
            }
            assertNotNull(received, "A received nothing after link flap " + (flap + 1));
        }
    }

    @Test
    void shouldRejectAMissingInterfaceByName()
    {
        final TransportException e = assertThrows(TransportException.class, () -> openMissing("nosuch0"));
        assertTrue(e.getMessage().contains("'nosuch0'"), e.getMessage());
        assertTrue(e.getMessage().contains("does not exist"), e.getMessage());
    }

    @Test
    void shouldCountFramesAndBytes() throws Exception
    {
        final FrameTransport a = link().a();
        final FrameTransport b = link().b();
        final Collector atB = new Collector();
        b.start(atB);
        final ByteBuffer frame = ByteBuffer.wrap(frame(b.mac(), a.mac(), 100, 8));

        for (int i = 0; i < 5; i++)
        {
            assertTrue(a.send(frame, 100));
        }
        assertEquals(5, atB.take(5).size());

        assertEquals(5, a.counters().framesSent.sum());
        assertEquals(500, a.counters().bytesSent.sum());
        assertEquals(0, a.counters().sendFailures.sum());
        assertEquals(5, b.counters().framesReceived.sum());
        assertEquals(500, b.counters().bytesReceived.sum());
        assertEquals(0, b.counters().framesSent.sum());
    }

    /** Whether the receive path allocates nothing per frame (pcap4j hands over a new byte[] each time). */
    boolean receivesWithoutAllocating()
    {
        return true;
    }

    @Test
    void shouldNotAllocatePerFrameInSteadyState() throws Exception
    {
        final FrameTransport a = link().a();
        final FrameTransport b = link().b();
        final AtomicLong received = new AtomicLong();
        b.start((frame, length) -> received.incrementAndGet());
        final Thread rx = Thread.getAllStackTraces().keySet().stream()
            .filter(t -> t.getName().equals("aoe-rx-" + b.name())).findFirst().orElseThrow();
        final ByteBuffer direct = direct(frame(b.mac(), a.mac(), 1060, 11));
        final ByteBuffer heap = ByteBuffer.wrap(frame(b.mac(), a.mac(), 1060, 12));
        final com.sun.management.ThreadMXBean threads = (com.sun.management.ThreadMXBean)ManagementFactory.getThreadMXBean();

        pump(a, direct, heap, received, 30_000);  // warm-up: let the JIT compile the paths
        // Steady state: on a loaded 2-core machine the JIT may still be compiling (and the interim
        // code allocating) after the warm-up, so measure rounds until one is clean, at most 10.
        final int frames = 10_000;
        long sendBytes = 0;
        long receiveBytes = 0;
        for (int round = 0; round < 10; round++)
        {
            final long sendBefore = threads.getCurrentThreadAllocatedBytes();
            final long receiveBefore = threads.getThreadAllocatedBytes(rx.threadId());
            pump(a, direct, heap, received, frames);
            sendBytes = threads.getCurrentThreadAllocatedBytes() - sendBefore;
            receiveBytes = threads.getThreadAllocatedBytes(rx.threadId()) - receiveBefore;
            if (sendBytes < frames && (receiveBytes < frames || !receivesWithoutAllocating()))
            {
                break;
            }
        }

        System.out.printf("%s: allocated per frame: send %.2f B, receive %.2f B%n", getClass().getSimpleName(),
            (double)sendBytes / frames, (double)receiveBytes / frames);
        assertTrue(sendBytes < frames, "send path allocated " + sendBytes + " B for " + frames + " frames");
        if (receivesWithoutAllocating())
        {
            assertTrue(receiveBytes < frames, "receive path allocated " + receiveBytes + " B for " + frames + " frames");
        }
    }

    /**
     * Sends {@code count} frames, alternating direct and heap buffers, in windows of 32 the receiver
     * confirms: fewer than {@link MemoryHub#PREALLOCATED_FRAMES}, so the hub's pool never has to grow.
     */
    private static void pump(final FrameTransport a, final ByteBuffer direct, final ByteBuffer heap, final AtomicLong received,
        final int count)
    {
        final long target = received.get() + count;
        final long deadline = System.nanoTime() + TimeUnit.SECONDS.toNanos(30);
        for (int i = 0; i < count; i++)
        {
            assertTrue(a.send((i & 1) == 0 ? direct : heap, 1060));
            if ((i & 31) == 31)
            {
                final long confirmed = target - count + i + 1;
                while (received.get() < confirmed)
                {
                    assertTrue(System.nanoTime() < deadline);
                    Thread.onSpinWait();
                }
            }
        }
        while (received.get() < target)
        {
            assertTrue(System.nanoTime() < deadline);
            Thread.onSpinWait();
        }
    }

    @Test
    void shouldRefuseASecondStart()
    {
        final FrameTransport b = link().b();
        b.start(new Collector());
        assertThrows(IllegalStateException.class, () -> b.start(new Collector()));
    }
}
