package org.aoemp.target;

import static java.lang.foreign.ValueLayout.ADDRESS;
import static java.lang.foreign.ValueLayout.JAVA_INT;
import static java.lang.foreign.ValueLayout.JAVA_LONG;

import java.io.IOException;
import java.lang.foreign.Arena;
import java.lang.foreign.FunctionDescriptor;
import java.lang.foreign.Linker;
import java.lang.foreign.MemoryLayout;
import java.lang.foreign.MemorySegment;
import java.lang.foreign.StructLayout;
import java.lang.invoke.MethodHandle;
import java.lang.invoke.VarHandle;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.Locale;

import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * Reads that need no disk, done on a NIC's receive thread instead of being handed to a disk
 * worker: the hand-off (a queue, a wake-up, a context switch) cost more than the read itself when
 * the data is in memory.
 *
 * <p>How it knows the read will not wait: {@code preadv2(..., RWF_NOWAIT)} returns what the page
 * cache holds and {@code EAGAIN} instead of going to the disk; a file on tmpfs or ramfs (whose
 * pages are memory; the kernel refuses RWF_NOWAIT there) is read with a plain {@code preadv2}. A
 * read that comes back short or refused goes to the disk workers as before, which read it again
 * whole, and report any error. Not used with O_DIRECT (nothing is cached), nor off Linux.
 *
 * <p>Its own read-only descriptor of the file, opened by path through {@code java.lang.foreign}.
 * Reads may race with writes still queued for the workers; AoE, like ATA and NBD, orders no
 * commands that are in flight at once, and a write is acknowledged only after its data reached
 * the file, so every read issued after that acknowledgement sees it.
 *
 * <p>Threading: {@link #reader()} gives each receive thread its own {@link Reader} (its native
 * scratch); {@link #close} after the receive threads stopped.
 */
final class CachedReads implements AutoCloseable
{
    private static final Logger LOG = LoggerFactory.getLogger(CachedReads.class);
    private static final int O_RDONLY = 0;
    private static final int O_CLOEXEC = 02000000;
    private static final int RWF_NOWAIT = 0x08;
    private static final int EAGAIN = 11;
    private static final int EOPNOTSUPP = 95;

    private static final StructLayout CAPTURE = Linker.Option.captureStateLayout();
    private static final VarHandle ERRNO = CAPTURE.varHandle(MemoryLayout.PathElement.groupElement("errno"));
    private static final MethodHandle OPEN;
    private static final MethodHandle PREADV2;
    private static final MethodHandle CLOSE;

    static
    {
        final Linker linker = Linker.nativeLinker();
        final Linker.Option errno = Linker.Option.captureCallState("errno");
        OPEN = linker.downcallHandle(linker.defaultLookup().findOrThrow("open"),
            FunctionDescriptor.of(JAVA_INT, ADDRESS, JAVA_INT), errno, Linker.Option.firstVariadicArg(2));
        PREADV2 = linker.downcallHandle(linker.defaultLookup().findOrThrow("preadv2"),
            FunctionDescriptor.of(JAVA_LONG, JAVA_INT, ADDRESS, JAVA_INT, JAVA_LONG, JAVA_INT), errno);
        CLOSE = linker.downcallHandle(linker.defaultLookup().findOrThrow("close"), FunctionDescriptor.of(JAVA_INT, JAVA_INT));
    }

    private final int fd;
    private final int flags;
    private final long baseOffset;
    private final String file;
    /** Set once RWF_NOWAIT was refused at run time: every read goes to the workers from then on. */
    private volatile boolean disabled;

    private CachedReads(final int fd, final int flags, final long baseOffset, final String file)
    {
        this.fd = fd;
        this.flags = flags;
        this.baseOffset = baseOffset;
        this.file = file;
    }

    /**
     * Cached reads of {@code file}, whose sector 0 of the export is at byte {@code baseOffset}; null
     * when they cannot be had here (not Linux, O_DIRECT, the file cannot be opened again): then
     * every read goes to the disk workers.
     */
    static CachedReads open(final Path file, final long baseOffset, final boolean direct)
    {
        if (direct || !System.getProperty("os.name", "").toLowerCase(Locale.ROOT).contains("linux"))
        {
            return null;
        }
        try (Arena scratch = Arena.ofConfined())
        {
            final MemorySegment capture = scratch.allocate(CAPTURE);
            final int fd = (int)OPEN.invokeExact(capture, scratch.allocateFrom(file.toString()), O_RDONLY | O_CLOEXEC);
            if (fd < 0)
            {
                LOG.debug("{}: no cached reads on the receive thread (open: errno {})", file, (int)ERRNO.get(capture, 0L));
                return null;
            }
            final boolean memory = inMemory(file);
            return new CachedReads(fd, memory ? 0 : RWF_NOWAIT, baseOffset, file.toString());
        }
        catch (final Throwable t)
        {
            LOG.debug("{}: no cached reads on the receive thread", file, t);
            return null;
        }
    }

    /** Whether the file's pages live in memory only (tmpfs, ramfs), where a read never waits for a disk. */
    private static boolean inMemory(final Path file)
    {
        try
        {
            final String type = Files.getFileStore(file).type();
            return "tmpfs".equals(type) || "ramfs".equals(type);
        }
        catch (final IOException e)
        {
            return false;
        }
    }

    /** A reader for one receive thread. */
    Reader reader()
    {
        return new Reader();
    }

    @Override
    public void close()
    {
        try
        {
            final int ignored = (int)CLOSE.invokeExact(fd);
        }
        catch (final Throwable t)
        {
            LOG.warn("close({}) of {} failed", fd, file, t);
        }
    }

    /** One receive thread's native scratch: errno capture and one iovec. */
    final class Reader
    {
        private final MemorySegment capture;
        private final MemorySegment iovec;

        private Reader()
        {
            final Arena arena = Arena.ofAuto();
            capture = arena.allocate(CAPTURE);
            iovec = arena.allocate(16, 8);
        }

        /**
         * Reads sectors {@code [lba, lba + bytes / 512)} to the native address {@code into}, if
         * that needs no disk: true when all the bytes were read; false (nothing promised about
         * the memory) when the disk workers must do it.
         */
        boolean read(final long into, final int bytes, final long lba)
        {
            if (disabled || bytes == 0)
            {
                return false;
            }
            iovec.set(JAVA_LONG, 0, into);
            iovec.set(JAVA_LONG, 8, bytes);
            final long n;
            try
            {
                n = (long)PREADV2.invokeExact(capture, fd, iovec, 1, baseOffset + lba * 512, flags);
            }
            catch (final Throwable t)
            {
                disabled = true;
                LOG.warn("{}: cached reads off: preadv2 failed", file, t);
                return false;
            }
            if (n == bytes)
            {
                return true;
            }
            if (n < 0)
            {
                final int errno = (int)ERRNO.get(capture, 0L);
                if (errno != EAGAIN)
                {
                    // EOPNOTSUPP: this filesystem cannot promise not to wait; anything else: the workers report it
                    if (errno == EOPNOTSUPP)
                    {
                        disabled = true;
                        LOG.info("{}: reads go to the disk workers (the filesystem has no RWF_NOWAIT)", file);
                    }
                }
            }
            return false;
        }
    }
}
