package org.aoemp.nbd;

import static org.aoemp.nbd.HandshakeCodec.*;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertTrue;

import io.netty.buffer.ByteBuf;
import io.netty.buffer.ByteBufUtil;
import io.netty.buffer.Unpooled;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.Test;

class HandshakeCodecTest
{
    private final ByteBuf out = Unpooled.buffer();

    @AfterEach
    void release()
    {
        out.release();
    }

    @Test
    void shouldWriteTheGreetingAsCapturedFromNbdkit()
    {
        writeGreeting(out, SERVER_FLAGS);
        assertEquals("4e42444d41474943" + "49484156454f5054" + "0003", ByteBufUtil.hexDump(out));
    }

    @Test
    void shouldWriteInfoExportThenAckAsCapturedFromNbdkit()
    {
        writeInfoExport(out, OPT_GO, 64L << 20, 0x0d6d);
        writeAck(out, OPT_GO);
        assertEquals(
            "0003e889045565a9" + "00000007" + "00000003" + "0000000c" + "0000" + "0000000004000000" + "0d6d"
                + "0003e889045565a9" + "00000007" + "00000001" + "00000000",
            ByteBufUtil.hexDump(out));
    }

    @Test
    void shouldWriteExportNameReplyWithPaddingUnlessNoZeroes()
    {
        writeExportNameReply(out, 64L << 20, 0x0d6d, true);
        assertEquals("0000000004000000" + "0d6d", ByteBufUtil.hexDump(out));
        out.clear();
        writeExportNameReply(out, 1, 1, false);
        assertEquals(8 + 2 + EXPORT_NAME_PADDING, out.readableBytes());
        assertEquals(0, out.getByte(8 + 2 + EXPORT_NAME_PADDING - 1));
    }

    @Test
    void shouldWriteServerEntryWithNameLengthAndDescription()
    {
        writeServer(out, OPT_LIST, "disk1", "a disk");
        assertEquals(OPTION_REPLY_MAGIC, out.readLong());
        assertEquals(OPT_LIST, out.readInt());
        assertEquals(REP_SERVER, out.readInt());
        assertEquals(4 + 5 + 6, out.readInt());
        assertEquals(5, out.readInt());
        assertEquals("disk1a disk", out.toString(java.nio.charset.StandardCharsets.UTF_8));
    }

    @Test
    void shouldWriteBlockSizeNameAndErrorReplies()
    {
        writeInfoBlockSize(out, OPT_INFO, 512, 4096, 32 << 20);
        assertEquals("0003e889045565a9" + "00000006" + "00000003" + "0000000e" + "0003" + "00000200" + "00001000" + "02000000",
            ByteBufUtil.hexDump(out));
        out.clear();
        writeInfoString(out, OPT_GO, INFO_NAME, "é");
        assertEquals("0003e889045565a9" + "00000007" + "00000003" + "00000004" + "0001" + "c3a9", ByteBufUtil.hexDump(out));
        out.clear();
        writeError(out, 0x7654321, REP_ERR_UNSUP, "no");
        assertEquals("0003e889045565a9" + "07654321" + "80000001" + "00000002" + "6e6f", ByteBufUtil.hexDump(out));
    }

    @Test
    void shouldClassifyReplyTypesAndNameOptions()
    {
        assertTrue(isError(REP_ERR_UNKNOWN));
        assertFalse(isError(REP_INFO));
        assertEquals("GO", optionName(OPT_GO));
        assertEquals("option 4294967295", optionName(-1));
    }
}
