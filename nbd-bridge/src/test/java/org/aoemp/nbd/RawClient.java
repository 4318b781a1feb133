package org.aoemp.nbd;

import static org.aoemp.nbd.HandshakeCodec.*;
import static org.junit.jupiter.api.Assertions.assertEquals;

import java.io.DataInputStream;
import java.io.DataOutputStream;
import java.io.EOFException;
import java.io.IOException;
import java.io.InputStream;
import java.net.InetAddress;
import java.net.Socket;
import java.net.SocketException;
import java.net.SocketTimeoutException;
import java.nio.ByteBuffer;
import java.nio.charset.StandardCharsets;

/**
 * A deliberately simple NBD client over a plain blocking socket, able to send anything,
 * including what a well-behaved client never would. Reads time out after 5 s so a server that
 * fails to answer fails the test instead of hanging it.
 */
final class RawClient implements AutoCloseable
{
    record OptionReply(int option, int type, byte[] data)
    {
        ByteBuffer buffer()
        {
            return ByteBuffer.wrap(data);
        }
    }

    record Reply(int error, long cookie, byte[] data)
    {
    }

    record ExportInfo(long size, int flags)
    {
    }

    private final Socket socket;
    private final DataInputStream in;
    private final DataOutputStream out;

    private RawClient(final int port) throws IOException
    {
        socket = new Socket(InetAddress.getLoopbackAddress(), port);
        socket.setSoTimeout(5000);
        socket.setTcpNoDelay(true);
        in = new DataInputStream(socket.getInputStream());
        out = new DataOutputStream(socket.getOutputStream());
    }

    /** Connects and reads the greeting, checking its magics. */
    static RawClient connect(final int port) throws IOException
    {
        final RawClient c = new RawClient(port);
        assertEquals(NBDMAGIC, c.in.readLong(), "NBDMAGIC");
        assertEquals(IHAVEOPT, c.in.readLong(), "IHAVEOPT");
        assertEquals(SERVER_FLAGS, c.in.readUnsignedShort(), "handshake flags");
        return c;
    }

    /** Connects, negotiates fixed newstyle + NO_ZEROES, and GOes to {@code export}. */
    static RawClient transmission(final int port, final String export) throws IOException
    {
        final RawClient c = connect(port);
        c.clientFlags(CLIENT_FLAG_FIXED_NEWSTYLE | CLIENT_FLAG_NO_ZEROES);
        final OptionReply r = c.go(export);
        assertEquals(REP_ACK, r.type(), "GO reply");
        return c;
    }

    void clientFlags(final int flags) throws IOException
    {
        out.writeInt(flags);
        out.flush();
    }

    void option(final int option, final byte[] data) throws IOException
    {
        optionHeader(option, data.length);
        out.write(data);
        out.flush();
    }

    /** An option header claiming {@code length} bytes of data, without the data. */
    void optionHeader(final int option, final long length) throws IOException
    {
        out.writeLong(IHAVEOPT);
        out.writeInt(option);
        out.writeInt((int)length);
        out.flush();
    }

    OptionReply readOptionReply() throws IOException
    {
        assertEquals(OPTION_REPLY_MAGIC, in.readLong(), "option reply magic");
        final int option = in.readInt();
        final int type = in.readInt();
        final byte[] data = new byte[in.readInt()];
        in.readFully(data);
        return new OptionReply(option, type, data);
    }

    static byte[] infoData(final String name, final int... infoTypes)
    {
        final byte[] n = name.getBytes(StandardCharsets.UTF_8);
        final ByteBuffer b = ByteBuffer.allocate(4 + n.length + 2 + 2 * infoTypes.length);
        b.putInt(n.length).put(n).putShort((short)infoTypes.length);
        for (final int t : infoTypes)
        {
            b.putShort((short)t);
        }
        return b.array();
    }

