package org.aoemp.nbd;

import static org.aoemp.nbd.HandshakeCodec.IHAVEOPT;
import static org.aoemp.nbd.HandshakeCodec.NBDMAGIC;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.io.DataInputStream;
import java.io.IOException;
import java.net.InetAddress;
import java.net.InetSocketAddress;
import java.net.Socket;
import java.net.StandardProtocolFamily;
import java.net.UnixDomainSocketAddress;
import java.nio.ByteBuffer;
import java.nio.channels.Channels;
import java.nio.channels.ServerSocketChannel;
import java.nio.channels.SocketChannel;
import java.nio.file.Files;
import java.nio.file.LinkOption;
import java.nio.file.Path;
import java.nio.file.attribute.PosixFilePermissions;
import java.util.List;

import org.aoemp.block.MemoryBlockDevice;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/** Who may connect: the allow-list over TCP, Unix-domain sockets (mode, removal, stale files), and how both are parsed. */
class AccessControlTest
{
    private final MemoryBlockDevice disk = new MemoryBlockDevice("disk", 1 << 20);
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

    @Test
    void allowListShouldMatchCidrBlocksOfBothFamilies() throws Exception
    {
        final AllowList a = AllowList.parse(List.of("10.1.0.0/16", "192.168.7.9", "fd00:1::/32", "172.16.0.0/12"));
        assertTrue(a.allows(InetAddress.getByName("10.1.255.3")));
        assertFalse(a.allows(InetAddress.getByName("10.2.0.1")));
        assertTrue(a.allows(InetAddress.getByName("192.168.7.9")));
        assertFalse(a.allows(InetAddress.getByName("192.168.7.10")));
        assertTrue(a.allows(InetAddress.getByName("172.31.255.255")));
        assertFalse(a.allows(InetAddress.getByName("172.32.0.0")));
        assertTrue(a.allows(InetAddress.getByName("fd00:1:ffff::1")));
        assertFalse(a.allows(InetAddress.getByName("fd00:2::1")));
        assertTrue(a.allows(InetAddress.getByName("::ffff:10.1.2.3")), "an IPv4 client on a dual-stack socket");
        assertTrue(AllowList.parse(List.of()).allows(InetAddress.getByName("8.8.8.8")), "empty: everyone");
        assertTrue(AllowList.parse(List.of("0.0.0.0/0")).allows(InetAddress.getByName("8.8.8.8")));
        assertFalse(AllowList.parse(List.of("0.0.0.0/0")).allows(InetAddress.getByName("::1")), "an IPv4 block never matches IPv6");
        for (final String bad : new String[] {"10.0.0.0/33", "fd00::/129", "example.com", "10.0.0/8", "10.0.0.0/x", "", "10.0.0.0/-1"})
        {
            final IllegalArgumentException e = assertThrows(IllegalArgumentException.class, () -> AllowList.parse(List.of(bad)), bad);
            assertTrue(e.getMessage().contains(bad), e.getMessage());
        }
    }

    @Test
    void listenAddressShouldParseTcpIpv6AndUnix()
    {
        assertEquals(new ListenAddress.Tcp("127.0.0.1", 10809), ListenAddress.parse("127.0.0.1:10809"));
        assertEquals(new ListenAddress.Tcp("::1", 0), ListenAddress.parse("[::1]:0"));
        assertEquals(new ListenAddress.Unix(Path.of("/run/aoe/nbd.sock")), ListenAddress.parse("unix:/run/aoe/nbd.sock"));
        assertEquals("[::1]:10809", ListenAddress.parse("[::1]:10809").toString());
        for (final String bad : new String[] {"10809", "host:", "host:70000", "unix:", "unix:/" + "x".repeat(120), "[::1:10809"})
        {
            assertThrows(IllegalArgumentException.class, () -> ListenAddress.parse(bad), bad);
        }
    }

    @Test
    void parseTcpShouldTakeHostAndPortButNotAUnixSocket()
    {
        assertEquals(new ListenAddress.Tcp("::1", 9810), ListenAddress.parseTcp("[::1]:9810"));
        assertEquals(new ListenAddress.Tcp("127.0.0.1", 0), ListenAddress.parseTcp("127.0.0.1:0"));
        final IllegalArgumentException unix = assertThrows(IllegalArgumentException.class,
            () -> ListenAddress.parseTcp("unix:/run/aoe/metrics.sock"));
        assertTrue(unix.getMessage().contains("bad port"), unix.getMessage());
        final IllegalArgumentException noPort = assertThrows(IllegalArgumentException.class, () -> ListenAddress.parseTcp("9810"));
        assertTrue(noPort.getMessage().startsWith("expected HOST:PORT, e.g."), noPort.getMessage());
    }

