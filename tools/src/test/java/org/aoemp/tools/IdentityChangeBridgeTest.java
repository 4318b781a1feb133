package org.aoemp.tools;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertNotEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.net.InetSocketAddress;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.util.List;
import java.util.Map;

import org.aoemp.initiator.AoeDevice;
import org.aoemp.initiator.DeviceOptions;
import org.aoemp.initiator.Initiator;
import org.aoemp.initiator.TargetAddress;
import org.aoemp.initiator.TargetIdentities;
import org.aoemp.nbd.NbdServer;
import org.aoemp.protocol.MacAddress;
import org.aoemp.testing.Await;
import org.aoemp.testing.BulkIo;
import org.aoemp.testing.Prerequisites;
import org.aoemp.testing.ProcessRunner;
import org.aoemp.testing.RealPeer;
import org.aoemp.testing.VethRig;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * What a running bridge does when the disk behind a target changes, with real vblades and real
 * NBD clients (nbdcopy, nbdinfo): a path whose vblade now serves another disk carries no more
 * I/O while the export goes on over the other path, at the size its clients were told; a disk
 * grown under the only path is not written (requests fail with EIO after dead-after, nothing
 * hangs) until the export is reopened, which then sees the new size.
 */
@RealPeer
class IdentityChangeBridgeTest
{
    private static final long MIB = 1 << 20;
    private static final TargetAddress E6_1 = new TargetAddress(6, 1);
    private static final Duration WITHIN = Duration.ofSeconds(30);
    private static final Duration CLIENT_TIMEOUT = Duration.ofSeconds(120);

    @TempDir
    Path dir;

    private VethRig rig;
    private Initiator initiator;
    private NbdServer server;

    @BeforeEach
    void setUp()
    {
        Prerequisites.requireRoot();
        Prerequisites.requireCommand("vblade", "vblade");
        Prerequisites.requireCommand("nbdcopy", "libnbd-bin");
        Prerequisites.requireCommand("nbdinfo", "libnbd-bin");
    }

    @AfterEach
    void tearDown()
    {
        closeBridge();
        if (rig != null)
        {
            rig.close();
        }
    }

    private void closeBridge()
    {
        if (server != null)
        {
            server.close();
            server = null;
        }
        if (initiator != null)
        {
            initiator.close();
            initiator = null;
        }
    }

    private AoeDevice startBridge(final int pairs, final Duration deadAfter) throws Exception
    {
        final List<String> ifs = pairs == 1 ? List.of(rig.initiatorIf(0)) : List.of(rig.initiatorIf(0), rig.initiatorIf(1));
        initiator = Initiator.open("afpacket", ifs, Duration.ofSeconds(2));
        final AoeDevice d = initiator.open(E6_1, DeviceOptions.defaults().withDeadAfter(deadAfter));
        server = NbdServer.builder().listen(new InetSocketAddress("127.0.0.1", 0)).exports(Map.of("e6.1", d)).defaultExport("e6.1")
            .start();
        return d;
    }

    private long targetMac(final int pair)
    {
        return MacAddress.parse(rig.exec("cat", "/sys/class/net/" + rig.targetIf(pair) + "/address").trim()).bits();
    }

    private String size() throws Exception
    {
        final ProcessRunner.Result r = ProcessRunner.run(CLIENT_TIMEOUT, "nbdinfo", "--size", server.uri("e6.1"));
        assertEquals(0, r.exitCode(), r.stderr());
        return r.stdout().trim();
    }

    private static boolean allZero(final Path file) throws Exception
    {
        for (final byte b : Files.readAllBytes(file))
        {
            if (b != 0)
            {
                return false;
            }
        }
        return true;
    }

