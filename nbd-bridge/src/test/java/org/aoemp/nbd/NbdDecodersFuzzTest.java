package org.aoemp.nbd;

import static org.aoemp.nbd.HandshakeCodec.CLIENT_FLAG_FIXED_NEWSTYLE;
import static org.aoemp.nbd.HandshakeCodec.CLIENT_FLAG_NO_ZEROES;
import static org.aoemp.nbd.HandshakeCodec.IHAVEOPT;
import static org.aoemp.nbd.HandshakeCodec.OPT_GO;
import static org.aoemp.nbd.TransmissionCodec.CMD_DISC;
import static org.aoemp.nbd.TransmissionCodec.CMD_READ;
import static org.aoemp.nbd.TransmissionCodec.CMD_WRITE;
import static org.aoemp.nbd.TransmissionCodec.SIMPLE_REPLY_MAGIC;
import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertNotNull;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.util.HashMap;
import java.util.List;
import java.util.Map;

import com.code_intelligence.jazzer.api.FuzzedDataProvider;
import com.code_intelligence.jazzer.junit.FuzzTest;
import io.netty.buffer.ByteBuf;
import io.netty.buffer.Unpooled;
import io.netty.channel.embedded.EmbeddedChannel;
import org.aoemp.block.MemoryBlockDevice;

/**
 * Coverage-guided fuzzing of the NBD server's decoders through Netty's {@link EmbeddedChannel},
 * the same handlers a real connection gets ({@link HandshakeHandler}, which installs
 * {@link RequestDecoder} and {@link TransmissionHandler} on GO), over a small in-memory disk.
 *
 * <p>{@link #handshake}: any bytes from the first one on, cut into arbitrary reads. {@link
 * #transmission}: a proper handshake, then either raw bytes or a stream of requests built from the
 * input (any type, flags, offset and length, unique cookies, payloads as declared). Both: no
 * exception reaches the end of the pipeline and every buffer the server allocated is released
 * once the channel is gone. Request streams also: no request is answered twice, a READ that
 * succeeds returns exactly what the earlier successful writes left there, and while the
 * connection stays open every request is answered.
 *
 * <p>{@code mvn verify} replays the committed corpus in
 * {@code src/test/resources/org/aoemp/nbd/NbdDecodersFuzzTestInputs/}; {@code bench/fuzz.sh
 * nbd-handshake|nbd-transmission DURATION} fuzzes for real.
 */
class NbdDecodersFuzzTest
{
    private static final int DISK = 64 * 1024;
    private static final int MAX_REQUESTS = 32;
    private static final int MAX_PAYLOAD = 8 * 1024;

    private record Connection(EmbeddedChannel channel, TrackingAllocator allocator, MemoryBlockDevice device)
    {
        void finish()
        {
            channel.close();
            channel.runPendingTasks();
            channel.checkException();
            channel.finishAndReleaseAll();
            device.close();
            allocator.assertAllReleased();
        }
    }

    private static Connection connect(final boolean readOnly) throws Exception
    {
        final TrackingAllocator allocator = new TrackingAllocator();
        final MemoryBlockDevice device = new MemoryBlockDevice("fuzz", DISK);
        final ServerConfig config = new ServerConfig(List.of(new Export("fuzz", device, readOnly)), null, 16, 60_000,
            1 << 20, 64, 64L << 20, 60_000);
        final EmbeddedChannel channel = new EmbeddedChannel(false, false);
        channel.config().setAllocator(allocator);
        channel.pipeline().addLast("nbd-handshake", new HandshakeHandler(config, TlsSettings.OFF));
        channel.register();
        return new Connection(channel, allocator, device);
    }

    private static void drainOutbound(final EmbeddedChannel channel)
    {
        for (Object o; (o = channel.readOutbound()) != null; )
        {
            io.netty.util.ReferenceCountUtil.release(o);
        }
    }

    @FuzzTest
    void handshake(final FuzzedDataProvider data) throws Exception
    {
        final Connection c = connect(data.consumeBoolean());
        while (data.remainingBytes() > 0 && c.channel().isOpen())
        {
            final byte[] chunk = data.consumeBytes(data.consumeInt(1, 512));
            c.channel().writeInbound(Unpooled.wrappedBuffer(chunk));
            c.channel().runPendingTasks();
            c.channel().checkException();
            drainOutbound(c.channel());
        }
        c.finish();
    }

    @FuzzTest
    void transmission(final FuzzedDataProvider data) throws Exception
    {
        final boolean readOnly = data.consumeBoolean();
        final boolean raw = data.consumeBoolean();
        final Connection c = connect(readOnly);
        final EmbeddedChannel ch = c.channel();
        ch.writeInbound(Unpooled.buffer().writeInt(CLIENT_FLAG_FIXED_NEWSTYLE | CLIENT_FLAG_NO_ZEROES)
            .writeLong(IHAVEOPT).writeInt(OPT_GO).writeInt(6).writeInt(0).writeShort(0));
        ch.runPendingTasks();
        drainOutbound(ch);
        assertTrue(ch.isOpen(), "GO for the default export");
        if (raw)
        {
            while (data.remainingBytes() > 0 && ch.isOpen())
            {
                ch.writeInbound(Unpooled.wrappedBuffer(data.consumeBytes(data.consumeInt(1, 4096))));
                ch.runPendingTasks();
                ch.checkException();
                drainOutbound(ch);
            }
            c.finish();
            return;
        }
        requests(data, c, readOnly);
        c.finish();
    }

