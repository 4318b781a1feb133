package org.aoemp.nbd;

import static org.aoemp.nbd.ExternalCommand.ok;
import static org.aoemp.nbd.HandshakeCodec.*;
import static org.aoemp.testing.Prerequisites.requireCommand;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertNotEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.net.InetAddress;
import java.net.InetSocketAddress;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.util.List;

import org.aoemp.block.MemoryBlockDevice;
import org.aoemp.testing.RealPeer;
import org.aoemp.testing.TestCertificates;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * libnbd's nbdinfo and nbdcopy over a Unix-domain socket ({@code nbd+unix://}) and over TLS
 * ({@code nbds://...?tls-certificates=DIR}, certificates made with openssl for the run), and what a
 * client without TLS or without a certificate gets.
 */
@RealPeer
class TlsAndUnixRealClientsTest
{
    private static final int MIB = 1 << 20;
    private static final Duration TIMEOUT = Duration.ofSeconds(120);

    private final MemoryBlockDevice disk = new MemoryBlockDevice("disk", 64L * MIB);
    private NbdServer server;

    @TempDir
    Path tmp;

    @AfterEach
    void stop()
    {
        if (server != null)
        {
            server.close();
        }
        disk.close();
    }

    private NbdServer start(final TlsSettings tls, final ListenAddress... listen)
    {
        server = NbdServer.builder().listen(List.of(listen)).tls(tls).export("e0.1", disk).start();
        return server;
    }

    private static ListenAddress loopback()
    {
        return ListenAddress.of(new InetSocketAddress(InetAddress.getLoopbackAddress(), 0));
    }

    @Test
    void nbdinfoAndNbdcopyShouldWorkOverAUnixSocket() throws Exception
    {
        requireCommand("nbdinfo", "libnbd-bin");
        requireCommand("nbdcopy", "libnbd-bin");
        final Path sock = tmp.resolve("nbd.sock");
        start(TlsSettings.OFF, new ListenAddress.Unix(sock), loopback());
        final String uri = "nbd+unix:///e0.1?socket=" + sock;
        assertEquals(uri, server.uri("e0.1"));
        assertEquals(Long.toString(64L * MIB), ok(ExternalCommand.run(TIMEOUT, "nbdinfo", "--size", uri)).strip());
        roundTrip(uri, 16 * MIB);
    }

    @Test
    void nbdinfoAndNbdcopyShouldWorkOverTlsWithAVerifiedClientCertificate() throws Exception
    {
        requireCommand("nbdinfo", "libnbd-bin");
        requireCommand("nbdcopy", "libnbd-bin");
        final TestCertificates certs = TestCertificates.create(tmp.resolve("pki"));
        final TlsSettings tls = TlsSettings.load(TlsSettings.Mode.REQUIRE, certs.serverDir());
        assertTrue(tls.verifiesClients(), "ca-cert.pem in the server's directory: clients are verified");
        start(tls, loopback(), new ListenAddress.Unix(tmp.resolve("tls.sock")));
        final String uri = "nbds://localhost:" + server.port() + "/e0.1?tls-certificates=" + certs.clientDir();
        final String json = ok(ExternalCommand.run(TIMEOUT, "nbdinfo", "--json", uri));
        assertTrue(json.contains("\"export-size\": " + 64L * MIB), json);
        assertTrue(json.contains("\"uri\": \"nbds://"), "libnbd reports the TLS URI: " + json);
        roundTrip(uri, 16 * MIB);
        // The same over the Unix socket, TLS on top.
        final String unix = "nbds+unix:///e0.1?socket=" + tmp.resolve("tls.sock") + "&tls-certificates=" + certs.clientDir();
        assertEquals(Long.toString(64L * MIB), ok(ExternalCommand.run(TIMEOUT, "nbdinfo", "--size", unix)).strip());

        // A client with the CA but no certificate of its own is refused by the server.
        final ExternalCommand.Result anonymous = ExternalCommand.run(TIMEOUT, "nbdinfo", "--size",
            "nbds://localhost:" + server.port() + "/e0.1?tls-certificates=" + certs.anonymousClientDir());
        assertNotEquals(0, anonymous.exitCode(), "a client without a certificate must be refused: " + anonymous.all());
    }

    @Test
    void withoutAClientCaAnyTlsClientShouldBeServed() throws Exception
    {
        requireCommand("nbdinfo", "libnbd-bin");
        final TestCertificates certs = TestCertificates.create(tmp.resolve("pki"));
        start(TlsSettings.load(TlsSettings.Mode.ON, certs.serverDirWithoutClientCa()), loopback());
        final String anonymous = "nbds://localhost:" + server.port() + "/e0.1?tls-certificates=" + certs.anonymousClientDir();
        assertEquals(Long.toString(64L * MIB), ok(ExternalCommand.run(TIMEOUT, "nbdinfo", "--size", anonymous)).strip());
        // --tls on: a plain client is served too.
        final String plain = "nbd://127.0.0.1:" + server.port() + "/e0.1";
        assertEquals(Long.toString(64L * MIB), ok(ExternalCommand.run(TIMEOUT, "nbdinfo", "--size", plain)).strip());
    }

    @Test
    void underRequireAPlainClientShouldBeRefusedWithTlsRequired() throws Exception
    {
        requireCommand("nbdinfo", "libnbd-bin");
        final TestCertificates certs = TestCertificates.create(tmp.resolve("pki"));
        start(TlsSettings.load(TlsSettings.Mode.REQUIRE, certs.serverDir()), loopback());
        final ExternalCommand.Result plain = ExternalCommand.run(TIMEOUT, "nbdinfo", "--size", "nbd://127.0.0.1:" + server.port() + "/e0.1");
        assertNotEquals(0, plain.exitCode(), plain.all());
        assertTrue(plain.all().toLowerCase(java.util.Locale.ROOT).contains("tls"), "libnbd says TLS is needed: " + plain.all());

        // On the wire: every option but STARTTLS and ABORT gets NBD_REP_ERR_TLS_REQD, and the handshake goes on.
        try (RawClient c = RawClient.connect(server.port()))
        {
            c.clientFlags(CLIENT_FLAG_FIXED_NEWSTYLE | CLIENT_FLAG_NO_ZEROES);
            for (final int option : new int[] {OPT_LIST, OPT_INFO, OPT_GO, OPT_STRUCTURED_REPLY, 42})
            {
                c.option(option, option == OPT_INFO || option == OPT_GO ? RawClient.infoData("e0.1") : new byte[0]);
                final RawClient.OptionReply r = c.readOptionReply();
                assertEquals(option, r.option());
                assertEquals(REP_ERR_TLS_REQD, r.type(), optionName(option) + ": " + new String(r.data(), StandardCharsets.UTF_8));
            }
            c.option(OPT_ABORT, new byte[0]);
            assertEquals(REP_ACK, c.readOptionReply().type(), "ABORT is answered without TLS");
            assertTrue(c.closedByServer());
        }
        // EXPORT_NAME cannot carry an error: the connection is closed, no export data is sent.
        try (RawClient c = RawClient.connect(server.port()))
        {
            c.clientFlags(CLIENT_FLAG_FIXED_NEWSTYLE);
            c.option(OPT_EXPORT_NAME, "e0.1".getBytes(StandardCharsets.UTF_8));
            assertTrue(c.closedByServer());
        }
    }

    @Test
    void startTlsShouldBeRefusedWhenTlsIsOffAndTwiceOrWithData() throws Exception
    {
        start(TlsSettings.OFF, loopback());
        try (RawClient c = RawClient.connect(server.port()))
        {
            c.clientFlags(CLIENT_FLAG_FIXED_NEWSTYLE);
            c.option(OPT_STARTTLS, new byte[0]);
            assertEquals(REP_ERR_UNSUP, c.readOptionReply().type());
            c.option(OPT_LIST, new byte[0]);
            assertEquals(REP_SERVER, c.readOptionReply().type(), "the handshake goes on in the clear");
        }
        server.close();
        final TestCertificates certs = TestCertificates.create(tmp.resolve("pki"));
        start(TlsSettings.load(TlsSettings.Mode.ON, certs.serverDir()), loopback());
        try (RawClient c = RawClient.connect(server.port()))
        {
            c.clientFlags(CLIENT_FLAG_FIXED_NEWSTYLE);
            c.option(OPT_STARTTLS, new byte[] {1});
            assertEquals(REP_ERR_INVALID, c.readOptionReply().type(), "STARTTLS takes no data");
        }
    }

    @Test
    void badCertificateDirectoriesShouldBeRefusedWithTheFileNamed() throws Exception
    {
        final TestCertificates certs = TestCertificates.create(tmp.resolve("pki"));
        final Path empty = Files.createDirectories(tmp.resolve("empty"));
        IllegalArgumentException e = assertThrows(IllegalArgumentException.class, () -> TlsSettings.load(TlsSettings.Mode.ON, empty));
        assertTrue(e.getMessage().contains("server-cert.pem: no such file"), e.getMessage());
        e = assertThrows(IllegalArgumentException.class, () -> TlsSettings.load(TlsSettings.Mode.ON, tmp.resolve("missing")));
        assertTrue(e.getMessage().contains("no such directory"), e.getMessage());
        e = assertThrows(IllegalArgumentException.class, () -> TlsSettings.load(TlsSettings.Mode.REQUIRE, null));
        assertTrue(e.getMessage().contains("--tls-certificates"), e.getMessage());

        // The client's key with the server's certificate: caught at start, not at the first client.
        final Path mismatch = Files.createDirectories(tmp.resolve("mismatch"));
        Files.copy(certs.file("server-cert.pem"), mismatch.resolve("server-cert.pem"));
        Files.copy(certs.file("client-key.pem"), mismatch.resolve("server-key.pem"));
        e = assertThrows(IllegalArgumentException.class, () -> TlsSettings.load(TlsSettings.Mode.ON, mismatch));
        assertTrue(e.getMessage().contains("is not the key of the certificate"), e.getMessage());

        // An RSA key in PKCS#1 form, as certtool --generate-privkey writes it, is read.
        final Path pkcs1 = Files.createDirectories(tmp.resolve("pkcs1"));
        Files.copy(certs.file("server-cert.pem"), pkcs1.resolve("server-cert.pem"));
        ok(ExternalCommand.run(TIMEOUT, "openssl", "rsa", "-traditional", "-in", certs.file("server-key.pem").toString(),
            "-out", pkcs1.resolve("server-key.pem").toString()));
        assertTrue(Files.readString(pkcs1.resolve("server-key.pem")).contains("BEGIN RSA PRIVATE KEY"));
        assertEquals(TlsSettings.Mode.ON, TlsSettings.load(TlsSettings.Mode.ON, pkcs1).mode());
    }

    /** nbdcopy a random file in and back out through {@code uri}; the bytes must come back unchanged. */
    private void roundTrip(final String uri, final int size) throws Exception
    {
        final Path in = ExternalCommand.randomFile(tmp.resolve("in.img"), size);
        final Path out = tmp.resolve("out.img");
        ok(ExternalCommand.run(TIMEOUT, "nbdcopy", "--flush", in.toString(), uri));
        ok(ExternalCommand.run(TIMEOUT, "nbdcopy", uri, out.toString()));
        final byte[] expected = Files.readAllBytes(in);
        final byte[] actual = java.util.Arrays.copyOf(Files.readAllBytes(out), size);
        assertTrue(java.util.Arrays.equals(expected, actual), "the data read back over " + uri + " differs from what was written");
        Files.delete(in);
        Files.delete(out);
    }
}