    @Test
    void aReplacedDiskShouldGetNoIoWhileTheExportGoesOnOverItsOtherPath() throws Exception
    {
        final Path disk = BulkIo.sparseFile(dir.resolve("disk.img"), 8 * MIB);
        final Path other = BulkIo.sparseFile(dir.resolve("other.img"), 16 * MIB);
        rig = VethRig.builder().pairs(2).build();
        rig.startVblade(6, 1, 0, disk);
        final VethRig.Daemon second = rig.startVblade(6, 1, 1, disk);
        final AoeDevice d = startBridge(2, Duration.ofSeconds(30));
        Await.until(WITHIN, () -> d.pathStats().size() == 2, () -> "two paths: " + d.pathStats());

        second.kill();
        rig.startVblade(6, 1, 1, other);
        final long mac1 = targetMac(1);
        Await.until(WITHIN, () -> d.identities().verdict(mac1) == TargetIdentities.Verdict.CHANGED,
            () -> "the other disk is seen: " + d.identities().describe());

        assertEquals(String.valueOf(8 * MIB), size(), "the export keeps its size");
        final Path source = Files.write(dir.resolve("src.bin"), BulkIo.random((int)(8 * MIB), 81));
        final ProcessRunner.Result in = ProcessRunner.run(CLIENT_TIMEOUT, "nbdcopy", source.toString(), server.uri("e6.1"));
        assertEquals(0, in.exitCode(), in.stderr());
        final Path back = dir.resolve("back.bin");
        final ProcessRunner.Result out = ProcessRunner.run(CLIENT_TIMEOUT, "nbdcopy", server.uri("e6.1"), back.toString());
        assertEquals(0, out.exitCode(), out.stderr());
        assertArrayEquals(Files.readAllBytes(source), Files.readAllBytes(back), "read back through the bridge");
        assertArrayEquals(Files.readAllBytes(source), Files.readAllBytes(disk), "on the export's own disk");
        assertTrue(allZero(other), "nothing on the disk that replaced it");
    }

    @Test
    void aDiskGrownUnderItsOnlyPathShouldNotBeWrittenUntilReopened() throws Exception
    {
        final Path disk = BulkIo.sparseFile(dir.resolve("disk.img"), 8 * MIB);
        final byte[] before = BulkIo.random((int)MIB, 82);
        Files.write(dir.resolve("first.bin"), before);
        rig = VethRig.builder().pairs(1).build();
        final VethRig.Daemon vblade = rig.startVblade(6, 1, 0, disk);
        final AoeDevice d = startBridge(1, Duration.ofSeconds(3));
        final ProcessRunner.Result first = ProcessRunner.run(CLIENT_TIMEOUT, "nbdcopy", "--destination-is-zero",
            dir.resolve("first.bin").toString(), server.uri("e6.1"));
        assertEquals(0, first.exitCode(), first.stderr());

        // The file is grown and its vblade restarted: same MAC, same serial, another size.
        vblade.kill();
        BulkIo.sparseFile(disk, 16 * MIB);
        rig.startVblade(6, 1, 0, disk);
        final long mac = targetMac(0);
        Await.until(WITHIN, () -> d.identities().verdict(mac) == TargetIdentities.Verdict.CHANGED,
            () -> "the grown disk is seen: " + d.identities().describe());

        assertEquals(String.valueOf(8 * MIB), size(), "clients still see the size they were told");
        final Path source = Files.write(dir.resolve("src.bin"), BulkIo.random((int)(2 * MIB), 83));
        final ProcessRunner.Result refused = ProcessRunner.run(CLIENT_TIMEOUT, "nbdcopy", source.toString(), server.uri("e6.1"));
        assertNotEquals(0, refused.exitCode(), "the write fails (EIO after dead-after), it does not hang");
        assertTrue(refused.stderr().contains("Input/output error"), refused.stderr());
        assertArrayEquals(before, BulkIo.fileBytes(disk, 0, before.length), "nothing was written over the first data");

        // Reopened, the export has the new size and takes writes again.
        closeBridge();
        startBridge(1, Duration.ofSeconds(30));
        assertEquals(String.valueOf(16 * MIB), size(), "reopened: the new size");
        final ProcessRunner.Result again = ProcessRunner.run(CLIENT_TIMEOUT, "nbdcopy", source.toString(), server.uri("e6.1"));
        assertEquals(0, again.exitCode(), again.stderr());
        assertArrayEquals(Files.readAllBytes(source), BulkIo.fileBytes(disk, 0, (int)(2 * MIB)));
    }
}
