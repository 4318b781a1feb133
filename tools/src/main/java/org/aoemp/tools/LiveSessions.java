package org.aoemp.tools;

import java.io.ByteArrayOutputStream;
import java.io.IOException;
import java.net.StandardProtocolFamily;
import java.net.UnixDomainSocketAddress;
import java.nio.ByteBuffer;
import java.nio.channels.SocketChannel;
import java.nio.charset.StandardCharsets;
import java.nio.file.DirectoryStream;
import java.nio.file.Files;
import java.nio.file.LinkOption;
import java.nio.file.Path;
import java.nio.file.attribute.BasicFileAttributes;
import java.time.Duration;
import java.util.ArrayList;
import java.util.Comparator;
import java.util.List;
import java.util.Map;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.ExecutionException;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.TimeoutException;

import org.aoemp.util.JsonText;

/**
 * Reads the documents that running {@code aoe} processes publish through {@link StatsPublisher}.
 * A socket nobody listens on is stale (its process died without removing it): it is removed (when
 * this user may) and skipped. A process that does not answer in time, or answers something that is not
 * JSON, is skipped and left alone.
 */
final class LiveSessions
{
    /** Largest document accepted from one process. */
    private static final int MAX_BYTES = 4 << 20;

    /** One running process: its pid, command line, and per device the published JSON object. */
    record Session(long pid, String command, String startedAt, List<Map<String, Object>> devices)
    {
        /** The published object of {@code device} (e.g. "e7.3"), or null when this session does not use it. */
        Map<String, Object> device(final String device)
        {
            for (final Map<String, Object> d : devices)
            {
                if (device.equals(d.get("device")))
                {
                    return d;
                }
            }
            return null;
        }

        Map<String, Object> label()
        {
            final Map<String, Object> m = new java.util.LinkedHashMap<>();
            m.put("pid", pid);
            m.put("command", command);
            m.put("startedAt", startedAt);
            return m;
        }
    }

    private LiveSessions()
    {
    }

    /** Every answering session in {@code dirs}, by pid. */
    static List<Session> read(final List<Path> dirs, final Duration timeout)
    {
        final List<Session> out = new ArrayList<>();
        for (final Path dir : dirs)
        {
            if (!Files.isDirectory(dir))
            {
                continue;
            }
            try (DirectoryStream<Path> sockets = Files.newDirectoryStream(dir, "*.sock"))
            {
                for (final Path s : sockets)
                {
                    final Session session = readOne(s, timeout);
                    if (session != null && out.stream().noneMatch(o -> o.pid() == session.pid()))
                    {
                        out.add(session);
                    }
                }
            }
            catch (final IOException e)
            {
                // an unreadable directory holds nothing we can show
            }
        }
        out.sort(Comparator.comparingLong(Session::pid));
        return out;
    }

    private static Session readOne(final Path socket, final Duration timeout)
    {
        final long pid = RunDir.pidOf(socket);
        if (pid < 0)
        {
            return null;
        }
        final String text;
        try
        {
            text = fetch(socket, timeout);
        }
        catch (final java.net.ConnectException e)
        {
            // Nobody listens: the process died without removing it (SIGKILL, crash). Connecting, not
            // checking the pid, decides: a pid may be reused, or belong to another pid namespace.
            removeStale(socket);
            return null;
        }
        catch (final IOException e)
        {
            return null;
        }
        try
        {
            if (!(JsonText.parse(text) instanceof Map<?, ?> doc) || !(doc.get("devices") instanceof List<?> list))
            {
                return null;
            }
            final List<Map<String, Object>> devices = new ArrayList<>();
            for (final Object d : list)
            {
                if (d instanceof Map<?, ?> m)
                {
                    @SuppressWarnings("unchecked")
                    final Map<String, Object> typed = (Map<String, Object>)m;
                    devices.add(typed);
                }
            }
            return new Session(pid, String.valueOf(doc.get("command")), String.valueOf(doc.get("startedAt")), devices);
        }
        catch (final IllegalArgumentException e)
        {
            return null;
        }
    }

    /** Connects, reads to end of stream, within {@code timeout} (a stuck process must not hang {@code aoe stat}). */
    private static String fetch(final Path socket, final Duration timeout) throws IOException
    {
        final SocketChannel c = SocketChannel.open(StandardProtocolFamily.UNIX);
        final CompletableFuture<String> result = new CompletableFuture<>();
        Thread.ofVirtual().start(() ->
        {
            try (c)
            {
                c.connect(UnixDomainSocketAddress.of(socket));
                final ByteArrayOutputStream all = new ByteArrayOutputStream();
                final ByteBuffer buf = ByteBuffer.allocate(64 * 1024);
                while (c.read(buf.clear()) >= 0) // until the publisher closes
                {
                    all.write(buf.array(), 0, buf.position());
                    if (all.size() > MAX_BYTES)
                    {
                        throw new IOException(socket + " sent more than " + MAX_BYTES + " bytes");
                    }
                }
                result.complete(all.toString(StandardCharsets.UTF_8));
            }
            catch (final IOException | RuntimeException e)
            {
                result.completeExceptionally(e);
            }
        });
        try
        {
            return result.get(timeout.toMillis(), TimeUnit.MILLISECONDS);
        }
        catch (final ExecutionException e)
        {
            throw e.getCause() instanceof IOException io ? io : new IOException(e.getCause());
        }
        catch (final TimeoutException e)
        {
            c.close();
            throw new IOException(socket + " did not answer within " + timeout.toMillis() + " ms");
        }
        catch (final InterruptedException e)
        {
            Thread.currentThread().interrupt();
            c.close();
            throw new IOException("interrupted");
        }
    }

    private static void removeStale(final Path socket)
    {
        try
        {
            // A socket, not some file that happens to be named like one.
            if (Files.readAttributes(socket, BasicFileAttributes.class, LinkOption.NOFOLLOW_LINKS).isOther())
            {
                Files.deleteIfExists(socket);
            }
        }
        catch (final IOException | SecurityException e)
        {
            // another user's directory: ignore the file, as the caller does
        }
    }
}
