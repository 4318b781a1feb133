package org.aoemp.target;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.nio.file.Files;
import java.nio.file.Path;
import java.security.MessageDigest;
import java.time.Duration;
import java.util.HexFormat;
import java.util.List;
import java.util.Optional;

import org.aoemp.testing.BulkIo;
import org.aoemp.testing.Prerequisites;
import org.aoemp.testing.ProcessRunner;
import org.aoemp.testing.QemuVm;
import org.aoemp.testing.QemuVm.VmResult;
import org.aoemp.testing.RealPeer;
import org.junit.jupiter.api.Test;

/**
 * The Linux kernel's own aoe driver (in a TCG VM running Debian's kernel) against an
 * {@link AoeTarget} running in this JVM on the host end of a tap: discovery with the right size,
 * mkfs.ext3, files written, remounted and read back, and a clean fsck inside and outside the VM.
 */
@RealPeer
class AoeTargetVmTest
{
    private static final long DISK_BYTES = 64L << 20;

    /** Guest half: discover e0.1, report what sysfs says, mkfs.ext3, write, remount, compare, fsck. */
    private static final String GUEST_EXT3_ON_AOE = """
        set -e
        sys='/sys/block/etherd!e0.1'
        n=0
        while [ ! -e "$sys" ]; do
            n=$((n + 1))
            [ $n -gt 200 ] && { echo "no e0.1 after discovery"; exit 10; }
            [ $((n % 20)) -eq 1 ] && echo > /dev/etherd/discover
            sleep 0.1
        done
        echo "@@SIZE=$(cat "$sys/size")@@"
        echo "@@FIRMWARE=$(cat "$sys/firmware-version")@@"
        echo "@@PAYLOAD=$(cat "$sys/payload")@@"
        echo "state=$(cat "$sys/state") netif=$(cat "$sys/netif")"
        dev=/dev/etherd/e0.1
        if [ ! -b $dev ]; then
            mkdir -p /dev/etherd
            mknod $dev b $(tr ':' ' ' < "$sys/dev")
        fi
        mkfs.ext3 -q -F $dev
        mount -t ext3 $dev /mnt
        dd if=/dev/urandom of=/mnt/data bs=64k count=48 2>/dev/null
        mkdir /mnt/dir
        for i in 1 2 3 4 5 6 7 8; do dd if=/dev/urandom of=/mnt/dir/f$i bs=4k count=$((i * 3)) 2>/dev/null; done
        echo "@@WRITTEN=$(md5sum /mnt/data | cut -d' ' -f1)@@"
        echo "@@DIRSUM=$(cat /mnt/dir/f* | md5sum | cut -d' ' -f1)@@"
        sync
        umount /mnt
        echo 3 > /proc/sys/vm/drop_caches
        mount -t ext3 $dev /mnt
        echo "@@REREAD=$(md5sum /mnt/data | cut -d' ' -f1)@@"
        echo "@@DIRREREAD=$(cat /mnt/dir/f* | md5sum | cut -d' ' -f1)@@"
        umount /mnt
        rc=0
        e2fsck -fn $dev || rc=$?
        echo "@@FSCK=$rc@@"
        """;

    @Test
    void theKernelAoeDriverShouldRunExt3OnThisTarget() throws Exception
    {
        QemuVm.requireTapPrerequisites();
        Prerequisites.requireCommand("debugfs", "e2fsprogs");
        final Path disk = Files.createTempFile("aoe-target-vm-", ".img");
        try (QemuVm.Tap tap = QemuVm.Tap.create())
        {
            BulkIo.sparseFile(disk, DISK_BYTES);
            final VmResult result;
            final TargetStats stats;
            try (AoeTarget target = AoeTarget.open(TargetOptions.of(0, 1, disk), "afpacket", List.of(tap.name())))
            {
                result = QemuVm.builder()
                    .tapNetwork(tap.name())
                    .timeout(Duration.ofSeconds(300))
                    .script(GUEST_EXT3_ON_AOE)
                    .build()
                    .run();
                stats = target.stats();
            }
            System.out.println("[AoeTargetVmTest] exit=" + result.exitStatus() + " boot=" + result.bootTime().map(Duration::toMillis)
                .orElse(-1L) + " ms total=" + result.elapsed().toMillis() + " ms; target " + stats);

            assertEquals(0, result.exitStatus(), result::toString);
            assertEquals(Optional.of(Long.toString(DISK_BYTES / 512)), result.marker("SIZE"), result::toString);
            assertEquals(Optional.of("0x4001"), result.marker("FIRMWARE"), result::toString);
            assertEquals(Optional.of("1024"), result.marker("PAYLOAD"), "(1500 - 36) / 512 = 2 sectors per frame\n" + result);
            assertTrue(result.marker("WRITTEN").isPresent(), result::toString);
            assertEquals(result.marker("WRITTEN"), result.marker("REREAD"), result::toString);
            assertEquals(result.marker("DIRSUM"), result.marker("DIRREREAD"), result::toString);
            assertEquals(Optional.of("0"), result.marker("FSCK"), result::toString);
            assertTrue(stats.sectorsWritten() > 3 * 1024 * 2, "the file system and 3 MiB of data went through: " + stats);
            assertEquals(0, stats.ioErrors(), stats.toString());

            // The writes really reached the host file: a clean ext3 file system holding the same data.
            ProcessRunner.check("e2fsck", "-fn", disk.toString());
            assertEquals(result.marker("WRITTEN"), Optional.of(md5OfFileInImage(disk, "/data")), result::toString);
        }
        finally
        {
            Files.deleteIfExists(disk);
        }
    }

    /** md5 (hex) of one file inside an ext2/3/4 image, read on the host with debugfs. */
    private static String md5OfFileInImage(final Path image, final String file) throws Exception
    {
        final Process debugfs = new ProcessBuilder("debugfs", "-R", "cat " + file, image.toString())
            .redirectError(ProcessBuilder.Redirect.DISCARD)
            .start();
        final byte[] content = debugfs.getInputStream().readAllBytes();
        assertEquals(0, debugfs.waitFor(), "debugfs exit status");
        return HexFormat.of().formatHex(MessageDigest.getInstance("MD5").digest(content));
    }
}
