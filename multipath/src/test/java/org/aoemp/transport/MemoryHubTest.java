package org.aoemp.transport;

import static org.aoemp.transport.FrameTransportContractTest.frame;
import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertNotNull;
import static org.junit.jupiter.api.Assertions.assertNull;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.nio.ByteBuffer;
import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.CountDownLatch;
import java.util.concurrent.Executors;
import java.util.concurrent.ScheduledExecutorService;
import java.util.concurrent.TimeUnit;

import org.aoemp.protocol.AoeHeader;
import org.aoemp.protocol.MacAddress;
import org.aoemp.transport.FrameTransportContractTest.Collector;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.Test;

/** What the in-memory hub adds to the transport contract: switching, NIC state and interception. */
final class MemoryHubTest
{
    private static final long MAC_A = 0x02_00_00_00_00_0AL;
    private static final long MAC_B = 0x02_00_00_00_00_0BL;
    private static final long MAC_C = 0x02_00_00_00_00_0CL;

    private final MemoryHub hub = new MemoryHub();
    private final MemoryHub.Nic a = hub.attach("a", MAC_A, 1500);
    private final MemoryHub.Nic b = hub.attach("b", MAC_B, 1500);
    private final MemoryHub.Nic c = hub.attach("c", MAC_C, 1500);
    private final Collector atA = new Collector();
    private final Collector atB = new Collector();
    private final Collector atC = new Collector();

    @AfterEach
    void closeHub()
    {
        hub.close();
    }

    private void startAll()
    {
        a.start(atA);
        b.start(atB);
        c.start(atC);
    }

    private static ByteBuffer tagged(final long dst, final long src, final int tag)
    {
        final ByteBuffer frame = ByteBuffer.wrap(frame(dst, src, 60, tag));
        frame.putInt(AoeHeader.TAG_OFFSET, tag);
        return frame;
    }

    private static int tagOf(final byte[] frame)
    {
        return ByteBuffer.wrap(frame).getInt(AoeHeader.TAG_OFFSET);
    }

    @Test
    void shouldSwitchUnicastByDestinationAndFloodBroadcast() throws Exception
    {
        startAll();

        assertTrue(a.send(tagged(MAC_C, MAC_A, 1), 60));
        assertTrue(a.send(tagged(MacAddress.BROADCAST_BITS, MAC_A, 2), 60));

        assertEquals(1, tagOf(atC.next()));
        assertEquals(2, tagOf(atC.next()));
        assertEquals(2, tagOf(atB.next()));
        Thread.sleep(100); // not synchronisation: gives a misdelivered frame time to show up
        assertNull(atB.frames.poll(), "b got a frame for c");
        assertNull(atA.frames.poll(), "a got its own frame");
    }

    @Test
    void shouldNeitherSendNorReceiveWhileDown() throws Exception
    {
        startAll();
        b.setUp(false);

        assertFalse(b.isUp());
        assertFalse(b.send(tagged(MAC_A, MAC_B, 1), 60));
        assertTrue(a.send(tagged(MAC_B, MAC_A, 2), 60), "a does not know b is down");
        assertTrue(a.send(tagged(MAC_C, MAC_A, 3), 60));
        assertEquals(3, tagOf(atC.next()));
        assertNull(atB.frames.poll(100, TimeUnit.MILLISECONDS));
        assertEquals(1, b.rxDropped());

        b.setUp(true);
        assertTrue(a.send(tagged(MAC_B, MAC_A, 4), 60));
        assertEquals(4, tagOf(atB.next()));
    }

    @Test
    void shouldRefuseOversizedSendsAndDropFramesAboveTheReceiversMtu() throws Exception
    {
        final MemoryHub.Nic jumbo = hub.attach("jumbo", 0x02_00_00_00_00_0DL, 9000);
        startAll();
        final byte[] big = frame(MAC_B, 0x02_00_00_00_00_0DL, 1600, 1);

        assertFalse(a.send(ByteBuffer.wrap(frame(MAC_B, MAC_A, 1515, 2)), 1515), "more than MTU + 14");
        assertFalse(a.send(ByteBuffer.wrap(new byte[13]), 13), "shorter than an Ethernet header");
        assertTrue(a.send(ByteBuffer.wrap(frame(MAC_B, MAC_A, 1514, 3)), 1514));
        assertTrue(jumbo.send(ByteBuffer.wrap(big), big.length));

        assertEquals(1514, atB.next().length);
        assertNull(atB.frames.poll(100, TimeUnit.MILLISECONDS));
        assertEquals(1, b.rxDropped());
        assertEquals(2, a.counters().sendFailures.sum());
    }

    @Test
    void shouldQueueFramesUntilStartedAndDropWhenTheQueueIsFull() throws Exception
    {
        final MemoryHub.Nic small = hub.attach("small", 0x02_00_00_00_00_0EL, 1500, 4);
        for (int i = 0; i < 6; i++)
        {
            assertTrue(a.send(tagged(0x02_00_00_00_00_0EL, MAC_A, i), 60));
        }
        final Collector atSmall = new Collector();
        small.start(atSmall);

        final List<byte[]> received = atSmall.take(4);
        assertEquals(4, received.size());
        for (int i = 0; i < 4; i++)
        {
            assertEquals(i, tagOf(received.get(i)));
        }
        assertEquals(2, small.rxDropped());
    }

