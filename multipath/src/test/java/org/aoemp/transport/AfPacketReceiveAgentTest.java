package org.aoemp.transport;

import org.aoemp.testing.RealPeer;
import static java.lang.foreign.ValueLayout.JAVA_INT;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertInstanceOf;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.lang.foreign.FunctionDescriptor;
import java.lang.foreign.Linker;
import java.lang.invoke.MethodHandle;
import java.lang.management.ManagementFactory;
import java.lang.management.ThreadMXBean;
import java.util.concurrent.TimeUnit;

import org.aoemp.agent.AgentRunner;
import org.junit.jupiter.api.Test;

/**
 * {@link ReceiveAgentContractTest} for {@link AfPacketTransport} over veth (root), plus a
 * {@code recv} that fails again and again: counted, reported to the runner, backed off, and the
 * transport still closes promptly.
 */
@RealPeer
final class AfPacketReceiveAgentTest extends ReceiveAgentContractTest
{
    /** Linux errno for a descriptor that is not a socket. */
    private static final int ENOTSOCK = 88;

    @Override
    FrameTransportContractTest.Link openLink()
    {
        return VethLinkSupport.open(AfPacketTransport::new);
    }

    @Override
    AgentRunner runnerOf(final FrameTransport transport)
    {
        return ((KernelTransport)transport).receiver();
    }

    @Test
    @SuppressWarnings("restricted")
    void aRecvThatKeepsFailingShouldBeCountedReportedAndBackedOffNotSpun() throws Throwable
    {
        final AfPacketTransport b = (AfPacketTransport)link().b();
        b.start((frame, length) -> { });
        final AgentRunner runner = runnerOf(b);
        final Thread rx = receiveThread(b);

        // Make the socket's descriptor number refer to an eventfd: from now on every recv() fails at
        // once with ENOTSOCK. dup2 keeps the number owned by the transport, which closes it as usual.
        final Linker linker = Linker.nativeLinker();
        final MethodHandle eventfd = linker.downcallHandle(linker.defaultLookup().findOrThrow("eventfd"),
            FunctionDescriptor.of(JAVA_INT, JAVA_INT, JAVA_INT));
        final MethodHandle dup2 = linker.downcallHandle(linker.defaultLookup().findOrThrow("dup2"),
            FunctionDescriptor.of(JAVA_INT, JAVA_INT, JAVA_INT));
        final MethodHandle close = linker.downcallHandle(linker.defaultLookup().findOrThrow("close"),
            FunctionDescriptor.of(JAVA_INT, JAVA_INT));
        final int notASocket = (int)eventfd.invokeExact(0, 0);
        assertTrue(notASocket >= 0, "eventfd");
        assertEquals(b.fd(), (int)dup2.invokeExact(notASocket, b.fd()), "dup2");
        final int ignored = (int)close.invokeExact(notASocket);

        await(() -> b.counters().receiveErrors.sum() >= 3, "repeated receive errors to be counted");
        await(() -> runner.errorCount() >= 3, "the runner to count them");
        assertEquals(ENOTSOCK, b.lastReceiveErrno());
        assertInstanceOf(TransportException.class, runner.lastError());
        assertTrue(runner.lastError().getMessage().contains("recv on '" + b.name() + "' failed"), runner.lastError().getMessage());

        // Backed off, not spinning: over one second at most a few dozen attempts and little CPU.
        final ThreadMXBean threads = ManagementFactory.getThreadMXBean();
        final long errorsBefore = b.counters().receiveErrors.sum();
        final long cpuBefore = threads.getThreadCpuTime(rx.threadId());
        final long wallBefore = System.nanoTime();
        await(() -> System.nanoTime() - wallBefore >= TimeUnit.SECONDS.toNanos(1), "a one-second measurement window");
        final long errors = b.counters().receiveErrors.sum() - errorsBefore;
        final long cpuMillis = TimeUnit.NANOSECONDS.toMillis(threads.getThreadCpuTime(rx.threadId()) - cpuBefore);
        System.out.printf("AfPacketReceiveAgentTest: a failing recv: %d attempts and %d ms CPU in one second%n", errors, cpuMillis);
        assertTrue(errors >= 1 && errors <= 100, errors + " failed recv calls in one second");
        assertTrue(cpuMillis < 200, cpuMillis + " ms CPU in one second");
        assertEquals(runner.errorCount(), b.counters().receiveErrors.sum(), "every failure reached the runner");
        assertFalse(runner.hasEnded(), "the receive agent keeps going");

        final long start = System.nanoTime();
        b.close();
        final long closeMillis = TimeUnit.NANOSECONDS.toMillis(System.nanoTime() - start);
        assertTrue(closeMillis < 1000, "close took " + closeMillis + " ms");
        await(runner::hasEnded, "the receive agent to end");
        assertFalse(rx.isAlive());
    }
}
