package org.aoemp.tools;

import java.io.BufferedReader;
import java.io.File;
import java.io.IOException;
import java.io.InputStreamReader;
import java.io.OutputStream;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import java.util.concurrent.TimeUnit;

import org.aoemp.testing.ProcessRunner;

/**
 * A long-running process for the service tests: {@code aoe serve} as its own JVM (the test
 * class path), optionally behind a prefix such as {@code ip netns exec NS} or
 * {@code systemd-socket-activate ...} (both exec, so the pid is the JVM's), or any helper
 * (nbdsh, a python notify receiver). Output goes to a log file that the waits read; every wait
 * is a condition with a deadline. {@link #close} kills it if it still runs.
 */
final class ServeProcess implements AutoCloseable
{
    private final String label;
    private final Process process;
    private final Path log;
    private final OutputStream stdin;

    private ServeProcess(final String label, final Process process, final Path log)
    {
        this.label = label;
        this.process = process;
        this.log = log;
        this.stdin = process.getOutputStream();
    }

    /** {@code PREFIX... java -cp TESTCP AoeCommand serve ARGS...}, output to {@code log}. */
    static ServeProcess aoe(final String label, final List<String> prefix, final Map<String, String> env, final Path log,
        final String... args) throws IOException
    {
        final List<String> argv = new ArrayList<>(prefix);
        argv.addAll(List.of(Path.of(System.getProperty("java.home"), "bin", "java").toString(), "--enable-native-access=ALL-UNNAMED",
            "-XX:+UseSerialGC", "-cp", System.getProperty("java.class.path"), AoeCommand.class.getName()));
        argv.addAll(List.of(args));
        return start(label, argv, env, log);
    }

    static ServeProcess start(final String label, final List<String> argv, final Map<String, String> env, final Path log)
        throws IOException
    {
        final ProcessBuilder b = new ProcessBuilder(argv).redirectErrorStream(true).redirectOutput(ProcessBuilder.Redirect.appendTo(log.toFile()));
        b.environment().remove("NOTIFY_SOCKET");
        b.environment().remove("LISTEN_FDS");
        b.environment().remove("LISTEN_PID");
        b.environment().putAll(env);
        return new ServeProcess(label, b.start(), log);
    }

    long pid()
    {
        return process.pid();
    }

    boolean isAlive()
    {
        return process.isAlive();
    }

    String log()
    {
        try
        {
            return Files.exists(log) ? Files.readString(log, StandardCharsets.UTF_8) : "";
        }
        catch (final IOException e)
        {
            return "(cannot read " + log + ": " + e + ")";
        }
    }

    /** Waits until the log holds {@code marker} at least {@code count} times. */
    void awaitLog(final String marker, final int count, final Duration timeout) throws InterruptedException
    {
        final long deadline = System.nanoTime() + timeout.toNanos();
        while (occurrences(log(), marker) < count)
        {
            if (!process.isAlive() && occurrences(log(), marker) < count)
            {
                throw new AssertionError(label + " exited with " + process.exitValue() + " before logging '" + marker + "' x" + count
                    + ":\n" + log());
            }
            if (System.nanoTime() > deadline)
            {
                throw new AssertionError(label + " did not log '" + marker + "' x" + count + " within " + timeout + ":\n" + log());
            }
            Thread.sleep(20);
        }
    }

    void awaitLog(final String marker) throws InterruptedException
    {
        awaitLog(marker, 1, Duration.ofSeconds(90));
    }

    static int occurrences(final String text, final String marker)
    {
        int n = 0;
        for (int i = text.indexOf(marker); i >= 0; i = text.indexOf(marker, i + marker.length()))
        {
            n++;
        }
        return n;
    }

    /** Sends a signal (HUP, TERM, INT) with kill(1). */
    void signal(final String name)
    {
        ProcessRunner.check("kill", "-" + name, String.valueOf(process.pid()));
    }

    /** Writes a line to its stdin. */
    void say(final String line) throws IOException
    {
        stdin.write((line + "\n").getBytes(StandardCharsets.UTF_8));
        stdin.flush();
    }

    /** Waits for the process to end; its exit status. */
    int awaitExit(final Duration timeout) throws InterruptedException
    {
        if (!process.waitFor(timeout.toMillis(), TimeUnit.MILLISECONDS))
        {
            throw new AssertionError(label + " did not exit within " + timeout + ":\n" + log());
        }
        return process.exitValue();
    }

    @Override
    public void close()
    {
        process.descendants().forEach(ProcessHandle::destroyForcibly);
        process.destroyForcibly();
        try
        {
            process.waitFor(10, TimeUnit.SECONDS);
        }
        catch (final InterruptedException e)
        {
            Thread.currentThread().interrupt();
        }
    }

    /** Runs a short command to completion; its output, failing the test when it exits non-zero. */
    static String run(final String... command) throws IOException, InterruptedException
    {
        final Process p = new ProcessBuilder(command).redirectErrorStream(true).redirectInput(new File("/dev/null")).start();
        final StringBuilder out = new StringBuilder();
        final Thread reader = Thread.ofVirtual().start(() ->
        {
            try (BufferedReader r = new BufferedReader(new InputStreamReader(p.getInputStream(), StandardCharsets.UTF_8)))
            {
                String line;
                while ((line = r.readLine()) != null)
                {
                    synchronized (out)
                    {
                        out.append(line).append('\n');
                    }
                }
            }
            catch (final IOException e)
            {
                // the process ended
            }
        });
        if (!p.waitFor(120, TimeUnit.SECONDS))
        {
            p.destroyForcibly();
            throw new AssertionError(String.join(" ", command) + " did not finish within 120 s");
        }
        reader.join(10_000);
        synchronized (out)
        {
            if (p.exitValue() != 0)
            {
                throw new AssertionError(String.join(" ", command) + " exited with " + p.exitValue() + ": " + out);
            }
            return out.toString();
        }
    }
}