    @Test
    void shouldLetAnInterceptorDropDuplicateAndCorrupt() throws Exception
    {
        startAll();
        hub.interceptor((source, frame, forward) ->
        {
            final int tag = tagOf(frame);
            if (tag == 1)
            {
                return;  // drop
            }
            forward.deliver(frame);
            if (tag == 2)
            {
                forward.deliver(frame);  // duplicate
            }
            if (tag == 3)
            {
                frame[AoeHeader.COMMAND_OFFSET] = 0x55;  // the hub copied it already: corrupt a second copy
                forward.deliver(frame);
            }
        });

        for (int tag = 1; tag <= 3; tag++)
        {
            assertTrue(a.send(tagged(MAC_B, MAC_A, tag), 60));
        }

        final List<byte[]> received = atB.take(4);
        assertEquals(List.of(2, 2, 3, 3), received.stream().map(MemoryHubTest::tagOf).toList());
        assertEquals(0x55, received.get(3)[AoeHeader.COMMAND_OFFSET]);
        assertNull(atB.frames.poll(100, TimeUnit.MILLISECONDS));
        assertEquals(3, a.counters().framesSent.sum(), "frames on the wire count as sent even when dropped later");
    }

    @Test
    void shouldLetAnInterceptorDelayAndReorder() throws Exception
    {
        startAll();
        final ScheduledExecutorService later = Executors.newSingleThreadScheduledExecutor();
        final List<Runnable> held = new ArrayList<>();
        try
        {
            hub.interceptor((source, frame, forward) ->
            {
                final int tag = tagOf(frame);
                if (tag == 1)
                {
                    later.schedule(() -> forward.deliver(frame), 150, TimeUnit.MILLISECONDS);
                }
                else if (tag == 2 || tag == 3)
                {
                    held.add(() -> forward.deliver(frame));
                    if (held.size() == 2)
                    {
                        held.get(1).run();  // 3 before 2
                        held.get(0).run();
                    }
                }
            });
            final long start = System.nanoTime();
            for (int tag = 1; tag <= 3; tag++)
            {
                assertTrue(a.send(tagged(MAC_B, MAC_A, tag), 60));
            }

            final List<byte[]> received = atB.take(3);
            final long elapsedMillis = TimeUnit.NANOSECONDS.toMillis(System.nanoTime() - start);

            assertEquals(List.of(3, 2, 1), received.stream().map(MemoryHubTest::tagOf).toList());
            assertTrue(elapsedMillis >= 140, "delayed frame came after " + elapsedMillis + " ms");
        }
        finally
        {
            later.shutdownNow();
        }
    }

    @Test
    void shouldDropWhatAnInterceptorPredicateSelectsAndPassTheRest() throws Exception
    {
        startAll();
        hub.interceptor(MemoryHub.Interceptor.dropIf((source, frame) -> source == a && tagOf(frame) % 2 == 0));

        for (int tag = 0; tag < 6; tag++)
        {
            assertTrue(a.send(tagged(MAC_B, MAC_A, tag), 60));
        }
        assertEquals(List.of(1, 3, 5), atB.take(3).stream().map(MemoryHubTest::tagOf).toList());

        hub.interceptor(null);
        assertTrue(a.send(tagged(MAC_B, MAC_A, 8), 60));
        assertEquals(8, tagOf(atB.next()));
    }

    @Test
    void shouldDeliverFromManySendersWithoutLoss() throws Exception
    {
        startAll();
        final int perSender = 500;
        final CountDownLatch go = new CountDownLatch(1);
        final List<Thread> senders = new ArrayList<>();
        for (final MemoryHub.Nic sender : List.of(a, c))
        {
            senders.add(Thread.ofPlatform().start(() ->
            {
                final ByteBuffer frame = ByteBuffer.allocateDirect(60);
                frame.put(0, frame(MAC_B, sender.mac(), 60, 0));
                try
                {
                    go.await();
                }
                catch (final InterruptedException e)
                {
                    return;
                }
                for (int i = 0; i < perSender; i++)
                {
                    frame.putInt(AoeHeader.TAG_OFFSET, i);
                    while (!sender.send(frame, 60))
                    {
                        Thread.onSpinWait();
                    }
                }
            }));
        }
        go.countDown();
        for (final Thread sender : senders)
        {
            sender.join();
        }

        // 1000 frames fit b's 1024-frame queue, so none may be lost however slowly b's thread drains it.
        final List<byte[]> received = atB.take(2 * perSender);
        assertEquals(2 * perSender, received.size(), "dropped " + b.rxDropped());
        final int[] nextFrom = new int[2];
        for (final byte[] frame : received)
        {
            final int from = frame[11] == (byte)0x0A ? 0 : 1;
            assertEquals(nextFrom[from]++, tagOf(frame), "per-sender order");
        }
    }

    @Test
    void shouldFindNicsByNameAndRejectDuplicates()
    {
        assertEquals(b, hub.nic("b"));
        final TransportException missing = assertThrows(TransportException.class, () -> hub.nic("z"));
        assertTrue(missing.getMessage().contains("'z'") && missing.getMessage().contains("a, b, c"), missing.getMessage());
        assertThrows(IllegalArgumentException.class, () -> hub.attach("b", 0x02_00_00_00_00_99L, 1500));
        assertThrows(IllegalArgumentException.class, () -> hub.attach("m", 0x01_00_5E_00_00_01L, 1500), "multicast MAC");

        b.close();
        assertEquals(List.of(a, c), hub.nics());
        assertNotNull(hub.attach("b", MAC_B, 1500), "the name is free again after close");
    }

    @Test
    void shouldDeliverIdenticalBytesToEveryBroadcastReceiver() throws Exception
    {
        startAll();
        final byte[] sent = frame(MacAddress.BROADCAST_BITS, MAC_A, 1514, 77);

        assertTrue(a.send(ByteBuffer.wrap(sent), sent.length));

        assertArrayEquals(sent, atB.next());
        assertArrayEquals(sent, atC.next());
    }
}
