package org.aoemp.nbd;

import static org.aoemp.nbd.HandshakeCodec.*;
import static org.aoemp.nbd.TransmissionCodec.*;
import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.io.IOException;
import java.net.InetAddress;
import java.net.InetSocketAddress;
import java.nio.ByteBuffer;
import java.nio.charset.StandardCharsets;
import java.time.Duration;
import java.util.HashSet;
import java.util.LinkedHashMap;
import java.util.Map;
import java.util.Random;
import java.util.Set;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.TimeUnit;

import org.aoemp.block.BlockDevice;
import org.aoemp.block.MemoryBlockDevice;
import org.aoemp.testing.Await;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.EnumSource;

/**
 * The server against a raw socket client: the handshake and transmission rules byte by byte, the
 * completion paths (inline, on another thread, held back, failed) and clean shutdown. Every test
 * ends by closing the server and checking that each buffer it allocated was released.
 */
class NbdServerTest
{
    private static final int MIB = 1 << 20;

    private final TrackingAllocator allocator = new TrackingAllocator();
    private final MemoryBlockDevice first = new MemoryBlockDevice("first", 8L * MIB);
    private final MemoryBlockDevice second = new MemoryBlockDevice("second", 4L * MIB);
    private final ControlledBlockDevice controlled = new ControlledBlockDevice("controlled", 8L * MIB);
    private NbdServer server;

    private NbdServer.Builder builder()
    {
        final Map<String, BlockDevice> exports = new LinkedHashMap<>();
        exports.put("first", first);
        exports.put("second", second);
        exports.put("controlled", controlled);
        return NbdServer.builder()
            .listen(new InetSocketAddress(InetAddress.getLoopbackAddress(), 0))
            .exports(exports)
            .ioThreads(2)
            .allocator(allocator);
    }

    private NbdServer start()
    {
        server = builder().start();
        return server;
    }

    @AfterEach
    void stop()
    {
        if (server != null)
        {
            server.close();
        }
        controlled.close();
        first.close();
        second.close();
        allocator.assertAllReleased();
    }

    // ---------------------------------------------------------------- handshake

    @Test
    void shouldAnswerGoWithInfoExportThenAck() throws IOException
    {
        start();
        try (RawClient c = RawClient.connect(server.port()))
        {
            c.clientFlags(CLIENT_FLAG_FIXED_NEWSTYLE | CLIENT_FLAG_NO_ZEROES);
            c.option(OPT_GO, RawClient.infoData("second"));
            final RawClient.OptionReply info = c.readOptionReply();
            assertEquals(REP_INFO, info.type());
            assertEquals(OPT_GO, info.option());
            assertEquals(12, info.data().length);
            assertEquals(INFO_EXPORT, info.buffer().getShort(0));
            assertEquals(4L * MIB, info.buffer().getLong(2));
            assertEquals(transmissionFlags(false), info.buffer().getShort(10));
            assertEquals(REP_ACK, c.readOptionReply().type());
            assertEquals(MIB / 2, c.read(0, MIB / 2).length, "transmission follows the ACK directly");
        }
    }

