package org.aoemp.tools;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.io.IOException;
import java.net.InetAddress;
import java.net.ServerSocket;
import java.nio.file.Files;
import java.nio.file.Path;
import java.security.MessageDigest;
import java.time.Duration;
import java.util.ArrayList;
import java.util.HexFormat;
import java.util.List;
import java.util.Map;
import java.util.Optional;

import org.aoemp.testing.BulkIo;
import org.aoemp.testing.Prerequisites;
import org.aoemp.testing.ProcessRunner;
import org.aoemp.testing.QemuVm;
import org.aoemp.testing.RealPeer;
import org.aoemp.testing.VethRig;
import org.junit.jupiter.api.io.TempDir;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.ValueSource;

/**
 * Read-only end to end: a target served read-only ({@code vblade -r}, {@code aoe target -r}),
 * {@code aoe nbd --read-only} over it, and the real Linux NBD client in the VM. The kernel must
 * see a read-only disk ({@code blockdev --getro} 1), refuse a read-write mount, mount it
 * read-only, refuse a new file, and read back the files the host put on it; the image is
 * byte for byte unchanged afterwards.
 */
@RealPeer
class KernelReadOnlyTest
{
    /** {@code @FILE_SUMS@}: md5sum lines of the files on the image; PORT: the bridge's. */
    private static final String GUEST = """
        set -u
        nbd-client 10.0.2.2 PORT /dev/nbd0 || { echo "@@STEP=connect-failed@@"; exit 10; }
        echo "@@GETRO=$(blockdev --getro /dev/nbd0)@@"
        dd if=/dev/zero of=/dev/nbd0 bs=512 count=1 2>/dev/null; echo "@@DDEXIT=$?@@"
        mkdir -p /mnt
        mount -t ext3 -o rw /dev/nbd0 /mnt >/tmp/rw 2>&1; echo "@@RWEXIT=$?@@"
        echo "@@RWMSG=$(tr '\\n' ' ' < /tmp/rw)@@"
        echo "@@RWOPTS=$(awk '$2 == "/mnt" {print $4}' /proc/mounts)@@"
        umount /mnt 2>/dev/null
        mount -t ext3 -o ro /dev/nbd0 /mnt || { echo "@@STEP=ro-mount-failed@@"; exit 12; }
        echo "@@ROOPTS=$(awk '$2 == "/mnt" {print $4}' /proc/mounts)@@"
        if touch /mnt/new 2>/dev/null; then echo "@@TOUCH=written@@"; else echo "@@TOUCH=refused@@"; fi
        cat > /tmp/sums <<'END'
        @FILE_SUMS@
        END
        if (cd /mnt && md5sum -c /tmp/sums) >/tmp/check 2>&1; then echo "@@SUMS=ok@@"; else cat /tmp/check; echo "@@SUMS=bad@@"; fi
        umount /mnt || exit 14
        nbd-client -d /dev/nbd0 || exit 15
        echo "@@STEP=done@@"
        """;

    @TempDir
    Path dir;

