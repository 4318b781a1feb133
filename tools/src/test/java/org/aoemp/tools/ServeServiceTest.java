package org.aoemp.tools;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertNotEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.io.IOException;
import java.net.InetAddress;
import java.net.ServerSocket;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.List;
import java.util.Map;
import java.util.Random;
import java.util.regex.Matcher;
import java.util.regex.Pattern;

import org.aoemp.testing.BulkIo;
import org.aoemp.testing.Prerequisites;
import org.aoemp.testing.ProcessRunner;
import org.aoemp.testing.RealPeer;
import org.aoemp.testing.VethRig;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * {@code aoe serve} as a service, with real processes and real clients: a target host (serve in
 * the rig's namespace with a {@code [[target]]} on the veth end) and an initiator host (serve
 * with an {@code [[export]]} of it), nbdinfo/nbdcopy/nbdsh through the NBD server, SIGHUP
 * reloads (add, remove while another client keeps working, a bad file), SIGTERM during writes
 * (exit 0, the target counted the final FLUSH), systemd socket activation and sd_notify to a
 * datagram socket the test binds.
 */
@RealPeer
class ServeServiceTest
{
    private static final Duration EXIT = Duration.ofSeconds(60);

    /** Binds a unix datagram socket (path, or abstract with a leading @) and prints each notification on a line, '|' for newlines. */
    private static final String NOTIFY_RECEIVER = """
        import socket, sys
        a = sys.argv[1]
        s = socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM)
        s.bind('\\0' + a[1:] if a.startswith('@') else a)
        print('bound', flush=True)
        while True:
            print(s.recv(4096).decode().replace('\\n', '|'), flush=True)
        """;

    /** Holds a connection: writes, says so, waits for a line on stdin, then reads back and writes again. */
    private static final String HELD_CLIENT = """
        import sys
        h.pwrite(b'A' * 4096, 0)
        h.flush()
        print('connected', flush=True)
        sys.stdin.readline()
        try:
            assert h.pread(4096, 0) == b'A' * 4096
            h.pwrite(b'B' * 4096, 4096)
            h.flush()
            print('still-working', flush=True)
        except Exception as e:
            print('failed:', e, flush=True)
            sys.exit(3)
        """;

    /** Writes 64 KiB blocks, never FLUSH, until the server stops it. */
    private static final String WRITER = """
        buf = b'W' * 65536
        n = 0
        try:
            while True:
                h.pwrite(buf, (n * 65536) % h.get_size())
                n += 1
                if n == 32:
                    print('writing', flush=True)
        except Exception as e:
            print('stopped after', n, 'writes:', e, flush=True)
        """;

    @TempDir
    Path dir;

    private final List<ServeProcess> processes = new ArrayList<>();
    private VethRig rig;

    @AfterEach
    void tearDown()
    {
        // Children first (clients), then the services, then the rig: also when the test failed.
        for (int i = processes.size() - 1; i >= 0; i--)
        {
            processes.get(i).close();
        }
        if (rig != null)
        {
            rig.close();
        }
    }

    private ServeProcess serve(final String label, final List<String> prefix, final Map<String, String> env, final Path config)
        throws IOException
    {
        final ServeProcess p = ServeProcess.aoe(label, prefix, env, dir.resolve(label + ".log"), "serve", "--config", config.toString());
        processes.add(p);
        return p;
    }

    private ServeProcess helper(final String label, final String... argv) throws IOException, InterruptedException
    {
        // nbdsh is "python3 -m nbd": the system python, which has the nbd module, not another one earlier on PATH.
        final ServeProcess p = ServeProcess.start(label, List.of(argv), Map.of("PATH", "/usr/bin:" + System.getenv("PATH")),
            dir.resolve(label + ".log"));
        processes.add(p);
        return p;
    }

    private static int freePort() throws IOException
    {
        try (ServerSocket s = new ServerSocket(0, 1, InetAddress.getLoopbackAddress()))
        {
            return s.getLocalPort();
        }
    }

