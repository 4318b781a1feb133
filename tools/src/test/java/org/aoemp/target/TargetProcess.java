package org.aoemp.target;

import java.io.File;
import java.io.IOException;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.TimeUnit;

import org.aoemp.testing.Await;
import org.aoemp.tools.AoeCommand;

/**
 * {@code aoe target ...} as a separate JVM (the test class path), optionally inside a network
 * namespace through {@code ip netns exec}, as vblade runs in the rigs. Waits for the "serving"
 * line; {@link #terminate} sends SIGTERM as a user or init system would, {@link #close} makes
 * sure it is gone.
 */
final class TargetProcess implements AutoCloseable
{
    static final String READY = "aoe target: serving";

    private final Process process;
    private final Path log;

    private TargetProcess(final Process process, final Path log)
    {
        this.process = process;
        this.log = log;
    }

    /**
     * Starts {@code aoe target} with {@code args} in {@code namespace} (null: here) and waits up to
     * 60 s for it to say it is serving.
     */
    static TargetProcess start(final String namespace, final Path log, final String... args) throws IOException, InterruptedException
    {
        final List<String> argv = new ArrayList<>();
        if (namespace != null)
        {
            argv.addAll(List.of("ip", "netns", "exec", namespace));
        }
        argv.add(Path.of(System.getProperty("java.home"), "bin", "java").toString());
        final String wakeAfter = System.getProperty("aoe.target.wakeAfterMicros");
        if (wakeAfter != null)
        {
            argv.add("-Daoe.target.wakeAfterMicros=" + wakeAfter);
        }
        argv.addAll(List.of("--enable-native-access=ALL-UNNAMED", "-XX:+UseSerialGC", "-cp", System.getProperty("java.class.path"),
            AoeCommand.class.getName(), "target"));
        argv.addAll(List.of(args));
        final Process p = new ProcessBuilder(argv)
            .redirectErrorStream(true)
            .redirectOutput(ProcessBuilder.Redirect.appendTo(log.toFile()))
            .redirectInput(ProcessBuilder.Redirect.from(new File("/dev/null")))
            .start();
        final TargetProcess t = new TargetProcess(p, log);
        Await.reached(Duration.ofSeconds(60), () -> t.log().contains(READY) || !p.isAlive());
        if (!t.log().contains(READY))
        {
            if (!p.isAlive())
            {
                throw new IllegalStateException("aoe target exited with " + p.exitValue() + ": " + t.log());
            }
            t.close();
            throw new IllegalStateException("aoe target did not say it is serving within 60 s: " + t.log());
        }
        return t;
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

    Process process()
    {
        return process;
    }

    /** SIGTERM, then waits up to {@code wait} for the process to end; returns its exit code, or -1 if it did not end. */
    int terminate(final Duration wait) throws InterruptedException
    {
        process.destroy();
        return process.waitFor(wait.toMillis(), TimeUnit.MILLISECONDS) ? process.exitValue() : -1;
    }

    @Override
    public void close()
    {
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
}
