package org.aoemp.target;

import java.util.concurrent.atomic.LongAdder;

/**
 * The running counts of one {@link AoeTarget}, snapshot by {@link #snapshot} into a
 * {@link TargetStats} (whose fields say what each count means).
 *
 * <p>Threading: every counter may be written by several threads at once (each NIC's receive
 * thread, every disk worker, the owner when it announces), so each is a {@link LongAdder}: an
 * increment is one CAS (on a per-thread cell once writers contend), with no lock, and no
 * allocation once the cells exist. Reads ({@link #snapshot}) from any thread; each counter is summed on its
 * own, so a snapshot taken under load is not one instant.
 */
final class TargetCounters
{
    final LongAdder framesReceived = new LongAdder();
    final LongAdder ignored = new LongAdder();
    final LongAdder masked = new LongAdder();
    final LongAdder truncated = new LongAdder();
    final LongAdder busyDrops = new LongAdder();
    final LongAdder ataCommands = new LongAdder();
    final LongAdder sectorsRead = new LongAdder();
    /** Reads a receive thread answered from the page cache itself (also counted in sectorsRead). */
    final LongAdder readsOnReceiveThread = new LongAdder();
    final LongAdder sectorsWritten = new LongAdder();
    final LongAdder flushes = new LongAdder();
    final LongAdder ataErrors = new LongAdder();
    final LongAdder aoeErrors = new LongAdder();
    final LongAdder ioErrors = new LongAdder();
    final LongAdder sendFailures = new LongAdder();

    /**
     * @param workerErrors what the disk workers' runners caught, counted by the runners themselves
     */
    TargetStats snapshot(final long workerErrors)
    {
        return new TargetStats(framesReceived.sum(), ignored.sum(), masked.sum(), truncated.sum(), busyDrops.sum(),
            ataCommands.sum(), sectorsRead.sum(), sectorsWritten.sum(), flushes.sum(), ataErrors.sum(), aoeErrors.sum(),
            ioErrors.sum(), sendFailures.sum(), workerErrors);
    }
}