    private Path disk(final String name, final long size) throws IOException
    {
        final Path f = dir.resolve(name);
        BulkIo.sparseFile(f, size);
        return f;
    }

    private static String target(final int shelf, final int slot, final Path file, final String ifName)
    {
        return "[[target]]\nshelf = " + shelf + "\nslot = " + slot + "\nfile = \"" + file + "\"\ninterfaces = [\"" + ifName + "\"]\n\n";
    }

    private static String export(final String name, final String ifName)
    {
        return "[[export]]\ntarget = \"" + name + "\"\ninterfaces = [\"" + ifName + "\"]\ndead-after = \"30s\"\nopen-timeout = \"60s\"\n\n";
    }

    private static String nbd(final int port)
    {
        return "[nbd]\nlisten = \"127.0.0.1:" + port + "\"\n\n";
    }

    private static void requireClients()
    {
        Prerequisites.requireRoot();
        Prerequisites.requireCommand("nbdinfo", "libnbd-bin");
        Prerequisites.requireCommand("nbdcopy", "libnbd-bin");
        Prerequisites.requireCommand("nbdsh", "python3-libnbd");
    }

    /** The target host in the rig's namespace, serving e7.3 (and whatever else is appended later) on the target end. */
    private ServeProcess targetHost(final Path config) throws Exception
    {
        final ServeProcess t = serve("target-host", List.of("ip", "netns", "exec", rig.namespace()), Map.of(), config);
        t.awaitLog("ready: ");
        return t;
    }

    /** The devices the running process {@code pid} publishes for {@code aoe stat -v}, by name. */
    private static List<String> liveDevices(final Path runDir, final long pid)
    {
        final List<String> names = new ArrayList<>();
        for (final LiveSessions.Session s : LiveSessions.read(List.of(runDir), Duration.ofSeconds(10)))
        {
            if (s.pid() == pid)
            {
                assertTrue(s.command().startsWith("aoe serve --config "), s.command());
                s.devices().forEach(d -> names.add(String.valueOf(d.get("device"))));
            }
        }
        return names;
    }

