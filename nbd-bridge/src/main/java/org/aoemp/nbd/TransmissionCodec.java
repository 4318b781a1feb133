package org.aoemp.nbd;

import io.netty.buffer.ByteBuf;

/**
 * The transmission phase on the wire: request header, simple reply, command types and flags,
 * transmission flags. Constants and pure encoders/decoders only. Big-endian throughout.
 *
 * <pre>
 * request (28):      0 magic 0x25609513 (u32)  4 command flags (u16)  6 type (u16)
 *                    8 cookie (u64)  16 offset (u64)  24 length (u32)  [WRITE payload]
 * simple reply (16): 0 magic 0x67446698 (u32)  4 error (u32)  8 cookie (u64)  [READ data]
 * </pre>
 *
 * Flags and type are two separate u16 fields: reading them as one u32 turns FUA|WRITE into an
 * unknown command.
 */
public final class TransmissionCodec
{
    public static final int REQUEST_MAGIC = 0x25609513;
    public static final int SIMPLE_REPLY_MAGIC = 0x67446698;

    public static final int REQUEST_HEADER_LENGTH = 28;
    public static final int REQUEST_MAGIC_OFFSET = 0;
    public static final int REQUEST_FLAGS_OFFSET = 4;
    public static final int REQUEST_TYPE_OFFSET = 6;
    public static final int REQUEST_COOKIE_OFFSET = 8;
    public static final int REQUEST_OFFSET_OFFSET = 16;
    public static final int REQUEST_LENGTH_OFFSET = 24;

    public static final int REPLY_HEADER_LENGTH = 16;
    public static final int REPLY_MAGIC_OFFSET = 0;
    public static final int REPLY_ERROR_OFFSET = 4;
    public static final int REPLY_COOKIE_OFFSET = 8;

    // Command types.
    public static final int CMD_READ = 0;
    public static final int CMD_WRITE = 1;
    public static final int CMD_DISC = 2;
    public static final int CMD_FLUSH = 3;
    public static final int CMD_TRIM = 4;
    public static final int CMD_CACHE = 5;
    public static final int CMD_WRITE_ZEROES = 6;
    public static final int CMD_BLOCK_STATUS = 7;
    public static final int CMD_RESIZE = 8;

    // Command flags.
    public static final int CMD_FLAG_FUA = 0x01;
    public static final int CMD_FLAG_NO_HOLE = 0x02;
    public static final int CMD_FLAG_DF = 0x04;
    public static final int CMD_FLAG_REQ_ONE = 0x08;
    public static final int CMD_FLAG_FAST_ZERO = 0x10;
    public static final int CMD_FLAG_PAYLOAD_LEN = 0x20;

    // Transmission flags (u16), sent with the export size.
    public static final int TX_HAS_FLAGS = 0x0001;
    public static final int TX_READ_ONLY = 0x0002;
    public static final int TX_SEND_FLUSH = 0x0004;
    public static final int TX_SEND_FUA = 0x0008;
    public static final int TX_ROTATIONAL = 0x0010;
    public static final int TX_SEND_TRIM = 0x0020;
    public static final int TX_SEND_WRITE_ZEROES = 0x0040;
    public static final int TX_SEND_DF = 0x0080;
    public static final int TX_CAN_MULTI_CONN = 0x0100;
    public static final int TX_SEND_RESIZE = 0x0200;
    public static final int TX_SEND_CACHE = 0x0400;
    public static final int TX_SEND_FAST_ZERO = 0x0800;

    private TransmissionCodec()
    {
    }

    /**
     * What this server advertises. FLUSH reaches the whole device (an ATA FLUSH CACHE on the
     * target), so one connection's flush covers every connection's writes: CAN_MULTI_CONN.
     * TRIM is not offered (AoE has no discard), nor CACHE, DF, FAST_ZERO or BLOCK_STATUS.
     */
    public static int transmissionFlags(final boolean readOnly)
    {
        final int common = TX_HAS_FLAGS | TX_SEND_FLUSH | TX_CAN_MULTI_CONN;
        return readOnly ? common | TX_READ_ONLY : common | TX_SEND_FUA | TX_SEND_WRITE_ZEROES;
    }

    public static String commandName(final int type)
    {
        return switch (type)
        {
            case CMD_READ -> "READ";
            case CMD_WRITE -> "WRITE";
            case CMD_DISC -> "DISC";
            case CMD_FLUSH -> "FLUSH";
            case CMD_TRIM -> "TRIM";
            case CMD_CACHE -> "CACHE";
            case CMD_WRITE_ZEROES -> "WRITE_ZEROES";
            case CMD_BLOCK_STATUS -> "BLOCK_STATUS";
            case CMD_RESIZE -> "RESIZE";
            default -> "command " + type;
        };
    }

    /** True when {@code in} holds a request magic at its reader index (28 bytes must be readable). */
    public static boolean hasRequestMagic(final ByteBuf in)
    {
        return in.getInt(in.readerIndex() + REQUEST_MAGIC_OFFSET) == REQUEST_MAGIC;
    }

    /** Decodes the 28-byte header at the reader index into {@code request} and skips it. */
    public static NbdRequest readRequestHeader(final ByteBuf in, final NbdRequest request)
    {
        final int base = in.readerIndex();
        request.header(
            in.getUnsignedShort(base + REQUEST_FLAGS_OFFSET),
            in.getUnsignedShort(base + REQUEST_TYPE_OFFSET),
            in.getLong(base + REQUEST_COOKIE_OFFSET),
            in.getLong(base + REQUEST_OFFSET_OFFSET),
            in.getUnsignedInt(base + REQUEST_LENGTH_OFFSET));
        in.skipBytes(REQUEST_HEADER_LENGTH);
        return request;
    }

    /** Encodes a request header (a client's side; used by tests and tools). */
    public static ByteBuf writeRequestHeader(
        final ByteBuf out, final int flags, final int type, final long cookie, final long offset, final long length)
    {
        return out.writeInt(REQUEST_MAGIC).writeShort(flags).writeShort(type)
            .writeLong(cookie).writeLong(offset).writeInt((int)length);
    }

    /** A simple reply header; READ data, if any, follows it. */
    public static ByteBuf writeSimpleReply(final ByteBuf out, final int error, final long cookie)
    {
        return out.writeInt(SIMPLE_REPLY_MAGIC).writeInt(error).writeLong(cookie);
    }

    /** Rewrites the error field of a simple reply header that starts at {@code index}. */
    public static ByteBuf setReplyError(final ByteBuf buf, final int index, final int error)
    {
        return buf.setInt(index + REPLY_ERROR_OFFSET, error);
    }
}
