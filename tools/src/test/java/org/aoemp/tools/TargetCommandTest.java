package org.aoemp.tools;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertInstanceOf;
import static org.junit.jupiter.api.Assertions.assertNotEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.io.IOException;
import java.io.PrintWriter;
import java.io.RandomAccessFile;
import java.io.StringWriter;
import java.net.NetworkInterface;
import java.nio.ByteBuffer;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.attribute.PosixFilePermissions;
import java.time.Duration;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.List;
import java.util.Random;
import java.util.concurrent.ExecutionException;
import java.util.concurrent.TimeUnit;
import java.util.stream.Stream;

import org.aoemp.block.IoError;
import org.aoemp.initiator.AoeDevice;
import org.aoemp.initiator.DeviceOptions;
import org.aoemp.initiator.Initiator;
import org.aoemp.initiator.TargetAddress;
import org.aoemp.protocol.MacAddress;
import org.aoemp.target.AoeTarget;
import org.aoemp.testing.Await;
import org.aoemp.testing.BulkIo;
import org.aoemp.testing.Prerequisites;
import org.aoemp.testing.RealPeer;
import org.aoemp.testing.VethRig;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

import picocli.CommandLine;

/**
 * {@code aoe target} run in-process (its thread is interrupted to stop it) on the target ends of
 * a two-pair veth rig kept in the root namespace, against the project's initiator and the
 * {@code aoe mask / reserve / cfg} commands on the initiator ends: vblade's flags (-r, -m, -o/-l),
 * reservations from two initiator MACs, mask edits, config strings, and the error messages.
 */
class TargetCommandTest
{
    private static final long MIB = 1 << 20;
    private static final TargetAddress E7_3 = new TargetAddress(7, 3);

    @TempDir
    Path dir;

    private VethRig rig;
    private RunningTarget target;
    private final List<Initiator> initiators = new ArrayList<>();

    record Run(int exit, String out, String err)
    {
    }

    static Run aoe(final String... args)
    {
        final StringWriter out = new StringWriter();
        final StringWriter err = new StringWriter();
        final CommandLine cl = AoeCommand.commandLine();
        cl.setOut(new PrintWriter(out, true));
        cl.setErr(new PrintWriter(err, true));
        final int exit = cl.execute(args);
        return new Run(exit, out.toString(), err.toString());
    }

    /**
     * {@code aoe ARGS -t 2s}: the control commands collect answers until their timeout. The rig
     * answers in microseconds, but the target is a JVM on a loaded 2-vCPU machine: 500 ms was
     * seen to pass without an answer, so this waits the product's own default.
     */
    static Run aoeQuick(final String... args)
    {
        return aoe(Stream.concat(Arrays.stream(args), Stream.of("-t", "2s")).toArray(String[]::new));
    }

    /** {@code aoe target ...} on a thread of this JVM; interrupting the thread stops it. */
    static final class RunningTarget implements AutoCloseable
    {
        final StringWriter out = new StringWriter();
        final StringWriter err = new StringWriter();
        private final Thread thread;
        private volatile int exit = -1;

        RunningTarget(final String... args) throws InterruptedException
        {
            final String[] argv = Stream.concat(Stream.of("target"), Arrays.stream(args)).toArray(String[]::new);
            thread = Thread.ofPlatform().name("aoe-target-cli").start(() ->
            {
                final CommandLine cl = AoeCommand.commandLine();
                cl.setOut(new PrintWriter(out, true));
                cl.setErr(new PrintWriter(err, true));
                exit = cl.execute(argv);
            });
            Await.reached(Duration.ofSeconds(20), () -> out.toString().contains("aoe target: serving") || !thread.isAlive());
            if (!out.toString().contains("aoe target: serving"))
            {
                if (!thread.isAlive())
                {
                    throw new IllegalStateException("aoe target ended with " + exit + ": " + err + out);
                }
                throw new IllegalStateException("aoe target did not start within 20 s: " + err + out);
            }
        }