    /** A stream of requests built from the input, checked against a model of the disk. */
    private static void requests(final FuzzedDataProvider data, final Connection c, final boolean readOnly)
    {
        final EmbeddedChannel ch = c.channel();
        final byte[] model = new byte[DISK];
        final Map<Long, Sent> sent = new HashMap<>();
        final ByteBuf replies = Unpooled.buffer();
        try
        {
            long cookie = 0;
            for (int i = 0; i < MAX_REQUESTS && data.remainingBytes() > 0 && ch.isOpen(); i++)
            {
                final int flags = data.consumeBoolean() ? 0 : data.consumeInt(0, 0xFFFF);
                final int type = data.consumeBoolean() ? data.pickValue(new int[] {CMD_READ, CMD_WRITE}) : data.consumeInt(0, 0xFFFF);
                if (type == CMD_DISC)
                {
                    continue; // a clean disconnect ends the stream; the raw mode covers it
                }
                final long offset = data.consumeBoolean() ? data.consumeInt(0, DISK / 512) * 512L : data.consumeLong();
                final long length = data.consumeBoolean() ? data.consumeInt(0, MAX_PAYLOAD) : data.consumeInt() & 0xFFFF_FFFFL;
                final ByteBuf req = TransmissionCodec.writeRequestHeader(Unpooled.buffer(), flags, type, ++cookie, offset, length);
                byte[] payload = null;
                if (type == CMD_WRITE && length <= MAX_PAYLOAD)
                {
                    payload = data.consumeBytes((int)length);
                    if (payload.length < length)
                    {
                        payload = java.util.Arrays.copyOf(payload, (int)length);
                    }
                    req.writeBytes(payload);
                }
                final Sent s = new Sent(type, offset, length, payload, model);
                sent.put(cookie, s);
                ch.writeInbound(req);
                ch.runPendingTasks();
                ch.checkException();
                collect(ch, replies);
                settle(replies, sent, model, readOnly);
                if (type == CMD_WRITE && payload == null)
                {
                    // A WRITE whose payload does not follow: the server may wait for it (or refuse it);
                    // it is not owed an answer, and nothing after it can be told apart from payload.
                    s.owed = false;
                    break;
                }
            }
            ch.runPendingTasks();
            collect(ch, replies);
            settle(replies, sent, model, readOnly);
            if (ch.isOpen())
            {
                assertTrue(sent.values().stream().allMatch(s -> s.answered || !s.owed), "every request answered while connected");
            }
        }
        finally
        {
            replies.release();
        }
    }

    private static final class Sent
    {
        final int type;
        final long offset;
        final long length;
        final byte[] payload;
        /** For a READ: what the disk holds there when it is sent (requests here are answered in order). */
        final byte[] expected;
        boolean answered;
        boolean owed = true;

        Sent(final int type, final long offset, final long length, final byte[] payload, final byte[] model)
        {
            this.type = type;
            this.offset = offset;
            this.length = length;
            this.payload = payload;
            this.expected = type == CMD_READ && inside(offset, length) && length <= MAX_PAYLOAD
                ? java.util.Arrays.copyOfRange(model, (int)offset, (int)(offset + length))
                : null;
        }
    }

    private static boolean inside(final long offset, final long length)
    {
        return offset >= 0 && length >= 0 && offset <= DISK && length <= DISK - offset;
    }

    private static void collect(final EmbeddedChannel ch, final ByteBuf replies)
    {
        for (Object o; (o = ch.readOutbound()) != null; )
        {
            final ByteBuf b = (ByteBuf)o;
            replies.writeBytes(b);
            b.release();
        }
    }

    /** Parses every complete simple reply in {@code replies} and checks it against what was sent. */
    private static void settle(final ByteBuf replies, final Map<Long, Sent> sent, final byte[] model, final boolean readOnly)
    {
        while (replies.readableBytes() >= TransmissionCodec.REPLY_HEADER_LENGTH)
        {
            final int start = replies.readerIndex();
            assertEquals(SIMPLE_REPLY_MAGIC, replies.getInt(start), "simple reply magic");
            final int error = replies.getInt(start + 4);
            final long cookie = replies.getLong(start + 8);
            final Sent s = sent.get(cookie);
            assertNotNull(s, "reply to a cookie never sent: " + cookie);
            assertFalse(s.answered, "request " + cookie + " answered twice");
            final boolean readData = s.type == CMD_READ && error == 0;
            if (readData)
            {
                assertTrue(inside(s.offset, s.length), "a READ outside the disk succeeded: " + s.offset + "+" + s.length);
                if (replies.readableBytes() < TransmissionCodec.REPLY_HEADER_LENGTH + s.length)
                {
                    return; // the data is still to come
                }
            }
            replies.skipBytes(TransmissionCodec.REPLY_HEADER_LENGTH);
            s.answered = true;
            if (readData)
            {
                final byte[] got = new byte[(int)s.length];
                replies.readBytes(got);
                if (s.expected != null)
                {
                    assertArrayEquals(s.expected, got, "READ " + s.offset + "+" + s.length + " returns what was written");
                }
            }
            if (s.type == CMD_WRITE && error == 0)
            {
                assertFalse(readOnly, "a WRITE to a read-only export succeeded");
                assertTrue(inside(s.offset, s.length), "a WRITE outside the disk succeeded: " + s.offset + "+" + s.length);
                assertNotNull(s.payload, "a WRITE whose payload was not sent succeeded");
                System.arraycopy(s.payload, 0, model, (int)s.offset, (int)s.length);
            }
            if (s.type == TransmissionCodec.CMD_WRITE_ZEROES && error == 0)
            {
                assertFalse(readOnly, "a WRITE_ZEROES to a read-only export succeeded");
                assertTrue(inside(s.offset, s.length), "a WRITE_ZEROES outside the disk succeeded");
                java.util.Arrays.fill(model, (int)s.offset, (int)(s.offset + s.length), (byte)0);
            }
        }
    }
}
