package org.aoemp.target;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.nio.ByteBuffer;
import java.nio.file.Path;
import java.time.Duration;
import java.util.List;
import java.util.concurrent.TimeUnit;

import org.aoemp.initiator.AoeDevice;
import org.aoemp.initiator.DeviceOptions;
import org.aoemp.initiator.Initiator;
import org.aoemp.initiator.TargetAddress;
import org.aoemp.protocol.AtaHeader;
import org.aoemp.transport.MemoryHub;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * Reads the page cache holds are answered by the receive thread itself ({@link CachedReads}) and
 * carry exactly the file's bytes, also right after a write through the workers; a target started on
 * a channel of its own (a test's) never takes that path.
 */
class CachedReadsTest
{
    private static final int SECTORS = 4096;
    private static final int SECTOR = AtaHeader.SECTOR_SIZE;

    @TempDir
    Path dir;

    private MemoryHub hub;
    private AoeTarget target;
    private Initiator initiator;

    @AfterEach
    void tearDown()
    {
        if (initiator != null)
        {
            initiator.close();
        }
        if (target != null)
        {
            target.close();
        }
        if (hub != null)
        {
            hub.close();
        }
    }

    private AoeDevice open(final Path disk) throws Exception
    {
        hub = new MemoryHub();
        target = AoeTarget.start(TargetOptions.of(1, 2, disk), List.of(hub.attach("tgt", 0x02_00_00_00_00_02L, 9000)));
        initiator = Initiator.start(List.of(hub.attach("ini", 0x02_00_00_00_00_01L, 9000)), Duration.ZERO);
        return initiator.open(new TargetAddress(1, 2), DeviceOptions.defaults());
    }

    @Test
    void shouldAnswerCachedReadsOnTheReceiveThreadWithTheFilesBytes() throws Exception
    {
        final Path disk = PatternDisk.write(dir.resolve("disk.img"), SECTORS);
        final AoeDevice d = open(disk);
        final ByteBuffer b = ByteBuffer.allocate(SECTORS * SECTOR);
        d.readAsync(0, b).get(30, TimeUnit.SECONDS);
        for (int i = 0; i < b.capacity(); i++)
        {
            assertEquals(PatternDisk.pattern(i / SECTOR), b.get(i), "byte " + i);
        }
        assertTrue(target.readsOnReceiveThread() > 0, "the file was just written, so its pages are cached: reads answered on the receive thread");

        // a write goes through a worker; a read after its acknowledgement sees it
        final ByteBuffer w = ByteBuffer.allocate(64 * SECTOR);
        for (int i = 0; i < w.capacity(); i++)
        {
            w.put(i, (byte)(i * 7 + 3));
        }
        d.writeAsync(100 * SECTOR, w).get(30, TimeUnit.SECONDS);
        final ByteBuffer r = ByteBuffer.allocate(64 * SECTOR);
        d.readAsync(100 * SECTOR, r).get(30, TimeUnit.SECONDS);
        assertEquals(w.rewind(), r.rewind(), "read after write");
    }

    @Test
    void shouldAnswerMoreCachedReadsInOneBatchThanTheTargetHasBuffers() throws Exception
    {
        final Path disk = PatternDisk.write(dir.resolve("disk.img"), SECTORS);
        hub = new MemoryHub();
        final long targetMac = 0x02_00_00_00_00_02L;
        final HubPeer peer = new HubPeer(hub, "peer", 0x02_00_00_00_00_A0L, 9000);
        // 2 buffers advertised, 4 held: replies built in one receive batch hold theirs until the batch ends
        target = AoeTarget.start(TargetOptions.of(1, 2, disk).withBufferCount(2), List.of(hub.attach("tgt", targetMac, 9000)));
        final int count = 24;
        final int sectors = 16;
        final ByteBuffer[] frames = new ByteBuffer[count];
        final int[] lengths = new int[count];
        final int[] tags = new int[count];
        for (int i = 0; i < count; i++)
        {
            tags[i] = peer.nextTag();
            frames[i] = peer.ata(targetMac, 1, 2, tags[i], AtaHeader.AFLAG_LBA48, AtaHeader.ATA_READ_EXT, sectors, (long)sectors * i, null);
            lengths[i] = 60;
        }
        assertEquals(count, peer.nic.sendBatch(frames, lengths, count));

        for (int i = 0; i < count; i++)
        {
            final ByteBuffer reply = peer.reply(tags[i]);
            final AtaHeader ata = new AtaHeader().wrap(reply, 0);
            assertEquals(0, ata.errFeature(), "read " + i + " failed");
            for (int b = 0; b < sectors * SECTOR; b++)
            {
                assertEquals(PatternDisk.pattern(sectors * i + b / SECTOR), reply.get(AtaHeader.DATA_OFFSET + b), "read " + i + ", byte " + b);
            }
        }
        assertTrue(target.readsOnReceiveThread() > 4, target.readsOnReceiveThread() + " reads answered on the receive thread");
    }

    @Test
    void shouldLeaveATestsOwnChannelToTheWorkers() throws Exception
    {
        final Path disk = PatternDisk.write(dir.resolve("disk.img"), SECTORS);
        hub = new MemoryHub();
        final var channel = java.nio.channels.FileChannel.open(disk, java.nio.file.StandardOpenOption.READ,
            java.nio.file.StandardOpenOption.WRITE);
        target = AoeTarget.start(TargetOptions.of(1, 2, disk), List.of(hub.attach("tgt", 0x02_00_00_00_00_02L, 9000)), () -> channel);
        initiator = Initiator.start(List.of(hub.attach("ini", 0x02_00_00_00_00_01L, 9000)), Duration.ZERO);
        final AoeDevice d = initiator.open(new TargetAddress(1, 2), DeviceOptions.defaults());
        d.readAsync(0, ByteBuffer.allocate(64 * SECTOR)).get(30, TimeUnit.SECONDS);
        assertEquals(0, target.readsOnReceiveThread(), "an injected channel is the only way to the data");
    }
}
