package org.aoemp.target;

import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicLong;

import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * The log lines of a target's failed disk I/O: which command failed and why ({@code e1.1: write of
 * 17 sectors at sector 2048 failed: No space left on device; answered with ATA error ABRT}). A
 * full or dying disk fails every command, so each kind (read, write, flush) logs at most one line
 * per second; the failures held back meanwhile are counted in the next line of that kind, and a
 * failed read is never hidden behind a flood of failed writes.
 *
 * <p>Threading: any disk worker; lock-free.
 */
final class DiskErrorLog
{
    private static final Logger LOG = LoggerFactory.getLogger(DiskErrorLog.class);
    static final long INTERVAL_NANOS = TimeUnit.SECONDS.toNanos(1);

    private final AtomicLong[] lastLineNanos = {new AtomicLong(), new AtomicLong(), new AtomicLong()};
    private final AtomicLong[] heldBack = {new AtomicLong(), new AtomicLong(), new AtomicLong()};

    /**
     * @param op      {@link TargetResponder#OP_READ}, {@link TargetResponder#OP_WRITE} or {@link TargetResponder#OP_FLUSH}
     * @param command the command, e.g. {@code e1.1: write of 17 sectors at sector 2048}
     * @param answer  the ATA error it was answered with, e.g. {@code UNC}
     */
    void failed(final int op, final String command, final Throwable error, final String answer)
    {
        final int k = op == TargetResponder.OP_READ ? 0 : op == TargetResponder.OP_WRITE ? 1 : 2;
        final long now = System.nanoTime();
        final long last = lastLineNanos[k].get();
        if ((last == 0 || now - last >= INTERVAL_NANOS) && lastLineNanos[k].compareAndSet(last, now == 0 ? 1 : now))
        {
            final long held = heldBack[k].getAndSet(0);
            final String kind = k == 0 ? "reads" : k == 1 ? "writes" : "flushes";
            LOG.error("{} failed: {}; answered with ATA error {}{}", command, message(error), answer,
                held > 0 ? " (and " + held + " more failed " + kind + " since the last such line)" : "");
        }
        else
        {
            heldBack[k].incrementAndGet();
        }
    }

    private static String message(final Throwable e)
    {
        return e.getMessage() == null ? e.toString() : e.getMessage();
    }
}
