package org.aoemp.testing;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.nio.file.Files;
import java.nio.file.Path;
import java.security.MessageDigest;
import java.time.Duration;
import java.util.HexFormat;
import java.util.List;
import java.util.Optional;
import java.util.concurrent.TimeUnit;

import org.aoemp.testing.QemuVm.VmResult;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.Timeout;

/**
 * The VM rig itself: Debian's kernel boots under TCG with nbd and aoe loaded, exit statuses come back, and the
 * kernel's aoe initiator talks to the reference target (vblade) on the host through a tap device.
 */
@RealPeer
class QemuVmTest
{
    private static final long DISK_BYTES = 64L << 20;

    @BeforeEach
    void requireVm()
    {
        QemuVm.requirePrerequisites();
        QemuVmImage.get();  // built (or found in the cache) here, outside the tests' own time limits
    }

    @Test
    void shouldBootTheDebianKernelWithNbdAndAoeLoaded() throws Exception
    {
        final VmResult result = QemuVm.builder()
            .userNetwork()
            .timeout(Duration.ofSeconds(90))
            .script("""
                echo "@@KERNEL=$(uname -r)@@"
                lsmod
                for m in nbd aoe virtio_net ext4; do
                    grep -q "^$m " /proc/modules && echo "@@LOADED=$m@@"
                done
                [ -b /dev/nbd0 ] && echo "@@NBD0=present@@"
                [ -c /dev/etherd/discover ] && echo "@@DISCOVER=present@@"
                echo "@@ADDR=$(ip -4 -o addr show dev eth0 | awk '{print $4}')@@"
                exit 0
                """)
            .build()
            .run();
        report("boot + lsmod", result);

        assertEquals(0, result.exitStatus(), result::toString);
        assertFalse(result.timedOut(), result::toString);
        assertEquals(Optional.of(QemuVmImage.get().kernelVersion()), result.marker("KERNEL"), result::toString);
        assertEquals(List.of("nbd", "aoe", "virtio_net", "ext4"), result.markers("LOADED"), result::toString);
        assertEquals(List.of(), result.markers("MODPROBE_FAILED"), result::toString);
        assertEquals(Optional.of("present"), result.marker("NBD0"), result::toString);
        assertEquals(Optional.of("present"), result.marker("DISCOVER"), result::toString);
        assertEquals(Optional.of("10.0.2.15/24"), result.marker("ADDR"), result::toString);
    }

    @Test
    void shouldReturnAFailingScriptsExitStatus() throws Exception
    {
        final VmResult result = QemuVm.builder()
            .timeout(Duration.ofSeconds(90))
            .script("""
                echo "@@STEP=before-failure@@"
                false || exit 42
                echo "@@STEP=not-reached@@"
                """)
            .build()
            .run();
        report("failing script", result);

        assertEquals(42, result.exitStatus(), result::toString);
        assertFalse(result.succeeded());
        assertEquals(List.of("before-failure"), result.markers("STEP"), result::toString);
    }

