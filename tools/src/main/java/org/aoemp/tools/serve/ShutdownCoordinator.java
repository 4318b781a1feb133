package org.aoemp.tools.serve;

import java.time.Duration;
import java.util.concurrent.BlockingQueue;
import java.util.concurrent.LinkedBlockingQueue;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicBoolean;

import org.slf4j.Logger;
import org.slf4j.LoggerFactory;
import sun.misc.Signal;

/**
 * Turns signals into events for the service's main thread: SIGHUP asks for a reload, SIGTERM and
 * SIGINT for a clean stop. The clean stop is bounded: a second SIGTERM/SIGINT, or the stop
 * deadline passing, ends the process at once with a non-zero status (logged), without waiting
 * for anything.
 *
 * <p>Handlers replace the JVM's own for these signals (so shutdown hooks do not race the
 * orderly stop). Signal handlers run on threads the JVM starts; they only queue events, except
 * for the immediate exits. {@code aoe serve} and {@code aoe nbd} stop through it. Threading: any
 * thread.
 */
public final class ShutdownCoordinator
{
    private static final Logger LOG = LoggerFactory.getLogger(ShutdownCoordinator.class);

    /** Exit status when the stop deadline passes. */
    static final int EXIT_DEADLINE = 1;

    /** What the main thread is asked to do. */
    public enum Kind
    {
        RELOAD, STOP
    }

    /** An event and the signal that caused it. */
    public record Event(Kind kind, String signal)
    {
    }

    private final BlockingQueue<Event> events = new LinkedBlockingQueue<>();
    private final AtomicBoolean stopping = new AtomicBoolean();
    private final Duration stopTimeout;
    private volatile boolean stopped;

    public ShutdownCoordinator(final Duration stopTimeout)
    {
        this.stopTimeout = stopTimeout;
    }

    /** Installs the handlers for HUP, TERM and INT. */
    public void install()
    {
        Signal.handle(new Signal("HUP"), s -> events.add(new Event(Kind.RELOAD, "SIGHUP")));
        Signal.handle(new Signal("TERM"), this::stopSignal);
        Signal.handle(new Signal("INT"), this::stopSignal);
    }

    /** The next event; blocks. */
    public Event next() throws InterruptedException
    {
        return events.take();
    }

    /** The clean stop has finished: the deadline no longer applies. */
    public void stopped()
    {
        stopped = true;
    }

    private void stopSignal(final Signal s)
    {
        final String name = "SIG" + s.getName();
        if (!stopping.compareAndSet(false, true))
        {
            LOG.error("{} during the clean stop: exiting at once without waiting for requests in flight", name);
            Runtime.getRuntime().halt(128 + s.getNumber());
            return;
        }
        events.add(new Event(Kind.STOP, name));
        Thread.ofPlatform().daemon().name("aoe-stop-deadline").start(() ->
        {
            final long deadline = System.nanoTime() + stopTimeout.toNanos();
            long left;
            while (!stopped && (left = deadline - System.nanoTime()) > 0)
            {
                // The deadline itself is what is waited for: park until it, waking early only to exit.
                java.util.concurrent.locks.LockSupport.parkNanos(Math.min(left, TimeUnit.MILLISECONDS.toNanos(100)));
            }
            if (!stopped)
            {
                LOG.error("the clean stop did not finish within {} (stop timeout): exiting at once", ServiceSet.text(stopTimeout));
                Runtime.getRuntime().halt(EXIT_DEADLINE);
            }
        });
    }
}
