package org.aoemp.nbd;

import static org.aoemp.nbd.TransmissionCodec.CMD_READ;
import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.io.IOException;
import java.net.InetAddress;
import java.net.InetSocketAddress;
import java.nio.ByteBuffer;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import java.util.Random;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.ExecutorService;
import java.util.concurrent.Executors;
import java.util.concurrent.TimeUnit;

import org.aoemp.block.MemoryBlockDevice;
import org.aoemp.testing.Await;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.Test;

/**
 * The bridge's memory stays within its stated bound whatever clients do: clients over raw
 * sockets ask for gigabytes of READ replies they never read, hold hundreds of idle connections,
 * or write 32 MiB requests all at once. Each test asserts the direct memory the server's buffers
 * used at their peak (an unpooled allocator that counts), not just that the server survived, and
 * that a well-behaved client keeps being served meanwhile.
 */
class MemoryBoundTest
{
    private static final int MIB = 1 << 20;
    private static final int LARGEST = RequestCheck.MAX_PAYLOAD;
    private static final long PER_CONNECTION = 64L * MIB;
    /**
     * Memory beyond the payload budget the bound allows: receive buffers (up to 1 MiB per read),
     * what paused connections have read past the request they wait with, the rounding of a
     * large WRITE's receive buffer, and 16-byte replies.
     */
    private static final long OVERHEAD = 16L * MIB;

    private final PeakDirectAllocator allocator = new PeakDirectAllocator();
    private final MemoryBlockDevice disk = new MemoryBlockDevice("disk", 256L * MIB);
    private final ControlledBlockDevice slow = new ControlledBlockDevice("slow", 256L * MIB);
    private final byte[] pattern = new byte[MIB];
    private final List<RawClient> clients = new ArrayList<>();
    private NbdServer server;

    private NbdServer.Builder builder() throws Exception
    {
        new Random(5).nextBytes(pattern);
        disk.writeAsync(0, ByteBuffer.wrap(pattern)).get();
        return NbdServer.builder()
            .listen(new InetSocketAddress(InetAddress.getLoopbackAddress(), 0))
            .export("disk", disk)
            .export("slow", slow)
            .ioThreads(2)
            .allocator(allocator);
    }

    @AfterEach
    void stop() throws IOException
    {
        for (final RawClient c : clients)
        {
            c.close();
        }
        if (server != null)
        {
            server.close();
        }
        disk.close();
        slow.close();
    }

    private RawClient connect(final String export) throws IOException
    {
        final RawClient c = RawClient.transmission(server.port(), export);
        clients.add(c);
        return c;
    }

    private void assertServed(final RawClient c) throws IOException
    {
        assertArrayEquals(pattern, c.read(0, pattern.length), "data read back");
    }

    /** {@code count} READ headers of {@code length} bytes at offset 0, in one buffer. */
    private static byte[] reads(final int count, final int length)
    {
        final ByteBuffer b = ByteBuffer.allocate(count * TransmissionCodec.REQUEST_HEADER_LENGTH);
        for (int i = 0; i < count; i++)
        {
            b.putInt(TransmissionCodec.REQUEST_MAGIC).putShort((short)0).putShort((short)CMD_READ).putLong(i).putLong(0).putInt(length);
        }
        return b.array();
    }

    private String state()
    {
        return "server holds " + server.inFlightBytes() + " payload bytes, buffers use " + allocator.used() + " (peak "
            + allocator.peak() + ")";
    }

    @Test
    void shouldHoldNoMoreThanItsBudgetForAClientThatAsksFor2GiBOfReadsAndNeverReadsThem() throws Exception
    {
        server = builder().maxInFlightBytes(PER_CONNECTION).start();
        final RawClient bystander = connect("disk");
        assertServed(bystander);
        allocator.resetPeak();

        final RawClient hog = connect("disk");
        hog.raw(reads(64, LARGEST));
        Await.until(Duration.ofSeconds(30), () -> server.inFlightBytes() == PER_CONNECTION,
            () -> "the hog fills its budget: " + state());
        for (int i = 0; i < 16; i++)
        {
            assertServed(bystander);
            assertTrue(server.inFlightBytes() <= PER_CONNECTION + MIB, state());
        }
        assertTrue(allocator.peak() <= PER_CONNECTION + OVERHEAD, "bounded: " + state());

        hog.close();
        Await.until(Duration.ofSeconds(30), () -> server.inFlightBytes() == 0 && allocator.used() < 4 * MIB,
            () -> "a hog that leaves gives everything back: " + state());
        assertServed(bystander);
    }

    @Test
    void shouldServeOthersWhile300ConnectionsSitIdleAndHoldNextToNothing() throws Exception
    {
        server = builder().start();
        final RawClient bystander = connect("disk");
        allocator.resetPeak();
        for (int i = 0; i < 300; i++)
        {
            connect("disk");
        }
        Await.until(Duration.ofSeconds(30), () -> server.connectionCount() == 301, () -> server.connectionCount() + " connections");
        assertServed(bystander);
        assertTrue(allocator.used() <= 4 * MIB, "300 idle connections: " + state());
        assertTrue(allocator.peak() <= 8 * MIB, "300 handshakes: " + state());
        // The idle ones are still usable.
        assertServed(clients.get(1));
        assertServed(clients.getLast());
    }

