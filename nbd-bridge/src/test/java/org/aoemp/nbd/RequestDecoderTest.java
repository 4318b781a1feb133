package org.aoemp.nbd;

import static org.aoemp.nbd.TransmissionCodec.CMD_FLUSH;
import static org.aoemp.nbd.TransmissionCodec.CMD_READ;
import static org.aoemp.nbd.TransmissionCodec.CMD_WRITE;
import static org.aoemp.nbd.TransmissionCodec.writeRequestHeader;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertNull;
import static org.junit.jupiter.api.Assertions.assertTrue;

import io.netty.buffer.ByteBuf;
import io.netty.buffer.Unpooled;
import io.netty.channel.embedded.EmbeddedChannel;
import org.aoemp.block.MemoryBlockDevice;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.Test;

class RequestDecoderTest
{
    private final MemoryBlockDevice device = new MemoryBlockDevice("m", 1 << 20);
    private final EmbeddedChannel channel = new EmbeddedChannel(new RequestDecoder(new Export("m", device, false),
        new ConnectionBudget(new ServerBudget(Long.MAX_VALUE / 2), Long.MAX_VALUE / 2, Integer.MAX_VALUE)));

    @AfterEach
    void close()
    {
        channel.finishAndReleaseAll();
        device.close();
    }

    @Test
    void shouldPassAWritePayloadOnAsARetainedSliceOnceComplete()
    {
        final ByteBuf header = writeRequestHeader(Unpooled.buffer(), 0, CMD_WRITE, 7, 4096, 1024);
        channel.writeInbound(header.writeBytes(new byte[600]));
        assertNull(channel.readInbound(), "payload incomplete");
        channel.writeInbound(Unpooled.buffer().writeZero(424));
        final NbdRequest r = channel.readInbound();
        assertEquals(7, r.cookie());
        assertEquals(1024, r.payload().readableBytes());
        assertEquals(1, r.payload().refCnt());
        r.release();
    }

    @Test
    void shouldSplitSeveralRequestsArrivingTogether()
    {
        final ByteBuf in = Unpooled.buffer();
        writeRequestHeader(in, 0, CMD_READ, 1, 0, 512);
        writeRequestHeader(in, 0, CMD_WRITE, 2, 0, 512).writeZero(512);
        writeRequestHeader(in, 0, CMD_FLUSH, 3, 0, 0);
        channel.writeInbound(in);
        for (int cookie = 1; cookie <= 3; cookie++)
        {
            final NbdRequest r = channel.readInbound();
            assertEquals(cookie, r.cookie());
            assertEquals(0, r.errno());
            r.release();
        }
    }

    @Test
    void shouldDiscardARejectedWritePayloadAsItStreamsInAndThenPassTheRequestOn()
    {
        // 4 GiB - 1 claimed: far more than could ever be buffered.
        final long length = 0xffffffffL;
        channel.writeInbound(writeRequestHeader(Unpooled.buffer(), 0, CMD_WRITE, 9, 0, length));
        long sent = 0;
        final int piece = 4 << 20;
        final byte[] zeroes = new byte[piece];
        while (sent < length - piece)
        {
            channel.writeInbound(Unpooled.wrappedBuffer(zeroes));
            sent += piece;
            if (sent % (256L << 20) == 0)
            {
                assertNull(channel.readInbound());
            }
        }
        final ByteBuf last = Unpooled.buffer().writeZero((int)(length - sent));
        writeRequestHeader(last, 0, CMD_READ, 10, 0, 512);
        channel.writeInbound(last);
        final NbdRequest rejected = channel.readInbound();
        assertEquals(9, rejected.cookie());
        assertEquals(NbdErrors.EINVAL, rejected.errno());
        assertNull(rejected.payload());
        final NbdRequest next = channel.readInbound();
        assertEquals(10, next.cookie());
        assertEquals(0, next.errno());
    }

    @Test
    void shouldMarkAWriteBeyondTheEndWithEnospc()
    {
        channel.writeInbound(writeRequestHeader(Unpooled.buffer(), 0, CMD_WRITE, 4, 1 << 20, 512).writeZero(512));
        final NbdRequest r = channel.readInbound();
        assertEquals(NbdErrors.ENOSPC, r.errno());
        assertNull(r.payload());
    }

    @Test
    void shouldCloseOnABadMagicInsteadOfGuessingWhereTheNextRequestStarts()
    {
        channel.writeInbound(Unpooled.buffer().writeZero(28));
        assertNull(channel.readInbound());
        assertFalse(channel.isActive());
    }

    @Test
    void shouldWaitForTheWholeHeader()
    {
        final ByteBuf header = writeRequestHeader(Unpooled.buffer(), 0, CMD_READ, 5, 0, 512);
        channel.writeInbound(header.readRetainedSlice(14));
        assertNull(channel.readInbound());
        channel.writeInbound(header);
        final NbdRequest r = channel.readInbound();
        assertEquals(5, r.cookie());
        assertTrue(channel.isActive());
    }
}
