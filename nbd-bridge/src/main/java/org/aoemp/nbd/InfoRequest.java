package org.aoemp.nbd;

import java.nio.charset.CharacterCodingException;
import java.nio.charset.CodingErrorAction;
import java.nio.charset.StandardCharsets;

import io.netty.buffer.ByteBuf;

/**
 * The data of an INFO or GO option: u32 name length, name (UTF-8), u16 count, count × u16
 * information types. Parsing is a pure function of the bytes.
 *
 * @param name         the export name, {@code ""} for the default export
 * @param requestedInfo the information types the client asked for, in its order
 */
public record InfoRequest(String name, int[] requestedInfo)
{
    /**
     * Parses the whole option data from its reader index to its writer index, without moving them.
     *
     * @return the request, or null when the data is malformed (lengths that do not add up to the
     *         option length, a name over {@link HandshakeCodec#MAX_STRING_LENGTH} or not UTF-8):
     *         the server then answers ERR_INVALID.
     */
    public static InfoRequest parse(final ByteBuf data)
    {
        final int start = data.readerIndex();
        final int length = data.readableBytes();
        if (length < 6)
        {
            return null;
        }
        final long nameLength = data.getUnsignedInt(start);
        if (nameLength > HandshakeCodec.MAX_STRING_LENGTH || nameLength > length - 6)
        {
            return null;
        }
        final int countIndex = start + 4 + (int)nameLength;
        final int count = data.getUnsignedShort(countIndex);
        if (length != 4 + nameLength + 2 + 2L * count)
        {
            return null;
        }
        final String name = decodeUtf8(data, start + 4, (int)nameLength);
        if (name == null)
        {
            return null;
        }
        final int[] requested = new int[count];
        for (int i = 0; i < count; i++)
        {
            requested[i] = data.getUnsignedShort(countIndex + 2 + 2 * i);
        }
        return new InfoRequest(name, requested);
    }

    public boolean requested(final int infoType)
    {
        for (final int t : requestedInfo)
        {
            if (t == infoType)
            {
                return true;
            }
        }
        return false;
    }

    /** Strictly decoded UTF-8, or null if the bytes are not valid UTF-8. */
    static String decodeUtf8(final ByteBuf data, final int index, final int length)
    {
        try
        {
            return StandardCharsets.UTF_8.newDecoder()
                .onMalformedInput(CodingErrorAction.REPORT)
                .onUnmappableCharacter(CodingErrorAction.REPORT)
                .decode(data.nioBuffer(index, length))
                .toString();
        }
        catch (final CharacterCodingException e)
        {
            return null;
        }
    }
}