    @Test
    void shouldSendTheRequestedNameDescriptionAndBlockSizeForInfoAndStayInTheHandshake() throws IOException
    {
        start();
        try (RawClient c = RawClient.connect(server.port()))
        {
            c.clientFlags(CLIENT_FLAG_FIXED_NEWSTYLE);
            c.option(OPT_INFO, RawClient.infoData("", INFO_BLOCK_SIZE, INFO_NAME, INFO_DESCRIPTION));
            final Set<Integer> seen = new HashSet<>();
            RawClient.OptionReply r;
            while ((r = c.readOptionReply()).type() == REP_INFO)
            {
                final ByteBuffer b = r.buffer();
                final int type = b.getShort(0);
                seen.add(type);
                switch (type)
                {
                    case INFO_EXPORT -> assertEquals(8L * MIB, b.getLong(2), "'' is the first export");
                    case INFO_NAME -> assertEquals("first", new String(r.data(), 2, r.data().length - 2, StandardCharsets.UTF_8));
                    case INFO_DESCRIPTION -> assertTrue(new String(r.data(), 2, r.data().length - 2, StandardCharsets.UTF_8).contains("first"));
                    case INFO_BLOCK_SIZE ->
                    {
                        assertEquals(512, b.getInt(2));
                        assertEquals(4096, b.getInt(6));
                        assertEquals(32 * MIB, b.getInt(10));
                    }
                    default -> throw new AssertionError("unexpected info " + type);
                }
            }
            assertEquals(REP_ACK, r.type());
            assertEquals(Set.of(INFO_EXPORT, INFO_NAME, INFO_DESCRIPTION, INFO_BLOCK_SIZE), seen);
            // Still in the handshake: GO works afterwards.
            assertEquals(REP_ACK, c.go("first").type());
            assertEquals(8L * MIB, c.lastExport().size());
        }
    }

    @Test
    void shouldListEveryExportThenAck() throws IOException
    {
        start();
        try (RawClient c = RawClient.connect(server.port()))
        {
            c.clientFlags(CLIENT_FLAG_FIXED_NEWSTYLE | CLIENT_FLAG_NO_ZEROES);
            c.option(OPT_LIST, new byte[0]);
            for (final String expected : new String[] {"first", "second", "controlled"})
            {
                final RawClient.OptionReply r = c.readOptionReply();
                assertEquals(REP_SERVER, r.type());
                final int nameLength = r.buffer().getInt(0);
                assertEquals(expected, new String(r.data(), 4, nameLength, StandardCharsets.UTF_8));
            }
            assertEquals(REP_ACK, c.readOptionReply().type());
            c.option(OPT_LIST, new byte[1]);
            assertEquals(REP_ERR_INVALID, c.readOptionReply().type(), "LIST takes no data");
        }
    }

    @Test
    void shouldMapTheDefaultNameToTheFirstExportOrToTheChosenOne() throws IOException
    {
        start();
        try (RawClient c = RawClient.connect(server.port()))
        {
            c.clientFlags(CLIENT_FLAG_FIXED_NEWSTYLE | CLIENT_FLAG_NO_ZEROES);
            assertEquals(REP_ACK, c.go("").type());
            assertEquals(8L * MIB, c.lastExport().size());
        }
        server.close();
        server = builder().defaultExport("second").start();
        try (RawClient c = RawClient.connect(server.port()))
        {
            c.clientFlags(CLIENT_FLAG_FIXED_NEWSTYLE | CLIENT_FLAG_NO_ZEROES);
            assertEquals(REP_ACK, c.go("").type());
            assertEquals(4L * MIB, c.lastExport().size());
        }
    }

    @Test
    void shouldAnswerAnUnknownExportWithErrUnknownAndLetTheClientTryAgain() throws IOException
    {
        start();
        try (RawClient c = RawClient.connect(server.port()))
        {
            c.clientFlags(CLIENT_FLAG_FIXED_NEWSTYLE | CLIENT_FLAG_NO_ZEROES);
            assertEquals(REP_ERR_UNKNOWN, c.go("nosuch").type());
            c.option(OPT_INFO, RawClient.infoData("First"));
            assertEquals(REP_ERR_UNKNOWN, c.readOptionReply().type(), "names are case-sensitive");
            assertEquals(REP_ACK, c.go("second").type());
            assertEquals(4L * MIB, c.lastExport().size());
            c.read(0, 4096);
        }
    }

