package org.aoemp.nbd;

import static org.aoemp.nbd.TransmissionCodec.*;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertTrue;

import io.netty.buffer.ByteBuf;
import io.netty.buffer.ByteBufUtil;
import io.netty.buffer.Unpooled;
import org.junit.jupiter.api.Test;

class TransmissionCodecTest
{
    @Test
    void shouldDecodeFlagsAndTypeAsSeparateFields()
    {
        // FUA|WRITE: read as one u32 this would be command 0x10001.
        final ByteBuf in = writeRequestHeader(Unpooled.buffer(), CMD_FLAG_FUA, CMD_WRITE, 0x0102030405060708L, 1L << 40, 4096);
        assertEquals(REQUEST_HEADER_LENGTH, in.readableBytes());
        assertTrue(hasRequestMagic(in));
        final NbdRequest r = readRequestHeader(in, new NbdRequest());
        assertEquals(CMD_WRITE, r.type());
        assertTrue(r.hasFlag(CMD_FLAG_FUA));
        assertEquals(0x0102030405060708L, r.cookie());
        assertEquals(1L << 40, r.offset());
        assertEquals(4096, r.length());
        assertFalse(in.isReadable());
    }

    @Test
    void shouldDecodeUnsignedLengthAndKeepTheCookieVerbatim()
    {
        final ByteBuf in = writeRequestHeader(Unpooled.buffer(), 0xffff, 0xffff, -1L, -1L, 0xffffffffL);
        final NbdRequest r = readRequestHeader(in, new NbdRequest());
        assertEquals(0xffff, r.flags());
        assertEquals(0xffff, r.type());
        assertEquals(-1L, r.cookie());
        assertEquals(0xffffffffL, r.length());
        assertEquals(-1L, r.offset(), "offsets past 2^63 stay negative and so out of range");
    }

    @Test
    void shouldWriteSimpleReplyAndPatchItsError()
    {
        final ByteBuf out = writeSimpleReply(Unpooled.buffer(), 0, 0x1122334455667788L);
        assertEquals("67446698" + "00000000" + "1122334455667788", ByteBufUtil.hexDump(out));
        setReplyError(out, 0, NbdErrors.EIO);
        assertEquals("67446698" + "00000005" + "1122334455667788", ByteBufUtil.hexDump(out));
    }

    @Test
    void shouldAdvertiseOnlyWhatAoeCanHonour()
    {
        final int rw = transmissionFlags(false);
        assertEquals(TX_HAS_FLAGS | TX_SEND_FLUSH | TX_SEND_FUA | TX_SEND_WRITE_ZEROES | TX_CAN_MULTI_CONN, rw);
        assertEquals(0, rw & (TX_SEND_TRIM | TX_SEND_CACHE | TX_SEND_DF | TX_SEND_FAST_ZERO | TX_READ_ONLY));
        final int ro = transmissionFlags(true);
        assertTrue((ro & TX_READ_ONLY) != 0);
        assertEquals(0, ro & (TX_SEND_WRITE_ZEROES | TX_SEND_FUA));
    }
}
