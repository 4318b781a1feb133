package org.aoemp.target;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.io.IOException;
import java.io.UncheckedIOException;
import java.nio.ByteBuffer;
import java.nio.channels.FileChannel;
import java.nio.file.Path;
import java.nio.file.StandardOpenOption;
import java.util.Arrays;
import java.util.List;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicInteger;
import java.util.function.Supplier;

import org.aoemp.protocol.AoeHeader;
import org.aoemp.protocol.AtaHeader;
import org.aoemp.transport.FrameHandler;
import org.aoemp.transport.FrameTransport;
import org.aoemp.transport.MemoryHub;
import org.aoemp.transport.TransportCounters;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.EnumSource;

/**
 * No request is left hanging when the disk fails: a backing channel whose reads, writes or syncs
 * throw (an {@link IOException}, a {@link RuntimeException}, an {@link Error}) gets every such
 * command answered with an ATA error, within a deadline, while the other commands keep being
 * served by the same workers; a fault of a worker after its I/O (its reply's send throws) is
 * answered too and its buffer comes back; and closing the target leaves no thread behind.
 */
class AoeTargetIoErrorTest
{
    private static final long TARGET_MAC = 0x02_00_00_00_00_01L;
    private static final long PEER_MAC = 0x02_00_00_00_00_A0L;
    private static final String NIC = "errtgt";
    private static final int SECTORS = 2048;
    private static final int SECTOR = 512;
    /** Sectors [BAD, BAD + 16) fail; the rest of the file works. */
    private static final int BAD = 100;
    private static final int BUFFERS = 2;
    /** More failures than the NIC has buffers (2 x BUFFERS): a buffer lost per failure would starve it. */
    private static final int FAILURES = 3 * 2 * BUFFERS;

    /** What the faulty channel throws. */
    enum Fault
    {
        IO_EXCEPTION(() -> new IOException("injected: medium error")),
        RUNTIME_EXCEPTION(() -> new UncheckedIOException(new IOException("injected: the channel broke its contract"))),
        ERROR(() -> new InternalError("injected: an error from the channel"));

        final Supplier<Throwable> make;

        Fault(final Supplier<Throwable> make)
        {
            this.make = make;
        }
    }

    @TempDir
    Path dir;

    private Path disk;
    private MemoryHub hub;
    private HubPeer peer;
    private FaultyChannel channel;
    private AoeTarget target;

    @BeforeEach
    void setUp() throws IOException
    {
        disk = PatternDisk.write(dir.resolve("disk.img"), SECTORS);
        hub = new MemoryHub();
        peer = new HubPeer(hub, "peer", PEER_MAC, 1500);
        channel = new FaultyChannel(FileChannel.open(disk, StandardOpenOption.READ, StandardOpenOption.WRITE));
    }

    @AfterEach
    void tearDown() throws InterruptedException
    {
        if (target != null)
        {
            target.close();
            assertEquals(List.of(), threadsLeftAfterClose(), "no thread of the target outlives its close");
        }
        hub.close();
    }

    private void start(final FrameTransport nic) throws IOException, InterruptedException
    {
        target = AoeTarget.start(TargetOptions.of(1, 2, disk).withBufferCount(BUFFERS), List.of(nic), () -> channel);
        assertTrue(peer.next(5000) != null, "the announcement");
    }

    private void start() throws IOException, InterruptedException
    {
        start(hub.attach(NIC, TARGET_MAC, 1500));
    }

    /** The live threads of the target: its disk workers and its NIC's receive thread. */
    private static List<String> targetThreads()
    {
        return Thread.getAllStackTraces().keySet().stream().filter(AoeTargetIoErrorTest::ofTheTarget).filter(Thread::isAlive)
            .map(Thread::getName).sorted().toList();
    }

    private static boolean ofTheTarget(final Thread t)
    {
        final String n = t.getName();
        return n.startsWith("aoe-target-io-" + NIC + "-") || n.startsWith("aoe-rx") && n.endsWith(NIC);
    }

    /** The target's threads still alive after waiting up to 5 s for each to end (close() has joined them already). */
    private static List<String> threadsLeftAfterClose() throws InterruptedException
    {
        for (final Thread t : Thread.getAllStackTraces().keySet())
        {
            if (ofTheTarget(t))
            {
                t.join(TimeUnit.SECONDS.toMillis(5));
            }
        }
        return targetThreads();
    }

    private int sendRead(final long lba, final int count)
    {
        final int tag = peer.nextTag();
        peer.send(peer.ata(TARGET_MAC, 1, 2, tag, AtaHeader.AFLAG_LBA48, AtaHeader.ATA_READ_EXT, count, lba, null), 60);
        return tag;
    }