    @Test
    void shouldAnswerExportNameWithPaddingUnlessNoZeroesWasNegotiated() throws IOException
    {
        start();
        for (final boolean noZeroes : new boolean[] {false, true})
        {
            try (RawClient c = RawClient.connect(server.port()))
            {
                c.clientFlags(CLIENT_FLAG_FIXED_NEWSTYLE | (noZeroes ? CLIENT_FLAG_NO_ZEROES : 0));
                c.option(OPT_EXPORT_NAME, "second".getBytes(StandardCharsets.UTF_8));
                final ByteBuffer reply = ByteBuffer.wrap(c.readBytes(10));
                assertEquals(4L * MIB, reply.getLong());
                assertEquals(transmissionFlags(false), reply.getShort());
                if (!noZeroes)
                {
                    assertArrayEquals(new byte[EXPORT_NAME_PADDING], c.readBytes(EXPORT_NAME_PADDING));
                }
                assertEquals(4096, c.read(0, 4096).length, "the next bytes are a simple reply");
            }
        }
    }

    @Test
    void shouldCloseOnExportNameForAnUnknownExportSinceItHasNoErrorReply() throws IOException
    {
        start();
        try (RawClient c = RawClient.connect(server.port()))
        {
            c.clientFlags(CLIENT_FLAG_FIXED_NEWSTYLE);
            c.option(OPT_EXPORT_NAME, "nosuch".getBytes(StandardCharsets.UTF_8));
            assertTrue(c.closedByServer());
        }
    }

    @Test
    void shouldAckAbortThenClose() throws IOException
    {
        start();
        try (RawClient c = RawClient.connect(server.port()))
        {
            c.clientFlags(CLIENT_FLAG_FIXED_NEWSTYLE | CLIENT_FLAG_NO_ZEROES);
            c.option(OPT_ABORT, new byte[0]);
            final RawClient.OptionReply r = c.readOptionReply();
            assertEquals(OPT_ABORT, r.option());
            assertEquals(REP_ACK, r.type());
            assertTrue(c.closedByServer());
        }
    }

    @Test
    void shouldAnswerUnsupportedOptionsWithErrUnsupAndCarryOn() throws IOException
    {
        start();
        try (RawClient c = RawClient.connect(server.port()))
        {
            c.clientFlags(CLIENT_FLAG_FIXED_NEWSTYLE | CLIENT_FLAG_NO_ZEROES);
            for (final int option : new int[] {OPT_STRUCTURED_REPLY, OPT_EXTENDED_HEADERS, OPT_STARTTLS,
                OPT_LIST_META_CONTEXT, OPT_SET_META_CONTEXT, OPT_PEEK_EXPORT, 0x7654321})
            {
                c.option(option, option == OPT_LIST_META_CONTEXT ? new byte[] {0, 0, 0, 0, 0, 0, 0, 0} : new byte[0]);
                final RawClient.OptionReply r = c.readOptionReply();
                assertEquals(option, r.option());
                assertEquals(REP_ERR_UNSUP, r.type(), optionName(option));
            }
            assertEquals(REP_ACK, c.go("first").type());
            c.read(0, 512);
        }
    }

    @Test
    void shouldAnswerAMalformedGoWithErrInvalidAndCarryOn() throws IOException
    {
        start();
        try (RawClient c = RawClient.connect(server.port()))
        {
            c.clientFlags(CLIENT_FLAG_FIXED_NEWSTYLE | CLIENT_FLAG_NO_ZEROES);
            c.option(OPT_GO, new byte[] {0, 0, 0, 9, 'x', 0, 0});
            assertEquals(REP_ERR_INVALID, c.readOptionReply().type());
            c.option(OPT_GO, new byte[] {(byte)0xff, (byte)0xff, (byte)0xff, (byte)0xff, 0, 0});
            assertEquals(REP_ERR_INVALID, c.readOptionReply().type(), "name length 0xffffffff inside a short option");
            assertEquals(REP_ACK, c.go("first").type());
        }
    }

    // ---------------------------------------------------------------- transmission

