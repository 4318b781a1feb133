package org.aoemp.tools.serve;

import java.util.Map;

/**
 * systemd socket activation (sd_listen_fds(3)): when {@code LISTEN_PID} is this process and
 * {@code LISTEN_FDS} is at least 1, the sockets are file descriptors 3, 4, ... The NBD server
 * serves the first one.
 */
public final class SocketActivation
{
    /** SD_LISTEN_FDS_START. */
    public static final int FIRST_FD = 3;

    private SocketActivation()
    {
    }

    /**
     * The number of sockets passed to this process (0 when none, or when they were meant for
     * another process: LISTEN_PID differs).
     *
     * @throws IllegalArgumentException when the variables are set but malformed
     */
    public static int listenFds(final Map<String, String> env, final long pid)
    {
        final String fds = env.get("LISTEN_FDS");
        final String owner = env.get("LISTEN_PID");
        if (fds == null || fds.isBlank() || owner == null || owner.isBlank())
        {
            return 0;
        }
        try
        {
            if (Long.parseLong(owner.trim()) != pid)
            {
                return 0;
            }
            final int n = Integer.parseInt(fds.trim());
            if (n < 0)
            {
                throw new NumberFormatException();
            }
            return n;
        }
        catch (final NumberFormatException e)
        {
            throw new IllegalArgumentException("malformed socket activation: LISTEN_FDS=" + fds + " LISTEN_PID=" + owner);
        }
    }
}
