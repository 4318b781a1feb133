package org.aoemp.tools;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertNotEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.util.ArrayList;
import java.util.Comparator;
import java.util.List;
import java.util.Map;
import java.util.stream.Stream;

import org.aoemp.testing.BulkIo;
import org.aoemp.testing.Prerequisites;
import org.aoemp.testing.ProcessRunner;
import org.aoemp.testing.RealPeer;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.TestInstance;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.ValueSource;

/**
 * One writer, two hosts: two initiator namespaces reach one vblade (e7.3) and one
 * {@code aoe target} (e8.4) through a Linux bridge ({@link BridgedHostsRig}). Host 0 serves the
 * target with {@code aoe nbd --exclusive} and writes through it; host 1 is refused (its
 * {@code aoe copy} fails at once naming host 0's MAC, its {@code aoe nbd --exclusive} exits 1,
 * its plain bridge logs the refusal and answers EIO); once host 0 stops cleanly, host 1's copy
 * succeeds.
 */
@TestInstance(TestInstance.Lifecycle.PER_CLASS)
@RealPeer
class ExclusiveTwoHostsTest
{
    private static final int HOLDER = 0;
    private static final int OTHER = 1;
    private static final long DISK = 16L << 20;
    /** Far longer than a refused copy may take: an initiator that retried until dead-after would outlive the wait. */
    private static final String DEAD_AFTER = "600s";
    private static final Duration PROMPT = Duration.ofSeconds(90);

    private Path dir;
    private BridgedHostsRig rig;
    private final List<ServeProcess> processes = new ArrayList<>();

    @BeforeAll
    void startTargets() throws Exception
    {
        Prerequisites.requireRoot();
        Prerequisites.requireCommand("vblade", "vblade");
        Prerequisites.requireCommand("nbdcopy", "libnbd-bin");
        dir = Files.createTempDirectory("aoe-exclusive");
        rig = BridgedHostsRig.create(2, 2);
        final ServeProcess vblade = start("vblade", BridgedHostsRig.in(rig.storageNamespace()), "vblade", "7", "3",
            BridgedHostsRig.targetIf(0), BulkIo.sparseFile(dir.resolve("e7.3.img"), DISK).toString());
        vblade.awaitLog("pid ");
        final ServeProcess target = aoeProcess("aoe-target", rig.storageNamespace(), "target", "8", "4", BridgedHostsRig.targetIf(1),
            BulkIo.sparseFile(dir.resolve("e8.4.img"), DISK).toString());
        target.awaitLog("aoe target: serving");
    }

    @AfterAll
    void stopAll() throws IOException
    {
        processes.forEach(ServeProcess::close);
        if (rig != null)
        {
            rig.close();
        }
        if (dir != null)
        {
            try (Stream<Path> walk = Files.walk(dir))
            {
                walk.sorted(Comparator.reverseOrder()).forEach(f -> f.toFile().delete());
            }
        }
    }

