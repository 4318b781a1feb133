package org.aoemp.initiator;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertNotNull;
import static org.junit.jupiter.api.Assertions.assertNull;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.nio.ByteBuffer;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.util.List;
import java.util.concurrent.ExecutionException;
import java.util.concurrent.TimeUnit;

import org.aoemp.block.IoError;
import org.aoemp.testing.Await;
import org.aoemp.testing.BulkIo;
import org.aoemp.testing.Prerequisites;
import org.aoemp.testing.RealPeer;
import org.aoemp.testing.VethRig;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.ValueSource;

/**
 * The initiator against the real vblade over a veth pair: discovery, IDENTIFY, data round trips,
 * jumbo frames, LBA48, a read-only export and the error paths.
 */
@RealPeer
class VbladeInitiatorTest
{
    private static final long MIB = 1 << 20;

    @TempDir
    Path dir;

    private VethRig rig;
    private Initiator initiator;

    @BeforeEach
    void requirements()
    {
        Prerequisites.requireRoot();
        Prerequisites.requireCommand("vblade", "vblade");
    }

    @AfterEach
    void tearDown()
    {
        if (initiator != null)
        {
            initiator.close();
        }
        if (rig != null)
        {
            rig.close();
        }
    }

    private Path sparseFile(final String name, final long size) throws Exception
    {
        final Path f = dir.resolve(name);
        BulkIo.sparseFile(f, size);
        return f;
    }

    private AoeDevice openOneTarget(final int mtu, final Path disk, final String transport, final String... vbladeArgs)
        throws Exception
    {
        rig = VethRig.builder().pairs(1).mtu(mtu).build();
        rig.startVblade(7, 3, 0, disk, vbladeArgs);
        initiator = Initiator.open(transport, List.of(rig.initiatorIf(0)), Duration.ofSeconds(60));
        return initiator.open(new TargetAddress(7, 3), DeviceOptions.defaults());
    }

    @Test
    void shouldDiscoverATargetAtANonZeroShelfSlotWithItsSizeAndModel() throws Exception
    {
        final AoeDevice d = openOneTarget(1500, sparseFile("disk.img", 64 * MIB), "afpacket");
        final TargetDirectory.Target t = initiator.directory().get(new TargetAddress(7, 3));
        assertNotNull(t);
        assertEquals(1, t.endpoints().size());
        assertEquals(rig.initiatorIf(0), t.endpoints().get(0).port().name());
        assertEquals(0x4019, t.firmwareVersion(), "vblade 25 reports firmware 0x4019");
        assertEquals(16, t.bufferCount(), "vblade's default buffer count");
        assertEquals(64 * MIB, d.size());
        assertEquals("Coraid EtherDrive vblade", d.identity().model());
        assertTrue(d.isLba48());
        assertEquals(2, d.sectorsPerCommand(), "MTU 1500: 2 sectors per frame");
    }

    /**
     * vblade announces itself at start with a config response whose version nibble is 0; with no
     * periodic query, only that frame can tell the initiator a target appeared. It must make the
     * port ask (the old initiator dropped it as malformed and never heard of the target).
     */
    @Test
    void shouldHearAVbladeStartedLaterByItsAnnouncementWithoutPeriodicQueries() throws Exception
    {
        final Path disk = sparseFile("late.img", 8 * MIB);
        rig = VethRig.builder().pairs(1).build();
        initiator = Initiator.open("afpacket", List.of(rig.initiatorIf(0)), Duration.ZERO);
        assertNull(initiator.directory().get(new TargetAddress(7, 4)), "nothing there yet");
        rig.startVblade(7, 4, 0, disk);
        Await.until(Duration.ofSeconds(30), () -> initiator.directory().get(new TargetAddress(7, 4)) != null,
            () -> "e7.4 never heard; announcements " + initiator.announcementsHeard() + ", " + initiator.stats());
        assertTrue(initiator.announcementsHeard() >= 1, "heard through the announcement: " + initiator.stats());
        assertEquals(8 * MIB, initiator.open(new TargetAddress(7, 4), DeviceOptions.defaults()).size());
    }

    @ParameterizedTest
    @ValueSource(strings = {"afpacket", "pcap"})
    void shouldWrite64MiBOfRandomDataAndReadItBackEqualToTheBackingFile(final String transport) throws Exception
    {
        final Path disk = sparseFile("disk.img", 80 * MIB);
        final AoeDevice d = openOneTarget(1500, disk, transport);
        final int n = (int)(64 * MIB);
        final byte[] data = BulkIo.random(n, 42);
        BulkIo.write(d, 4 * MIB, data, (int)MIB, 8);
        d.flushAsync().get(10, TimeUnit.SECONDS);
        assertArrayEquals(data, BulkIo.read(d, 4 * MIB, n, (int)MIB, 8), "read back what was written");
        assertArrayEquals(data, BulkIo.fileBytes(disk, 4 * MIB, n), "the backing file holds what was written");
        final PathStats p = d.pathStats().get(0);
        assertTrue(p.framesSent() >= 2 * n / 1024, "two frames per KiB moved: " + p.framesSent());
    }

