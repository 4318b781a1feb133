package org.aoemp.nbd;

import static org.aoemp.nbd.FaultyBlockDevice.Fault;
import static org.aoemp.nbd.FaultyBlockDevice.Kind;
import static org.aoemp.nbd.FaultyBlockDevice.REGION;
import static org.aoemp.nbd.HandshakeCodec.*;
import static org.aoemp.nbd.TransmissionCodec.*;
import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.io.IOException;
import java.net.InetAddress;
import java.net.InetSocketAddress;
import java.nio.charset.StandardCharsets;
import java.util.Arrays;
import java.util.concurrent.TimeUnit;
import java.util.function.BooleanSupplier;

import org.aoemp.block.IoError;
import org.aoemp.block.MemoryBlockDevice;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.ValueSource;

/**
 * A backend that fails in every way a {@link org.aoemp.block.BlockDevice} can, against the raw
 * client (which sees every byte, so a missing, extra or misdirected reply shows): each failing
 * request gets exactly one reply with EIO or the errno its IoError maps to, and the connection
 * and the other export go on serving. Every test ends with the server closed and every buffer
 * released.
 */
class BackendFailureTest
{
    private static final int MIB = 1 << 20;
    private static final int EDQUOT = 122;
    private static final long DEADLINE_SECONDS = 30;
    private static final byte[] EMPTY = new byte[0];

    /** Fault of each 1 MiB region of the faulty export, and the NBD error a request there must get. */
    static final Fault[] REGIONS = {
        Fault.NONE,
        Fault.of(Kind.THROW),
        Fault.of(Kind.THROW_ERROR),
        Fault.ioError(IoError.EIO),
        Fault.ioError(IoError.ENOSPC),
        Fault.ioError(EDQUOT),
        Fault.ioError(999),
        Fault.ioError(IoError.EPERM),
        Fault.of(Kind.TWICE_INLINE),
        Fault.of(Kind.TWICE_OTHER_THREADS),
        Fault.of(Kind.CALLBACK_THEN_THROW),
    };
    private static final int[] EXPECTED = {
        NbdErrors.OK, NbdErrors.EIO, NbdErrors.EIO, NbdErrors.EIO, NbdErrors.ENOSPC, NbdErrors.ENOSPC, NbdErrors.EIO,
        NbdErrors.EPERM, NbdErrors.OK, NbdErrors.OK, NbdErrors.OK,
    };
    /** Callback invocations regions 1.. cause per request: none for a throw, two for the doubles. */
    private static final int CALLBACKS_IN_FAULTY_REGIONS = 0 + 0 + 1 + 1 + 1 + 1 + 1 + 2 + 2 + 1;

    private final TrackingAllocator allocator = new TrackingAllocator();
    private final FaultyBlockDevice faulty = new FaultyBlockDevice("faulty", 16L * MIB, REGIONS);
    private final MemoryBlockDevice good = new MemoryBlockDevice("good", 4L * MIB);
    private NbdServer server;

    private NbdServer start()
    {
        server = NbdServer.builder()
            .listen(new InetSocketAddress(InetAddress.getLoopbackAddress(), 0))
            .export("faulty", faulty)
            .export("good", good)
            .ioThreads(2)
            .allocator(allocator)
            .start();
        return server;
    }

    @AfterEach
    void stop()
    {
        if (server != null)
        {
            server.close();
        }
        faulty.close();
        good.close();
        allocator.assertAllReleased();
    }

    static void await(final BooleanSupplier condition, final String what) throws InterruptedException
    {
        final long deadline = System.nanoTime() + TimeUnit.SECONDS.toNanos(DEADLINE_SECONDS);
        while (!condition.getAsBoolean())
        {
            assertTrue(System.nanoTime() - deadline < 0, "not within " + DEADLINE_SECONDS + " s: " + what);
            Thread.sleep(2);
        }
    }

    private static byte[] pattern(final int length, final int seed)
    {
        final byte[] b = new byte[length];
        Arrays.fill(b, (byte)seed);
        return b;
    }

    /** Sends one request of {@code command} (4 KiB at {@code offset}) and returns its reply. */
    private static RawClient.Reply roundTrip(final RawClient c, final int command, final long cookie, final long offset)
        throws IOException
    {
        switch (command)
        {
            case CMD_READ -> c.request(0, CMD_READ, cookie, offset, 4096);
            case CMD_WRITE -> c.write(cookie, offset, pattern(4096, (int)cookie));
            case CMD_WRITE_ZEROES -> c.request(0, CMD_WRITE_ZEROES, cookie, offset, 4096);
            default -> throw new IllegalArgumentException("command " + command);
        }
        return c.readReply(command == CMD_READ ? 4096 : 0);
    }

