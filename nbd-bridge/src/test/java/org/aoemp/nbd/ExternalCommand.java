package org.aoemp.nbd;

import java.io.IOException;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.util.List;
import java.util.Map;
import java.util.concurrent.TimeUnit;

/**
 * Runs a client binary to completion with a deadline; the process is killed in every case, so
 * no test leaves one behind.
 */
final class ExternalCommand
{
    record Result(int exitCode, String stdout, String stderr)
    {
        String all()
        {
            return stdout + stderr;
        }
    }

    private ExternalCommand()
    {
    }

    /** Asserts that the command exited 0 (showing its output if not) and returns its stdout. */
    static String ok(final Result r)
    {
        org.junit.jupiter.api.Assertions.assertEquals(0, r.exitCode(), "exit code; output:\n" + r.all());
        return r.stdout();
    }

    /** Writes {@code size} seeded random bytes to {@code file} (the same bytes for the same size) and returns it. */
    static java.nio.file.Path randomFile(final java.nio.file.Path file, final int size) throws IOException
    {
        java.nio.file.Files.write(file, org.aoemp.testing.BulkIo.random(size, size));
        return file;
    }

    static Result run(final Duration timeout, final String... command) throws IOException, InterruptedException
    {
        return run(timeout, Map.of(), command);
    }

    static Result run(final Duration timeout, final Map<String, String> env, final String... command)
        throws IOException, InterruptedException
    {
        final Path stdout = Files.createTempFile("nbd-test-out", ".txt");
        final Path stderr = Files.createTempFile("nbd-test-err", ".txt");
        final ProcessBuilder pb = new ProcessBuilder(List.of(command))
            .redirectOutput(stdout.toFile())
            .redirectError(stderr.toFile())
            .redirectInput(ProcessBuilder.Redirect.from(Path.of("/dev/null").toFile()));
        pb.environment().putAll(env);
        final Process p = pb.start();
        try
        {
            if (!p.waitFor(timeout.toMillis(), TimeUnit.MILLISECONDS))
            {
                throw new AssertionError(String.join(" ", command) + " did not finish within " + timeout
                    + "; stderr so far: " + Files.readString(stderr, StandardCharsets.UTF_8));
            }
            return new Result(p.exitValue(), Files.readString(stdout, StandardCharsets.UTF_8),
                Files.readString(stderr, StandardCharsets.UTF_8));
        }
        finally
        {
            p.destroyForcibly();
            p.waitFor(5, TimeUnit.SECONDS);
            Files.deleteIfExists(stdout);
            Files.deleteIfExists(stderr);
        }
    }
}