    @ParameterizedTest
    @EnumSource(value = NbdServer.Transport.class, names = {"EPOLL", "NIO"})
    void shouldWriteThenReadBackOverEitherTransport(final NbdServer.Transport transport) throws IOException
    {
        org.junit.jupiter.api.Assumptions.assumeTrue(transport != NbdServer.Transport.EPOLL || io.netty.channel.epoll.Epoll.isAvailable());
        server = builder().transport(transport).start();
        assertEquals(transport == NbdServer.Transport.EPOLL, server.usesEpoll());
        try (RawClient c = RawClient.transmission(server.port(), "first"))
        {
            final byte[] data = new byte[MIB + 4096];
            new Random(7).nextBytes(data);
            c.write(1, 3 * MIB - 4096, data);
            final RawClient.Reply w = c.readReply(0);
            assertEquals(0, w.error());
            assertEquals(1, w.cookie());
            assertArrayEquals(data, c.read(3 * MIB - 4096, data.length));
        }
    }

    @Test
    void shouldServeThe32MiBMaximumAndRejectOneBlockMoreWithEinval() throws IOException
    {
        final MemoryBlockDevice big = new MemoryBlockDevice("big", 64L * MIB);
        server = NbdServer.builder().listen(new InetSocketAddress(InetAddress.getLoopbackAddress(), 0))
            .export("big", big).allocator(allocator).start();
        try (RawClient c = RawClient.transmission(server.port(), "big"))
        {
            final byte[] data = new byte[32 * MIB];
            new Random(3).nextBytes(data);
            c.write(1, 512, data);
            assertEquals(0, c.readReply(0).error());
            assertArrayEquals(data, c.read(512, data.length));

            c.write(2, 0, new byte[32 * MIB + 512]);
            assertEquals(NbdErrors.EINVAL, c.readReply(0).error(), "WRITE over 32 MiB");
            c.request(0, CMD_READ, 3, 0, 32 * MIB + 512);
            final RawClient.Reply r = c.readReply(0);
            assertEquals(NbdErrors.EINVAL, r.error(), "READ over 32 MiB");
            assertEquals(3, r.cookie());
            assertArrayEquals(java.util.Arrays.copyOf(data, 4096), java.util.Arrays.copyOfRange(c.read(512, 4096), 0, 4096),
                "the rejected WRITE changed nothing and the stream is still in sync");
        }
        finally
        {
            server.close();
            server = null;
            big.close();
        }
    }

    @Test
    void shouldAnswerEveryKindOfBadRequestWithTheRightErrnoAndKeepGoing() throws IOException
    {
        start();
        try (RawClient c = RawClient.transmission(server.port(), "second"))
        {
            final long size = 4L * MIB;
            final Object[][] cases = {
                // flags, type, offset, length, expected errno
                {0, CMD_READ, size, 512L, NbdErrors.EINVAL},
                {0, CMD_READ, 100L, 512L, NbdErrors.EINVAL},
                {0, CMD_READ, 0L, 100L, NbdErrors.EINVAL},
                {CMD_FLAG_DF, CMD_READ, 0L, 512L, NbdErrors.EINVAL},
                {0x4000, CMD_READ, 0L, 512L, NbdErrors.EINVAL},
                {0, CMD_WRITE_ZEROES, size - 512, 1024L, NbdErrors.ENOSPC},
                {CMD_FLAG_FAST_ZERO, CMD_WRITE_ZEROES, 0L, 512L, NbdErrors.EINVAL},
                {0, CMD_FLUSH, 512L, 0L, NbdErrors.EINVAL},
                {0, CMD_TRIM, 0L, 512L, NbdErrors.EINVAL},
                {0, CMD_CACHE, 0L, 512L, NbdErrors.EINVAL},
                {0, CMD_BLOCK_STATUS, 0L, 512L, NbdErrors.EINVAL},
                {0, 99, 0L, 0L, NbdErrors.EINVAL},
                {0, CMD_READ, 0L, 0L, NbdErrors.OK},
                {0, CMD_WRITE_ZEROES, size, 0L, NbdErrors.OK},
                {CMD_FLAG_FUA, CMD_FLUSH, 0L, 0L, NbdErrors.OK},
            };
            long cookie = 100;
            for (final Object[] k : cases)
            {
                c.request((int)k[0], (int)k[1], ++cookie, (long)k[2], (long)k[3]);
                final RawClient.Reply r = c.readReply(0);
                assertEquals(cookie, r.cookie());
                assertEquals((int)k[4], r.error(), commandName((int)k[1]) + " flags " + k[0] + " at " + k[2] + "+" + k[3]);
            }
            c.write(1, size - 512, new byte[1024]);
            assertEquals(NbdErrors.ENOSPC, c.readReply(0).error());
            c.write(2, 0, new byte[0]);
            assertEquals(NbdErrors.OK, c.readReply(0).error(), "zero-length WRITE");
            c.read(0, 512);
        }
    }