    @Test
    void shouldKeepSeveralClientsWriting32MiBRequestsAtOnceWithinTheServerBudget() throws Exception
    {
        final long total = 2L * LARGEST;
        server = builder().maxTotalInFlightBytes(total).start();
        final RawClient bystander = connect("disk");
        allocator.resetPeak();
        slow.hold();
        final int writers = 4;
        final int each = 2;
        final ExecutorService threads = Executors.newFixedThreadPool(writers);
        try
        {
            final List<CompletableFuture<Void>> done = new ArrayList<>();
            for (int w = 0; w < writers; w++)
            {
                final RawClient c = connect("slow");
                final int writer = w;
                done.add(CompletableFuture.runAsync(() -> writeAndCheck(c, writer, each), threads));
            }
            Await.until(Duration.ofSeconds(30), () -> slow.heldCount() == 2 && server.inFlightBytes() == total,
                () -> "two 32 MiB WRITEs fill the server budget: " + slow.heldCount() + " at the device, " + state());
            assertTrue(allocator.peak() <= total + OVERHEAD, "bounded while the device holds them: " + state());

            slow.release(false);
            CompletableFuture.allOf(done.toArray(CompletableFuture[]::new)).get(120, TimeUnit.SECONDS);
            assertServed(bystander);
            assertTrue(allocator.peak() <= total + OVERHEAD, "bounded all along: " + state());
        }
        finally
        {
            slow.release(false);
            threads.shutdownNow();
        }
        final RawClient reader = connect("slow");
        for (int w = 0; w < writers; w++)
        {
            for (int i = 0; i < each; i++)
            {
                assertArrayEquals(payload(w, i), reader.read(offset(w, each, i), LARGEST), "write " + w + "/" + i + " landed");
            }
        }
    }

    private static long offset(final int writer, final int each, final int i)
    {
        return (long)(writer * each + i) * LARGEST;
    }

    private static byte[] payload(final int writer, final int i)
    {
        final byte[] b = new byte[LARGEST];
        new Random(writer * 100L + i).nextBytes(b);
        return b;
    }

    private static void writeAndCheck(final RawClient c, final int writer, final int each)
    {
        try
        {
            for (int i = 0; i < each; i++)
            {
                c.write(i, offset(writer, each, i), payload(writer, i));
            }
            for (int i = 0; i < each; i++)
            {
                final RawClient.Reply r = c.readReply(0);
                assertEquals(0, r.error(), "WRITE " + r.cookie() + " of writer " + writer);
            }
        }
        catch (final IOException e)
        {
            throw new IllegalStateException(e);
        }
    }

    @Test
    void shouldAnswerEioToARequestTheDeviceNeverCompletesAndKeepItsBufferUntilItDoes() throws Exception
    {
        server = builder().requestTimeout(Duration.ofMillis(300)).start();
        final RawClient c = connect("slow");
        slow.hold();
        c.request(0, CMD_READ, 7, 0, 4096);
        final RawClient.Reply r = c.readReply(0);
        assertEquals(7, r.cookie());
        assertEquals(NbdErrors.EIO, r.error(), "EIO after the request timeout");
        assertEquals(4096, server.inFlightBytes(), "the device may still write into the buffer: it stays held");
        slow.release(false);
        Await.until(Duration.ofSeconds(10), () -> server.inFlightBytes() == 0, () -> "the late completion frees it: " + state());
        assertEquals(4096, c.read(0, 4096).length, "the connection goes on");
    }

    @Test
    void shouldHangUpOnAClientThatLeavesItsRepliesUnreadForTheRequestTimeout() throws Exception
    {
        server = builder().requestTimeout(Duration.ofMillis(500)).start();
        final RawClient bystander = connect("disk");
        final RawClient hog = connect("disk");
        hog.raw(reads(4, LARGEST));
        Await.until(Duration.ofSeconds(30), () -> server.connectionCount() == 1 && server.inFlightBytes() == 0,
            () -> server.connectionCount() + " connections, " + state());
        assertServed(bystander);
    }

    @Test
    void shouldServeOthersOnceClientsHoldingTheWholeServerBudgetAreCutOff() throws Exception
    {
        server = builder().maxInFlightBytes(LARGEST).maxTotalInFlightBytes(2L * LARGEST).requestTimeout(Duration.ofSeconds(1)).start();
        final RawClient bystander = connect("disk");
        assertServed(bystander);
        connect("disk").raw(reads(8, LARGEST));
        connect("disk").raw(reads(8, LARGEST));
        Await.until(Duration.ofSeconds(30), () -> server.inFlightBytes() == 2L * LARGEST, () -> "two hogs fill the server budget: " + state());
        // Waits for room: once the hogs have left their replies unread for the request timeout, they are cut off.
        assertServed(bystander);
        Await.until(Duration.ofSeconds(30), () -> server.connectionCount() == 1, () -> server.connectionCount() + " connections");
    }

    @Test
    void shouldKeepAClientThatReadsALargeReplySlowerThanTheRequestTimeout() throws Exception
    {
        server = builder().requestTimeout(Duration.ofMillis(300)).start();
        final byte[] expected = new byte[LARGEST];
        disk.readAsync(0, ByteBuffer.wrap(expected)).get();
        final RawClient c = connect("disk");
        c.request(0, CMD_READ, 9, 0, LARGEST);
        final ByteBuffer header = ByteBuffer.wrap(c.readBytes(TransmissionCodec.REPLY_HEADER_LENGTH));
        assertEquals(TransmissionCodec.SIMPLE_REPLY_MAGIC, header.getInt());
        assertEquals(0, header.getInt(), "error");
        assertEquals(9, header.getLong(), "cookie");
        final ByteBuffer data = ByteBuffer.allocate(LARGEST);
        final long start = System.nanoTime();
        while (data.hasRemaining())
        {
            data.put(c.readBytes(MIB));
            Thread.sleep(40); // the client's pace, not synchronisation: 32 reads take longer than the timeout
        }
        assertTrue(System.nanoTime() - start > TimeUnit.MILLISECONDS.toNanos(600), "read slower than the request timeout");
        assertArrayEquals(expected, data.array(), "the whole reply");
        assertServed(c);
    }
}