    /**
     * Sends GO and reads replies up to the final one, which it returns (ACK or an error). The
     * INFO_EXPORT on the way is remembered in {@link #lastExport()}.
     */
    OptionReply go(final String name, final int... infoTypes) throws IOException
    {
        option(OPT_GO, infoData(name, infoTypes));
        return readUntilFinal();
    }

    private ExportInfo lastExport;

    ExportInfo lastExport()
    {
        return lastExport;
    }

    OptionReply readUntilFinal() throws IOException
    {
        while (true)
        {
            final OptionReply r = readOptionReply();
            if (r.type() == REP_INFO && r.buffer().getShort(0) == INFO_EXPORT)
            {
                lastExport = new ExportInfo(r.buffer().getLong(2), r.buffer().getShort(10) & 0xffff);
            }
            if (r.type() != REP_INFO && r.type() != REP_SERVER)
            {
                return r;
            }
        }
    }

    void request(final int flags, final int type, final long cookie, final long offset, final long length) throws IOException
    {
        out.writeInt(TransmissionCodec.REQUEST_MAGIC);
        out.writeShort(flags);
        out.writeShort(type);
        out.writeLong(cookie);
        out.writeLong(offset);
        out.writeInt((int)length);
        out.flush();
    }

    void write(final long cookie, final long offset, final byte[] data) throws IOException
    {
        out.writeInt(TransmissionCodec.REQUEST_MAGIC);
        out.writeShort(0);
        out.writeShort(TransmissionCodec.CMD_WRITE);
        out.writeLong(cookie);
        out.writeLong(offset);
        out.writeInt(data.length);
        out.write(data);
        out.flush();
    }

    void raw(final byte[] bytes) throws IOException
    {
        out.write(bytes);
        out.flush();
    }

    void rawInt(final int value) throws IOException
    {
        out.writeInt(value);
        out.flush();
    }

    void rawLong(final long value) throws IOException
    {
        out.writeLong(value);
        out.flush();
    }

    /** Reads a simple reply; {@code dataLength} bytes of data follow it only when its error is 0. */
    Reply readReply(final int dataLength) throws IOException
    {
        assertEquals(TransmissionCodec.SIMPLE_REPLY_MAGIC, in.readInt(), "simple reply magic");
        final int error = in.readInt();
        final long cookie = in.readLong();
        final byte[] data = new byte[error == 0 ? dataLength : 0];
        in.readFully(data);
        return new Reply(error, cookie, data);
    }

    /** Reads a simple reply whose data length, if it succeeded, depends on which request it answers. */
    Reply readReply(final java.util.function.LongToIntFunction dataLengthByCookie) throws IOException
    {
        assertEquals(TransmissionCodec.SIMPLE_REPLY_MAGIC, in.readInt(), "simple reply magic");
        final int error = in.readInt();
        final long cookie = in.readLong();
        final byte[] data = new byte[error == 0 ? dataLengthByCookie.applyAsInt(cookie) : 0];
        in.readFully(data);
        return new Reply(error, cookie, data);
    }

    byte[] readBytes(final int n) throws IOException
    {
        final byte[] b = new byte[n];
        in.readFully(b);
        return b;
    }

    byte[] read(final long offset, final int length) throws IOException
    {
        request(0, TransmissionCodec.CMD_READ, offset ^ 0x5a5a, offset, length);
        final Reply r = readReply(length);
        assertEquals(0, r.error(), "READ error");
        assertEquals(offset ^ 0x5a5a, r.cookie(), "READ cookie");
        return r.data();
    }

    /** True once the server has closed the connection (EOF or reset), within the read timeout. */
    boolean closedByServer() throws IOException
    {
        try
        {
            final InputStream s = socket.getInputStream();
            while (true)
            {
                if (s.read() < 0)
                {
                    return true;
                }
            }
        }
        catch (final EOFException | SocketException e)
        {
            return true;
        }
        catch (final SocketTimeoutException e)
        {
            return false;
        }
    }

    void shutdownOutput() throws IOException
    {
        socket.shutdownOutput();
    }

    @Override
    public void close() throws IOException
    {
        socket.close();
    }
}