    @Test
    void shouldZeroFlushAndHonourFua() throws Exception
    {
        start();
        try (RawClient c = RawClient.transmission(server.port(), "controlled"))
        {
            final byte[] ones = new byte[2 * MIB];
            java.util.Arrays.fill(ones, (byte)1);
            c.write(1, 0, ones);
            assertEquals(0, c.readReply(0).error());
            c.request(CMD_FLAG_NO_HOLE | CMD_FLAG_FUA, CMD_WRITE_ZEROES, 2, 4096, MIB);
            assertEquals(0, c.readReply(0).error());
            final byte[] back = c.read(0, 2 * MIB);
            assertEquals(1, back[4095]);
            assertEquals(0, back[4096]);
            assertEquals(0, back[4096 + MIB - 1]);
            assertEquals(1, back[4096 + MIB]);

            // A FUA write's reply waits for its flush: hold completions and count what reaches the device.
            controlled.hold();
            c.raw(writeHeader(CMD_FLAG_FUA, 3, 0, 512));
            c.raw(new byte[512]);
            awaitHeld(1);
            controlled.release(false);
            awaitHeld(0);
            assertEquals(0, c.readReply(0).error());
            c.request(0, CMD_FLUSH, 4, 0, 0);
            assertEquals(4, c.readReply(0).cookie());
        }
    }

    @Test
    void shouldReplyInCompletionOrderNotRequestOrder() throws Exception
    {
        start();
        try (RawClient c = RawClient.transmission(server.port(), "controlled"))
        {
            controlled.hold();
            for (long cookie = 1; cookie <= 5; cookie++)
            {
                c.request(0, CMD_READ, cookie, cookie * 4096, 4096);
            }
            awaitHeld(5);
            controlled.release(true);
            for (long expected = 5; expected >= 1; expected--)
            {
                final RawClient.Reply r = c.readReply(4096);
                assertEquals(expected, r.cookie());
            }
        }
    }

    @Test
    void shouldReportDeviceFailuresAsNbdErrorsWithoutData() throws IOException
    {
        start();
        try (RawClient c = RawClient.transmission(server.port(), "controlled"))
        {
            controlled.failWith(NbdErrors.EIO);
            c.request(0, CMD_READ, 1, 0, 64 * 1024);
            final RawClient.Reply failed = c.readReply(64 * 1024);
            assertEquals(NbdErrors.EIO, failed.error());
            assertEquals(0, failed.data().length, "no data after an error");
            controlled.failWith(110);
            c.write(2, 0, new byte[4096]);
            assertEquals(NbdErrors.EIO, c.readReply(0).error(), "ETIMEDOUT is not an NBD errno");
            controlled.failWith(NbdErrors.EDQUOT);
            c.request(0, CMD_FLUSH, 3, 0, 0);
            assertEquals(NbdErrors.ENOSPC, c.readReply(0).error());
            controlled.failWith(0);
            c.read(0, 4096);
        }
    }

    @Test
    void shouldRefuseWritesOnAReadOnlyServerWithEperm() throws IOException
    {
        server = builder().readOnly(true).start();
        try (RawClient c = RawClient.transmission(server.port(), "first"))
        {
            assertTrue((c.lastExport().flags() & TX_READ_ONLY) != 0);
            c.write(1, 0, new byte[4096]);
            assertEquals(NbdErrors.EPERM, c.readReply(0).error());
            c.request(0, CMD_WRITE_ZEROES, 2, 0, 4096);
            assertEquals(NbdErrors.EPERM, c.readReply(0).error());
            c.read(0, 4096);
        }
    }