        @Override
        public void close() throws InterruptedException
        {
            thread.interrupt();
            thread.join(TimeUnit.SECONDS.toMillis(20));
            assertEquals(0, exit, "exit status after an interrupt: " + err + out);
            assertTrue(out.toString().contains("aoe target: stopped e7.3"), out.toString());
        }
    }

    @AfterEach
    void tearDown() throws Exception
    {
        initiators.forEach(Initiator::close);
        try
        {
            if (target != null)
            {
                target.close();
            }
        }
        finally
        {
            if (rig != null)
            {
                rig.close();
            }
        }
    }

    private Path file(final long size) throws IOException
    {
        final Path f = dir.resolve("disk.img");
        BulkIo.sparseFile(f, size);
        return f;
    }

    /** A rig with two pairs, both ends in the root namespace, and {@code aoe target 7 3 FILE -i at0 -i at1 EXTRA...}. */
    private void serve(final Path disk, final String... extra) throws Exception
    {
        Prerequisites.requireRoot();
        rig = VethRig.builder().pairs(2).targetsInRootNamespace(true).build();
        final List<String> args = new ArrayList<>(List.of("7", "3", disk.toString(), "-i", rig.targetIf(0), "-i", rig.targetIf(1)));
        args.addAll(List.of(extra));
        target = new RunningTarget(args.toArray(String[]::new));
    }

    private Initiator initiatorOn(final int pair)
    {
        final Initiator i = Initiator.open("afpacket", List.of(rig.initiatorIf(pair)), Duration.ZERO);
        initiators.add(i);
        return i;
    }

    private String macOf(final String ifName) throws IOException
    {
        return MacAddress.of(NetworkInterface.getByName(ifName).getHardwareAddress()).toString();
    }

    private static DeviceOptions quick()
    {
        return DeviceOptions.defaults().withOpenTimeout(Duration.ofSeconds(2)).withDeadAfter(Duration.ofSeconds(5));
    }

    private static IoError ioErrorOf(final ExecutionException e)
    {
        return assertInstanceOf(IoError.class, e.getCause());
    }

    // ------------------------------------------------------------------------------------------

    @Test
    void helpShouldListTheTargetCommandAndItsVbladeOptions()
    {
        final Run top = aoe("--help");
        assertTrue(top.out().contains("target"), top.out());
        final Run help = aoe("target", "--help");
        assertEquals(0, help.exit());
        for (final String option : List.of("-r", "-b", "-m", "-o", "-l", "--sync", "--config", "--transport", "-i"))
        {
            assertTrue(help.out().contains(option), option + " in " + help.out());
        }
    }

    @RealPeer
    @Test
    void readOnlyShouldRefuseWritesWithEioAndServeReads() throws Exception
    {
        final Path disk = file(4 * MIB);
        final byte[] content = new byte[(int)MIB];
        new Random(5).nextBytes(content);
        try (RandomAccessFile raf = new RandomAccessFile(disk.toFile(), "rw"))
        {
            raf.write(content);
        }
        serve(disk, "-r");
        assertTrue(target.out.toString().contains("read-only"), target.out.toString());
        final AoeDevice d = initiatorOn(0).open(E7_3, quick());
        final ExecutionException refused = assertThrows(ExecutionException.class,
            () -> d.writeAsync(0, ByteBuffer.allocate(4096)).get(10, TimeUnit.SECONDS));
        assertEquals(IoError.EIO, ioErrorOf(refused).errno(), refused.getCause().getMessage());
        final ByteBuffer back = ByteBuffer.allocate((int)MIB);
        d.readAsync(0, back).get(10, TimeUnit.SECONDS);
        assertArrayEquals(content, back.array());
        assertArrayEquals(content, Arrays.copyOf(Files.readAllBytes(disk), (int)MIB), "file untouched");
    }

