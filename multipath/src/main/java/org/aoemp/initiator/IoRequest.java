package org.aoemp.initiator;

import java.nio.ByteBuffer;

import org.aoemp.block.IoCallback;
import org.aoemp.block.IoError;

/**
 * One block request as the device engine sees it: an operation over a sector range, split into
 * ATA commands of at most {@link PathScheduler#sectorsPerCommand} sectors each by the
 * {@link CommandIssuer}.
 *
 * <p>Threading: created by the submitting thread and handed over through the engine's submit
 * queue; from then on owned by the engine thread, which calls the callback exactly once
 * ({@link CompletionProcessor#complete}).
 */
final class IoRequest
{
    static final int READ = 0;
    static final int WRITE = 1;
    static final int FLUSH = 2;
    static final int ZEROES = 3;
    static final int IDENTIFY = 4;
    static final int PROBE = 5;

    final int op;
    final long lba;
    final long sectors;
    final ByteBuffer buffer;
    final int basePosition;
    final IoCallback callback;
    /** For probes: the path the command must go to. */
    final Path pinnedPath;
    /** A probe of a path that carries traffic but was idle (not of a DOWN path); see {@link PathProber}. */
    final boolean idleProbe;

    /** Sectors already handed to commands (engine thread). */
    long nextSector;
    /** Commands sent and not yet completed (engine thread). */
    int outstanding;
    /** The first error of any of its commands; the callback gets it (engine thread). */
    IoError error;
    /** The callback has run: nothing more happens to this request (engine thread). */
    boolean completed;

    IoRequest(final int op, final long lba, final long sectors, final ByteBuffer buffer, final IoCallback callback, final Path pinnedPath)
    {
        this(op, lba, sectors, buffer, callback, pinnedPath, false);
    }

    IoRequest(final int op, final long lba, final long sectors, final ByteBuffer buffer, final IoCallback callback, final Path pinnedPath,
        final boolean idleProbe)
    {
        this.idleProbe = idleProbe;
        this.op = op;
        this.lba = lba;
        this.sectors = sectors;
        this.buffer = buffer;
        this.basePosition = buffer == null ? 0 : buffer.position();
        this.callback = callback;
        this.pinnedPath = pinnedPath;
    }

    boolean hasData()
    {
        return op == READ || op == WRITE || op == ZEROES;
    }

    /** True once every command has been issued (or issuing stopped because of an error). */
    boolean fullyIssued()
    {
        return hasData() ? nextSector >= sectors : nextSector > 0;
    }

    void fail(final IoError e)
    {
        if (error == null)
        {
            error = e;
        }
        // stop issuing the rest: the request has failed
        nextSector = hasData() ? sectors : 1;
    }

    String opName()
    {
        return switch (op)
        {
            case READ -> "read";
            case WRITE -> "write";
            case FLUSH -> "flush";
            case ZEROES -> "write-zeroes";
            case IDENTIFY -> "identify";
            default -> "probe";
        };
    }
}