    private int sendWrite(final long lba, final byte[] data)
    {
        final int tag = peer.nextTag();
        peer.send(peer.ata(TARGET_MAC, 1, 2, tag, AtaHeader.AFLAG_LBA48 | AtaHeader.AFLAG_WRITE, AtaHeader.ATA_WRITE_EXT,
            data.length / SECTOR, lba, data), AtaHeader.DATA_OFFSET + data.length);
        return tag;
    }

    private int sendFlush()
    {
        final int tag = peer.nextTag();
        peer.send(peer.ata(TARGET_MAC, 1, 2, tag, AtaHeader.AFLAG_LBA48, AtaHeader.ATA_FLUSH_EXT, 0, 0, null), 60);
        return tag;
    }

    private static void assertAtaError(final ByteBuffer reply, final int error, final int count)
    {
        assertFalse(new AoeHeader().wrap(reply, 0).isError(), "an ATA error, not an AoE error");
        final AtaHeader a = new AtaHeader().wrap(reply, 0);
        assertEquals(AoeTarget.STATUS_FAILED, a.cmdStatus(), "status DRDY|ERR");
        assertEquals(error, a.errFeature(), "error register");
        assertEquals(count, a.sectorCount(), "no sector was done");
        assertEquals(60, reply.capacity(), "no data");
    }

    private static void assertOk(final ByteBuffer reply)
    {
        assertFalse(new AoeHeader().wrap(reply, 0).isError());
        assertEquals(AoeTarget.STATUS_OK, new AtaHeader().wrap(reply, 0).cmdStatus(), "status DRDY");
    }

    /** Reads two good sectors and checks their bytes. */
    private void assertGoodReadWorks(final long lba) throws InterruptedException
    {
        final ByteBuffer reply = peer.reply(sendRead(lba, 2));
        assertOk(reply);
        for (int i = 0; i < 2 * SECTOR; i++)
        {
            assertEquals(PatternDisk.pattern(lba + i / SECTOR), reply.get(AtaHeader.DATA_OFFSET + i), "byte " + i);
        }
    }

    // ----------------------------------------------------------------------------------------

    @ParameterizedTest
    @EnumSource(Fault.class)
    void failedReadsShouldBeAnsweredWithUncAndOthersServed(final Fault fault) throws Exception
    {
        channel.readFault = fault.make;
        start();
        assertEquals(BUFFERS, targetThreads().stream().filter(n -> n.startsWith("aoe-target-io-")).count(), "one worker per buffer");
        for (int i = 0; i < FAILURES; i++)
        {
            assertAtaError(peer.reply(sendRead(BAD + i % 8, 2)), TargetResponder.ERROR_UNC, 2);
        }
        assertGoodReadWorks(10);
        // Failing and good commands in flight together: as many as the NIC holds, less the buffer
        // of the last reply, which its worker may not have put back yet when the next command comes.
        final int[] tags = new int[2 * BUFFERS - 1];
        for (int i = 0; i < tags.length; i++)
        {
            tags[i] = sendRead(i % 2 == 0 ? BAD : 20 + 2 * i, 2);
        }
        for (int i = 0; i < tags.length; i++)
        {
            final ByteBuffer reply = peer.reply(tags[i]);
            if (i % 2 == 0)
            {
                assertAtaError(reply, TargetResponder.ERROR_UNC, 2);
            }
            else
            {
                assertOk(reply);
            }
        }
        final TargetStats stats = target.stats();
        final int failed = FAILURES + (tags.length + 1) / 2;
        final int goodReads = 1 + tags.length / 2;
        assertEquals(failed, stats.ioErrors(), stats.toString());
        assertEquals(failed, stats.ataErrors(), stats.toString());
        assertEquals(fault == Fault.IO_EXCEPTION ? 0 : failed, stats.workerErrors(),
            "each logged by the runner, but IOExceptions by the disk error log: " + stats);
        assertEquals(0, stats.busyDrops(), "every buffer came back: " + stats);
        assertEquals(2L * goodReads, stats.sectorsRead(), "the good reads: " + stats);
    }

    @ParameterizedTest
    @EnumSource(Fault.class)
    void failedWritesShouldBeAnsweredWithAbrtAndOthersServed(final Fault fault) throws Exception
    {
        channel.writeFault = fault.make;
        start();
        final byte[] data = new byte[2 * SECTOR];
        Arrays.fill(data, (byte)0x5A);
        for (int i = 0; i < FAILURES; i++)
        {
            assertAtaError(peer.reply(sendWrite(BAD + i % 8, data)), AtaHeader.ERROR_ABRT, 2);
        }
        assertOk(peer.reply(sendWrite(30, data)));
        final ByteBuffer back = peer.reply(sendRead(30, 2));
        assertOk(back);
        assertEquals(0x5A, back.get(AtaHeader.DATA_OFFSET + SECTOR + 7));
        assertGoodReadWorks(BAD);  // reads of the sectors whose writes failed still work, unchanged
        final TargetStats stats = target.stats();
        assertEquals(FAILURES, stats.ioErrors(), stats.toString());
        assertEquals(2, stats.sectorsWritten(), stats.toString());
        assertEquals(0, stats.busyDrops(), stats.toString());
    }