    @ParameterizedTest(name = "{0}")
    @ValueSource(strings = {"READ", "WRITE", "WRITE_ZEROES"})
    void everyKindOfBackendFailureShouldGetExactlyOneReplyAndTheConnectionGoesOn(final String commandName) throws Exception
    {
        final int command = switch (commandName)
        {
            case "READ" -> CMD_READ;
            case "WRITE" -> CMD_WRITE;
            default -> CMD_WRITE_ZEROES;
        };
        start();
        try (RawClient c = RawClient.transmission(server.port(), "faulty");
            RawClient other = RawClient.transmission(server.port(), "good"))
        {
            final int callbacksBefore = faulty.callbacks();
            for (int region = 1; region < REGIONS.length; region++)
            {
                final RawClient.Reply r = roundTrip(c, command, region, (long)region * REGION);
                assertEquals(region, r.cookie(), "the reply answers the request just sent (" + REGIONS[region] + ")");
                assertEquals(EXPECTED[region], r.error(), commandName + " with " + REGIONS[region]);
                // The other export serves all along.
                assertEquals(4096, other.read((long)region * 4096, 4096).length);
            }
            final int expectedCallbacks = callbacksBefore + CALLBACKS_IN_FAULTY_REGIONS;
            await(() -> faulty.callbacks() == expectedCallbacks, "every (duplicate) callback to have run");

            // No stray reply is queued: the next one answers the next request, and the data path works.
            c.write(100, 0, pattern(4096, 0x5c));
            final RawClient.Reply next = c.readReply(0);
            assertEquals(100, next.cookie(), "no stray reply before the next one");
            assertEquals(0, next.error());
            assertArrayEquals(pattern(4096, 0x5c), c.read(0, 4096));
            if (command == CMD_WRITE)
            {
                final byte[] twice = new byte[4096];
                faulty.memory().readAsync(8L * REGION, java.nio.ByteBuffer.wrap(twice)).get();
                assertArrayEquals(pattern(4096, 8), twice, "a write whose callback came twice was done once and answered OK");
            }
        }
    }

    @Test
    void everyKindOfFlushFailureShouldGetExactlyOneReply() throws Exception
    {
        start();
        faulty.failFlushes(Fault.of(Kind.THROW), Fault.of(Kind.THROW_ERROR), Fault.ioError(IoError.EIO),
            Fault.ioError(IoError.ENOSPC), Fault.of(Kind.TWICE_INLINE), Fault.of(Kind.TWICE_OTHER_THREADS),
            Fault.of(Kind.CALLBACK_THEN_THROW), Fault.NONE);
        final int[] expected = {NbdErrors.EIO, NbdErrors.EIO, NbdErrors.EIO, NbdErrors.ENOSPC, NbdErrors.OK, NbdErrors.OK,
            NbdErrors.OK, NbdErrors.OK};
        try (RawClient c = RawClient.transmission(server.port(), "faulty"))
        {
            for (int i = 0; i < expected.length; i++)
            {
                c.request(0, CMD_FLUSH, 1000 + i, 0, 0);
                final RawClient.Reply r = c.readReply(0);
                assertEquals(1000 + i, r.cookie());
                assertEquals(expected[i], r.error(), "flush " + i);
            }
            assertEquals(4096, c.read(0, 4096).length);
        }
    }

    @Test
    void aFuaWriteShouldFailWhenItsFlushFailsAndNotTakeASecondWriteCallbackForTheFlush() throws Exception
    {
        start();
        try (RawClient c = RawClient.transmission(server.port(), "faulty"))
        {
            // The write succeeds, its flush throws: EIO.
            faulty.failFlushes(Fault.of(Kind.THROW));
            c.request(CMD_FLAG_FUA, CMD_WRITE, 1, 0, 4096);
            c.raw(pattern(4096, 1));
            assertEquals(NbdErrors.EIO, c.readReply(0).error());

            // The write calls back OK and then EIO (region 8); the flush is slow (another thread) and
            // fails. The write's second callback must not count as the flush's result.
            faulty.failFlushes(Fault.ioError(IoError.ENOSPC));
            c.request(CMD_FLAG_FUA, CMD_WRITE, 2, 8L * REGION, 4096);
            c.raw(pattern(4096, 2));
            final RawClient.Reply r = c.readReply(0);
            assertEquals(2, r.cookie());
            assertEquals(NbdErrors.ENOSPC, r.error(), "the flush's result, not the write's duplicate callback");

            // The flush calls back twice from two threads: one OK reply.
            faulty.failFlushes(Fault.of(Kind.TWICE_OTHER_THREADS));
            c.request(CMD_FLAG_FUA, CMD_WRITE, 3, 0, 4096);
            c.raw(pattern(4096, 3));
            final RawClient.Reply third = c.readReply(0);
            assertEquals(3, third.cookie());
            assertEquals(0, third.error());
            assertArrayEquals(pattern(4096, 3), c.read(0, 4096));
        }
    }

