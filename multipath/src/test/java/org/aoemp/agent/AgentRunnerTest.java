package org.aoemp.agent;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertSame;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.util.List;
import java.util.concurrent.CopyOnWriteArrayList;
import java.util.concurrent.CountDownLatch;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicInteger;
import java.util.concurrent.atomic.AtomicReference;

import org.junit.jupiter.api.Test;

class AgentRunnerTest
{
    private static final long DEADLINE_SECONDS = 30;

    /** An agent driven by the test: counts cycles, throws what it is told to. */
    private static final class ScriptedAgent implements Agent
    {
        final AtomicInteger cycles = new AtomicInteger();
        final AtomicReference<RuntimeException> throwNext = new AtomicReference<>();
        final CountDownLatch started = new CountDownLatch(1);
        final CountDownLatch closed = new CountDownLatch(1);
        final AtomicReference<Thread> startThread = new AtomicReference<>();
        final AtomicReference<Thread> closeThread = new AtomicReference<>();

        @Override
        public int doWork()
        {
            cycles.incrementAndGet();
            final RuntimeException e = throwNext.getAndSet(null);
            if (e != null)
            {
                throw e;
            }
            return 0;
        }

        @Override
        public String roleName()
        {
            return "test-agent";
        }

        @Override
        public void onStart()
        {
            startThread.set(Thread.currentThread());
            started.countDown();
        }

        @Override
        public void onClose()
        {
            closeThread.set(Thread.currentThread());
            closed.countDown();
        }
    }

    private static IdleStrategy shortParks()
    {
        return new BackoffIdleStrategy(0, 0, TimeUnit.MICROSECONDS.toNanos(50), TimeUnit.MILLISECONDS.toNanos(1), null);
    }

    private static void awaitTrue(final java.util.function.BooleanSupplier condition, final String what) throws InterruptedException
    {
        final long until = System.nanoTime() + TimeUnit.SECONDS.toNanos(DEADLINE_SECONDS);
        while (!condition.getAsBoolean())
        {
            if (System.nanoTime() - until > 0)
            {
                throw new AssertionError("not within " + DEADLINE_SECONDS + " s: " + what);
            }
            Thread.sleep(1);
        }
    }

    @Test
    void shouldRunTheAgentOnItsOwnNamedThreadAndCloseItThere() throws Exception
    {
        final ScriptedAgent agent = new ScriptedAgent();
        final AgentRunner runner = new AgentRunner(agent, shortParks(), e -> { });
        assertEquals(0, agent.cycles.get(), "nothing runs before start");
        runner.start();
        assertTrue(agent.started.await(DEADLINE_SECONDS, TimeUnit.SECONDS));
        awaitTrue(() -> agent.cycles.get() > 3, "duty cycles run");
        assertEquals("test-agent", agent.startThread.get().getName());
        runner.close();
        assertTrue(runner.hasEnded(), "close waits for onClose");
        assertSame(agent.startThread.get(), agent.closeThread.get(), "onClose runs on the agent thread");
        final int after = agent.cycles.get();
        assertFalse(runner.thread().isAlive());
        assertEquals(after, agent.cycles.get(), "no duty cycle after close");
    }

    @Test
    void shouldCountAnErrorHandItToTheHandlerAndKeepRunning() throws Exception
    {
        final ScriptedAgent agent = new ScriptedAgent();
        final List<Throwable> handled = new CopyOnWriteArrayList<>();
        final AtomicReference<Thread> handlerThread = new AtomicReference<>();
        final AgentRunner runner = new AgentRunner(agent, shortParks(), e ->
        {
            handlerThread.set(Thread.currentThread());
            handled.add(e);
        });
        runner.start();
        final IllegalStateException boom = new IllegalStateException("boom");
        agent.throwNext.set(boom);
        awaitTrue(() -> handled.size() == 1, "the handler got the error");
        assertSame(boom, handled.get(0));
        assertSame(runner.thread(), handlerThread.get(), "the handler runs on the agent thread");
        assertEquals(1, runner.errorCount());
        assertSame(boom, runner.lastError());
        final int cycles = agent.cycles.get();
        awaitTrue(() -> agent.cycles.get() > cycles + 3, "the loop goes on after an error");
        assertTrue(runner.thread().isAlive());
        runner.close();
    }

