package org.aoemp.target;

import java.io.IOException;
import java.nio.ByteBuffer;
import java.nio.MappedByteBuffer;
import java.nio.channels.FileChannel;
import java.nio.channels.FileLock;
import java.nio.channels.ReadableByteChannel;
import java.nio.channels.WritableByteChannel;

/** A {@link FileChannel} that forwards everything to {@code inner}: tests override the calls they slow down or break. */
class ForwardingFileChannel extends FileChannel
{
    final FileChannel inner;

    ForwardingFileChannel(final FileChannel inner)
    {
        this.inner = inner;
    }

    @Override
    public int read(final ByteBuffer dst, final long position) throws IOException
    {
        return inner.read(dst, position);
    }

    @Override
    public int write(final ByteBuffer src, final long position) throws IOException
    {
        return inner.write(src, position);
    }

    @Override
    public void force(final boolean metaData) throws IOException
    {
        inner.force(metaData);
    }

    @Override
    public int read(final ByteBuffer dst) throws IOException
    {
        return inner.read(dst);
    }

    @Override
    public long read(final ByteBuffer[] dsts, final int offset, final int length) throws IOException
    {
        return inner.read(dsts, offset, length);
    }

    @Override
    public int write(final ByteBuffer src) throws IOException
    {
        return inner.write(src);
    }

    @Override
    public long write(final ByteBuffer[] srcs, final int offset, final int length) throws IOException
    {
        return inner.write(srcs, offset, length);
    }

    @Override
    public long position() throws IOException
    {
        return inner.position();
    }

    @Override
    public FileChannel position(final long newPosition) throws IOException
    {
        inner.position(newPosition);
        return this;
    }

    @Override
    public long size() throws IOException
    {
        return inner.size();
    }

    @Override
    public FileChannel truncate(final long size) throws IOException
    {
        inner.truncate(size);
        return this;
    }

    @Override
    public long transferTo(final long position, final long count, final WritableByteChannel target) throws IOException
    {
        return inner.transferTo(position, count, target);
    }

    @Override
    public long transferFrom(final ReadableByteChannel src, final long position, final long count) throws IOException
    {
        return inner.transferFrom(src, position, count);
    }

    @Override
    public MappedByteBuffer map(final MapMode mode, final long position, final long size) throws IOException
    {
        return inner.map(mode, position, size);
    }

    @Override
    public FileLock lock(final long position, final long size, final boolean shared) throws IOException
    {
        return inner.lock(position, size, shared);
    }

    @Override
    public FileLock tryLock(final long position, final long size, final boolean shared) throws IOException
    {
        return inner.tryLock(position, size, shared);
    }

    @Override
    protected void implCloseChannel() throws IOException
    {
        inner.close();
    }
}
