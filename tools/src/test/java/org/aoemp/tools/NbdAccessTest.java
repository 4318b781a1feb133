package org.aoemp.tools;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertNotEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.io.DataInputStream;
import java.net.InetAddress;
import java.net.InetSocketAddress;
import java.net.Socket;
import java.nio.file.Files;
import java.nio.file.LinkOption;
import java.nio.file.Path;
import java.nio.file.attribute.PosixFilePermissions;
import java.time.Duration;
import java.util.List;
import java.util.Map;
import java.util.regex.Matcher;
import java.util.regex.Pattern;

import org.aoemp.nbd.ListenAddress;
import org.aoemp.testing.Prerequisites;
import org.aoemp.testing.ProcessRunner;
import org.aoemp.testing.RealPeer;
import org.aoemp.testing.TestCertificates;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * {@code aoe nbd --listen unix:PATH --allow CIDR --tls require --tls-certificates DIR} as a real
 * process: the socket's mode and removal at exit, nbdinfo over TLS on the Unix socket, a TCP
 * client outside the allow-list refused and logged. And how the options are checked.
 */
class NbdAccessTest
{
    private static final long NBD_MAGIC = 0x4e42444d41474943L;

    @TempDir
    Path dir;

    @Test
    void optionsAreCheckedAndNameTheOptionAtFault()
    {
        final NbdAccess dflt = NbdAccess.of(List.of(), List.of(), "off", null, "--");
        assertEquals(List.of(ListenAddress.parse("127.0.0.1:10809")), dflt.listen());
        assertTrue(dflt.openToTheNetwork().isEmpty(), "loopback is not open to the network");

        final NbdAccess open = NbdAccess.of(List.of("0.0.0.0:10809", "unix:/tmp/x.sock", "127.0.0.1:1"), List.of(), "off", null, "--");
        assertEquals(List.of(ListenAddress.parse("0.0.0.0:10809")), open.openToTheNetwork(), "the wildcard without TLS and allow-list");
        assertTrue(NbdAccess.of(List.of("0.0.0.0:10809"), List.of("10.0.0.0/8"), "off", null, "--").openToTheNetwork().isEmpty());

        assertMessage("--listen: expected HOST:PORT", () -> NbdAccess.of(List.of("10809"), List.of(), "off", null, "--"));
        assertMessage("--listen: an address is given twice",
            () -> NbdAccess.of(List.of("unix:/a", "unix:/a"), List.of(), "off", null, "--"));
        assertMessage("--allow: not a CIDR block", () -> NbdAccess.of(List.of(), List.of("lan"), "off", null, "--"));
        assertMessage("--tls: TLS mode must be off, on or require", () -> NbdAccess.of(List.of(), List.of(), "yes", null, "--"));
        assertMessage("--tls: TLS require needs a certificates directory",
            () -> NbdAccess.of(List.of(), List.of(), "require", null, "--"));
        assertMessage("--tls-certificates is given but --tls is off",
            () -> NbdAccess.of(List.of(), List.of(), "off", dir, "--"));
        assertMessage("--tls-certificates: " + dir + "/server-cert.pem: no such file",
            () -> NbdAccess.of(List.of(), List.of(), "on", dir, "--"));
    }

    private static void assertMessage(final String expected, final org.junit.jupiter.api.function.Executable call)
    {
        final IllegalArgumentException e = assertThrows(IllegalArgumentException.class, call);
        assertTrue(e.getMessage().contains(expected), "expected '" + expected + "' in: " + e.getMessage());
    }

