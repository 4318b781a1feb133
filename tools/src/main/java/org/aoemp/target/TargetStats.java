package org.aoemp.target;

/**
 * Counters of an {@link AoeTarget} since it started; a snapshot, each counter read on its own.
 *
 * @param framesReceived   AoE frames handed to the target by its transports
 * @param ignored          requests not for this target (other shelf.slot) and responses
 * @param masked           frames dropped silently because their source MAC is not on the mask list
 * @param truncated        frames too short for the header or the argument they declare, dropped
 * @param busyDrops        ATA commands dropped because every buffer of their NIC was busy (twice the buffer count in flight)
 * @param ataCommands      ATA commands answered (with data, status or an AoE error)
 * @param sectorsRead      sectors read from the file
 * @param sectorsWritten   sectors written to the file
 * @param flushes          FLUSH CACHE (EXT) commands that synced the file
 * @param ataErrors        ATA commands answered with status ERR (aborted, out of range, I/O error)
 * @param aoeErrors        requests answered with an AoE error (E flag)
 * @param ioErrors         file reads, writes or syncs that failed (each answered with status ERR)
 * @param sendFailures     replies the transport refused (link down, queue full)
 * @param workerErrors     throwables the disk workers' runners caught and logged: a read, write or
 *                         sync that threw something other than an IOException (those are in
 *                         {@code ioErrors} and logged by {@link DiskErrorLog}), and any fault of a
 *                         worker itself (its command is answered with status ERR all the same)
 */
public record TargetStats(
    long framesReceived,
    long ignored,
    long masked,
    long truncated,
    long busyDrops,
    long ataCommands,
    long sectorsRead,
    long sectorsWritten,
    long flushes,
    long ataErrors,
    long aoeErrors,
    long ioErrors,
    long sendFailures,
    long workerErrors)
{
}