    @Test
    void twoHostsServeRoundTripAndReloadAddsRemovesAndRefusesABadFile() throws Exception
    {
        requireClients();
        rig = VethRig.create(1);
        final Path e73 = disk("e7.3.img", 64L << 20);
        final Path e74 = disk("e7.4.img", 32L << 20);
        final Path targetConf = dir.resolve("target-host.conf");
        Files.writeString(targetConf, target(7, 3, e73, rig.targetIf(0)));
        final ServeProcess targets = targetHost(targetConf);

        final int port = freePort();
        final String base = "nbd://127.0.0.1:" + port;
        final Path conf = dir.resolve("initiator-host.conf");
        Files.writeString(conf, nbd(port) + export("e7.3", rig.initiatorIf(0)));
        final Path runDir = Files.createDirectories(dir.resolve("run"));
        final ServeProcess initiator = serve("initiator-host", List.of(), Map.of(RunDir.ENV, runDir.toString()), conf);
        initiator.awaitLog("ready: serving 1 export (e7.3)");
        assertTrue(initiator.log().contains("serve starting: pid " + initiator.pid() + ", config " + conf), initiator.log());
        assertTrue(initiator.log().contains("live counters on " + RunDir.socketOf(runDir, initiator.pid())), initiator.log());
        assertEquals(List.of("e7.3"), liveDevices(runDir, initiator.pid()), "aoe stat -v sees the export");
        assertTrue(initiator.log().contains("export e7.3 started: 67108864 bytes over 1 path(s) on " + rig.initiatorIf(0)),
            initiator.log());

        // Round trip through both processes, checked against the target's backing file.
        final byte[] data = new byte[8 << 20];
        new Random(11).nextBytes(data);
        final Path src = dir.resolve("src.bin");
        Files.write(src, data);
        ServeProcess.run("nbdcopy", "--flush", src.toString(), base + "/e7.3");
        final Path back = dir.resolve("back.bin");
        ServeProcess.run("nbdcopy", base + "/e7.3", back.toString());
        assertArrayEquals(data, Arrays.copyOf(Files.readAllBytes(back), data.length), "nbdcopy round trip");
        assertArrayEquals(data, Arrays.copyOf(Files.readAllBytes(e73), data.length), "the target's file holds it");
        initiator.awaitLog("closed export 'e7.3'", 2, Duration.ofSeconds(30));
        assertTrue(initiator.log().contains("opened export 'e7.3'"), "connections are logged:\n" + initiator.log());

        // SIGHUP on both hosts adds e7.4: it appears in nbdinfo --list, e7.3 stays.
        Files.writeString(targetConf, target(7, 4, e74, rig.targetIf(0)), java.nio.file.StandardOpenOption.APPEND);
        targets.signal("HUP");
        targets.awaitLog("reloaded " + targetConf + ": +target e7.4; 1 unchanged");
        Files.writeString(conf, export("e7.4", rig.initiatorIf(0)), java.nio.file.StandardOpenOption.APPEND);
        initiator.signal("HUP");
        initiator.awaitLog("reloaded " + conf + ": +export e7.4; 1 unchanged");
        assertEquals(List.of("e7.3", "e7.4"), liveDevices(runDir, initiator.pid()), "the export a reload added is published");
        String list = ServeProcess.run("nbdinfo", "--list", base);
        assertTrue(list.contains("export=\"e7.3\"") && list.contains("export=\"e7.4\""), list);
        assertTrue(list.contains("33554432"), list);

        // Remove e7.3 while one client holds a connection on it and another on e7.4.
        final ServeProcess onKept = helper("client-e7.4", "nbdsh", "-u", base + "/e7.4", "-c", HELD_CLIENT);
        final ServeProcess onRemoved = helper("client-e7.3", "nbdsh", "-u", base + "/e7.3", "-c", HELD_CLIENT);
        onKept.awaitLog("connected");
        onRemoved.awaitLog("connected");
        Files.writeString(conf, nbd(port) + export("e7.4", rig.initiatorIf(0)));
        initiator.signal("HUP");
        initiator.awaitLog("reloaded " + conf + ": -export e7.3; 1 unchanged");
        assertTrue(initiator.log().contains("export e7.3 stopped (flushed)") || initiator.log().contains("export e7.3 stopped (nothing"),
            initiator.log());
        assertEquals(List.of("e7.4"), liveDevices(runDir, initiator.pid()), "the export a reload removed is not");
        onKept.say("go");
        onKept.awaitLog("still-working");
        assertEquals(0, onKept.awaitExit(EXIT), "the client on e7.4 kept working:\n" + onKept.log());
        onRemoved.say("go");
        assertEquals(3, onRemoved.awaitExit(EXIT), "the client on the removed export was disconnected:\n" + onRemoved.log());
        list = ServeProcess.run("nbdinfo", "--list", base);
        assertTrue(list.contains("export=\"e7.4\"") && !list.contains("export=\"e7.3\""), list);

        // A bad file on reload is logged and ignored: e7.4 is still served.
        Files.writeString(conf, nbd(port) + "[[export]]\ntarget = \"e7.4\"\ndead-after = \"soon\"\n");
        initiator.signal("HUP");
        initiator.awaitLog("reload refused: " + conf + ":" + 6 + ": export[1].dead-after: not a duration");
        initiator.awaitLog("still running the previous set: serving 1 export (e7.4)");
        assertTrue(ServeProcess.run("nbdinfo", base + "/e7.4").contains("33554432"));

        initiator.signal("TERM");
        assertEquals(0, initiator.awaitExit(EXIT), initiator.log());
        assertTrue(initiator.log().contains("SIGTERM: stopping") && initiator.log().contains("serve stopped cleanly"), initiator.log());
        assertFalse(Files.exists(RunDir.socketOf(runDir, initiator.pid())), "the live-counters socket is removed at the stop");
        targets.signal("TERM");
        assertEquals(0, targets.awaitExit(EXIT), targets.log());
        assertTrue(targets.log().contains("target e7.4 stopped") && targets.log().contains("target e7.3 stopped"), targets.log());
    }

