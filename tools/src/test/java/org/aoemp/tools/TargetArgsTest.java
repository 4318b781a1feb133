package org.aoemp.tools;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.nio.file.Files;
import java.nio.file.Path;
import java.util.List;
import java.util.Set;

import org.junit.jupiter.api.Assumptions;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/** {@code aoe target}'s arguments: our order (SHELF SLOT FILE -i IF), vblade's (SHELF SLOT NETIF FILE), and {@code -d}. */
class TargetArgsTest
{
    private static final Set<String> NICS = Set.of("eth1", "eth2");

    @TempDir
    Path dir;

    @Test
    void shouldTakeFileWithDashIOrVbladesNetifFile()
    {
        assertEquals(new TargetCommand.Placement(Path.of("disk.img"), List.of("eth1", "eth2")),
            TargetCommand.place(List.of("disk.img"), List.of("eth1", "eth2"), NICS::contains));
        assertEquals(new TargetCommand.Placement(Path.of("disk.img"), List.of("eth1")),
            TargetCommand.place(List.of("eth1", "disk.img"), List.of(), NICS::contains), "vblade 7 3 eth1 disk.img");
        assertEquals(new TargetCommand.Placement(Path.of("disk.img"), List.of("eth1", "eth2")),
            TargetCommand.place(List.of("eth1", "disk.img"), List.of("eth2"), NICS::contains), "vblade's order plus -i");
    }

    @Test
    void shouldSayWhatIsWrongWithTheArguments()
    {
        final IllegalArgumentException notNic = assertThrows(IllegalArgumentException.class,
            () -> TargetCommand.place(List.of("disk.img", "eth1"), List.of(), NICS::contains));
        assertTrue(notNic.getMessage().contains("'disk.img' is not a network interface: with four arguments the order is vblade's"),
            notNic.getMessage());
        final IllegalArgumentException noFile = assertThrows(IllegalArgumentException.class,
            () -> TargetCommand.place(List.of("eth1"), List.of(), NICS::contains));
        assertEquals("FILE is missing: vblade's order is SHELF SLOT NETIF FILE", noFile.getMessage());
        final IllegalArgumentException noIf = assertThrows(IllegalArgumentException.class,
            () -> TargetCommand.place(List.of("disk.img"), List.of(), NICS::contains));
        assertTrue(noIf.getMessage().startsWith("no interface: give -i IF"), noIf.getMessage());
        final TargetCommandTest.Run usage = TargetCommandTest.aoe("target", "7", "3", "disk.img");
        assertEquals(1, usage.exit(), usage.err());
        assertTrue(usage.err().contains("aoe target: no interface"), usage.err());
    }

    @Test
    void shouldRefuseDashDWithTheReasonWhereTheJdkCannotDoDirectIoInSectors() throws Exception
    {
        final Path disk = Files.write(dir.resolve("disk.img"), new byte[1 << 20]);
        Assumptions.assumeTrue(Files.getFileStore(disk).getBlockSize() != 512, "a file store whose direct-I/O unit is 512 bytes");
        final TargetCommandTest.Run run = TargetCommandTest.aoe("target", "7", "3", disk.toString(), "-i", "nosuch0", "-d");
        assertEquals(1, run.exit(), run.err());
        assertTrue(run.err().contains("aoe target: -d (O_DIRECT): the JDK does direct I/O on " + disk + " only in units of "
            + Files.getFileStore(disk).getBlockSize() + " bytes"), run.err());
    }
}
