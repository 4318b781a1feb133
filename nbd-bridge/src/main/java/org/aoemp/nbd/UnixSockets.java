package org.aoemp.nbd;

import java.io.IOException;
import java.io.UncheckedIOException;
import java.net.StandardProtocolFamily;
import java.net.UnixDomainSocketAddress;
import java.nio.channels.SocketChannel;
import java.nio.file.Files;
import java.nio.file.LinkOption;
import java.nio.file.Path;
import java.nio.file.attribute.PosixFilePermissions;

import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/** The socket files of Unix-domain listeners: stale ones replaced, mode 0660, removed at close. Stateless. */
final class UnixSockets
{
    private static final Logger LOG = LoggerFactory.getLogger(UnixSockets.class);
    /** S_IFMT and S_IFSOCK from stat(2). */
    private static final int S_IFMT = 0170000;
    private static final int S_IFSOCK = 0140000;

    private UnixSockets()
    {
    }

    /**
     * Makes room for a new socket at {@code path}: a socket nobody listens on (left by a server
     * that was killed) is removed; a socket a server answers on, or any other kind of file, is an
     * error, never overwritten.
     */
    static void removeStale(final Path path)
    {
        if (!Files.exists(path, LinkOption.NOFOLLOW_LINKS))
        {
            return;
        }
        if (!isSocket(path))
        {
            throw new IllegalArgumentException(path + " exists and is not a socket; not replacing it");
        }
        try (SocketChannel probe = SocketChannel.open(StandardProtocolFamily.UNIX))
        {
            probe.connect(UnixDomainSocketAddress.of(path));
            throw new IllegalArgumentException("another server is listening on " + path);
        }
        catch (final IOException e)
        {
            // Connection refused: nobody listens, the file is stale.
        }
        try
        {
            Files.delete(path);
            LOG.info("removed stale socket {} (nobody listened on it)", path);
        }
        catch (final IOException e)
        {
            throw new UncheckedIOException("cannot remove stale socket " + path + ": " + e.getMessage(), e);
        }
    }

    /** rw for owner and group, nothing for others: who may connect is who may write the file. */
    static void restrictToOwnerAndGroup(final Path path)
    {
        try
        {
            Files.setPosixFilePermissions(path, PosixFilePermissions.fromString("rw-rw----"));
        }
        catch (final IOException e)
        {
            throw new UncheckedIOException("cannot set mode 0660 on " + path + ": " + e.getMessage(), e);
        }
    }

    /** Removes the socket file, if it is still there and still a socket. */
    static void remove(final Path path)
    {
        try
        {
            if (Files.exists(path, LinkOption.NOFOLLOW_LINKS) && isSocket(path))
            {
                Files.delete(path);
            }
        }
        catch (final IOException | RuntimeException e)
        {
            LOG.warn("could not remove socket {}: {}", path, e.toString());
        }
    }

    private static boolean isSocket(final Path path)
    {
        try
        {
            final int mode = (Integer)Files.getAttribute(path, "unix:mode", LinkOption.NOFOLLOW_LINKS);
            return (mode & S_IFMT) == S_IFSOCK;
        }
        catch (final IOException | UnsupportedOperationException e)
        {
            return false;
        }
    }
}