    /** aoe nbd stops as aoe serve does: SIGTERM during writes finishes them, FLUSHes, exits 0. */
    @Test
    void aoeNbdOnSigtermDuringWritesFinishesThemFlushesAndExitsZero() throws Exception
    {
        requireClients();
        rig = VethRig.create(1);
        final Path e73 = disk("e7.3.img", 64L << 20);
        final Path targetConf = dir.resolve("target-host.conf");
        Files.writeString(targetConf, target(7, 3, e73, rig.targetIf(0)));
        final ServeProcess targets = targetHost(targetConf);
        final int port = freePort();
        final ServeProcess nbd = ServeProcess.aoe("aoe-nbd", List.of(), Map.of(), dir.resolve("aoe-nbd.log"), "nbd", "e7.3", "-i",
            rig.initiatorIf(0), "--listen", "127.0.0.1:" + port, "-t", "10s");
        processes.add(nbd);
        nbd.awaitLog("ready: serving e7.3");
        assertTrue(nbd.log().contains(" nbd starting: pid " + nbd.pid() + ", targets e7.3 on " + rig.initiatorIf(0)), nbd.log());

        final ServeProcess writer = helper("writer", "nbdsh", "-u", "nbd://127.0.0.1:" + port + "/e7.3", "-c", WRITER);
        writer.awaitLog("writing");
        nbd.signal("TERM");
        assertEquals(0, nbd.awaitExit(EXIT), nbd.log());
        assertTrue(nbd.log().contains("SIGTERM: stopping (finishing requests in flight, then FLUSH; stop timeout 30 s)"), nbd.log());
        assertTrue(nbd.log().contains("e7.3: final FLUSH done"), nbd.log());
        assertTrue(nbd.log().contains("nbd stopped cleanly"), nbd.log());
        assertEquals(0, writer.awaitExit(EXIT));
        assertTrue(writer.log().contains("stopped after"), writer.log());

        stopTargetAndAssertOneFinalFlush(targets);
    }

    /**
     * Stops the target host and checks its stop line: the writer's 32 × 128 sectors reached it,
     * and it counted a FLUSH. The writer never sends FLUSH, so that one is the initiator's final
     * flush at its clean stop (counted twice when a late reply made the initiator send it again).
     */
    private static void stopTargetAndAssertOneFinalFlush(final ServeProcess targets) throws Exception
    {
        targets.signal("TERM");
        assertEquals(0, targets.awaitExit(EXIT), targets.log());
        final Matcher m = Pattern.compile("target e7.3 stopped: \\d+ ATA commands, \\d+ sectors read, (\\d+) written, (\\d+) flushes")
            .matcher(targets.log());
        assertTrue(m.find(), targets.log());
        assertTrue(Long.parseLong(m.group(1)) >= 32 * 128, "the writes reached the target: " + m.group());
        // at least one: a FLUSH whose reply was late under load is retransmitted and runs again (AoE has no
        // duplicate detection; FLUSH is idempotent), so two is as right as one; none would be the failure
        assertTrue(Long.parseLong(m.group(2)) >= 1, "the initiator's final FLUSH reached the target: " + m.group());
    }