    @ParameterizedTest(name = "{0}")
    @ValueSource(strings = {"vblade -r", "aoe target -r"})
    void theKernelSeesAReadOnlyDiskThatMountsReadOnlyAndReadsBack(final String target) throws Exception
    {
        Prerequisites.requireRoot();
        Prerequisites.requireCommand("vblade", "vblade");
        Prerequisites.requireCommand("mke2fs", "e2fsprogs");
        QemuVm.requirePrerequisites();
        final String sums = filesystemWithFiles(dir.resolve("disk.img"));
        final Path disk = dir.resolve("disk.img");
        final byte[] before = sha256(disk);
        try (VethRig rig = VethRig.builder().pairs(1).build())
        {
            if (target.startsWith("vblade"))
            {
                rig.startVblade(5, 2, 0, disk, "-r");
            }
            else
            {
                rig.startDaemon("aoe-target", "aoe target: serving", aoeArgv("target", "-r", "5", "2", rig.targetIf(0), disk.toString()));
            }
            final int port = freePort();
            try (ServeProcess bridge = ServeProcess.aoe("bridge", List.of(), Map.of(RunDir.ENV, Files.createDirectories(dir.resolve("run"))
                .toString()), dir.resolve("bridge.log"), "nbd", "e5.2", "-i", rig.initiatorIf(0), "--read-only", "--listen",
                "127.0.0.1:" + port))
            {
                bridge.awaitLog("ready: serving e5.2");
                final QemuVm.VmResult vm = QemuVm.builder().userNetwork().timeout(Duration.ofSeconds(300))
                    .script(GUEST.replace("PORT", Integer.toString(port)).replace("@FILE_SUMS@", sums)).build().run();
                assertEquals(Optional.of("done"), vm.marker("STEP"), vm::toString);
                assertEquals(Optional.of("1"), vm.marker("GETRO"), "blockdev --getro /dev/nbd0\n" + vm);
                assertFalse("0".equals(vm.marker("DDEXIT").orElse("0")), "dd onto /dev/nbd0 must fail\n" + vm);
                // The kernel refuses to open the disk for a read-write mount ("Can't open blockdev"); busybox mount then
                // quietly mounts it read-only instead of failing. Either way: no writable mount.
                final String rwOptions = vm.marker("RWOPTS").orElse("");
                assertFalse(rwOptions.startsWith("rw"), "mount -o rw gave a writable mount: " + rwOptions + "\n" + vm);
                assertTrue(!"0".equals(vm.marker("RWEXIT").orElse("")) || vm.console().contains("nbd0: Can't open blockdev"),
                    "mount -o rw was refused by the kernel\n" + vm);
                assertTrue(vm.marker("ROOPTS").orElse("").startsWith("ro"), vm::toString);
                assertEquals(Optional.of("refused"), vm.marker("TOUCH"), vm::toString);
                assertEquals(Optional.of("ok"), vm.marker("SUMS"), vm::toString);
                bridge.signal("TERM");
                assertEquals(0, bridge.awaitExit(Duration.ofSeconds(60)), bridge.log());
                assertTrue(bridge.log().contains("read-only"), bridge.log());
            }
        }
        assertArrayEquals(before, sha256(disk), "the image is unchanged");
    }

    /** An ext3 image at {@code image} holding three files and a note; returns their md5sum lines. */
    private String filesystemWithFiles(final Path image) throws Exception
    {
        final Path content = Files.createDirectories(dir.resolve("content"));
        final StringBuilder sums = new StringBuilder();
        final List<String> names = List.of("file1", "file2", "file3");
        for (int i = 0; i < names.size(); i++)
        {
            final byte[] data = BulkIo.random(300_000 + i * 1000, 100 + i);
            Files.write(content.resolve(names.get(i)), data);
            sums.append(md5(data)).append("  ").append(names.get(i)).append('\n');
        }
        Files.createDirectories(content.resolve("dir"));
        final byte[] note = "hello, read-only\n".getBytes(java.nio.charset.StandardCharsets.UTF_8);
        Files.write(content.resolve("dir/note"), note);
        sums.append(md5(note)).append("  dir/note");
        BulkIo.sparseFile(image, 32L << 20);
        ProcessRunner.run(Duration.ofSeconds(60), "mke2fs", "-q", "-F", "-t", "ext3", "-d", content.toString(), image.toString()).orThrow();
        return sums.toString();
    }

    private static String md5(final byte[] data) throws Exception
    {
        return HexFormat.of().formatHex(MessageDigest.getInstance("MD5").digest(data));
    }

    private static byte[] sha256(final Path file) throws Exception
    {
        return MessageDigest.getInstance("SHA-256").digest(Files.readAllBytes(file));
    }

    private static int freePort() throws IOException
    {
        try (ServerSocket s = new ServerSocket(0, 1, InetAddress.getLoopbackAddress()))
        {
            return s.getLocalPort();
        }
    }

    /** {@code java -cp TESTCP AoeCommand ARGS...}. */
    private static String[] aoeArgv(final String... args)
    {
        final List<String> argv = new ArrayList<>(List.of(Path.of(System.getProperty("java.home"), "bin", "java").toString(),
            "--enable-native-access=ALL-UNNAMED", "-XX:+UseSerialGC", "-cp", System.getProperty("java.class.path"),
            AoeCommand.class.getName()));
        argv.addAll(List.of(args));
        return argv.toArray(String[]::new);
    }
}