    @Test
    void shouldRunExt3OnVbladeThroughTheKernelAoeDriver() throws Exception
    {
        QemuVm.requireTapPrerequisites();
        Prerequisites.requireCommand("vblade", "vblade");

        final Path disk = Files.createTempFile("aoe-vm-disk-", ".img");
        try (QemuVm.Tap tap = QemuVm.Tap.create())
        {
            BulkIo.sparseFile(disk, DISK_BYTES);
            final Process vblade = new ProcessBuilder("vblade", "0", "1", tap.name(), disk.toString())
                .redirectErrorStream(true)
                .redirectOutput(ProcessBuilder.Redirect.DISCARD)
                .start();
            final VmResult result;
            try
            {
                result = QemuVm.builder()
                    .tapNetwork(tap.name())
                    .timeout(Duration.ofSeconds(240))
                    .script(GUEST_EXT3_ON_AOE)
                    .build()
                    .run();
            }
            finally
            {
                vblade.destroy();
                if (!vblade.waitFor(5, TimeUnit.SECONDS))
                {
                    vblade.destroyForcibly().waitFor();
                }
            }
            report("ext3 on vblade via aoe", result);

            assertEquals(0, result.exitStatus(), result::toString);
            assertEquals(Optional.of(Long.toString(DISK_BYTES / 512)), result.marker("SIZE"), result::toString);
            assertEquals(result.marker("WRITTEN"), result.marker("REREAD"), result::toString);
            assertTrue(result.marker("WRITTEN").isPresent(), result::toString);
            assertEquals(Optional.of("0"), result.marker("FSCK"), result::toString);

            // the writes really reached the host file: a clean ext3 file system holding the same data
            QemuVmImage.run(Path.of("/"), "e2fsck", "-fn", disk.toString());
            assertEquals(result.marker("WRITTEN"), Optional.of(md5OfFileInImage(disk, "/data")), result::toString);
        }
        finally
        {
            Files.deleteIfExists(disk);
        }
    }

    /** Guest half of the vblade test: discover e0.1, mkfs.ext3, write, remount, compare, fsck. */
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
        echo "state=$(cat "$sys/state") netif=$(cat "$sys/netif") payload=$(cat "$sys/payload")"
        dev=/dev/etherd/e0.1
        if [ ! -b $dev ]; then
            mkdir -p /dev/etherd
            mknod $dev b $(tr ':' ' ' < "$sys/dev")
        fi
        mkfs.ext3 -q -F $dev
        mount -t ext3 $dev /mnt
        dd if=/dev/urandom of=/mnt/data bs=64k count=32 2>/dev/null
        echo "@@WRITTEN=$(md5sum /mnt/data | cut -d' ' -f1)@@"
        sync
        umount /mnt
        echo 3 > /proc/sys/vm/drop_caches
        mount -t ext3 $dev /mnt
        echo "@@REREAD=$(md5sum /mnt/data | cut -d' ' -f1)@@"
        umount /mnt
        rc=0
        e2fsck -fn $dev || rc=$?
        echo "@@FSCK=$rc@@"
        """;

    @Test
    @Timeout(value = 3, unit = TimeUnit.MINUTES)  // if the timeout were not enforced, run() would wait for a guest that never ends
    void shouldKillAVmThatOverrunsItsTimeout() throws Exception
    {
        // The guest never ends on its own: not while the kernel boots, and not once the script runs, as it
        // sleeps forever. So whether the slow TCG boot reached the script before the timeout does not matter
        // (on a loaded machine it may not): qemu must be killed at the timeout, not before, and be gone after.
        final Duration timeout = Duration.ofSeconds(8);
        final VmResult result = QemuVm.builder()
            .timeout(timeout)
            .script("echo @@STEP=sleeping@@; while :; do sleep 600; done; echo @@STEP=woke@@")
            .build()
            .run();
        report("timeout (script " + (result.marker("STEP").isPresent() ? "reached" : "not reached before the kill") + ")", result);

        assertTrue(result.timedOut(), result::toString);
        assertEquals(QemuVm.NO_EXIT_STATUS, result.exitStatus(), result::toString);
        assertTrue(result.elapsed().compareTo(timeout) >= 0, () -> "killed before its timeout: " + result);
        assertTrue(result.elapsed().compareTo(timeout.plusSeconds(60)) < 0, () -> "not killed promptly at its timeout: " + result);
        assertFalse(result.markers("STEP").contains("woke"), result::toString);
        assertEquals(List.of(), ProcessHandle.current().descendants()
            .filter(p -> p.info().command().orElse("").contains("qemu")).toList(), "no qemu left running");
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

    private static void report(final String what, final VmResult result)
    {
        System.out.println("[QemuVmTest] " + what + ": exit=" + result.exitStatus()
            + " boot=" + result.bootTime().map(d -> d.toMillis() + " ms").orElse("never")
            + " total=" + result.elapsed().toMillis() + " ms");
    }
}