    @Test
    void aTcpClientOutsideTheAllowListShouldBeClosedBeforeTheGreeting() throws Exception
    {
        server = NbdServer.builder().listen(new InetSocketAddress(InetAddress.getByName("127.0.0.1"), 0))
            .allow(AllowList.parse(List.of("127.0.0.2/32"))).export("disk", disk).start();
        // 127.0.0.1 is not allowed: the server closes without sending a byte.
        try (Socket s = connectFrom("127.0.0.1"))
        {
            assertEquals(-1, s.getInputStream().read(), "a refused client must read EOF, not the greeting");
        }
        // From 127.0.0.2 the handshake starts.
        try (Socket s = connectFrom("127.0.0.2"))
        {
            final DataInputStream in = new DataInputStream(s.getInputStream());
            assertEquals(NBDMAGIC, in.readLong());
            assertEquals(IHAVEOPT, in.readLong());
        }
        assertTrue(org.aoemp.testing.Await.reached(java.time.Duration.ofSeconds(10), () -> server.connectionCount() == 0),
            "refused connections are never counted, the allowed one closed");
    }

    private Socket connectFrom(final String source) throws IOException
    {
        final Socket s = new Socket();
        s.setSoTimeout(10_000);
        s.bind(new InetSocketAddress(InetAddress.getByName(source), 0));
        s.connect(new InetSocketAddress(InetAddress.getByName("127.0.0.1"), server.port()), 10_000);
        return s;
    }

    @Test
    void aUnixSocketShouldHaveMode0660ServeTheHandshakeAndBeRemovedAtClose() throws Exception
    {
        final Path sock = tmp.resolve("nbd.sock");
        server = NbdServer.builder().listen(List.of(ListenAddress.parse("127.0.0.1:0"), ListenAddress.parse("unix:" + sock)))
            .export("disk", disk).start();
        assertTrue(Files.exists(sock, LinkOption.NOFOLLOW_LINKS));
        assertEquals("rw-rw----", PosixFilePermissions.toString(Files.getPosixFilePermissions(sock)));
        assertEquals(2, server.listenAddresses().size());
        assertEquals("nbd+unix:///disk?socket=" + sock, server.uri("disk", server.listenAddresses().get(1)));
        try (SocketChannel ch = SocketChannel.open(UnixDomainSocketAddress.of(sock)))
        {
            final DataInputStream in = new DataInputStream(Channels.newInputStream(ch));
            assertEquals(NBDMAGIC, in.readLong());
            assertEquals(IHAVEOPT, in.readLong());
        }
        server.close();
        assertFalse(Files.exists(sock, LinkOption.NOFOLLOW_LINKS), "the socket file is removed when the server closes");
    }

    @Test
    void aStaleSocketShouldBeReplacedButALiveOneOrAFileShouldNot() throws Exception
    {
        final Path sock = tmp.resolve("stale.sock");
        // A socket file nobody listens on any more, as a killed server leaves it.
        try (ServerSocketChannel dead = ServerSocketChannel.open(StandardProtocolFamily.UNIX))
        {
            dead.bind(UnixDomainSocketAddress.of(sock));
        }
        assertTrue(Files.exists(sock, LinkOption.NOFOLLOW_LINKS));
        server = NbdServer.builder().listen(List.of(ListenAddress.parse("unix:" + sock))).export("disk", disk).start();
        assertEquals(-1, server.port(), "no TCP address");
        try (SocketChannel ch = SocketChannel.open(UnixDomainSocketAddress.of(sock)))
        {
            assertEquals(NBDMAGIC, ch.read(ByteBuffer.allocate(8)) == 8 ? NBDMAGIC : 0);
        }

        // A second server on the same path must not steal the live socket.
        final IllegalArgumentException live = assertThrows(IllegalArgumentException.class,
            () -> NbdServer.builder().listen(List.of(ListenAddress.parse("unix:" + sock))).export("disk", disk).start());
        assertTrue(live.getMessage().contains("another server is listening on " + sock), live.getMessage());
        assertTrue(Files.exists(sock, LinkOption.NOFOLLOW_LINKS), "the live server's socket is still there");

        final Path file = Files.writeString(tmp.resolve("not-a-socket"), "data");
        final IllegalArgumentException notSocket = assertThrows(IllegalArgumentException.class,
            () -> NbdServer.builder().listen(List.of(ListenAddress.parse("unix:" + file))).export("disk", disk).start());
        assertTrue(notSocket.getMessage().contains("is not a socket"), notSocket.getMessage());
        assertEquals("data", Files.readString(file));
    }
}
