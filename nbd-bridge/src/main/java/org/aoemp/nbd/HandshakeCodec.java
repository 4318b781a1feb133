package org.aoemp.nbd;

import java.nio.charset.StandardCharsets;

import io.netty.buffer.ByteBuf;

/**
 * The fixed-newstyle handshake on the wire: constants and encoders, no I/O. All integers are
 * big-endian (Netty's default byte order).
 *
 * <pre>
 * S: NBDMAGIC (8)  IHAVEOPT (8)  handshake flags (u16)
 * C: client flags (u32)
 * C: IHAVEOPT (8)  option (u32)  length (u32)  data (length)            ... repeated
 * S: REPLY_MAGIC (8)  option (u32)  reply type (u32)  length (u32)  data  ... per option
 * </pre>
 */
public final class HandshakeCodec
{
    public static final long NBDMAGIC = 0x4e42444d41474943L;
    public static final long IHAVEOPT = 0x49484156454f5054L;
    public static final long OPTION_REPLY_MAGIC = 0x0003e889045565a9L;

    public static final int GREETING_LENGTH = 18;
    public static final int CLIENT_FLAGS_LENGTH = 4;
    public static final int OPTION_HEADER_LENGTH = 16;
    public static final int OPTION_REPLY_HEADER_LENGTH = 20;
    /** Zero padding after the EXPORT_NAME reply unless NO_ZEROES was negotiated. */
    public static final int EXPORT_NAME_PADDING = 124;

    // Handshake flags (u16, server to client).
    public static final int FLAG_FIXED_NEWSTYLE = 0x1;
    public static final int FLAG_NO_ZEROES = 0x2;
    public static final int SERVER_FLAGS = FLAG_FIXED_NEWSTYLE | FLAG_NO_ZEROES;

    // Client flags (u32): anything else, or a flag the server did not offer, ends the connection.
    public static final int CLIENT_FLAG_FIXED_NEWSTYLE = 0x1;
    public static final int CLIENT_FLAG_NO_ZEROES = 0x2;
    public static final int KNOWN_CLIENT_FLAGS = CLIENT_FLAG_FIXED_NEWSTYLE | CLIENT_FLAG_NO_ZEROES;

    // Options.
    public static final int OPT_EXPORT_NAME = 1;
    public static final int OPT_ABORT = 2;
    public static final int OPT_LIST = 3;
    public static final int OPT_PEEK_EXPORT = 4;
    public static final int OPT_STARTTLS = 5;
    public static final int OPT_INFO = 6;
    public static final int OPT_GO = 7;
    public static final int OPT_STRUCTURED_REPLY = 8;
    public static final int OPT_LIST_META_CONTEXT = 9;
    public static final int OPT_SET_META_CONTEXT = 10;
    public static final int OPT_EXTENDED_HEADERS = 11;

    // Option reply types; errors have bit 31 set.
    public static final int REP_ACK = 1;
    public static final int REP_SERVER = 2;
    public static final int REP_INFO = 3;
    public static final int REP_META_CONTEXT = 4;
    public static final int REP_ERR_UNSUP = 0x8000_0001;
    public static final int REP_ERR_POLICY = 0x8000_0002;
    public static final int REP_ERR_INVALID = 0x8000_0003;
    public static final int REP_ERR_PLATFORM = 0x8000_0004;
    public static final int REP_ERR_TLS_REQD = 0x8000_0005;
    public static final int REP_ERR_UNKNOWN = 0x8000_0006;
    public static final int REP_ERR_SHUTDOWN = 0x8000_0007;
    public static final int REP_ERR_BLOCK_SIZE_REQD = 0x8000_0008;
    public static final int REP_ERR_TOO_BIG = 0x8000_0009;

    // Information types in INFO/GO requests and REP_INFO replies.
    public static final int INFO_EXPORT = 0;
    public static final int INFO_NAME = 1;
    public static final int INFO_DESCRIPTION = 2;
    public static final int INFO_BLOCK_SIZE = 3;

    /** Longest option data this server reads; longer options end the connection unread. */
    public static final int MAX_OPTION_LENGTH = 64 * 1024;
    /** Longest export name or description (the spec's string limit). */
    public static final int MAX_STRING_LENGTH = 4096;

    private HandshakeCodec()
    {
    }

