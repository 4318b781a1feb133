package org.aoemp.target;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.io.IOException;
import java.nio.ByteBuffer;
import java.nio.channels.FileChannel;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.StandardOpenOption;
import java.util.List;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicInteger;

import org.aoemp.protocol.AoeHeader;
import org.aoemp.protocol.AtaHeader;
import org.aoemp.transport.MemoryHub;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * Commands overlap: with a backing store whose reads take 100 ms, sixteen reads sent at once
 * finish together, not one after another; and commands beyond the buffers (twice the buffer
 * count) are dropped, as the protocol says, while the others are served.
 */
class AoeTargetConcurrencyTest
{
    private static final long TARGET_MAC = 0x02_00_00_00_00_01L;
    private static final long PEER_MAC = 0x02_00_00_00_00_A0L;
    private static final long DELAY_MILLIS = 100;

    @TempDir
    Path dir;

    private MemoryHub hub;
    private HubPeer peer;
    private AoeTarget target;
    private SlowChannel slow;

    @BeforeEach
    void setUp() throws IOException
    {
        hub = new MemoryHub();
        peer = new HubPeer(hub, "peer", PEER_MAC, 1500);
        final Path disk = dir.resolve("disk.img");
        Files.write(disk, new byte[1 << 20]);
        slow = new SlowChannel(FileChannel.open(disk, StandardOpenOption.READ, StandardOpenOption.WRITE));
    }

    @AfterEach
    void tearDown()
    {
        if (target != null)
        {
            target.close();
        }
        hub.close();
    }

    private void start(final int bufferCount) throws IOException, InterruptedException
    {
        target = AoeTarget.start(TargetOptions.of(1, 2, dir.resolve("disk.img")).withBufferCount(bufferCount),
            List.of(hub.attach("tgt", TARGET_MAC, 1500)), () -> slow);
        peer.next(2000);  // the announcement
    }

    private int[] sendReads(final int n)
    {
        final int[] tags = new int[n];
        for (int i = 0; i < n; i++)
        {
            tags[i] = peer.nextTag();
            peer.send(peer.ata(TARGET_MAC, 1, 2, tags[i], AtaHeader.AFLAG_LBA48, AtaHeader.ATA_READ_EXT, 2, 10L * i, null), 60);
        }
        return tags;
    }

    @Test
    void slowReadsShouldRunConcurrentlyUpToTheBufferCount() throws Exception
    {
        start(16);
        final long start = System.nanoTime();
        for (final int tag : sendReads(16))
        {
            final ByteBuffer reply = peer.reply(tag);
            assertFalse(new AoeHeader().wrap(reply, 0).isError());
            assertEquals(AoeTarget.STATUS_OK, new AtaHeader().wrap(reply, 0).cmdStatus());
        }
        final long millis = TimeUnit.NANOSECONDS.toMillis(System.nanoTime() - start);
        System.out.printf("[AoeTargetConcurrencyTest] 16 reads of %d ms each took %d ms, at most %d at once%n", DELAY_MILLIS, millis,
            slow.maxConcurrent.get());
        assertTrue(slow.maxConcurrent.get() >= 8, "reads overlapped: at most " + slow.maxConcurrent.get() + " at once");
        assertTrue(millis < 8 * DELAY_MILLIS, "16 reads of 100 ms in " + millis + " ms: not one after another");
    }

    @Test
    void commandsBeyondTwiceTheBufferCountShouldBeDroppedAndTheRestServed() throws Exception
    {
        start(4);
        final int[] tags = sendReads(12);
        for (int i = 0; i < 8; i++)
        {
            assertEquals(AoeTarget.STATUS_OK, new AtaHeader().wrap(peer.reply(tags[i]), 0).cmdStatus());
        }
        for (int i = 8; i < 12; i++)
        {
            peer.expectNoReply(tags[i], 50);
        }
        assertEquals(4, target.stats().busyDrops(), target.stats().toString());
        assertEquals(4, slow.maxConcurrent.get(), "four threads busy at once, four commands waiting for them");
        // Buffers come back: the next commands are served.
        for (final int tag : sendReads(4))
        {
            peer.reply(tag);
        }
    }

    /** A file channel whose positional reads take {@value #DELAY_MILLIS} ms and which counts how many overlap. */
    static final class SlowChannel extends ForwardingFileChannel
    {
        final AtomicInteger concurrent = new AtomicInteger();
        final AtomicInteger maxConcurrent = new AtomicInteger();

        SlowChannel(final FileChannel inner)
        {
            super(inner);
        }

        @Override
        public int read(final ByteBuffer dst, final long position) throws IOException
        {
            final int now = concurrent.incrementAndGet();
            maxConcurrent.accumulateAndGet(now, Math::max);
            try
            {
                Thread.sleep(DELAY_MILLIS); // not synchronisation: the slow disk this channel stands for
                return inner.read(dst, position);
            }
            catch (final InterruptedException e)
            {
                Thread.currentThread().interrupt();
                throw new IOException("interrupted", e);
            }
            finally
            {
                concurrent.decrementAndGet();
            }
        }
    }
}
