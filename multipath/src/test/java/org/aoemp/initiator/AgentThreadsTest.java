package org.aoemp.initiator;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.nio.ByteBuffer;
import java.time.Duration;
import java.util.HashSet;
import java.util.List;
import java.util.Set;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.TimeUnit;
import java.util.function.BooleanSupplier;

import org.aoemp.block.IoError;
import org.aoemp.testing.ScriptedTarget;
import org.aoemp.transport.MemoryHub;
import org.junit.jupiter.api.Test;

/** The initiator's threads are agents started by their owners and gone after close. */
class AgentThreadsTest
{
    private static final Duration GENEROUS = Duration.ofSeconds(20);

    private static Set<Thread> aoeThreads()
    {
        final Set<Thread> out = new HashSet<>();
        for (final Thread t : Thread.getAllStackTraces().keySet())
        {
            if (t.getName().startsWith("aoe-") && t.isAlive())
            {
                out.add(t);
            }
        }
        return out;
    }

    private static Set<String> names(final Set<Thread> threads)
    {
        final Set<String> out = new HashSet<>();
        threads.forEach(t -> out.add(t.getName()));
        return out;
    }

    private static void await(final BooleanSupplier condition, final String what) throws InterruptedException
    {
        final long deadline = System.nanoTime() + GENEROUS.toNanos();
        while (!condition.getAsBoolean())
        {
            assertTrue(System.nanoTime() - deadline < 0, "waited " + GENEROUS.toSeconds() + " s for: " + what);
            Thread.sleep(5);
        }
    }

    @Test
    void shouldLeaveNoAoeThreadBehindAfterClose() throws Exception
    {
        final Set<Thread> before = aoeThreads();
        final MemoryHub hub = new MemoryHub();
        final ScriptedTarget target = new ScriptedTarget(hub.attach("tgt0", 0x02_00_00_00_00_02L, 1500), 7, 3, 1 << 20, 16);
        // sends that may wait: the port gets a sender thread; a discovery interval: the discovery agent runs
        final FaultyTransport nic = new FaultyTransport(hub.attach("ini0", 0x02_00_00_00_00_01L, 1500), false);
        final Initiator initiator = Initiator.start(List.of(nic), Duration.ofMillis(50));
        try
        {
            final AoeDevice device = initiator.open(new TargetAddress(7, 3), DeviceOptions.defaults());
            device.readAsync(0, ByteBuffer.allocate(64 << 10)).get(GENEROUS.toSeconds(), TimeUnit.SECONDS);
            final Set<Thread> running = aoeThreads();
            running.removeAll(before);
            assertTrue(names(running).containsAll(Set.of("aoe-e7.3", "aoe-tx-ini0", "aoe-discovery", "aoe-rx-ini0")),
                names(running).toString());
            assertEquals(device.runner().thread(), running.stream().filter(t -> t.getName().equals("aoe-e7.3")).findFirst()
                .orElseThrow(), "the engine runs on its agent runner");

            // a device closed from its own callback (the engine thread) stops too
            final CompletableFuture<IoError> closedFromCallback = new CompletableFuture<>();
            device.read(0, ByteBuffer.allocate(4096), e ->
            {
                device.close();
                closedFromCallback.complete(e);
            });
            closedFromCallback.get(GENEROUS.toSeconds(), TimeUnit.SECONDS);
            await(() -> !device.runner().thread().isAlive(), "the engine's thread ends after a close from a callback");
            final CompletableFuture<IoError> afterClose = new CompletableFuture<>();
            device.read(0, ByteBuffer.allocate(4096), afterClose::complete);
            assertEquals(IoError.ESHUTDOWN, afterClose.getNow(null).errno());
        }
        finally
        {
            initiator.close();
            target.close();
            hub.close();
        }
        await(() ->
        {
            final Set<Thread> left = aoeThreads();
            left.removeAll(before);
            return left.isEmpty();
        }, "no aoe-* thread left: " + names(aoeThreads()));
    }

    @Test
    void shouldNotStartTheEngineFromTheDevicesConstructor()
    {
        final AoeDevice device = new AoeDevice(new TargetAddress(1, 1), DeviceOptions.defaults(), () -> { });
        assertEquals(Thread.State.NEW, device.runner().thread().getState(), "the owner starts it");
        final CompletableFuture<IoError> queued = new CompletableFuture<>();
        device.flush(queued::complete);
        device.close();
        assertEquals(Thread.State.NEW, device.runner().thread().getState(), "closing a device never started starts nothing");
        assertEquals(IoError.ESHUTDOWN, queued.getNow(null).errno(), "what was queued fails with ESHUTDOWN");
    }
}