    @Test
    @RealPeer
    void aoeNbdServesTlsOnAUnixSocketRefusesClientsOutsideTheAllowListAndRemovesTheSocketAtExit() throws Exception
    {
        Prerequisites.requireCommand("nbdinfo", "libnbd-bin");
        final TestCertificates certs = TestCertificates.create(dir.resolve("pki"));
        final Path sock = dir.resolve("aoe-nbd-" + ProcessHandle.current().pid() + ".sock");
        final Path log = dir.resolve("nbd.log");
        try (ServeProcess nbd = ServeProcess.aoe("aoe nbd", List.of(), Map.of(), log, "nbd", "--backend", "memory:64M",
            "--listen", "unix:" + sock, "--listen", "127.0.0.1:0", "--allow", "127.0.0.2/32",
            "--tls", "require", "--tls-certificates", certs.serverDir().toString()))
        {
            nbd.awaitLog("ready: serving memory");
            assertTrue(Files.exists(sock, LinkOption.NOFOLLOW_LINKS), nbd.log());
            assertEquals("rw-rw----", PosixFilePermissions.toString(Files.getPosixFilePermissions(sock, LinkOption.NOFOLLOW_LINKS)));
            assertTrue(nbd.log().contains("export \"memory\" nbds+unix:///memory?socket=" + sock), nbd.log());

            final ProcessRunner.Result info = ProcessRunner.run(Duration.ofSeconds(60), "nbdinfo", "--size",
                "nbds+unix:///memory?socket=" + sock + "&tls-certificates=" + certs.clientDir());
            assertEquals(0, info.exitCode(), info.stderr());
            assertEquals("67108864", info.stdout().strip());

            final Matcher m = Pattern.compile("serving NBD on unix:\\S+, 127\\.0\\.0\\.1:(\\d+) \\(TLS require\\)").matcher(nbd.log());
            assertTrue(m.find(), nbd.log());
            final int port = Integer.parseInt(m.group(1));
            // From 127.0.0.1: closed before the greeting, and logged.
            try (Socket s = connect("127.0.0.1", port))
            {
                assertEquals(-1, s.getInputStream().read(), "a client outside the allow-list must get EOF, not the greeting");
            }
            nbd.awaitLog("refused: not in the allow-list (127.0.0.2/32)");
            final ProcessRunner.Result refused = ProcessRunner.run(Duration.ofSeconds(60), "nbdinfo", "--size",
                "nbds://127.0.0.1:" + port + "/memory?tls-certificates=" + certs.clientDir());
            assertNotEquals(0, refused.exitCode(), "nbdinfo from 127.0.0.1: " + refused.stdout());
            // From 127.0.0.2: the handshake starts.
            try (Socket s = connect("127.0.0.2", port))
            {
                assertEquals(NBD_MAGIC, new DataInputStream(s.getInputStream()).readLong());
            }

            nbd.signal("TERM");
            assertEquals(0, nbd.awaitExit(Duration.ofSeconds(60)), nbd.log());
            assertFalse(Files.exists(sock, LinkOption.NOFOLLOW_LINKS), "the socket is removed at exit:\n" + nbd.log());
        }
    }

    @Test
    @RealPeer
    void listeningOnTheWildcardWithoutTlsOrAllowListIsWarnedAbout() throws Exception
    {
        final Path log = dir.resolve("open.log");
        try (ServeProcess nbd = ServeProcess.aoe("aoe nbd", List.of(), Map.of(), log, "nbd", "--backend", "memory:1M",
            "--listen", "0.0.0.0:0"))
        {
            nbd.awaitLog("ready: serving memory");
            assertTrue(nbd.log().contains("WARN") && nbd.log().contains("NBD on 0.0.0.0:0 is open to every host that reaches it"), nbd.log());
            nbd.signal("TERM");
            assertEquals(0, nbd.awaitExit(Duration.ofSeconds(60)), nbd.log());
        }
    }

    private static Socket connect(final String source, final int port) throws Exception
    {
        final Socket s = new Socket();
        s.setSoTimeout(10_000);
        s.bind(new InetSocketAddress(InetAddress.getByName(source), 0));
        s.connect(new InetSocketAddress(InetAddress.getByName("127.0.0.1"), port), 10_000);
        return s;
    }
}