    @RealPeer
    @Test
    void thePcapTransportShouldServeToo() throws Exception
    {
        final Path disk = file(4 * MIB);
        serve(disk, "--transport", "pcap", "-b", "8");
        final AoeDevice d = initiatorOn(1).open(E7_3, quick());
        final byte[] data = new byte[(int)MIB];
        new Random(7).nextBytes(data);
        d.writeAsync(MIB, ByteBuffer.wrap(data)).get(20, TimeUnit.SECONDS);
        final ByteBuffer back = ByteBuffer.allocate(data.length);
        d.readAsync(MIB, back).get(20, TimeUnit.SECONDS);
        assertArrayEquals(data, back.array());
        assertArrayEquals(data, Arrays.copyOfRange(Files.readAllBytes(disk), (int)MIB, (int)(2 * MIB)));
        assertEquals(8, d.pathStats().getFirst().bufferCount(), "-b 8 advertised");
    }

    @RealPeer
    @Test
    void macListShouldLeaveOtherInitiatorsUnanswered() throws Exception
    {
        final Path disk = file(4 * MIB);
        Prerequisites.requireRoot();
        rig = VethRig.builder().pairs(2).targetsInRootNamespace(true).build();
        target = new RunningTarget("7", "3", disk.toString(), "-i", rig.targetIf(0), "-i", rig.targetIf(1),
            "-m", macOf(rig.initiatorIf(0)) + ",02:00:00:00:00:99");
        final IoError unanswered = assertThrows(IoError.class, () -> initiatorOn(1).open(E7_3, quick()));
        assertTrue(unanswered.getMessage().contains("no AoE target e7.3 answered"), unanswered.getMessage());
        final AoeDevice d = initiatorOn(0).open(E7_3, quick());
        assertEquals(4 * MIB, d.size());
        d.writeAsync(0, ByteBuffer.wrap(new byte[4096])).get(10, TimeUnit.SECONDS);
    }

    @RealPeer
    @Test
    void offsetAndLengthShouldExposeExactlyThatWindowOfTheFile() throws Exception
    {
        final Path disk = file(8 * MIB);
        serve(disk, "-o", "2048", "-l", "4096");
        final AoeDevice d = initiatorOn(0).open(E7_3, quick());
        assertEquals(4096, d.identity().capacitySectors(), "IDENTIFY says 4096 sectors");
        assertEquals(2 * MIB, d.size());
        final byte[] first = new byte[64 << 10];
        final byte[] last = new byte[64 << 10];
        new Random(1).nextBytes(first);
        new Random(2).nextBytes(last);
        d.writeAsync(0, ByteBuffer.wrap(first)).get(10, TimeUnit.SECONDS);
        d.writeAsync(2 * MIB - last.length, ByteBuffer.wrap(last)).get(10, TimeUnit.SECONDS);
        final byte[] file = Files.readAllBytes(disk);
        assertArrayEquals(first, Arrays.copyOfRange(file, (int)MIB, (int)MIB + first.length), "sector 0 is file sector 2048");
        assertArrayEquals(last, Arrays.copyOfRange(file, (int)(3 * MIB) - last.length, (int)(3 * MIB)), "the window ends at sector 6144");
        assertEquals(0, Arrays.stream(new int[] {(int)(3 * MIB), (int)MIB - 1}).map(i -> file[i]).sum(), "nothing outside it");
        assertThrows(ExecutionException.class, () -> d.readAsync(2 * MIB, ByteBuffer.allocate(512)).get(10, TimeUnit.SECONDS));
    }