    @Test
    void shouldFinishInFlightRequestsOnDiscThenClose() throws Exception
    {
        start();
        try (RawClient c = RawClient.transmission(server.port(), "controlled"))
        {
            controlled.hold();
            c.write(1, 0, filled(4096, 9));
            c.request(0, CMD_READ, 2, 8192, 4096);
            awaitHeld(2);
            c.request(0, CMD_DISC, 3, 0, 0);
            Thread.sleep(200); // not synchronisation: gives a premature close time to happen
            assertEquals(1, server.connectionCount(), "still open while requests are in flight");
            controlled.release(false);
            final Set<Long> cookies = new HashSet<>();
            for (int i = 0; i < 2; i++)
            {
                final RawClient.Reply r = c.readReply(cookie -> cookie == 2 ? 4096 : 0);
                assertEquals(0, r.error());
                cookies.add(r.cookie());
            }
            assertEquals(Set.of(1L, 2L), cookies, "both answered, DISC itself not");
            assertTrue(c.closedByServer());
        }
        try (RawClient c = RawClient.transmission(server.port(), "controlled"))
        {
            assertEquals(9, c.read(0, 4096)[4095], "the WRITE before DISC was done");
        }
    }

    @Test
    void shouldFinishInFlightRequestsWhenTheServerCloses() throws Exception
    {
        start();
        try (RawClient c = RawClient.transmission(server.port(), "controlled"))
        {
            controlled.hold();
            c.request(0, CMD_READ, 1, 0, 4096);
            awaitHeld(1);
            final CompletableFuture<Void> closing = CompletableFuture.runAsync(server::close);
            Thread.sleep(200); // not synchronisation: gives a close() that does not wait time to return
            assertFalse(closing.isDone(), "close() waits for the in-flight READ");
            controlled.release(false);
            final RawClient.Reply r = c.readReply(4096);
            assertEquals(0, r.error());
            assertEquals(4096, r.data().length);
            assertTrue(c.closedByServer());
            closing.get(10, TimeUnit.SECONDS);
        }
    }

    @Test
    void shouldAddAnExportAtRuntimeAndListIt() throws IOException
    {
        start();
        final MemoryBlockDevice late = new MemoryBlockDevice("late", MIB);
        try
        {
            server.addExport("late", late, false);
            assertEquals(java.util.List.of("first", "second", "controlled", "late"), server.exportNames());
            try (RawClient c = RawClient.transmission(server.port(), "late"))
            {
                c.write(1, 0, filled(4096, 3));
                assertEquals(0, c.readReply(0).error());
                assertEquals(3, c.read(0, 4096)[100]);
            }
            org.junit.jupiter.api.Assertions.assertThrows(IllegalArgumentException.class, () -> server.addExport("late", late, false));
        }
        finally
        {
            server.close();
            late.close();
        }
    }

    @Test
    void shouldFinishInFlightRequestsOfARemovedExportThenCloseOnlyItsConnections() throws Exception
    {
        start();
        try (RawClient onRemoved = RawClient.transmission(server.port(), "controlled");
             RawClient onOther = RawClient.transmission(server.port(), "first"))
        {
            controlled.hold();
            onRemoved.request(0, CMD_READ, 1, 0, 4096);
            awaitHeld(1);
            final CompletableFuture<Boolean> removing = CompletableFuture.supplyAsync(() -> server.removeExport("controlled"));
            final long deadline = System.nanoTime() + TimeUnit.SECONDS.toNanos(5);
            while (server.exportNames().contains("controlled") && System.nanoTime() < deadline)
            {
                Thread.sleep(5);
            }
            assertFalse(server.exportNames().contains("controlled"), "new handshakes no longer see it");
            assertFalse(removing.isDone(), "removeExport waits for the in-flight READ");
            try (RawClient fresh = RawClient.connect(server.port()))
            {
                fresh.clientFlags(CLIENT_FLAG_FIXED_NEWSTYLE | CLIENT_FLAG_NO_ZEROES);
                assertEquals(REP_ERR_UNKNOWN, fresh.go("controlled").type());
            }
            controlled.release(false);
            final RawClient.Reply r = onRemoved.readReply(4096);
            assertEquals(0, r.error(), "the in-flight READ was answered");
            assertTrue(onRemoved.closedByServer(), "then its connection closed");
            assertTrue(removing.get(10, TimeUnit.SECONDS));
            assertFalse(server.removeExport("controlled"), "gone already");
            assertEquals(4096, onOther.read(0, 4096).length, "the other export's client keeps working");
        }
    }

