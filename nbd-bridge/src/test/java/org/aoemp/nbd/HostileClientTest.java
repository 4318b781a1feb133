package org.aoemp.nbd;

import static org.aoemp.nbd.HandshakeCodec.*;
import static org.aoemp.nbd.TransmissionCodec.CMD_READ;
import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.io.IOException;
import java.net.InetAddress;
import java.net.InetSocketAddress;
import java.nio.charset.StandardCharsets;
import java.time.Duration;
import java.util.Arrays;
import java.util.Random;

import org.aoemp.block.MemoryBlockDevice;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;

/**
 * Clients that break the protocol, over a raw socket. Each attack runs while a well-behaved
 * client (the bystander) is connected to the same server; the attacker is answered or cut off,
 * and the bystander's reads keep returning its data.
 */
class HostileClientTest
{
    private static final int MIB = 1 << 20;

    private final TrackingAllocator allocator = new TrackingAllocator();
    private final MemoryBlockDevice device = new MemoryBlockDevice("disk", 16L * MIB);
    private final byte[] pattern = new byte[64 * 1024];
    private NbdServer server;
    private RawClient bystander;

    @BeforeEach
    void start() throws Exception
    {
        new Random(11).nextBytes(pattern);
        device.writeAsync(MIB, java.nio.ByteBuffer.wrap(pattern)).get();
        server = NbdServer.builder()
            .listen(new InetSocketAddress(InetAddress.getLoopbackAddress(), 0))
            .export("disk", device)
            .allocator(allocator)
            .handshakeTimeout(Duration.ofMillis(500))
            .start();
        bystander = RawClient.transmission(server.port(), "disk");
        assertBystanderServed();
    }

    @AfterEach
    void stop() throws IOException
    {
        try
        {
            assertBystanderServed();
            bystander.close();
        }
        finally
        {
            server.close();
            device.close();
        }
        allocator.assertAllReleased();
    }

    private void assertBystanderServed() throws IOException
    {
        assertArrayEquals(pattern, bystander.read(MIB, pattern.length));
    }

    @Test
    void shouldCloseOnAWrongOptionMagic() throws IOException
    {
        try (RawClient c = RawClient.connect(server.port()))
        {
            c.clientFlags(CLIENT_FLAG_FIXED_NEWSTYLE);
            c.rawLong(NBDMAGIC);
            c.rawInt(OPT_GO);
            c.rawInt(0);
            assertTrue(c.closedByServer());
        }
    }

    @Test
    void shouldCloseOnUnknownClientFlags() throws IOException
    {
        try (RawClient c = RawClient.connect(server.port()))
        {
            c.clientFlags(CLIENT_FLAG_FIXED_NEWSTYLE | 0x4);
            assertTrue(c.closedByServer());
        }
    }

    @Test
    void shouldRefuseAnOptionLengthOf0xffffffffWithoutWaitingForItsData() throws IOException
    {
        try (RawClient c = RawClient.connect(server.port()))
        {
            c.clientFlags(CLIENT_FLAG_FIXED_NEWSTYLE | CLIENT_FLAG_NO_ZEROES);
            c.optionHeader(OPT_GO, 0xffffffffL);
            assertEquals(REP_ERR_INVALID, c.readOptionReply().type());
            assertTrue(c.closedByServer());
        }
    }

    @Test
    void shouldCloseOnAnExportNameLongerThan4096Bytes() throws IOException
    {
        // CVE-2022-26495 sent EXPORT_NAME with length 0xffffffff; EXPORT_NAME has no error reply.
        for (final long length : new long[] {0xffffffffL, 4097})
        {
            try (RawClient c = RawClient.connect(server.port()))
            {
                c.clientFlags(CLIENT_FLAG_FIXED_NEWSTYLE);
                c.optionHeader(OPT_EXPORT_NAME, length);
                assertTrue(c.closedByServer());
            }
        }
    }