    @RealPeer
    @Test
    void reservationsShouldRefuseTheOtherInitiatorWithAoeError6ButLetItIdentify() throws Exception
    {
        serve(file(4 * MIB));
        final String macA = macOf(rig.initiatorIf(0));
        final String macB = macOf(rig.initiatorIf(1));
        final Run set = aoeQuick("reserve", "7", "3", "-i", rig.initiatorIf(0), "--set", macA);
        assertEquals(0, set.exit(), set.err() + set.out());
        assertTrue(set.out().contains("reserved for [" + macA + "]"), set.out());

        final AoeDevice a = initiatorOn(0).open(E7_3, quick());
        final AoeDevice b = initiatorOn(1).open(E7_3, quick());  // IDENTIFY is allowed while reserved
        assertEquals(4 * MIB, b.size());
        a.writeAsync(0, ByteBuffer.wrap(new byte[4096])).get(10, TimeUnit.SECONDS);
        final ExecutionException refused = assertThrows(ExecutionException.class,
            () -> b.readAsync(0, ByteBuffer.allocate(4096)).get(10, TimeUnit.SECONDS));
        assertEquals(IoError.EIO, ioErrorOf(refused).errno());
        assertTrue(refused.getCause().getMessage().contains("AoE error 6"), refused.getCause().getMessage());

        final Run steal = aoeQuick("reserve", "7", "3", "-i", rig.initiatorIf(1), "--set", macB);
        assertEquals(AoeCommand.EXIT_FAILURE, steal.exit(), "set refused: reserved by another MAC: " + steal.out());
        final Run release = aoeQuick("reserve", "7", "3", "-i", rig.initiatorIf(0), "--release");
        assertEquals(0, release.exit(), release.err() + release.out());
        assertTrue(release.out().contains("not reserved"), release.out());
        b.readAsync(0, ByteBuffer.allocate(4096)).get(10, TimeUnit.SECONDS);
    }

    @RealPeer
    @Test
    void maskCommandShouldAddReadAndDeleteEntries() throws Exception
    {
        serve(file(4 * MIB));
        final String ours = macOf(rig.initiatorIf(0));
        final String other = "02:00:00:aa:bb:cc";
        final String ini0 = rig.initiatorIf(0);
        final Run add = aoeQuick("mask", "7", "3", "-i", ini0, "--add", other, "--add", ours);
        assertEquals(0, add.exit(), add.err() + add.out());
        assertTrue(add.out().contains("masks [" + other + ", " + ours + "]"), add.out());
        assertTrue(aoeQuick("mask", "7", "3", "-i", ini0).out().contains("masks [" + other + ", " + ours + "]"));
        final Run unmasked = aoeQuick("mask", "7", "3", "-i", rig.initiatorIf(1));
        assertEquals(AoeCommand.EXIT_FAILURE, unmasked.exit(), "the other NIC's MAC is not on the list: ignored");
        final Run delete = aoeQuick("mask", "7", "3", "-i", ini0, "--delete", other);
        assertTrue(delete.out().contains("masks [" + ours + "]"), delete.out());
        final Run empty = aoeQuick("mask", "7", "3", "-i", ini0, "--delete", ours);
        assertTrue(empty.out().contains("no masks"), empty.out());
        assertEquals(0, aoeQuick("mask", "7", "3", "-i", rig.initiatorIf(1)).exit(), "everyone is answered again");
    }

