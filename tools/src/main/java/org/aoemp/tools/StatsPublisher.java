package org.aoemp.tools;

import java.io.IOException;
import java.net.StandardProtocolFamily;
import java.net.UnixDomainSocketAddress;
import java.nio.ByteBuffer;
import java.nio.channels.ClosedChannelException;
import java.nio.channels.ServerSocketChannel;
import java.nio.channels.SocketChannel;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Instant;
import java.time.temporal.ChronoUnit;
import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.Objects;
import java.util.function.Supplier;

import org.aoemp.initiator.DeviceStats;
import org.aoemp.initiator.PathStats;
import org.aoemp.util.JsonText;

/**
 * Publishes a long-running process's live device counters for {@code aoe stat -v}: a Unix-domain
 * socket {@code DIR/PID.sock} that answers every connection with one JSON document and closes it.
 *
 * <pre>{"pid": 4242, "command": "aoe nbd e7.3 -i eth1", "startedAt": "2026-...Z",
 *  "devices": [{"device": "e7.3", "sizeBytes": ..., "dead": false, ..., "engineErrors": 0, "lastEngineError": null,
 *  "givenUp": false, "paths": [{"interface": ...}]}]}</pre>
 *
 * <p>Threads: one daemon thread accepts and answers, one connection at a time (a document is a
 * few KiB; a client that does not read cannot block it longer than the socket buffer holds).
 * The snapshot supplier runs on that thread. {@link #close} (also from a shutdown hook) stops it
 * and removes the socket file.
 */
final class StatsPublisher implements AutoCloseable
{
    private final Path socket;
    private final ServerSocketChannel server;
    private final Thread thread;
    private final String command;
    private final Instant startedAt = Instant.now().truncatedTo(ChronoUnit.SECONDS);
    private final Supplier<List<DeviceStats>> devices;
    private volatile boolean closed;

    private StatsPublisher(final Path socket, final ServerSocketChannel server, final String command,
        final Supplier<List<DeviceStats>> devices)
    {
        this.socket = socket;
        this.server = server;
        this.command = command;
        this.devices = devices;
        this.thread = Thread.ofPlatform().name("aoe-stats").daemon(true).unstarted(this::serve);
    }

    /** Binds {@code dir/PID.sock} (replacing a stale file of that name) and starts answering. */
    static StatsPublisher start(final Path dir, final String command, final Supplier<List<DeviceStats>> devices) throws IOException
    {
        final Path socket = RunDir.socketOf(dir, ProcessHandle.current().pid());
        Files.deleteIfExists(socket); // a dead process with our pid left it: nobody can be listening
        final ServerSocketChannel server = ServerSocketChannel.open(StandardProtocolFamily.UNIX);
        try
        {
            server.bind(UnixDomainSocketAddress.of(socket));
        }
        catch (final IOException e)
        {
            server.close();
            throw new IOException("cannot publish stats on " + socket + ": " + e.getMessage(), e);
        }
        final StatsPublisher p = new StatsPublisher(socket, server, Objects.requireNonNull(command), Objects.requireNonNull(devices));
        p.thread.start();
        return p;
    }

    Path socket()
    {
        return socket;
    }

    /** The document a connection gets now. */
    Map<String, Object> document()
    {
        final Map<String, Object> doc = new LinkedHashMap<>();
        doc.put("pid", ProcessHandle.current().pid());
        doc.put("command", command);
        doc.put("startedAt", startedAt.toString());
        final List<Object> list = new ArrayList<>();
        for (final DeviceStats d : devices.get())
        {
            list.add(deviceJson(d));
        }
        doc.put("devices", list);
        return doc;
    }

    static Map<String, Object> deviceJson(final DeviceStats d)
    {
        final Map<String, Object> m = new LinkedHashMap<>();
        m.put("device", d.device());
        m.put("sizeBytes", d.sizeBytes());
        m.put("sectorsPerCommand", d.sectorsPerCommand());
        m.put("dead", d.dead());
        m.put("requestsFailed", d.requestsFailed());
        m.put("staleReplies", d.staleReplies());
        m.put("foreignReplies", d.foreignReplies());
        m.put("truncatedReplies", d.truncatedReplies());
        m.put("callbackFailures", d.callbackFailures());
        m.put("engineErrors", d.engineErrors());
        m.put("lastEngineError", d.lastEngineError());
        m.put("givenUp", d.givenUp());
        final List<Object> paths = new ArrayList<>();
        for (final PathStats p : d.paths())
        {
            paths.add(Survey.pathJson(p));
        }
        m.put("paths", paths);
        return m;
    }

    private void serve()
    {
        while (!closed)
        {
            try (SocketChannel c = server.accept())
            {
                final ByteBuffer out = ByteBuffer.wrap((JsonText.write(document()) + "\n").getBytes(StandardCharsets.UTF_8));
                while (out.hasRemaining())
                {
                    c.write(out);
                }
            }
            catch (final ClosedChannelException e)
            {
                return;
            }
            catch (final IOException | RuntimeException e)
            {
                // one client went away early, or a snapshot failed: the next one still gets an answer
            }
        }
    }

    @Override
    public void close()
    {
        if (closed)
        {
            return;
        }
        closed = true;
        try
        {
            server.close();
        }
        catch (final IOException e)
        {
            // closing anyway
        }
        try
        {
            Files.deleteIfExists(socket);
        }
        catch (final IOException e)
        {
            // a stale file is ignored and removed by the next reader
        }
    }
}
