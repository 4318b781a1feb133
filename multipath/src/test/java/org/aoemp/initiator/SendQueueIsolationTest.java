package org.aoemp.initiator;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.nio.ByteBuffer;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.CountDownLatch;
import java.util.concurrent.TimeUnit;

import org.aoemp.testing.Await;
import org.aoemp.testing.ScriptedTarget;
import org.aoemp.transport.FrameTransport;
import org.aoemp.transport.MemoryHub;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.Test;

/**
 * Each path's frames go through its own queue to its port's sender thread: a NIC whose send
 * blocks holds up only its own sender, never the engine or the other path.
 */
class SendQueueIsolationTest
{
    private final CountDownLatch unblock = new CountDownLatch(1);
    private MemoryHub hub;
    private final List<ScriptedTarget> targets = new ArrayList<>();
    private Initiator initiator;

    @AfterEach
    void tearDown()
    {
        unblock.countDown();
        if (initiator != null)
        {
            initiator.close();
        }
        targets.forEach(ScriptedTarget::close);
        if (hub != null)
        {
            hub.close();
        }
    }

    @Test
    void aNicWhoseSendBlocksShouldStallNeitherTheEngineNorTheOtherPath() throws Exception
    {
        hub = new MemoryHub();
        // two targets with the same shelf.slot (the usual two-NIC target), one per initiator NIC
        targets.add(new ScriptedTarget(hub.attach("tgt0", 0x02_00_00_00_01_00L, 1500), 7, 3, 4 << 20, 16));
        targets.add(new ScriptedTarget(hub.attach("tgt1", 0x02_00_00_00_01_01L, 1500), 7, 3, 4 << 20, 16));
        final BlockingNic stuck = new BlockingNic(hub.attach("ini0", 0x02_00_00_00_00_01L, 1500), unblock);
        initiator = Initiator.start(List.of(stuck, hub.attach("ini1", 0x02_00_00_00_00_02L, 1500)), Duration.ZERO);
        final AoeDevice d = initiator.open(new TargetAddress(7, 3),
            DeviceOptions.defaults().withRto(Duration.ofMillis(20), Duration.ofMillis(5), Duration.ofMillis(200)));
        Await.reached(Duration.ofSeconds(30), () -> d.pathStats().size() >= 4);

        stuck.block();
        final List<CompletableFuture<Void>> reads = new ArrayList<>();
        for (int i = 0; i < 200; i++)
        {
            reads.add(d.readAsync((long)(i % 64) * 4096, ByteBuffer.allocate(4096)));
        }
        CompletableFuture.allOf(reads.toArray(CompletableFuture[]::new)).get(20, TimeUnit.SECONDS);
        assertTrue(stuck.blockedSends() >= 1, "the NIC's send really blocked");
        long viaOther = 0;
        for (final PathStats p : d.pathStats())
        {
            if (p.localInterface().equals("ini1"))
            {
                viaOther += p.framesReceived();
            }
        }
        assertTrue(viaOther >= 200, "the reads went over the other NIC: " + d.pathStats());

        unblock.countDown();
        final boolean up = Await.reached(Duration.ofSeconds(10), () ->
        {
            try
            {
                d.readAsync(0, ByteBuffer.allocate(4096)).get(10, TimeUnit.SECONDS);
            }
            catch (final Exception e)
            {
                throw new AssertionError("read while waiting for the path over ini0", e);
            }
            return d.pathStats().stream().filter(p -> p.localInterface().equals("ini0"))
                .anyMatch(p -> p.state() == PathState.UP);
        });
        assertTrue(up, "a path over the unblocked NIC came back: " + d.pathStats());
        assertEquals(0, d.stats().requestsFailed());
    }

    /** A NIC whose send, once {@link #block}ed, hangs until the latch opens (a wedged driver). */
    private static final class BlockingNic extends ForwardingTransport
    {
        private final CountDownLatch unblock;
        private volatile boolean blocking;
        private volatile long blockedSends;

        BlockingNic(final FrameTransport nic, final CountDownLatch unblock)
        {
            super(nic);
            this.unblock = unblock;
        }

        void block()
        {
            blocking = true;
        }

        long blockedSends()
        {
            return blockedSends;
        }

        @Override
        public boolean send(final ByteBuffer frame, final int length)
        {
            if (blocking)
            {
                blockedSends = blockedSends + 1;
                try
                {
                    unblock.await();
                }
                catch (final InterruptedException e)
                {
                    Thread.currentThread().interrupt();
                }
                blocking = false;
            }
            return nic.send(frame, length);
        }
    }
}