    @Test
    void failedFlushesShouldBeAnsweredWithAbrt() throws Exception
    {
        channel.forceFault = Fault.IO_EXCEPTION.make;
        start();
        for (int i = 0; i < FAILURES; i++)
        {
            assertAtaError(peer.reply(sendFlush()), AtaHeader.ERROR_ABRT, 0);
        }
        channel.forceFault = null;
        assertOk(peer.reply(sendFlush()));
        assertEquals(1, target.stats().flushes());
        assertEquals(FAILURES, target.stats().ioErrors());
    }

    @Test
    void aFaultAfterTheIoShouldBeAnsweredAndItsBufferReturned() throws Exception
    {
        final ThrowingNic nic = new ThrowingNic(hub.attach(NIC, TARGET_MAC, 1500));
        start(nic);
        for (int i = 0; i < FAILURES; i++)
        {
            final int tag = peer.nextTag();
            nic.failOkReplyOf.set(tag);
            peer.send(peer.ata(TARGET_MAC, 1, 2, tag, AtaHeader.AFLAG_LBA48, AtaHeader.ATA_READ_EXT, 2, 40, null), 60);
            assertAtaError(peer.reply(tag), AtaHeader.ERROR_ABRT, 2);
        }
        assertEquals(FAILURES, nic.thrown.get());
        assertGoodReadWorks(50);
        final TargetStats stats = target.stats();
        assertEquals(0, stats.ioErrors(), "the reads worked: " + stats);
        assertEquals(FAILURES, stats.workerErrors(), stats.toString());
        assertEquals(0, stats.busyDrops(), stats.toString());
    }

    // ----------------------------------------------------------------------------------------

    /** A NIC whose send throws once for the successful reply carrying a chosen tag, as a broken transport might. */
    static final class ThrowingNic implements FrameTransport
    {
        final FrameTransport inner;
        final AtomicInteger failOkReplyOf = new AtomicInteger();
        final AtomicInteger thrown = new AtomicInteger();

        ThrowingNic(final FrameTransport inner)
        {
            this.inner = inner;
        }

        @Override
        public boolean send(final ByteBuffer frame, final int length)
        {
            final int tag = frame.getInt(AoeHeader.TAG_OFFSET);
            if (length >= AtaHeader.DATA_OFFSET && frame.get(AtaHeader.CMD_STATUS_OFFSET) == AoeTarget.STATUS_OK
                && tag != 0 && failOkReplyOf.compareAndSet(tag, 0))
            {
                thrown.incrementAndGet();
                throw new IllegalStateException("injected: send failed after the I/O");
            }
            return inner.send(frame, length);
        }

        @Override
        public String name()
        {
            return inner.name();
        }

        @Override
        public long mac()
        {
            return inner.mac();
        }

        @Override
        public int mtu()
        {
            return inner.mtu();
        }

        @Override
        public boolean isUp()
        {
            return inner.isUp();
        }

        @Override
        public void start(final FrameHandler handler)
        {
            inner.start(handler);
        }

        @Override
        public TransportCounters counters()
        {
            return inner.counters();
        }

        @Override
        public void close()
        {
            inner.close();
        }
    }

    /**
     * A file channel whose positional reads and writes touching sectors [BAD, BAD + 16) throw what
     * {@link #readFault} / {@link #writeFault} make, and whose syncs throw what {@link #forceFault}
     * makes; null: no fault.
     */
    static final class FaultyChannel extends ForwardingFileChannel
    {
        volatile Supplier<Throwable> readFault;
        volatile Supplier<Throwable> writeFault;
        volatile Supplier<Throwable> forceFault;

        FaultyChannel(final FileChannel inner)
        {
            super(inner);
        }

        private static void check(final Supplier<Throwable> fault, final long position, final int length) throws IOException
        {
            if (fault != null && position < (BAD + 16L) * SECTOR && position + length > (long)BAD * SECTOR)
            {
                raise(fault.get());
            }
        }

        private static void raise(final Throwable t) throws IOException
        {
            switch (t)
            {
                case IOException e -> throw e;
                case RuntimeException e -> throw e;
                case Error e -> throw e;
                default -> throw new IOException(t);
            }
        }

        @Override
        public int read(final ByteBuffer dst, final long position) throws IOException
        {
            check(readFault, position, dst.remaining());
            return inner.read(dst, position);
        }

        @Override
        public int write(final ByteBuffer src, final long position) throws IOException
        {
            check(writeFault, position, src.remaining());
            return inner.write(src, position);
        }

        @Override
        public void force(final boolean metaData) throws IOException
        {
            final Supplier<Throwable> fault = forceFault;
            if (fault != null)
            {
                raise(fault.get());
            }
            inner.force(metaData);
        }
    }
}
