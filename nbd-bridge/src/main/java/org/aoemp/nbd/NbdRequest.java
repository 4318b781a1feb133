package org.aoemp.nbd;

import io.netty.buffer.ByteBuf;
import io.netty.util.ReferenceCounted;

/**
 * One decoded transmission request, passed from {@link RequestDecoder} to
 * {@link TransmissionHandler} on the channel's event loop. A WRITE that passed validation carries
 * its payload as a retained slice of the receive buffer: whoever holds the request owns that
 * reference and must {@link #release()} it exactly once.
 */
public final class NbdRequest
{
    private int flags;
    private int type;
    private long cookie;
    private long offset;
    private long length;
    private int errno;
    private ByteBuf payload;

    NbdRequest header(final int flags, final int type, final long cookie, final long offset, final long length)
    {
        this.flags = flags;
        this.type = type;
        this.cookie = cookie;
        this.offset = offset;
        this.length = length;
        return this;
    }

    public int flags()
    {
        return flags;
    }

    public int type()
    {
        return type;
    }

    public long cookie()
    {
        return cookie;
    }

    /** Unsigned on the wire; a value with bit 63 set is negative here and fails validation. */
    public long offset()
    {
        return offset;
    }

    /** Unsigned 32-bit length. */
    public long length()
    {
        return length;
    }

    /** 0 when the request is valid, else the NBD error to reply with without executing it. */
    public int errno()
    {
        return errno;
    }

    NbdRequest errno(final int errno)
    {
        this.errno = errno;
        return this;
    }

    public boolean hasFlag(final int flag)
    {
        return (flags & flag) != 0;
    }

    /** The WRITE payload, or null. */
    public ByteBuf payload()
    {
        return payload;
    }

    NbdRequest payload(final ByteBuf payload)
    {
        this.payload = payload;
        return this;
    }

    /** Releases the payload, if any; safe to call more than once. */
    public void release()
    {
        final ReferenceCounted p = payload;
        payload = null;
        if (p != null)
        {
            p.release();
        }
    }

    @Override
    public String toString()
    {
        return TransmissionCodec.commandName(type) + "[flags=0x" + Integer.toHexString(flags) + ", cookie=" + cookie
            + ", offset=" + offset + ", length=" + length + (errno != 0 ? ", errno=" + errno : "") + "]";
    }
}