    @ParameterizedTest(name = "{0}")
    @ValueSource(strings = {"e7.3", "e8.4"})
    void theHolderWritesTheOtherHostIsRefusedUntilTheHolderStops(final String target) throws Exception
    {
        final Path backing = dir.resolve(target + ".img");
        final String holderMac = rig.hostMac(HOLDER);

        // Host 0 reserves the target and serves it; it writes and reads back through its bridge.
        final ServeProcess holder = aoeProcess("holder-" + target, rig.hostNamespace(HOLDER), "nbd", target, "-i",
            BridgedHostsRig.HOST_IF, "--exclusive", "--listen", "127.0.0.1:10809");
        holder.awaitLog("ready: serving " + target);
        assertTrue(holder.log().contains(target + ": reserved for " + holderMac), holder.log());
        final byte[] ours = BulkIo.random(1 << 20, 1);
        final Path oursFile = Files.write(dir.resolve(target + "-ours.bin"), ours);
        final String uri = "nbd://127.0.0.1:10809/" + target;
        ok(inHost(HOLDER, "nbdcopy", "--flush", oursFile.toString(), uri));
        final Path back = dir.resolve(target + "-back.bin");
        ok(inHost(HOLDER, "nbdcopy", uri, back.toString()));
        assertArrayEquals(ours, java.util.Arrays.copyOf(Files.readAllBytes(back), ours.length), "holder's read back");
        assertArrayEquals(ours, BulkIo.fileBytes(backing, 0, ours.length), "the target's file holds the holder's data");

        // Host 1's aoe copy is refused at once, naming the holder; nothing of its data reaches the disk.
        final byte[] theirs = BulkIo.random(64 << 10, 2);
        final Path theirsFile = Files.write(dir.resolve(target + "-theirs.bin"), theirs);
        final long sentBefore = rig.packetsSentBy(OTHER);
        final ProcessRunner.Result refused = inHost(OTHER, aoeArgv("copy", theirsFile.toString(), target, "-i", BridgedHostsRig.HOST_IF,
            "--dead-after", DEAD_AFTER));
        assertEquals(AoeCommand.EXIT_FAILURE, refused.exitCode(), refused.stdout() + refused.stderr());
        assertTrue(refused.stderr().contains(target + " is reserved by " + holderMac + " (another host)"), refused.stderr());
        assertTrue(refused.stderr().contains("target is reserved by another host"), refused.stderr());
        // 64 KiB is 64 frames at MTU 1500; a host that retried the refused writes would send thousands.
        final long sent = rig.packetsSentBy(OTHER) - sentBefore;
        assertTrue(sent < 1000, "host 1 sent " + sent + " packets for a refused 64 KiB copy");
        assertArrayEquals(ours, BulkIo.fileBytes(backing, 0, ours.length), "the refused copy changed nothing");

        // Host 1's aoe nbd --exclusive refuses to start, naming the holder and the way out.
        final ProcessRunner.Result second = inHost(OTHER, aoeArgv("nbd", target, "-i", BridgedHostsRig.HOST_IF, "--exclusive"));
        assertEquals(AoeCommand.EXIT_FAILURE, second.exitCode(), second.stdout() + second.stderr());
        assertTrue(second.stderr().contains(target + " is reserved by " + holderMac + " (another host)"), second.stderr());
        assertTrue(second.stderr().contains("--force-release"), second.stderr());
        assertTrue(holder.isAlive(), "the holder keeps serving");

        // Host 1's plain bridge serves, but every write fails with EIO and its log says why.
        final ServeProcess plain = aoeProcess("plain-" + target, rig.hostNamespace(OTHER), "nbd", target, "-i", BridgedHostsRig.HOST_IF,
            "--dead-after", DEAD_AFTER, "--listen", "127.0.0.1:10809");
        plain.awaitLog("ready: serving " + target);
        assertTrue(plain.log().contains(target + " is reserved by " + holderMac + " (another host)"), plain.log());
        final ProcessRunner.Result eio = inHost(OTHER, "nbdcopy", "--flush", theirsFile.toString(), uri);
        assertNotEquals(0, eio.exitCode(), "nbdcopy through the refused bridge: " + eio.stderr());
        plain.awaitLog("target is reserved by another host", 1, PROMPT);
        plain.signal("TERM");
        assertEquals(0, plain.awaitExit(PROMPT), plain.log());
        assertArrayEquals(ours, BulkIo.fileBytes(backing, 0, ours.length), "the refused bridge changed nothing");

        // The holder stops cleanly and releases; host 1's copy then succeeds.
        holder.signal("TERM");
        assertEquals(0, holder.awaitExit(PROMPT), holder.log());
        assertTrue(holder.log().contains(target + ": reservation released"), holder.log());
        ok(inHost(OTHER, aoeArgv("copy", theirsFile.toString(), target, "-i", BridgedHostsRig.HOST_IF, "--verify")));
        assertArrayEquals(theirs, BulkIo.fileBytes(backing, 0, theirs.length), "host 1 writes once the holder released");
    }

