package org.aoemp.initiator;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.nio.file.Path;
import java.time.Duration;
import java.util.List;
import java.util.Set;

import org.aoemp.protocol.MacAddress;
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
 * Two real vblades that claim the same shelf.slot (e6.1) with different disks, one on each veth
 * pair: the device takes only the MACs whose IDENTIFY data and config string match the disk it
 * opened, so data written is read back and never lands on the other disk; {@code --mac} (the
 * {@code macs} argument) picks the other one. And a path whose vblade is replaced by one serving
 * another disk stops carrying I/O, and carries it again when the original disk comes back.
 */
@RealPeer
class TargetIdentityVbladeTest
{
    private static final long MIB = 1 << 20;
    private static final TargetAddress E6_1 = new TargetAddress(6, 1);
    private static final Duration WITHIN = Duration.ofSeconds(30);

    @TempDir
    Path dir;

    private VethRig rig;
    private Initiator initiator;
    private Path small;
    private Path large;

    @BeforeEach
    void setUp() throws Exception
    {
        Prerequisites.requireRoot();
        Prerequisites.requireCommand("vblade", "vblade");
        small = BulkIo.sparseFile(dir.resolve("small.img"), 8 * MIB);
        large = BulkIo.sparseFile(dir.resolve("large.img"), 16 * MIB);
        rig = VethRig.builder().pairs(2).build();
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

    private long targetMac(final int pair)
    {
        return MacAddress.parse(rig.exec("cat", "/sys/class/net/" + rig.targetIf(pair) + "/address").trim()).bits();
    }

    private void startInitiator()
    {
        initiator = Initiator.open("afpacket", List.of(rig.initiatorIf(0), rig.initiatorIf(1)), Duration.ofSeconds(2));
    }

    /** Waits until discovery has heard both target MACs for e6.1. */
    private void awaitBothHeard()
    {
        Await.until(WITHIN, () ->
        {
            final TargetDirectory.Target t = initiator.directory().get(E6_1);
            return t != null && t.endpoints().stream().mapToLong(TargetDirectory.Endpoint::mac).distinct().count() == 2;
        }, () -> "both vblades answered discovery: " + initiator.directory().get(E6_1));
    }

    /** Waits until both target MACs have answered IDENTIFY for {@code d}. */
    private static void awaitBothJudged(final AoeDevice d)
    {
        Await.until(WITHIN, () -> d.identities().all().stream().filter(m -> m.identity() != null).count() == 2,
            () -> "both MACs checked: " + d.identities().all());
    }

    private static boolean allZero(final Path file, final long length) throws Exception
    {
        final byte[] b = BulkIo.fileBytes(file, 0, (int)length);
        for (final byte x : b)
        {
            if (x != 0)
            {
                return false;
            }
        }
        return true;
    }

    @Test
    void twoDisksAnsweringAsOneShelfSlotShouldNeverBeMixed() throws Exception
    {
        rig.startVblade(6, 1, 0, small);
        rig.startVblade(6, 1, 1, large);
        startInitiator();
        // both present when the device opens: which disk it takes must not depend on which answered first
        // (a vblade that answers after open's settling time is judged later, and cannot be the one opened)
        awaitBothHeard();
        final AoeDevice d = initiator.open(E6_1, DeviceOptions.defaults());
        awaitBothJudged(d);

        final TargetIdentities ids = d.identities();
        assertTrue(ids.hasConflict(), ids.describe().toString());
        final long opened = d.pathStats().get(0).remoteMac().equals(new MacAddress(targetMac(0)).toString()) ? targetMac(0) : targetMac(1);
        final long other = opened == targetMac(0) ? targetMac(1) : targetMac(0);
        final Path openedFile = opened == targetMac(0) ? small : large;
        final Path otherFile = opened == targetMac(0) ? large : small;
        assertEquals(1, d.pathStats().size(), "only the MAC with the opened disk is a path: " + d.pathStats());
        assertEquals(Math.min(targetMac(0), targetMac(1)), opened, "the disk of the lowest MAC, whichever answered first");
        assertEquals(TargetIdentities.Verdict.PATH, ids.verdict(opened));
        assertEquals(TargetIdentities.Verdict.CONFLICT, ids.verdict(other), ids.describe().toString());
        assertEquals(java.nio.file.Files.size(openedFile), d.size(), "the device's size is its disk's");

        final byte[] data = BulkIo.random((int)(4 * MIB), 61);
        BulkIo.write(d, 0, data, 256 << 10, 16);
        assertArrayEquals(data, BulkIo.read(d, 0, data.length, 256 << 10, 16), "read back what was written");
        assertArrayEquals(data, BulkIo.fileBytes(openedFile, 0, data.length), "the data is on the opened disk");
        assertTrue(allZero(otherFile, 4 * MIB), "nothing was written to the other disk");
    }

    @Test
    void aNamedMacShouldPickItsDisk() throws Exception
    {
        rig.startVblade(6, 1, 0, small);
        rig.startVblade(6, 1, 1, large);
        startInitiator();
        final AoeDevice d = initiator.open(E6_1, DeviceOptions.defaults(), Set.of(targetMac(1)));
        assertEquals(16 * MIB, d.size(), "the disk behind the named MAC");
        awaitBothJudged(d);
        assertEquals(List.of(new MacAddress(targetMac(1)).toString()), d.pathStats().stream().map(PathStats::remoteMac).toList());

        final byte[] data = BulkIo.random((int)(2 * MIB), 62);
        BulkIo.write(d, 12 * MIB, data, 256 << 10, 16);
        assertArrayEquals(data, BulkIo.read(d, 12 * MIB, data.length, 256 << 10, 16));
        assertArrayEquals(data, BulkIo.fileBytes(large, 12 * MIB, data.length), "the data is on the named MAC's disk");
        assertTrue(allZero(small, 8 * MIB), "nothing was written to the other disk");
    }

    @Test
    void aMacNamedThatDoesNotAnswerShouldBeAClearError() throws Exception
    {
        rig.startVblade(6, 1, 0, small);
        startInitiator();
        final IoErrorCheck e = IoErrorCheck.of(() -> initiator.open(E6_1, DeviceOptions.defaults().withOpenTimeout(Duration.ofSeconds(2)),
            Set.of(0x02_00_00_00_00_99L)));
        assertTrue(e.message().contains("02:00:00:00:00:99") && e.message().contains(new MacAddress(targetMac(0)).toString()),
            e.message());
    }

    @Test
    void aPathWhoseDiskIsReplacedShouldCarryNoMoreIoUntilTheDiskComesBack() throws Exception
    {
        rig.startVblade(6, 1, 0, small);
        final VethRig.Daemon second = rig.startVblade(6, 1, 1, small);
        startInitiator();
        final AoeDevice d = initiator.open(E6_1, DeviceOptions.defaults());
        Await.until(WITHIN, () -> d.pathStats().size() == 2, () -> "two paths to one disk: " + d.pathStats());
        final byte[] first = BulkIo.random((int)MIB, 63);
        BulkIo.write(d, 0, first, 64 << 10, 16);

        // The vblade on pair 1 is replaced by one serving another disk (other size): it announces itself.
        second.kill();
        final VethRig.Daemon replaced = rig.startVblade(6, 1, 1, large);
        final long mac1 = targetMac(1);
        Await.until(WITHIN, () -> d.identities().verdict(mac1) == TargetIdentities.Verdict.CHANGED,
            () -> "the replaced disk is seen: " + d.identities().describe());
        Await.until(WITHIN, () -> pathTo(d, mac1).state() == PathState.DOWN, () -> "its path is DOWN: " + d.pathStats());

        final byte[] second1 = BulkIo.random((int)(2 * MIB), 64);
        BulkIo.write(d, MIB, second1, 64 << 10, 16);
        assertArrayEquals(second1, BulkIo.read(d, MIB, second1.length, 64 << 10, 16));
        assertArrayEquals(second1, BulkIo.fileBytes(small, MIB, second1.length), "written to the device's own disk");
        assertTrue(allZero(large, 16 * MIB), "nothing went to the disk that replaced it");
        assertEquals(8 * MIB, d.size(), "the device keeps its size");

        // The original disk comes back on pair 1: the path carries I/O again.
        replaced.kill();
        rig.startVblade(6, 1, 1, small);
        Await.until(WITHIN, () -> d.identities().verdict(mac1) == TargetIdentities.Verdict.PATH,
            () -> "the original disk is seen again: " + d.identities().describe());
        Await.until(WITHIN, () -> pathTo(d, mac1).state() == PathState.UP, () -> "its path is UP again: " + d.pathStats());
        final long before = pathTo(d, mac1).framesReceived();
        final byte[] third = BulkIo.random((int)(4 * MIB), 65);
        BulkIo.write(d, 3 * MIB, third, 64 << 10, 32);
        assertArrayEquals(third, BulkIo.read(d, 3 * MIB, third.length, 64 << 10, 32));
        assertArrayEquals(third, BulkIo.fileBytes(small, 3 * MIB, third.length));
        assertArrayEquals(first, BulkIo.fileBytes(small, 0, first.length));
        assertTrue(pathTo(d, mac1).framesReceived() > before, "the readmitted path carried I/O: " + d.pathStats());
    }

    private static PathStats pathTo(final AoeDevice d, final long mac)
    {
        final String text = new MacAddress(mac).toString();
        return d.pathStats().stream().filter(p -> p.remoteMac().equals(text)).findFirst()
            .orElseThrow(() -> new AssertionError("no path to " + text + ": " + d.pathStats()));
    }

    /** The message of the {@link org.aoemp.block.IoError} an action throws. */
    private record IoErrorCheck(String message)
    {
        interface Action
        {
            void run() throws Exception;
        }

        static IoErrorCheck of(final Action a) throws Exception
        {
            try
            {
                a.run();
            }
            catch (final org.aoemp.block.IoError e)
            {
                return new IoErrorCheck(e.getMessage());
            }
            throw new AssertionError("expected an IoError");
        }
    }
}