    @Test
    void aDeviceWhoseSizeThrowsShouldFailGoAndInfoWithAnErrorReplyAndTheHandshakeGoesOn() throws Exception
    {
        start();
        faulty.sizeThrows = true;
        try (RawClient c = RawClient.connect(server.port()))
        {
            c.clientFlags(CLIENT_FLAG_FIXED_NEWSTYLE | CLIENT_FLAG_NO_ZEROES);
            c.option(OPT_INFO, RawClient.infoData("faulty"));
            assertEquals(REP_ERR_UNKNOWN, c.readUntilFinal().type(), "INFO on an export whose device fails");
            final RawClient.OptionReply go = c.go("faulty");
            assertEquals(REP_ERR_UNKNOWN, go.type(), "GO on an export whose device fails");
            assertTrue(new String(go.data(), StandardCharsets.UTF_8).contains("not available"), new String(go.data(), StandardCharsets.UTF_8));

            assertEquals(REP_ACK, c.go("good").type(), "the same handshake goes on to another export");
            assertEquals(4096, c.read(0, 4096).length);
        }
    }

    @Test
    void aDeviceWhoseBlockSizeOrNameThrowsShouldFailOnlyTheInfoThatNeedsIt() throws Exception
    {
        start();
        try (RawClient c = RawClient.connect(server.port()))
        {
            c.clientFlags(CLIENT_FLAG_FIXED_NEWSTYLE);
            faulty.blockSizeThrows = true;
            c.option(OPT_INFO, RawClient.infoData("faulty", INFO_BLOCK_SIZE));
            assertEquals(REP_ERR_UNKNOWN, c.readUntilFinal().type(), "INFO asking for the block size");
            c.option(OPT_INFO, RawClient.infoData("faulty"));
            assertEquals(REP_ACK, c.readUntilFinal().type(), "INFO not asking for it");
            faulty.blockSizeThrows = false;

            faulty.nameThrows = true;
            c.option(OPT_INFO, RawClient.infoData("faulty", INFO_DESCRIPTION));
            assertEquals(REP_ERR_UNKNOWN, c.readUntilFinal().type(), "INFO asking for the description");
            c.option(OPT_LIST, new byte[0]);
            final StringBuilder listed = new StringBuilder();
            RawClient.OptionReply r;
            while ((r = c.readOptionReply()).type() == REP_SERVER)
            {
                listed.append(new String(r.data(), 4, r.buffer().getInt(0), StandardCharsets.UTF_8)).append(' ');
            }
            assertEquals(REP_ACK, r.type(), "LIST completes");
            assertEquals("faulty good ", listed.toString(), "LIST still names every export");
            faulty.nameThrows = false;

            c.option(OPT_INFO, RawClient.infoData("faulty", INFO_DESCRIPTION, INFO_BLOCK_SIZE));
            assertEquals(REP_ACK, c.readUntilFinal().type(), "the export is fine again once its device is");
        }
    }

    @Test
    void exportNameOnADeviceWhoseSizeThrowsShouldCloseTheConnectionNotHang() throws Exception
    {
        start();
        faulty.sizeThrows = true;
        try (RawClient c = RawClient.connect(server.port()))
        {
            c.clientFlags(CLIENT_FLAG_FIXED_NEWSTYLE);
            c.option(OPT_EXPORT_NAME, "faulty".getBytes(StandardCharsets.UTF_8));
            assertTrue(c.closedByServer(), "EXPORT_NAME has no error reply; the server must hang up");
        }
        try (RawClient c = RawClient.transmission(server.port(), "good"))
        {
            assertEquals(4096, c.read(0, 4096).length);
        }
    }

    @Test
    void aDeviceWhoseSizeThrowsDuringTransmissionShouldFailThoseRequestsWithEioAndStayInSync() throws Exception
    {
        start();
        try (RawClient c = RawClient.transmission(server.port(), "faulty"))
        {
            faulty.sizeThrows = true;
            c.request(0, CMD_READ, 1, 0, 4096);
            assertEquals(new RawClient.Reply(NbdErrors.EIO, 1, EMPTY), withoutData(c.readReply(4096)));
            c.write(2, 0, pattern(64 * 1024, 2));  // its payload must be skipped, not taken for requests
            assertEquals(new RawClient.Reply(NbdErrors.EIO, 2, EMPTY), withoutData(c.readReply(0)));
            c.request(0, CMD_WRITE_ZEROES, 3, 0, 4096);
            assertEquals(NbdErrors.EIO, c.readReply(0).error());
            faulty.sizeThrows = false;

            c.write(4, 0, pattern(4096, 4));
            assertEquals(0, c.readReply(0).error());
            assertArrayEquals(pattern(4096, 4), c.read(0, 4096), "the connection stayed in sync");
            c.request(0, CMD_DISC, 5, 0, 0);
            assertTrue(c.closedByServer());
        }
    }

    /** Reply records compare arrays by identity; failed replies carry no data anyway. */
    private static RawClient.Reply withoutData(final RawClient.Reply r)
    {
        assertEquals(0, r.data().length);
        return new RawClient.Reply(r.error(), r.cookie(), EMPTY);
    }
}