    @Test
    void shouldReleaseEverythingWhenTheClientVanishesWithRequestsInFlight() throws Exception
    {
        start();
        try (RawClient c = RawClient.transmission(server.port(), "controlled"))
        {
            controlled.hold();
            for (long cookie = 1; cookie <= 8; cookie++)
            {
                c.request(0, CMD_READ, cookie, 0, 256 * 1024);
                c.write(cookie + 100, 0, new byte[128 * 1024]);
            }
            awaitHeld(16);
        }
        awaitConnections(0);
        controlled.release(false);
        // @AfterEach closes server and device, then checks every buffer was released.
    }

    @Test
    void shouldStopReadingWhileTooManyBytesAreInFlight() throws Exception
    {
        server = builder().maxInFlightBytes(256 * 1024).start();
        try (RawClient c = RawClient.transmission(server.port(), "controlled"))
        {
            controlled.hold();
            for (long cookie = 1; cookie <= 16; cookie++)
            {
                c.write(cookie, 0, new byte[64 * 1024]);
            }
            Thread.sleep(300); // not synchronisation: gives a server that keeps reading time to pass more writes on
            assertTrue(controlled.heldCount() < 16, "reading paused: " + controlled.heldCount() + " of 16 reached the device");
            controlled.release(false);
            final Set<Long> cookies = new HashSet<>();
            for (int i = 0; i < 16; i++)
            {
                final RawClient.Reply r = c.readReply(0);
                assertEquals(0, r.error());
                cookies.add(r.cookie());
            }
            assertEquals(16, cookies.size(), "reading resumed and every write was answered");
        }
    }

    @Test
    void shouldPrintUris()
    {
        start();
        assertEquals("nbd://127.0.0.1:" + server.port(), server.uri());
        assertEquals("nbd://127.0.0.1:" + server.port() + "/my%20disk", server.uri("my disk"));
        assertTrue(server.toString().contains(server.uri()));
        assertEquals(java.util.List.of("first", "second", "controlled"), server.exportNames());
        try (NbdServer wildcard = NbdServer.builder().listen(new InetSocketAddress(0)).export("d", first).allocator(allocator).start())
        {
            assertEquals("nbd://127.0.0.1:" + wildcard.port() + "/d", wildcard.uri("d"), "wildcard shown as loopback");
        }
    }

    // ---------------------------------------------------------------- helpers

    private void awaitHeld(final int n) throws InterruptedException
    {
        Await.until(Duration.ofSeconds(10), () -> controlled.heldCount() == n, () -> "held " + controlled.heldCount() + ", expected " + n);
    }

    private void awaitConnections(final int n) throws InterruptedException
    {
        Await.until(Duration.ofSeconds(10), () -> server.connectionCount() == n,
            () -> server.connectionCount() + " connections, expected " + n);
    }

    private static byte[] writeHeader(final int flags, final long cookie, final long offset, final int length)
    {
        final ByteBuffer b = ByteBuffer.allocate(REQUEST_HEADER_LENGTH);
        b.putInt(REQUEST_MAGIC).putShort((short)flags).putShort((short)CMD_WRITE).putLong(cookie).putLong(offset).putInt(length);
        return b.array();
    }

    private static byte[] filled(final int length, final int value)
    {
        final byte[] b = new byte[length];
        java.util.Arrays.fill(b, (byte)value);
        return b;
    }
}
