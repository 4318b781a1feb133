package org.aoemp.tools;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.net.InetSocketAddress;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.util.List;
import java.util.Map;
import java.util.Optional;

import org.aoemp.block.BlockDevice;
import org.aoemp.initiator.AoeDevice;
import org.aoemp.initiator.DeviceOptions;
import org.aoemp.initiator.Initiator;
import org.aoemp.initiator.TargetAddress;
import org.aoemp.nbd.NbdServer;
import org.aoemp.nbd.TlsSettings;
import org.aoemp.testing.BulkIo;
import org.aoemp.testing.Prerequisites;
import org.aoemp.testing.QemuVm;
import org.aoemp.testing.RealPeer;
import org.aoemp.testing.VethRig;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.ValueSource;

/**
 * The real Linux NBD client (nbd.ko in Debian's kernel, in a TCG VM) against the bridge, which
 * serves a vblade target reached over a veth pair by the project's initiator: mkfs.ext3, mount,
 * write, remount, checksums, fsck, disconnect.
 */
@RealPeer
class KernelNbdClientTest
{
    private static final String GUEST = """
        set -u
        nbd-client CONNECTIONS 10.0.2.2 PORT /dev/nbd0 || { echo "@@STEP=connect-failed@@"; exit 10; }
        echo "@@SIZE=$(cat /sys/block/nbd0/size)@@"
        mkfs.ext3 -q -F /dev/nbd0 || exit 11
        mkdir -p /mnt && mount -t ext3 /dev/nbd0 /mnt || mount /dev/nbd0 /mnt || exit 12
        for i in 1 2 3; do dd if=/dev/urandom of=/mnt/file$i bs=1024 count=700 2>/dev/null || exit 13; done
        mkdir /mnt/dir && echo hello > /mnt/dir/note
        (cd /mnt && md5sum file1 file2 file3 dir/note) > /tmp/sums
        sync
        umount /mnt || exit 14
        echo 3 > /proc/sys/vm/drop_caches
        mount /dev/nbd0 /mnt || exit 15
        (cd /mnt && md5sum -c /tmp/sums) >/dev/null || { echo "@@STEP=checksum-mismatch@@"; exit 16; }
        echo "@@SUMS=ok@@"
        umount /mnt || exit 17
        e2fsck -fn /dev/nbd0 >/tmp/fsck 2>&1; echo "@@FSCK=$?@@"
        nbd-client -d /dev/nbd0 || exit 18
        echo "@@STEP=done@@"
        """;

    @TempDir
    Path dir;

    @ParameterizedTest
    @ValueSource(ints = {1, 2})
    void ext3OnNbd0BackedByAnAoeTarget(final int connections) throws Exception
    {
        Prerequisites.requireRoot();
        Prerequisites.requireCommand("vblade", "vblade");
        QemuVm.requirePrerequisites();
        final Path disk = dir.resolve("disk.img");
        BulkIo.sparseFile(disk, 64L << 20);
        try (VethRig rig = VethRig.builder().pairs(1).build())
        {
            rig.startVblade(5, 1, 0, disk);
            try (Initiator initiator = Initiator.open("afpacket", List.of(rig.initiatorIf(0)), Duration.ofSeconds(60));
                 AoeDevice device = initiator.open(new TargetAddress(5, 1), DeviceOptions.defaults());
                 NbdServer server = NbdServer.start(new InetSocketAddress("127.0.0.1", 0), Map.<String, BlockDevice>of("e5.1", device),
                     "e5.1", false))
            {
                final String script = GUEST.replace("CONNECTIONS", connections > 1 ? "-C " + connections : "")
                    .replace("PORT", Integer.toString(server.port()));
                final QemuVm.VmResult result = QemuVm.builder().userNetwork().timeout(Duration.ofSeconds(300)).script(script).build().run();
                assertEquals(Optional.of("done"), result.marker("STEP"), result::toString);
                assertEquals(Optional.of(Long.toString((64L << 20) / 512)), result.marker("SIZE"), result::toString);
                assertEquals(Optional.of("ok"), result.marker("SUMS"), result::toString);
                assertEquals(Optional.of("0"), result.marker("FSCK"), result::toString);
                assertTrue(device.pathStats().get(0).framesReceived() > 1000, "the writes went over AoE");
            }
            final QemuVmHostCheck check = new QemuVmHostCheck(disk);
            assertTrue(check.fsckClean(), check.output());
        }
    }

