package org.aoemp.initiator;

import java.util.Arrays;

/**
 * The paths of one device, in the order discovery found them; paths are never removed (a path
 * that stops answering goes DOWN and is probed).
 *
 * <p>Threading: {@link #add} on the engine thread only (copy-on-write); {@link #all} from any
 * thread, without locking. The array it returns must not be modified.
 */
final class PathList
{
    private volatile Path[] paths = new Path[0];

    Path[] all()
    {
        return paths;
    }

    int size()
    {
        return paths.length;
    }

    /** When the first probe of a path is due, or {@code notLater} if none is due before that. Engine thread. */
    long nextProbeAt(final long notLater)
    {
        long next = notLater;
        for (final Path p : paths)
        {
            next = p.nextProbeAt(next);
        }
        return next;
    }

    /** The path over {@code port} to {@code remoteMac}, or null. */
    Path find(final Port port, final long remoteMac)
    {
        for (final Path p : paths)
        {
            if (p.port() == port && p.remoteMac() == remoteMac)
            {
                return p;
            }
        }
        return null;
    }

    /** Engine thread. */
    void add(final Path path)
    {
        final Path[] grown = Arrays.copyOf(paths, paths.length + 1);
        grown[grown.length - 1] = path;
        paths = grown;
    }
}
