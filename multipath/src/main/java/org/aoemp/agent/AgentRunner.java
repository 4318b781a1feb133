package org.aoemp.agent;

import java.time.Duration;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicLong;
import java.util.concurrent.locks.LockSupport;

import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * Runs one {@link Agent} on its own platform thread: {@code idle(doWork())} until closed.
 *
 * <p>Nothing the agent throws ends the thread silently. Each {@link Throwable} from a duty cycle
 * is counted ({@link #errorCount}), remembered ({@link #lastError}), logged (the first, then at
 * most one line per second with the number held back, so a failing loop cannot flood the log)
 * and handed to the owner's {@link ErrorHandler}, which fails or recovers what the error
 * affected; then the loop goes on, backing off as after an empty cycle. Only an
 * {@link AgentTerminationException} ends the loop early. An error from the handler itself is
 * counted and logged too.
 *
 * <p>Life cycle: the owner constructs, {@link #start}s and {@link #close}s the runner; nothing
 * starts a thread from a constructor. {@link #close} asks the loop to stop, wakes the thread and
 * waits up to the close timeout for {@link Agent#onClose} to finish; called from the agent's own
 * thread (a callback that closes its device) it only asks. Threading: {@link #start},
 * {@link #close} and the accessors from any thread.
 */
public final class AgentRunner implements AutoCloseable
{
    private static final Logger LOG = LoggerFactory.getLogger(AgentRunner.class);
    private static final long LOG_INTERVAL_NANOS = TimeUnit.SECONDS.toNanos(1);
    private static final Duration DEFAULT_CLOSE_TIMEOUT = Duration.ofSeconds(5);

    private final Agent agent;
    private final IdleStrategy idle;
    private final ErrorHandler errorHandler;
    private final Duration closeTimeout;
    private final Thread thread;
    private final AtomicLong errors = new AtomicLong();
    private final Object lifecycle = new Object();
    private volatile boolean running = true;
    private volatile Throwable lastError;
    private volatile boolean ended;
    private boolean started;
    private boolean closed;
    // agent thread only
    private long lastLogNanos;
    private long heldBack;

    public AgentRunner(final Agent agent, final IdleStrategy idle, final ErrorHandler errorHandler)
    {
        this(agent, idle, errorHandler, DEFAULT_CLOSE_TIMEOUT);
    }

    public AgentRunner(final Agent agent, final IdleStrategy idle, final ErrorHandler errorHandler, final Duration closeTimeout)
    {
        this.agent = agent;
        this.idle = idle;
        this.errorHandler = errorHandler;
        this.closeTimeout = closeTimeout;
        this.thread = Thread.ofPlatform().name(agent.roleName()).daemon(true).unstarted(this::run);
    }

    /** Starts the agent's thread. Once; an error after {@link #close}. */
    public AgentRunner start()
    {
        synchronized (lifecycle)
        {
            if (closed)
            {
                throw new IllegalStateException(agent.roleName() + " is closed");
            }
            if (started)
            {
                throw new IllegalStateException(agent.roleName() + " is already started");
            }
            started = true;
            thread.start();
        }
        return this;
    }

    public Agent agent()
    {
        return agent;
    }

    /** The agent's thread (started or not). */
    public Thread thread()
    {
        return thread;
    }

    /** Throwables caught from the agent (and its error handler) since start. */
    public long errorCount()
    {
        return errors.get();
    }

    /** The most recent of them, or null. */
    public Throwable lastError()
    {
        return lastError;
    }

    /** True once the loop has ended (closed, terminated) and {@link Agent#onClose} has run. */
    public boolean hasEnded()
    {
        return ended;
    }

    private void run()
    {
        try
        {
            agent.onStart();
        }
        catch (final Throwable t)
        {
            record(t, "failed to start");
            running = false;
        }
        while (running)
        {
            int work;
            try
            {
                work = agent.doWork();
            }
            catch (final AgentTerminationException done)
            {
                LOG.debug("{} stopped: {}", agent.roleName(), done.getMessage());
                break;
            }
            catch (final Throwable t)
            {
                work = 0;
                record(t, "duty cycle failed");
                try
                {
                    errorHandler.onError(t);
                }
                catch (final Throwable inHandler)
                {
                    record(inHandler, "error handler failed");
                }
            }
            idle.idle(work);
        }
        try
        {
            agent.onClose();
        }
        catch (final Throwable t)
        {
            record(t, "failed to close");
        }
        finally
        {
            ended = true;
        }
    }

    private void record(final Throwable t, final String what)
    {
        errors.incrementAndGet();
        lastError = t;
        final long now = System.nanoTime();
        if (lastLogNanos == 0 || now - lastLogNanos >= LOG_INTERVAL_NANOS)
        {
            final long held = heldBack;
            heldBack = 0;
            lastLogNanos = now;
            if (held > 0)
            {
                LOG.error("{}: {} ({} more errors in the last second not logged)", agent.roleName(), what, held, t);
            }
            else
            {
                LOG.error("{}: {}", agent.roleName(), what, t);
            }
        }
        else
        {
            heldBack++;
        }
    }

    /**
     * Stops the loop and waits (up to the close timeout) until {@link Agent#onClose} has run. From
     * the agent's own thread it only asks. Idempotent.
     */
    @Override
    public void close()
    {
        final boolean wasStarted;
        synchronized (lifecycle)
        {
            if (closed)
            {
                return;
            }
            closed = true;
            wasStarted = started;
            running = false;
        }
        if (!wasStarted)
        {
            try
            {
                agent.onClose();
            }
            catch (final Throwable t)
            {
                errors.incrementAndGet();
                lastError = t;
                LOG.error("{}: failed to close", agent.roleName(), t);
            }
            ended = true;
            return;
        }
        if (Thread.currentThread() == thread)
        {
            return;
        }
        LockSupport.unpark(thread);
        try
        {
            thread.join(closeTimeout);
        }
        catch (final InterruptedException e)
        {
            Thread.currentThread().interrupt();
        }
        if (thread.isAlive())
        {
            LOG.warn("{} did not stop within {} ms; interrupting it", agent.roleName(), closeTimeout.toMillis());
            thread.interrupt();
        }
    }

    @Override
    public String toString()
    {
        return agent.roleName() + " (" + idle + ", " + errors.get() + " errors)";
    }
}