    @RealPeer
    @Test
    void cfgCommandShouldReadSetAndTestTheConfigString() throws Exception
    {
        serve(file(4 * MIB), "--config", "initial");
        final String ini0 = rig.initiatorIf(0);
        final Run read = aoeQuick("cfg", "7", "3", "-i", ini0);
        assertEquals(0, read.exit(), read.err());
        assertTrue(read.out().contains("\"initial\""), read.out());
        final Run set = aoeQuick("cfg", "7", "3", "-i", ini0, "-c", "set", "-s", "again");
        assertEquals(AoeCommand.EXIT_FAILURE, set.exit());
        assertTrue(set.out().contains("config string present"), set.out());
        assertEquals(0, aoeQuick("cfg", "7", "3", "-i", ini0, "-c", "fset", "-s", "rack-9").exit());
        assertEquals(0, aoeQuick("cfg", "-i", ini0, "-c", "test", "-s", "rack-9").exit(), "exact match answers");
        assertEquals(0, aoeQuick("cfg", "-i", ini0, "-c", "prefix", "-s", "rack").exit(), "prefix answers");
        assertEquals(AoeCommand.EXIT_FAILURE, aoeQuick("cfg", "-i", ini0, "-c", "test", "-s", "rack").exit());
        assertEquals(0, aoeQuick("cfg", "7", "3", "-i", ini0, "-c", "fset", "-s", "").exit());
        assertEquals(0, aoeQuick("cfg", "7", "3", "-i", ini0, "-c", "set", "-s", "now-set").exit(), "set works on an empty string");

        final Run discover = aoeQuick("discover", "-i", ini0, "-i", rig.initiatorIf(1), "--json");
        assertEquals(0, discover.exit(), discover.err());
        for (final String field : List.of("\"target\": \"e7.3\"", "\"sizeBytes\": 4194304", "\"bufferCount\": 16",
            "\"firmwareVersion\": \"0x4001\"", "\"configString\": \"now-set\"", "\"model\": \"" + AoeTarget.MODEL + "\""))
        {
            assertTrue(discover.out().contains(field), field + " in " + discover.out());
        }
    }

    @Test
    void shouldExitWithAClearMessageOnAMissingFileABadInterfaceOrABadOption() throws Exception
    {
        final Path disk = file(MIB);
        final Run missing = aoe("target", "1", "1", dir.resolve("nope.img").toString(), "-i", "lo");
        assertEquals(AoeCommand.EXIT_FAILURE, missing.exit());
        assertTrue(missing.err().contains("nope.img: no such file"), missing.err());

        final Run badIf = aoe("target", "1", "1", disk.toString(), "-i", "nosuch-if0");
        assertEquals(AoeCommand.EXIT_FAILURE, badIf.exit());
        assertTrue(badIf.err().contains("nosuch-if0") && badIf.err().contains("does not exist"), badIf.err());

        final Run badMac = aoe("target", "1", "1", disk.toString(), "-i", "lo", "-m", "nonsense");
        assertEquals(AoeCommand.EXIT_FAILURE, badMac.exit());
        assertTrue(badMac.err().contains("not a MAC address"), badMac.err());

        final Run shelf = aoe("target", "65535", "1", disk.toString(), "-i", "lo");
        assertEquals(AoeCommand.EXIT_FAILURE, shelf.exit());
        assertTrue(shelf.err().contains("broadcast shelf"), shelf.err());

        final Run noInterface = aoe("target", "1", "1", disk.toString());
        assertNotEquals(0, noInterface.exit());
        assertTrue(noInterface.err().contains("--interface"), noInterface.err());

        if (Prerequisites.isRoot())
        {
            final Run window = aoe("target", "1", "1", disk.toString(), "-i", "lo", "-o", "2000", "-l", "100");
            assertEquals(AoeCommand.EXIT_FAILURE, window.exit());
            assertTrue(window.err().contains("beyond the end"), window.err());
        }
    }

    @RealPeer
    @Test
    void anUnprivilegedUserShouldBeToldWhatPermissionIsMissing() throws Exception
    {
        Prerequisites.requireRoot();
        Prerequisites.requireCommand("setpriv", "util-linux");
        try (UnprivilegedJvm nobody = new UnprivilegedJvm())
        {
            final Path disk = nobody.dir().resolve("disk.img");
            Files.write(disk, new byte[4096]);
            Files.setPosixFilePermissions(disk, PosixFilePermissions.fromString("rw-r--r--"));
            final UnprivilegedJvm.Result r = nobody.run("target", "1", "1", disk.toString(), "-r", "-i", "lo");
            assertEquals(AoeCommand.EXIT_FAILURE, r.exit(), r.output());
            assertTrue(r.output().contains("root") && r.output().contains("CAP_NET_RAW"), r.output());
        }
    }
}
