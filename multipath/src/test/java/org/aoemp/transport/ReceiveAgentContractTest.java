package org.aoemp.transport;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertInstanceOf;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.lang.management.ManagementFactory;
import java.lang.management.ThreadMXBean;
import java.nio.ByteBuffer;
import java.util.List;
import java.util.concurrent.CopyOnWriteArrayList;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.locks.LockSupport;
import java.util.function.BooleanSupplier;
import java.util.stream.IntStream;

import org.aoemp.agent.AgentRunner;
import org.aoemp.protocol.AoeHeader;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.Test;

/**
 * What running the receive loop as an agent promises on every transport, beyond
 * {@link FrameTransportContractTest}: a handler that throws (a RuntimeException or an Error)
 * loses only its frame, which is counted, and the receive agent goes on; an idle receive agent
 * does not spin.
 */
abstract class ReceiveAgentContractTest
{
    static final long DEADLINE_SECONDS = 30;

    private FrameTransportContractTest.Link link;

    /** A fresh link, both ends unstarted (as {@link FrameTransportContractTest#openLink}). */
    abstract FrameTransportContractTest.Link openLink();

    /** The receive agent's runner of a started transport. */
    abstract AgentRunner runnerOf(FrameTransport transport);

    FrameTransportContractTest.Link link()
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

    static void await(final BooleanSupplier condition, final String what) throws InterruptedException
    {
        final long deadline = System.nanoTime() + TimeUnit.SECONDS.toNanos(DEADLINE_SECONDS);
        while (!condition.getAsBoolean())
        {
            assertTrue(System.nanoTime() - deadline < 0, "not within " + DEADLINE_SECONDS + " s: " + what);
            Thread.sleep(2);
        }
    }

    static Thread receiveThread(final FrameTransport transport)
    {
        return Thread.getAllStackTraces().keySet().stream()
            .filter(t -> t.getName().equals("aoe-rx-" + transport.name()) && t.isAlive()).findFirst().orElseThrow();
    }

    @Test
    void aHandlerThatThrowsShouldLoseOnlyThatFrameAndTheReceiveAgentGoesOn() throws Exception
    {
        final FrameTransport a = link().a();
        final FrameTransport b = link().b();
        final List<Integer> delivered = new CopyOnWriteArrayList<>();
        b.start((frame, length) ->
        {
            final int tag = frame.getInt(AoeHeader.TAG_OFFSET);
            switch (tag % 3)
            {
                case 1 -> throw new IllegalStateException("handler fails on tag " + tag);
                case 2 -> throw new AssertionError("handler error on tag " + tag);
                default -> delivered.add(tag);
            }
        });
        final ByteBuffer frame = ByteBuffer.wrap(FrameTransportContractTest.frame(b.mac(), a.mac(), 60, 21));
        final int frames = 30;
        for (int tag = 0; tag < frames; tag++)
        {
            frame.putInt(AoeHeader.TAG_OFFSET, tag);
            assertTrue(a.send(frame, 60), "send " + tag);
        }
        final AgentRunner runner = runnerOf(b);

        await(() -> b.counters().framesReceived.sum() == frames, "all " + frames + " frames to reach the handler");
        await(() -> runner.errorCount() == 2 * frames / 3, "the runner to count every handler failure");

        assertEquals(IntStream.range(0, frames).filter(t -> t % 3 == 0).boxed().toList(), delivered,
            "exactly the frames whose handler call threw are lost");
        assertEquals(2 * frames / 3, b.counters().handlerFailures.sum());
        assertEquals(0, b.counters().receiveErrors.sum());
        assertInstanceOf(HandlerFailure.class, runner.lastError());
        assertFalse(runner.hasEnded());

        frame.putInt(AoeHeader.TAG_OFFSET, 3 * frames);
        assertTrue(a.send(frame, 60));
        await(() -> delivered.contains(3 * frames), "a frame after the failures to be delivered");
        assertEquals("aoe-rx-" + b.name(), receiveThread(b).getName());
    }

    @Test
    void anIdleReceiveAgentShouldNotSpin() throws Exception
    {
        final FrameTransport b = link().b();
        b.start((frame, length) -> { });
        final Thread rx = receiveThread(b);
        final ThreadMXBean threads = ManagementFactory.getThreadMXBean();
        final long cpuBefore = threads.getThreadCpuTime(rx.threadId());
        final long wallBefore = System.nanoTime();
        // A measurement window, not a wait for a condition: half a second of an idle link.
        while (System.nanoTime() - wallBefore < TimeUnit.MILLISECONDS.toNanos(500))
        {
            LockSupport.parkNanos(TimeUnit.MILLISECONDS.toNanos(10));
        }
        final long cpuMillis = TimeUnit.NANOSECONDS.toMillis(threads.getThreadCpuTime(rx.threadId()) - cpuBefore);
        final long wallMillis = TimeUnit.NANOSECONDS.toMillis(System.nanoTime() - wallBefore);
        System.out.printf("%s: idle receive agent used %d ms CPU in %d ms%n", getClass().getSimpleName(), cpuMillis, wallMillis);
        assertTrue(cpuMillis < 100, "idle receive agent used " + cpuMillis + " ms CPU in " + wallMillis + " ms");
        assertEquals(0, runnerOf(b).errorCount());
    }
}
