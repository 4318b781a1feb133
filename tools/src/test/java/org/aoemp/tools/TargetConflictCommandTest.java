package org.aoemp.tools;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.nio.file.Files;
import java.nio.file.Path;

import org.aoemp.protocol.MacAddress;
import org.aoemp.testing.BulkIo;
import org.aoemp.testing.Prerequisites;
import org.aoemp.testing.RealPeer;
import org.aoemp.testing.VethRig;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * Two real vblades claim e6.1 with different disks (8 MiB and 16 MiB), one on each veth pair, as
 * a new user met it: {@code aoe discover} and {@code aoe stat} show the conflict with both disks and
 * their MACs, {@code aoe copy} says which disk it used and copies to it alone (verified, the other
 * file untouched), and {@code --mac} picks the other one.
 */
@RealPeer
class TargetConflictCommandTest
{
    private static final long MIB = 1 << 20;

    @TempDir
    Path dir;

    private VethRig rig;
    private Path small;
    private Path large;
    private String macSmall;
    private String macLarge;

    @BeforeEach
    void setUp() throws Exception
    {
        Prerequisites.requireRoot();
        Prerequisites.requireCommand("vblade", "vblade");
        small = BulkIo.sparseFile(dir.resolve("small.img"), 8 * MIB);
        large = BulkIo.sparseFile(dir.resolve("large.img"), 16 * MIB);
        rig = VethRig.builder().pairs(2).build();
        rig.startVblade(6, 1, 0, small);
        rig.startVblade(6, 1, 1, large);
        macSmall = mac(0);
        macLarge = mac(1);
    }

    @AfterEach
    void tearDown()
    {
        if (rig != null)
        {
            rig.close();
        }
    }

    private String mac(final int pair)
    {
        return MacAddress.parse(rig.exec("cat", "/sys/class/net/" + rig.targetIf(pair) + "/address").trim()).toString();
    }

    private AoeCommandVbladeTest.Run aoe(final String... args)
    {
        final String[] all = new String[args.length + 4];
        System.arraycopy(args, 0, all, 0, args.length);
        all[args.length] = "-i";
        all[args.length + 1] = rig.initiatorIf(0);
        all[args.length + 2] = "-i";
        all[args.length + 3] = rig.initiatorIf(1);
        return AoeCommandVbladeTest.aoe(all);
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
    void discoverAndStatShouldShowBothDisksAndTheirMacs()
    {
        final AoeCommandVbladeTest.Run d = aoe("discover");
        assertEquals(0, d.exit(), d.err());
        assertTrue(d.out().contains("CONFLICT"), d.out());
        for (final String s : new String[] {"8388608 bytes", "16777216 bytes", macSmall, macLarge})
        {
            assertTrue(d.out().contains(s), s + " in " + d.out());
        }
        final AoeCommandVbladeTest.Run json = aoe("discover", "--json");
        assertTrue(json.out().contains("\"conflict\": true") && json.out().contains("\"verdict\": \"conflict\""), json.out());

        final AoeCommandVbladeTest.Run stat = aoe("stat");
        assertEquals(0, stat.exit(), stat.err());
        final String row = stat.out().lines().filter(l -> l.contains("e6.1")).findFirst().orElseThrow();
        assertTrue(row.contains("conflict"), stat.out());
        assertTrue(stat.out().contains(macSmall) && stat.out().contains(macLarge), stat.out());
    }

    @Test
    void copyShouldWriteToTheDiskItNamesAloneAndMacShouldPickTheOther() throws Exception
    {
        final byte[] data = BulkIo.random((int)(3 * MIB), 66);
        final Path in = Files.write(dir.resolve("in.bin"), data);
        final AoeCommandVbladeTest.Run first = aoe("copy", in.toString(), "e6.1", "--verify");
        assertEquals(0, first.exit(), first.err());
        assertTrue(first.err().contains("MORE THAN ONE DISK") && first.err().contains("verified"), first.err());
        final boolean usedSmall = first.err().contains("using 8388608 bytes");
        assertTrue(usedSmall || first.err().contains("using 16777216 bytes"), first.err());
        final Path used = usedSmall ? small : large;
        final Path other = usedSmall ? large : small;
        assertArrayEquals(data, BulkIo.fileBytes(used, 0, data.length), "the copy went to the disk it named");
        assertTrue(allZero(other), "nothing went to the other disk");

        final String otherMac = usedSmall ? macLarge : macSmall;
        final AoeCommandVbladeTest.Run picked = aoe("copy", in.toString(), "e6.1", "--mac", otherMac, "--offset", "4M", "--verify");
        assertEquals(0, picked.exit(), picked.err());
        assertArrayEquals(data, BulkIo.fileBytes(other, 4 * MIB, data.length), "--mac " + otherMac + " picked its disk");
        assertArrayEquals(new byte[data.length], BulkIo.fileBytes(used, 4 * MIB, data.length), "and only that one");

        final Path out = dir.resolve("out.bin");
        final AoeCommandVbladeTest.Run back = aoe("copy", "e6.1", out.toString(), "--mac", otherMac, "--offset", "4M", "--length",
            String.valueOf(data.length));
        assertEquals(0, back.exit(), back.err());
        assertArrayEquals(data, Files.readAllBytes(out), "read back through the picked MAC");

        final AoeCommandVbladeTest.Run wrong = aoe("copy", in.toString(), "e6.1", "--mac", "02:00:00:00:00:99", "-t", "1s");
        assertEquals(1, wrong.exit(), wrong.err());
        assertTrue(wrong.err().contains("02:00:00:00:00:99") && wrong.err().contains(macSmall), wrong.err());
    }
}