    @Test
    void shouldCloseAfterTooManyOptions() throws IOException
    {
        try (RawClient c = RawClient.connect(server.port()))
        {
            c.clientFlags(CLIENT_FLAG_FIXED_NEWSTYLE | CLIENT_FLAG_NO_ZEROES);
            int sent = 0;
            try
            {
                for (; sent < 1000; sent++)
                {
                    c.option(OPT_STRUCTURED_REPLY, new byte[0]);
                }
            }
            catch (final IOException e)
            {
                // The server hung up while we were still sending: also a pass.
            }
            int answered = 0;
            try
            {
                while (c.readOptionReply().type() == REP_ERR_UNSUP)
                {
                    answered++;
                }
            }
            catch (final IOException e)
            {
                // EOF or reset once the server closed.
            }
            assertTrue(answered <= 256, answered + " options answered");
            assertTrue(c.closedByServer());
        }
    }

    @Test
    void shouldForgetAClientThatCutsARequestHeaderInHalfAndLeaves() throws IOException
    {
        try (RawClient c = RawClient.transmission(server.port(), "disk"))
        {
            final byte[] header = new byte[TransmissionCodec.REQUEST_HEADER_LENGTH];
            TransmissionCodec.writeRequestHeader(io.netty.buffer.Unpooled.wrappedBuffer(header).clear(), 0, CMD_READ, 1, 0, 4096);
            c.raw(Arrays.copyOf(header, 14));
        }
        // The bystander check in @AfterEach proves the server carried on.
    }

    @Test
    void shouldAnswerAWritePastTheEndWithEnospcAndKeepTheConnection() throws IOException
    {
        try (RawClient c = RawClient.transmission(server.port(), "disk"))
        {
            c.write(1, device.size() - 4096, new byte[64 * 1024]);
            final RawClient.Reply r = c.readReply(0);
            assertEquals(1, r.cookie());
            assertEquals(NbdErrors.ENOSPC, r.error());
            assertArrayEquals(pattern, c.read(MIB, pattern.length), "the payload was consumed, the stream is in sync");
        }
    }

    @Test
    void shouldCloseOnARequestWithoutTheRequestMagic() throws IOException
    {
        try (RawClient c = RawClient.transmission(server.port(), "disk"))
        {
            c.raw(new byte[TransmissionCodec.REQUEST_HEADER_LENGTH]);
            assertTrue(c.closedByServer());
        }
    }

    @Test
    void shouldCloseOnRandomGarbageInsteadOfAHandshake() throws IOException
    {
        final byte[] garbage = new byte[MIB];
        new Random(5).nextBytes(garbage);
        try (RawClient c = RawClient.connect(server.port()))
        {
            try
            {
                c.raw(garbage);
            }
            catch (final IOException e)
            {
                // Reset by the server before we finished: fine.
            }
            assertTrue(c.closedByServer());
        }
    }

    @Test
    void shouldHangUpOnAClientThatNeverFinishesTheHandshake() throws IOException
    {
        try (RawClient c = RawClient.connect(server.port()))
        {
            c.clientFlags(CLIENT_FLAG_FIXED_NEWSTYLE);
            c.option(OPT_LIST, new byte[0]);
            assertEquals(REP_SERVER, c.readOptionReply().type());
            assertEquals(REP_ACK, c.readOptionReply().type());
            final long start = System.nanoTime();
            assertTrue(c.closedByServer(), "closed after the 500 ms handshake timeout");
            assertTrue(System.nanoTime() - start < Duration.ofSeconds(4).toNanos());
        }
    }

    @Test
    void shouldCloseAPlainNewstyleClientThatSendsAnythingButExportName() throws IOException
    {
        try (RawClient c = RawClient.connect(server.port()))
        {
            c.clientFlags(0);
            c.option(OPT_LIST, new byte[0]);
            assertTrue(c.closedByServer());
        }
        try (RawClient c = RawClient.connect(server.port()))
        {
            c.clientFlags(0);
            c.option(OPT_EXPORT_NAME, "disk".getBytes(StandardCharsets.UTF_8));
            assertEquals(16L * MIB, java.nio.ByteBuffer.wrap(c.readBytes(10 + EXPORT_NAME_PADDING)).getLong());
            assertArrayEquals(pattern, c.read(MIB, pattern.length));
        }
    }
}