    @Test
    void sigtermDuringWritesFinishesThemFlushesAndExitsZero() throws Exception
    {
        requireClients();
        rig = VethRig.create(1);
        final Path e73 = disk("e7.3.img", 64L << 20);
        final Path targetConf = dir.resolve("target-host.conf");
        Files.writeString(targetConf, target(7, 3, e73, rig.targetIf(0)));
        final ServeProcess targets = targetHost(targetConf);
        final int port = freePort();
        final Path conf = dir.resolve("initiator-host.conf");
        Files.writeString(conf, nbd(port) + export("e7.3", rig.initiatorIf(0)));
        final ServeProcess initiator = serve("initiator-host", List.of(), Map.of(), conf);
        initiator.awaitLog("ready: ");

        final ServeProcess writer = helper("writer", "nbdsh", "-u", "nbd://127.0.0.1:" + port + "/e7.3", "-c", WRITER);
        writer.awaitLog("writing");
        initiator.signal("TERM");
        assertEquals(0, initiator.awaitExit(EXIT), initiator.log());
        assertTrue(initiator.log().contains("export e7.3 stopped (flushed)"), initiator.log());
        assertEquals(0, writer.awaitExit(EXIT));
        assertTrue(writer.log().contains("stopped after"), writer.log());

        stopTargetAndAssertOneFinalFlush(targets);
    }

    @Test
    void theNbdAccessKeysServeTlsOnAUnixSocketRefuseOthersAndRemoveTheSocketAtExit() throws Exception
    {
        requireClients();
        rig = VethRig.create(1);
        final org.aoemp.testing.TestCertificates certs = org.aoemp.testing.TestCertificates.create(dir.resolve("pki"));
        final Path e73 = disk("e7.3.img", 32L << 20);
        final Path targetConf = dir.resolve("target-host.conf");
        Files.writeString(targetConf, target(7, 3, e73, rig.targetIf(0)));
        final ServeProcess targets = targetHost(targetConf);
        final Path sock = dir.resolve("serve-" + ProcessHandle.current().pid() + ".sock");
        final int port = freePort();
        final Path conf = dir.resolve("initiator-host.conf");
        Files.writeString(conf, "[nbd]\nlisten = [\"unix:" + sock + "\", \"127.0.0.1:" + port + "\"]\nallow = [\"127.0.0.2/32\"]\n"
            + "tls = \"require\"\ntls-certificates = \"pki/server\"\n\n" + export("e7.3", rig.initiatorIf(0)));
        final ServeProcess initiator = serve("initiator-host", List.of(), Map.of(), conf);
        initiator.awaitLog("ready: ");
        assertEquals("rw-rw----", java.nio.file.attribute.PosixFilePermissions.toString(java.nio.file.Files.getPosixFilePermissions(sock)));

        final String tlsUnix = "nbds+unix:///e7.3?socket=" + sock + "&tls-certificates=" + certs.clientDir();
        assertEquals("33554432", ServeProcess.run("nbdinfo", "--size", tlsUnix).strip());
        final Path in = dir.resolve("in.img");
        Files.write(in, BulkIo.random(8 << 20, 73));
        final Path out = dir.resolve("out.img");
        ServeProcess.run("nbdcopy", "--flush", in.toString(), tlsUnix);
        ServeProcess.run("nbdcopy", tlsUnix, out.toString());
        assertTrue(java.util.Arrays.equals(Files.readAllBytes(in), java.util.Arrays.copyOf(Files.readAllBytes(out), 8 << 20)),
            "the bytes read back over TLS on the Unix socket differ");

        final ProcessRunner.Result plain = ProcessRunner.run(EXIT, "nbdinfo", "--size", "nbd+unix:///e7.3?socket=" + sock);
        assertNotEquals(0, plain.exitCode(), "a client without TLS is refused under tls = require: " + plain.stdout());
        final ProcessRunner.Result outside = ProcessRunner.run(EXIT, "nbdinfo", "--size",
            "nbds://127.0.0.1:" + port + "/e7.3?tls-certificates=" + certs.clientDir());
        assertNotEquals(0, outside.exitCode(), "127.0.0.1 is not in the allow-list: " + outside.stdout());
        initiator.awaitLog("refused: not in the allow-list (127.0.0.2/32)");

        initiator.signal("TERM");
        assertEquals(0, initiator.awaitExit(EXIT), initiator.log());
        assertFalse(Files.exists(sock), "the socket is removed at exit");
        targets.signal("TERM");
        assertEquals(0, targets.awaitExit(EXIT), targets.log());
    }

