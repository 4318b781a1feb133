package org.aoemp.nbd;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertNull;
import static org.junit.jupiter.api.Assertions.assertTrue;

import io.netty.buffer.ByteBuf;
import io.netty.buffer.Unpooled;
import org.junit.jupiter.api.Test;

class InfoRequestTest
{
    @Test
    void shouldParseWhatNbdClientSends()
    {
        // GO for "foo" with no information requests: the capture in nbd-protocol.md.
        final InfoRequest r = InfoRequest.parse(Unpooled.wrappedBuffer(RawClient.infoData("foo")));
        assertEquals("foo", r.name());
        assertEquals(0, r.requestedInfo().length);
    }

    @Test
    void shouldParseRequestedInformationWithoutMovingTheReaderIndex()
    {
        final ByteBuf data = Unpooled.wrappedBuffer(RawClient.infoData("", 3, 1, 2));
        final InfoRequest r = InfoRequest.parse(data);
        assertEquals("", r.name());
        assertArrayEquals(new int[] {3, 1, 2}, r.requestedInfo());
        assertTrue(r.requested(HandshakeCodec.INFO_BLOCK_SIZE));
        assertFalse(r.requested(HandshakeCodec.INFO_EXPORT));
        assertEquals(0, data.readerIndex());
    }

    @Test
    void shouldRejectLengthsThatDoNotAddUp()
    {
        assertNull(InfoRequest.parse(Unpooled.wrappedBuffer(new byte[5])), "shorter than the fixed fields");
        assertNull(InfoRequest.parse(Unpooled.buffer().writeInt(0xffffffff).writeShort(0)), "CVE-2022-26495 name length");
        assertNull(InfoRequest.parse(Unpooled.buffer().writeInt(4097).writeZero(4097).writeShort(0)), "name over 4096");
        assertNull(InfoRequest.parse(Unpooled.buffer().writeInt(1).writeByte('a').writeShort(2).writeShort(1)), "count too big");
        assertNull(InfoRequest.parse(Unpooled.buffer().writeInt(1).writeByte('a').writeShort(0).writeByte(0)), "trailing byte");
        assertNull(InfoRequest.parse(Unpooled.buffer().writeInt(1).writeByte(0xff).writeShort(0)), "not UTF-8");
    }

    @Test
    void shouldAcceptANameOfExactly4096Bytes()
    {
        final ByteBuf data = Unpooled.buffer().writeInt(4096);
        data.writeBytes("x".repeat(4096).getBytes(java.nio.charset.StandardCharsets.US_ASCII)).writeShort(0);
        assertEquals(4096, InfoRequest.parse(data).name().length());
    }
}