    @org.junit.jupiter.api.Test
    void aServeExportWithExclusiveTrueHoldsTheTargetWhileServedAndAnotherServeDoesNotStart() throws Exception
    {
        final String holderMac = rig.hostMac(HOLDER);
        final String export = "[[export]]\ntarget = \"e7.3\"\ninterfaces = [\"" + BridgedHostsRig.HOST_IF + "\"]\nexclusive = true\n";
        final Path conf = Files.writeString(dir.resolve("exclusive.conf"), "[nbd]\nlisten = \"127.0.0.1:10809\"\n\n" + export);
        final ServeProcess holder = aoeProcess("serve-holder", rig.hostNamespace(HOLDER), "serve", "--config", conf.toString());
        holder.awaitLog("ready: serving 1 export (e7.3)");
        assertTrue(holder.log().contains("e7.3: reserved for " + holderMac), holder.log());
        assertTrue(holder.log().contains("read-write, exclusive"), holder.log());

        final ProcessRunner.Result reserved = inHost(OTHER, aoeArgv("reserve", "7", "3", "-i", BridgedHostsRig.HOST_IF));
        assertTrue(reserved.stdout().contains("reserved for [" + holderMac + "]"), reserved.stdout() + reserved.stderr());
        final ProcessRunner.Result second = inHost(OTHER, aoeArgv("serve", "--config", conf.toString()));
        assertEquals(AoeCommand.EXIT_FAILURE, second.exitCode(), second.stdout() + second.stderr());
        assertTrue((second.stdout() + second.stderr()).contains("e7.3 is reserved by " + holderMac), second.stdout() + second.stderr());

        holder.signal("TERM");
        assertEquals(0, holder.awaitExit(PROMPT), holder.log());
        assertTrue(holder.log().contains("e7.3: reservation released"), holder.log());
        final ProcessRunner.Result free = ok(inHost(OTHER, aoeArgv("reserve", "7", "3", "-i", BridgedHostsRig.HOST_IF)));
        assertTrue(free.stdout().contains("not reserved"), free.stdout());
    }

    // ------------------------------------------------------------------------------------ helpers

    private ProcessRunner.Result inHost(final int host, final String... command)
    {
        final List<String> argv = new ArrayList<>(BridgedHostsRig.in(rig.hostNamespace(host)));
        argv.addAll(List.of(command));
        return ProcessRunner.run(PROMPT, argv.toArray(String[]::new));
    }

    private static ProcessRunner.Result ok(final ProcessRunner.Result r)
    {
        assertEquals(0, r.exitCode(), String.join(" ", r.command()) + ":\n" + r.stdout() + r.stderr());
        return r;
    }

    /** {@code java -cp TESTCP AoeCommand ARGS...}: the aoe command line as its own JVM. */
    private static String[] aoeArgv(final String... args)
    {
        final List<String> argv = new ArrayList<>(List.of(Path.of(System.getProperty("java.home"), "bin", "java").toString(),
            "--enable-native-access=ALL-UNNAMED", "-XX:+UseSerialGC", "-cp", System.getProperty("java.class.path"),
            AoeCommand.class.getName()));
        argv.addAll(List.of(args));
        return argv.toArray(String[]::new);
    }

    private ServeProcess aoeProcess(final String label, final String ns, final String... args) throws IOException
    {
        final ServeProcess p = ServeProcess.aoe(label, BridgedHostsRig.in(ns), Map.of(RunDir.ENV, runDir().toString()),
            dir.resolve(label + ".log"), args);
        processes.add(p);
        return p;
    }

    private ServeProcess start(final String label, final List<String> prefix, final String... command) throws IOException
    {
        final List<String> argv = new ArrayList<>(prefix);
        argv.addAll(List.of(command));
        final ServeProcess p = ServeProcess.start(label, argv, Map.of(), dir.resolve(label + ".log"));
        processes.add(p);
        return p;
    }

    private Path runDir() throws IOException
    {
        return Files.createDirectories(dir.resolve("run"));
    }
}
