package org.aoemp.target;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.util.List;
import java.util.Random;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicInteger;

import org.aoemp.initiator.AoeDevice;
import org.aoemp.initiator.DeviceOptions;
import org.aoemp.initiator.Initiator;
import org.aoemp.initiator.PathStats;
import org.aoemp.initiator.TargetAddress;
import org.aoemp.testing.Await;
import org.aoemp.testing.BulkIo;
import org.aoemp.testing.Prerequisites;
import org.aoemp.testing.RealPeer;
import org.aoemp.testing.VethRig;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * The project's initiator against {@code aoe target} running as its own process inside the
 * rig's network namespace, serving one file on both target ends of two veth pairs: one target,
 * two MACs, two paths. Data must equal the backing file, also after a link is pulled mid-write.
 */
@RealPeer
class AoeTargetInitiatorTest
{
    private static final long MIB = 1 << 20;
    private static final TargetAddress E7_3 = new TargetAddress(7, 3);

    @TempDir
    Path dir;

    private VethRig rig;
    private TargetProcess target;
    private Initiator initiator;

    @BeforeEach
    void setUp()
    {
        Prerequisites.requireRoot();
        Prerequisites.requireCommand("ip", "iproute2");
    }

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
        if (rig != null)
        {
            rig.close();
        }
    }

    private Path sparseFile(final long size) throws Exception
    {
        final Path f = dir.resolve("disk.img");
        BulkIo.sparseFile(f, size);
        return f;
    }

    /** Two pairs, {@code aoe target 7 3 disk} on both target ends in the namespace, the initiator on both of ours. */
    private AoeDevice openOverTwoPaths(final Path disk, final DeviceOptions options) throws Exception
    {
        rig = VethRig.builder().pairs(2).build();
        target = TargetProcess.start(rig.namespace(), dir.resolve("target.log"), "7", "3", disk.toString(),
            "-i", rig.targetIf(0), "-i", rig.targetIf(1));
        initiator = Initiator.open("afpacket", List.of(rig.initiatorIf(0), rig.initiatorIf(1)), Duration.ofSeconds(60));
        final AoeDevice device = initiator.open(E7_3, options);
        Await.reached(Duration.ofSeconds(30), () ->
        {
            if (device.pathStats().size() >= 2)
            {
                return true;
            }
            initiator.queryConfig();
            return false;
        });
        assertEquals(2, device.pathStats().size(), "one path per veth pair: " + device.pathStats());
        return device;
    }

    @Test
    void shouldRoundTrip48MiBOverBothPathsEqualToTheBackingFile() throws Exception
    {
        final Path disk = sparseFile(64 * MIB);
        final AoeDevice d = openOverTwoPaths(disk, DeviceOptions.defaults());
        assertEquals(64 * MIB, d.size());
        assertEquals(AoeTarget.MODEL, d.identity().model());
        assertEquals(2, d.sectorsPerCommand(), "MTU 1500");

        final int n = (int)(48 * MIB);
        final byte[] data = new byte[n];
        new Random(48).nextBytes(data);
        final long start = System.nanoTime();
        BulkIo.write(d, 8 * MIB, data, (int)MIB, 8, () -> { });
        d.flushAsync().get(30, TimeUnit.SECONDS);
        final long written = System.nanoTime();
        assertArrayEquals(data, BulkIo.read(d, 8 * MIB, n, (int)MIB, 8), "read back what was written");
        final long read = System.nanoTime();
        assertArrayEquals(data, BulkIo.fileBytes(disk, 8 * MIB, n), "the backing file holds what was written");
        System.out.printf("[AoeTargetInitiatorTest] 48 MiB over 2 paths: write %.1f MiB/s, read %.1f MiB/s%n",
            48e9 / (written - start), 48e9 / (read - written));
        for (final PathStats p : d.pathStats())
        {
            assertTrue(p.framesSent() > n / 1024 / 8, "both paths carried a share of the frames: " + d.pathStats());
        }
        // The target process stops cleanly on SIGTERM and says so.
        assertEquals(143, target.terminate(Duration.ofSeconds(20)), target.log());
        assertTrue(target.log().contains("aoe target: stopped e7.3"), target.log());
    }

    @Test
    void shouldKeepWritingWithoutErrorWhenALinkIsPulledMidWrite() throws Exception
    {
        final Path disk = sparseFile(64 * MIB);
        final AoeDevice d = openOverTwoPaths(disk, DeviceOptions.defaults());
        final int n = (int)(32 * MIB);
        final byte[] data = new byte[n];
        new Random(32).nextBytes(data);
        final AtomicInteger chunks = new AtomicInteger();
        final int chunk = 256 << 10;
        BulkIo.write(d, 0, data, chunk, 8, () ->
        {
            if (chunks.incrementAndGet() == n / chunk / 3)
            {
                rig.linkDown(1);
            }
        });
        d.flushAsync().get(30, TimeUnit.SECONDS);
        assertArrayEquals(data, BulkIo.read(d, 0, n, chunk, 8), "read back over the surviving path");
        assertArrayEquals(data, BulkIo.fileBytes(disk, 0, n), "the backing file holds every write");
        System.out.println("[AoeTargetInitiatorTest] after pulling link 1: " + d.pathStats());
        System.out.println("[AoeTargetInitiatorTest] target: " + target.log());
        rig.linkUp(1);
    }
}
