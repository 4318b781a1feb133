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
import java.util.concurrent.TimeUnit;
import java.util.concurrent.locks.LockSupport;
import java.util.function.Supplier;

import org.aoemp.agent.Agent;
import org.aoemp.agent.AgentRunner;
import org.aoemp.agent.NoOpIdleStrategy;
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
 * <p>Threads: one agent, {@code aoe-stats} on its {@link AgentRunner}, waits in a blocking
 * {@code accept} (no wake-ups at rest; {@link #close} ends the wait by closing the channel) and
 * answers one connection at a time (a document is a few KiB; a client that does not read
 * cannot block it longer than the socket buffer holds). The snapshot supplier runs on that
 * thread. {@link #close} (also from a shutdown hook) stops it and removes the socket file.
 * {@code aoe nbd} and {@code aoe serve} publish through {@link #startInRunDir}.
 */
public final class StatsPublisher implements AutoCloseable
{
    /** How long the publisher pauses after a failed accept. */
    static final long ERROR_PAUSE_MILLIS = 100;

    private final Path socket;
    private final ServerSocketChannel server;
    private final AgentRunner runner;
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
        // a failed answer is the client's business (it went away): nothing to add to the runner's log
        // The duty cycle waits in a blocking accept, which close() ends by closing the channel: an idle
        // publisher costs no wake-ups (polling every 50 ms cost ~1.5 ms of CPU per second at rest).
        this.runner = new AgentRunner(new Answerer(), NoOpIdleStrategy.INSTANCE, error -> pauseAfterError());
    }

    /**
     * Publishes in the run directory of this environment ({@code $AOE_RUN_DIR}, {@code /run/aoe}, ...):
     * {@code DIR/PID.sock}.
     *
     * @param command  the command line that {@code aoe stat -v} shows for this process
     * @param devices  a snapshot of the live devices, asked on the publisher's thread per connection
     * @throws IOException when no run directory is writable or the socket cannot be bound
     */
    public static StatsPublisher startInRunDir(final String command, final Supplier<List<DeviceStats>> devices) throws IOException
    {
        return start(RunDir.forPublishing(System.getenv()), command, devices);
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
        p.runner.start();
        return p;
    }

    /** The socket file. */
    public Path socket()
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

    /** The publisher's duty cycle: answer every connection waiting, then let the runner park. */
    private final class Answerer implements Agent
    {
        @Override
        public String roleName()
        {
            return "aoe-stats";
        }

        @Override
        public int doWork() throws IOException
        {
            final SocketChannel c = closed ? null : accept();
            if (c == null)
            {
                return 0;
            }
            answer(c);
            return 1;
        }

        private SocketChannel accept() throws IOException
        {
            try
            {
                return server.accept();
            }
            catch (final ClosedChannelException e)
            {
                return null;  // closing (AsynchronousCloseException: close() ended our wait)
            }
        }

        private void answer(final SocketChannel client)
        {
            try (SocketChannel c = client)
            {
                c.configureBlocking(true);
                final ByteBuffer out = ByteBuffer.wrap((JsonText.write(document()) + "\n").getBytes(StandardCharsets.UTF_8));
                while (out.hasRemaining())
                {
                    c.write(out);
                }
            }
            catch (final IOException | RuntimeException e)
            {
                // one client went away early, or a snapshot failed: the next one still gets an answer
            }
        }
    }

    /** After a failed accept (the runner has logged it): a pause, so a failure that repeats (EMFILE) is no busy loop. */
    private void pauseAfterError()
    {
        if (!closed)
        {
            LockSupport.parkNanos(TimeUnit.MILLISECONDS.toNanos(ERROR_PAUSE_MILLIS));
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
            server.close();  // ends the agent's blocking accept
        }
        catch (final IOException e)
        {
            // closing anyway
        }
        runner.close();
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
