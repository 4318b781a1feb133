package org.aoemp.tools;

import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;

/**
 * Where running {@code aoe} processes publish their live counters (one Unix-domain socket per
 * process, {@code PID.sock}) and where {@code aoe stat} looks for them: {@code $AOE_RUN_DIR} when
 * set, else {@code /run/aoe}, else {@code $XDG_RUNTIME_DIR/aoe}, else {@code /tmp/aoe-USER}.
 * A publisher takes the first it can create and write; a reader looks in every one that exists.
 */
final class RunDir
{
    static final String ENV = "AOE_RUN_DIR";

    private RunDir()
    {
    }

    /** The directories in order of preference, for this environment. */
    static List<Path> candidates(final Map<String, String> env)
    {
        final String override = env.get(ENV);
        if (override != null && !override.isBlank())
        {
            return List.of(Path.of(override));
        }
        final List<Path> dirs = new ArrayList<>();
        dirs.add(Path.of("/run/aoe"));
        final String xdg = env.get("XDG_RUNTIME_DIR");
        if (xdg != null && !xdg.isBlank())
        {
            dirs.add(Path.of(xdg, "aoe"));
        }
        dirs.add(Path.of(System.getProperty("java.io.tmpdir"), "aoe-" + System.getProperty("user.name")));
        return dirs;
    }

    /** The first candidate that exists or can be created, and is writable. */
    static Path forPublishing(final Map<String, String> env) throws IOException
    {
        final List<Path> dirs = candidates(env);
        IOException last = null;
        for (final Path d : dirs)
        {
            try
            {
                Files.createDirectories(d);
                if (Files.isWritable(d))
                {
                    return d;
                }
            }
            catch (final IOException | SecurityException e)
            {
                last = e instanceof IOException io ? io : new IOException(e);
            }
        }
        throw new IOException("no writable run directory among " + dirs + (last == null ? "" : ": " + last.getMessage()));
    }

    /** The socket file of process {@code pid} in {@code dir}. */
    static Path socketOf(final Path dir, final long pid)
    {
        return dir.resolve(pid + ".sock");
    }

    /** The pid in a socket file name, or -1 when the name is not {@code PID.sock}. */
    static long pidOf(final Path socket)
    {
        final String name = socket.getFileName().toString();
        if (!name.endsWith(".sock"))
        {
            return -1;
        }
        try
        {
            final long pid = Long.parseLong(name.substring(0, name.length() - ".sock".length()));
            return pid > 0 ? pid : -1;
        }
        catch (final NumberFormatException e)
        {
            return -1;
        }
    }
}
