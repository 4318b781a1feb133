package org.aoemp.testing;

import java.io.File;
import java.io.IOException;
import java.io.InputStream;
import java.io.UncheckedIOException;
import java.nio.charset.StandardCharsets;
import java.time.Duration;
import java.util.List;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.ExecutionException;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.TimeoutException;

/**
 * Runs a short external command (ip, tc, nft, ...) to completion and captures its output, so test
 * rigs can say exactly which command failed and what it printed.
 *
 * <p>Threading: stateless; any thread. stdout and stderr are drained on virtual threads, so
 * neither pipe can fill up and stall the command, and the timeout holds even if it never closes them.
 */
public final class ProcessRunner
{
    /** How long a command may run unless told otherwise. */
    public static final Duration DEFAULT_TIMEOUT = Duration.ofSeconds(30);

    /**
     * What a finished command left behind.
     *
     * @param command  the argv that ran
     * @param exitCode its exit status
     * @param stdout   everything it wrote to stdout
     * @param stderr   everything it wrote to stderr
     */
    public record Result(List<String> command, int exitCode, String stdout, String stderr)
    {
        public boolean ok()
        {
            return exitCode == 0;
        }

        /** This result, or an {@link IllegalStateException} with the command, exit code and stderr when it failed. */
        public Result orThrow()
        {
            if (!ok())
            {
                throw new IllegalStateException("command '" + String.join(" ", command) + "' failed with exit code " + exitCode
                    + (stderr.isBlank() ? "" : ": " + stderr.strip()));
            }
            return this;
        }
    }

    private ProcessRunner()
    {
    }

    /** Runs {@code command} with the default timeout and returns its result, whatever the exit code. */
    public static Result run(final String... command)
    {
        return run(DEFAULT_TIMEOUT, command);
    }

    /**
     * Runs {@code command}, waiting at most {@code timeout}.
     *
     * @throws IllegalStateException when it cannot be started or outlives the timeout (it is killed then)
     */
    public static Result run(final Duration timeout, final String... command)
    {
        final List<String> argv = List.of(command);
        final Process process;
        try
        {
            process = new ProcessBuilder(argv).redirectInput(ProcessBuilder.Redirect.from(new File("/dev/null"))).start();
        }
        catch (final IOException e)
        {
            throw new IllegalStateException("cannot run '" + String.join(" ", argv) + "': " + e.getMessage(), e);
        }
        final CompletableFuture<String> stdout = drainLater(process.getInputStream());
        final CompletableFuture<String> stderr = drainLater(process.getErrorStream());
        try
        {
            if (!process.waitFor(timeout.toMillis(), TimeUnit.MILLISECONDS))
            {
                process.destroyForcibly();
                throw new IllegalStateException("command '" + String.join(" ", argv) + "' did not finish within " + timeout);
            }
            return new Result(argv, process.exitValue(), stdout.get(timeout.toMillis(), TimeUnit.MILLISECONDS),
                stderr.get(timeout.toMillis(), TimeUnit.MILLISECONDS));
        }
        catch (final InterruptedException e)
        {
            process.destroyForcibly();
            Thread.currentThread().interrupt();
            throw new IllegalStateException("interrupted while running '" + String.join(" ", argv) + "'", e);
        }
        catch (final ExecutionException | TimeoutException e)
        {
            throw new IllegalStateException("cannot read stderr of '" + String.join(" ", argv) + "'", e);
        }
    }

    /**
     * Runs {@code command} and returns its stdout.
     *
     * @throws IllegalStateException naming the command and quoting its stderr when it fails
     */
    public static String check(final String... command)
    {
        return run(command).orThrow().stdout();
    }

    private static CompletableFuture<String> drainLater(final InputStream in)
    {
        final CompletableFuture<String> text = new CompletableFuture<>();
        Thread.ofVirtual().start(() ->
        {
            try
            {
                text.complete(drain(in));
            }
            catch (final RuntimeException e)
            {
                text.completeExceptionally(e);
            }
        });
        return text;
    }

    private static String drain(final InputStream in)
    {
        try (in)
        {
            return new String(in.readAllBytes(), StandardCharsets.UTF_8);
        }
        catch (final IOException e)
        {
            throw new UncheckedIOException(e);
        }
    }
}