    @Test
    void shouldCarrySeventeenSectorsPerFrameAtMtu9000() throws Exception
    {
        final Path disk = sparseFile("disk.img", 16 * MIB);
        final AoeDevice d = openOneTarget(9000, disk, "afpacket");
        assertEquals(17, d.sectorsPerCommand());
        final byte[] data = BulkIo.random((int)(4 * MIB), 9);
        BulkIo.write(d, 0, data, (int)MIB, 4);
        assertArrayEquals(data, BulkIo.read(d, 0, data.length, (int)MIB, 4));
        final PathStats p = d.pathStats().get(0);
        assertEquals(17, p.maxSectorsSent(), "frames carried 17 sectors (8704 bytes)");
        final long frames = p.framesSent();
        final long expectAtMost = 2 * (data.length / (17 * 512) + 1 + 4 * 2) + 10;
        assertTrue(frames <= expectAtMost, "about one frame per 8.5 KiB, got " + frames + " frames");
    }

    @Test
    void shouldUseLba48NearTheEndOfA3TiBDisk() throws Exception
    {
        final long size = 3L << 40;
        final Path disk = sparseFile("big.img", size);
        final AoeDevice d = openOneTarget(1500, disk, "afpacket");
        assertEquals(size, d.size());
        assertTrue(d.isLba48());
        final long offset = size - MIB;
        final byte[] data = BulkIo.random((int)MIB, 11);
        BulkIo.write(d, offset, data, 256 << 10, 4);
        assertArrayEquals(data, BulkIo.read(d, offset, data.length, 256 << 10, 4));
        assertArrayEquals(data, BulkIo.fileBytes(disk, offset, data.length), "landed past 2 TiB in the file, not wrapped");
        assertArrayEquals(new byte[4096], BulkIo.fileBytes(disk, offset & ((1L << 40) - 1), 4096), "no 40-bit wrap-around write");
    }

    @Test
    void shouldFailWritesToAReadOnlyExportWithAClearErrorAndStillRead() throws Exception
    {
        final Path disk = sparseFile("ro.img", 8 * MIB);
        Files.write(disk, BulkIo.random(4096, 13), java.nio.file.StandardOpenOption.WRITE);
        final AoeDevice d = openOneTarget(1500, disk, "afpacket", "-r");
        final ExecutionException e = assertThrows(ExecutionException.class,
            () -> d.writeAsync(0, ByteBuffer.allocate(4096)).get(10, TimeUnit.SECONDS));
        final IoError io = (IoError)e.getCause();
        assertEquals(IoError.EIO, io.errno());
        assertTrue(io.getMessage().contains("e7.3") && io.getMessage().contains("write"), io.getMessage());
        assertArrayEquals(BulkIo.random(4096, 13), BulkIo.read(d, 0, 4096, 4096, 1), "reads still work and the data is untouched");
    }

    @Test
    void shouldRefuseRequestsBeyondTheEndWithoutSendingThem() throws Exception
    {
        final AoeDevice d = openOneTarget(1500, sparseFile("disk.img", 8 * MIB), "afpacket");
        final long sentBefore = d.pathStats().get(0).framesSent();
        final ExecutionException e = assertThrows(ExecutionException.class,
            () -> d.readAsync(8 * MIB - 512, ByteBuffer.allocate(1024)).get(5, TimeUnit.SECONDS));
        assertEquals(IoError.EINVAL, ((IoError)e.getCause()).errno());
        assertEquals(sentBefore, d.pathStats().get(0).framesSent(), "nothing went on the wire");
    }

    @Test
    void shouldWorkOnAnInterfaceWithoutAnyIpAddress() throws Exception
    {
        rig = VethRig.builder().pairs(1).build();
        rig.startVblade(7, 3, 0, sparseFile("disk.img", 8 * MIB));
        final String nic = rig.initiatorIf(0);
        new ProcessBuilder("sysctl", "-q", "-w", "net.ipv6.conf." + nic + ".disable_ipv6=1").inheritIO().start().waitFor();
        new ProcessBuilder("ip", "addr", "flush", "dev", nic).inheritIO().start().waitFor();
        assertEquals(null, java.net.NetworkInterface.getByName(nic), "java.net does not see an address-less interface");
        initiator = Initiator.open("afpacket", List.of(nic), Duration.ZERO);
        final AoeDevice d = initiator.open(new TargetAddress(7, 3), DeviceOptions.defaults());
        assertEquals(8 * MIB, d.size());
    }

    @Test
    void shouldSayClearlyWhenAShelfSlotDoesNotAnswer() throws Exception
    {
        rig = VethRig.builder().pairs(1).build();
        rig.startVblade(7, 3, 0, sparseFile("disk.img", 8 * MIB));
        initiator = Initiator.open("afpacket", List.of(rig.initiatorIf(0)), Duration.ZERO);
        final IoError e = assertThrows(IoError.class,
            () -> initiator.open(new TargetAddress(9, 9), DeviceOptions.defaults().withOpenTimeout(Duration.ofMillis(500))));
        assertTrue(e.getMessage().contains("e9.9") && e.getMessage().contains(rig.initiatorIf(0)), e.getMessage());
    }
}