    @Test
    void shouldSurviveErrorsAndHandlersThatThrow() throws Exception
    {
        final ScriptedAgent agent = new ScriptedAgent();
        final AgentRunner runner = new AgentRunner(agent, shortParks(), e ->
        {
            throw new IllegalArgumentException("handler broke too");
        });
        runner.start();
        agent.throwNext.set(new RuntimeException("first"));
        awaitTrue(() -> runner.errorCount() == 2, "both the error and the handler's error are counted");
        assertEquals("handler broke too", runner.lastError().getMessage());
        agent.throwNext.set(new RuntimeException("second"));
        awaitTrue(() -> runner.errorCount() == 4, "the loop still runs");
        runner.close();
        assertTrue(runner.hasEnded());
    }

    @Test
    void shouldEndTheLoopOnTerminationAndStillClose() throws Exception
    {
        final ScriptedAgent agent = new ScriptedAgent();
        final AgentRunner runner = new AgentRunner(agent, shortParks(), e -> { });
        runner.start();
        agent.throwNext.set(new AgentTerminationException("done"));
        assertTrue(agent.closed.await(DEADLINE_SECONDS, TimeUnit.SECONDS), "onClose after termination");
        awaitTrue(runner::hasEnded, "ended");
        assertEquals(0, runner.errorCount(), "termination is not an error");
        runner.close();
    }

    @Test
    void shouldCloseANeverStartedAgentOnTheClosingThread()
    {
        final ScriptedAgent agent = new ScriptedAgent();
        final AgentRunner runner = new AgentRunner(agent, shortParks(), e -> { });
        runner.close();
        assertSame(Thread.currentThread(), agent.closeThread.get());
        assertTrue(runner.hasEnded());
        assertThrows(IllegalStateException.class, runner::start, "a closed runner cannot start");
        runner.close();
        assertEquals(0, agent.cycles.get());
    }

    @Test
    void shouldRefuseToStartTwice()
    {
        final AgentRunner runner = new AgentRunner(new ScriptedAgent(), shortParks(), e -> { });
        runner.start();
        try
        {
            assertThrows(IllegalStateException.class, runner::start);
        }
        finally
        {
            runner.close();
        }
    }

    @Test
    void shouldLetTheAgentCloseItsOwnRunnerWithoutWaitingForItself() throws Exception
    {
        final AtomicReference<AgentRunner> self = new AtomicReference<>();
        final CountDownLatch closed = new CountDownLatch(1);
        final Agent agent = new Agent()
        {
            @Override
            public int doWork()
            {
                final AgentRunner r = self.get();
                if (r != null)
                {
                    r.close();  // e.g. a completion callback that closes its device
                }
                return 1;
            }

            @Override
            public String roleName()
            {
                return "self-closing";
            }

            @Override
            public void onClose()
            {
                closed.countDown();
            }
        };
        final AgentRunner runner = new AgentRunner(agent, shortParks(), e -> { });
        self.set(runner);
        runner.start();
        assertTrue(closed.await(DEADLINE_SECONDS, TimeUnit.SECONDS));
        awaitTrue(() -> !runner.thread().isAlive(), "thread ended");
        assertEquals(0, runner.errorCount());
    }

    @Test
    void shouldCountAnOnStartFailureAndNotRunTheLoop() throws Exception
    {
        final AtomicInteger cycles = new AtomicInteger();
        final Agent agent = new Agent()
        {
            @Override
            public int doWork()
            {
                cycles.incrementAndGet();
                return 0;
            }

            @Override
            public String roleName()
            {
                return "bad-start";
            }

            @Override
            public void onStart()
            {
                throw new IllegalStateException("no socket");
            }
        };
        final AgentRunner runner = new AgentRunner(agent, shortParks(), e -> { });
        runner.start();
        awaitTrue(runner::hasEnded, "the loop ended");
        assertEquals(1, runner.errorCount());
        assertEquals(0, cycles.get());
        runner.close();
    }
}