    public static boolean isError(final int replyType)
    {
        return (replyType & 0x8000_0000) != 0;
    }

    public static String optionName(final int option)
    {
        return switch (option)
        {
            case OPT_EXPORT_NAME -> "EXPORT_NAME";
            case OPT_ABORT -> "ABORT";
            case OPT_LIST -> "LIST";
            case OPT_PEEK_EXPORT -> "PEEK_EXPORT";
            case OPT_STARTTLS -> "STARTTLS";
            case OPT_INFO -> "INFO";
            case OPT_GO -> "GO";
            case OPT_STRUCTURED_REPLY -> "STRUCTURED_REPLY";
            case OPT_LIST_META_CONTEXT -> "LIST_META_CONTEXT";
            case OPT_SET_META_CONTEXT -> "SET_META_CONTEXT";
            case OPT_EXTENDED_HEADERS -> "EXTENDED_HEADERS";
            default -> "option " + Integer.toUnsignedString(option);
        };
    }

    /** NBDMAGIC, IHAVEOPT and the handshake flags. */
    public static ByteBuf writeGreeting(final ByteBuf out, final int handshakeFlags)
    {
        return out.writeLong(NBDMAGIC).writeLong(IHAVEOPT).writeShort(handshakeFlags);
    }

    /** The header of an option reply whose data ({@code length} bytes) the caller writes next. */
    public static ByteBuf writeReplyHeader(final ByteBuf out, final int option, final int replyType, final int length)
    {
        return out.writeLong(OPTION_REPLY_MAGIC).writeInt(option).writeInt(replyType).writeInt(length);
    }

    public static ByteBuf writeAck(final ByteBuf out, final int option)
    {
        return writeReplyHeader(out, option, REP_ACK, 0);
    }

    /** An error reply with a human-readable UTF-8 message. */
    public static ByteBuf writeError(final ByteBuf out, final int option, final int errorType, final String message)
    {
        final byte[] text = utf8(message);
        return writeReplyHeader(out, option, errorType, text.length).writeBytes(text);
    }

    /** REP_SERVER: u32 name length, name, then the optional description. */
    public static ByteBuf writeServer(final ByteBuf out, final int option, final String name, final String description)
    {
        final byte[] n = utf8(name);
        final byte[] d = utf8(description);
        return writeReplyHeader(out, option, REP_SERVER, 4 + n.length + d.length)
            .writeInt(n.length).writeBytes(n).writeBytes(d);
    }

    /** REP_INFO / INFO_EXPORT: u16 type, u64 size, u16 transmission flags. */
    public static ByteBuf writeInfoExport(final ByteBuf out, final int option, final long size, final int transmissionFlags)
    {
        return writeReplyHeader(out, option, REP_INFO, 12).writeShort(INFO_EXPORT).writeLong(size).writeShort(transmissionFlags);
    }

    /** REP_INFO / INFO_NAME or INFO_DESCRIPTION: u16 type, then the string. */
    public static ByteBuf writeInfoString(final ByteBuf out, final int option, final int infoType, final String text)
    {
        final byte[] t = utf8(text);
        return writeReplyHeader(out, option, REP_INFO, 2 + t.length).writeShort(infoType).writeBytes(t);
    }

    /** REP_INFO / INFO_BLOCK_SIZE: u16 type, u32 minimum, preferred and maximum payload. */
    public static ByteBuf writeInfoBlockSize(
        final ByteBuf out, final int option, final int minimum, final int preferred, final int maximumPayload)
    {
        return writeReplyHeader(out, option, REP_INFO, 14)
            .writeShort(INFO_BLOCK_SIZE).writeInt(minimum).writeInt(preferred).writeInt(maximumPayload);
    }

    /** The reply to EXPORT_NAME, which has no reply header: size, flags and, unless NO_ZEROES, 124 zeroes. */
    public static ByteBuf writeExportNameReply(
        final ByteBuf out, final long size, final int transmissionFlags, final boolean noZeroes)
    {
        out.writeLong(size).writeShort(transmissionFlags);
        return noZeroes ? out : out.writeZero(EXPORT_NAME_PADDING);
    }

    static byte[] utf8(final String s)
    {
        return s == null ? new byte[0] : s.getBytes(StandardCharsets.UTF_8);
    }
}