    /**
     * The kernel's client over TLS: nbd-client negotiates STARTTLS with its certificate (the server
     * requires TLS and verifies the client against its CA), then mkfs.ext3, mount, write, remount,
     * checksums and fsck as above. Certificates are made for the run; the server's names 10.0.2.2,
     * the host as the guest sees it.
     */
    @Test
    void ext3OnNbd0OverTlsWithAClientCertificate() throws Exception
    {
        Prerequisites.requireRoot();
        Prerequisites.requireCommand("vblade", "vblade");
        QemuVm.requirePrerequisites();
        Prerequisites.requireCommand("nbd-client", "nbd-client");
        final org.aoemp.testing.ProcessRunner.Result help = org.aoemp.testing.ProcessRunner.run(Prerequisites.which("nbd-client").toString(), "-h");
        final String usage = help.stdout() + help.stderr();
        Prerequisites.require(usage.contains("-cacertfile"), "an nbd-client built with TLS support (its -h shows no -cacertfile)");
        final org.aoemp.testing.TestCertificates certs = org.aoemp.testing.TestCertificates.create(dir.resolve("pki"), "10.0.2.2");
        final Path disk = dir.resolve("disk.img");
        BulkIo.sparseFile(disk, 64L << 20);
        try (VethRig rig = VethRig.builder().pairs(1).build())
        {
            rig.startVblade(5, 1, 0, disk);
            try (Initiator initiator = Initiator.open("afpacket", List.of(rig.initiatorIf(0)), Duration.ofSeconds(60));
                 AoeDevice device = initiator.open(new TargetAddress(5, 1), DeviceOptions.defaults());
                 NbdServer server = NbdServer.builder().listen(new InetSocketAddress("127.0.0.1", 0)).export("e5.1", device)
                     .tls(TlsSettings.load(TlsSettings.Mode.REQUIRE, certs.serverDir())).start())
            {
                final String files = guestFile("/tmp/ca.pem", certs.clientDir().resolve("ca-cert.pem"))
                    + guestFile("/tmp/cert.pem", certs.clientDir().resolve("client-cert.pem"))
                    + guestFile("/tmp/key.pem", certs.clientDir().resolve("client-key.pem"));
                final String tls = "-N e5.1 -cacertfile /tmp/ca.pem -certfile /tmp/cert.pem -keyfile /tmp/key.pem";
                // Without TLS the server refuses: nbd-client must fail, and the device stays unconnected.
                final String script = files
                    + "nbd-client 10.0.2.2 PORT /dev/nbd0 -N e5.1 && { echo \"@@STEP=plain-accepted@@\"; exit 9; }\n"
                    + "echo \"@@PLAIN=refused@@\"\n"
                    + GUEST.replace("CONNECTIONS 10.0.2.2 PORT /dev/nbd0", "10.0.2.2 PORT /dev/nbd0 " + tls)
                        .replace("PORT", Integer.toString(server.port()));
                final QemuVm.VmResult result = QemuVm.builder().userNetwork().timeout(Duration.ofSeconds(400)).script(script).build().run();
                assertEquals(Optional.of("refused"), result.marker("PLAIN"), result::toString);
                assertEquals(Optional.of("done"), result.marker("STEP"), result::toString);
                assertEquals(Optional.of(Long.toString((64L << 20) / 512)), result.marker("SIZE"), result::toString);
                assertEquals(Optional.of("ok"), result.marker("SUMS"), result::toString);
                assertEquals(Optional.of("0"), result.marker("FSCK"), result::toString);
                assertTrue(device.pathStats().get(0).framesReceived() > 1000, "the writes went over AoE");
            }
            final QemuVmHostCheck check = new QemuVmHostCheck(disk);
            assertTrue(check.fsckClean(), check.output());
        }
    }

    /** A shell here-document that writes {@code source}'s text to {@code guestPath} in the guest. */
    private static String guestFile(final String guestPath, final Path source) throws java.io.IOException
    {
        return "cat > " + guestPath + " <<'PEM_END'\n" + Files.readString(source).strip() + "\nPEM_END\n";
    }

    /** e2fsck on the host, on vblade's backing file, after the VM is done. */
    private static final class QemuVmHostCheck
    {
        private final String output;
        private final boolean clean;

        QemuVmHostCheck(final Path disk) throws Exception
        {
            final Process p = new ProcessBuilder("e2fsck", "-fn", disk.toString()).redirectErrorStream(true).start();
            output = new String(p.getInputStream().readAllBytes());
            clean = p.waitFor() == 0;
        }

        boolean fsckClean()
        {
            return clean;
        }

        String output()
        {
            return output;
        }
    }

    @Test
    void metricsAddressParsingAcceptsHostAndPort()
    {
        // --listen is parsed by NbdAccess (HOST:PORT or unix:PATH); HOST:PORT here serves --metrics
        assertEquals(new InetSocketAddress("127.0.0.1", 10809), NbdCommand.parseAddress("--metrics", "127.0.0.1:10809"));
        org.junit.jupiter.api.Assertions.assertThrows(IllegalArgumentException.class, () -> NbdCommand.parseAddress("--metrics", "10809"));
        final IllegalArgumentException e = org.junit.jupiter.api.Assertions.assertThrows(IllegalArgumentException.class,
            () -> NbdCommand.parseAddress("--metrics", "h:99999"));
        assertTrue(e.getMessage().startsWith("--metrics: port out of range"), e.getMessage());
        assertTrue(Files.isDirectory(Path.of(System.getProperty("java.io.tmpdir"))));
    }
}