    @Test
    void socketActivatedWithNotifyReadyReloadingAndStopping() throws Exception
    {
        requireClients();
        Prerequisites.requireCommand("systemd-socket-activate", "systemd");
        Prerequisites.requireCommand("python3", "python3");
        rig = VethRig.builder().pairs(1).targetsInRootNamespace(true).build();
        final Path e73 = disk("e7.3.img", 16L << 20);
        final Path notifySocket = dir.resolve("notify.sock");
        final ServeProcess notifications = helper("notify", "python3", "-u", "-c", NOTIFY_RECEIVER, notifySocket.toString());
        notifications.awaitLog("bound");

        final int activationPort = freePort();
        final int configuredPort = freePort();
        final Path conf = dir.resolve("aoe.conf");
        // One host serving its own target and exporting it; [nbd] listen is given but the inherited socket wins.
        Files.writeString(conf, nbd(configuredPort) + target(7, 3, e73, rig.targetIf(0)) + export("e7.3", rig.initiatorIf(0)));
        final ServeProcess service = serve("service", List.of("systemd-socket-activate", "-l", "127.0.0.1:" + activationPort,
            "-E", "NOTIFY_SOCKET=" + notifySocket), Map.of(), conf);
        // systemd-socket-activate listens at once and starts the service on the first connection, as a .socket unit does.
        service.awaitLog("Listening on 127.0.0.1:" + activationPort);
        final String info = ServeProcess.run("nbdinfo", "nbd://127.0.0.1:" + activationPort + "/e7.3");
        assertTrue(info.contains("16777216"), info);
        notifications.awaitLog("READY=1|STATUS=serving 1 export (e7.3) on nbd://127.0.0.1:" + activationPort + ", 1 target (e7.3)");
        assertTrue(service.log().contains("socket activation: serving NBD on the socket systemd passed (fd 3); [nbd] listen = "),
            service.log());
        assertTrue(service.log().contains("inherited socket fd 3"), service.log());
        try (ServerSocket s = new ServerSocket(configuredPort, 1, InetAddress.getLoopbackAddress()))
        {
            assertEquals(configuredPort, s.getLocalPort(), "the configured port was not bound");
        }

        service.signal("HUP");
        notifications.awaitLog("RELOADING=1|MONOTONIC_USEC=");
        notifications.awaitLog("READY=1", 2, Duration.ofSeconds(60));
        service.awaitLog("reloaded " + conf + ": no change; 2 unchanged");

        service.signal("TERM");
        notifications.awaitLog("STOPPING=1|STATUS=stopping on SIGTERM");
        assertEquals(0, service.awaitExit(EXIT), service.log());
    }

    @Test
    void anEmptyConfigServesNothingSaysSoAndIsReadyOnAnAbstractNotifySocket() throws Exception
    {
        Prerequisites.requireCommand("python3", "python3");
        final String abstractName = "@aoe-serve-test-" + ProcessHandle.current().pid() + "-" + System.nanoTime();
        final ServeProcess notifications = helper("notify", "python3", "-u", "-c", NOTIFY_RECEIVER, abstractName);
        notifications.awaitLog("bound");
        final Path conf = dir.resolve("aoe.conf");
        Files.writeString(conf, "# nothing here yet\n");
        final ServeProcess service = serve("service", List.of(), Map.of("NOTIFY_SOCKET", abstractName), conf);
        notifications.awaitLog("READY=1|STATUS=serving 0 exports, 0 targets");
        assertTrue(service.log().contains("WARN") && service.log().contains("has no [[export]] and no [[target]]: serving nothing"),
            service.log());
        assertFalse(service.log().contains("NBD server"), "no NBD server without exports:\n" + service.log());
        service.signal("INT");
        notifications.awaitLog("STOPPING=1|STATUS=stopping on SIGINT");
        assertEquals(0, service.awaitExit(EXIT), service.log());
    }
}
