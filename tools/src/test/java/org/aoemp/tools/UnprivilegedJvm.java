package org.aoemp.tools;

import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.attribute.PosixFilePermissions;
import java.util.ArrayList;
import java.util.Comparator;
import java.util.List;
import java.util.concurrent.TimeUnit;
import java.util.stream.Stream;

/**
 * Runs {@code aoe} as uid/gid 65534 (nobody) through {@code setpriv}, from a world-readable copy of
 * this test's class path, to show what an unprivileged user is told. Closing deletes the copy.
 */
final class UnprivilegedJvm implements AutoCloseable
{
    record Result(int exit, String output)
    {
    }

    private final Path dir;
    private final List<String> classPath = new ArrayList<>();

    UnprivilegedJvm() throws IOException
    {
        dir = Files.createTempDirectory("aoe-nopriv");
        try
        {
            Files.setPosixFilePermissions(dir, PosixFilePermissions.fromString("rwxr-xr-x"));
            int i = 0;
            for (final String entry : System.getProperty("java.class.path").split(java.io.File.pathSeparator))
            {
                final Path from = Path.of(entry);
                if (Files.exists(from))
                {
                    final Path to = dir.resolve("cp" + i++ + (Files.isDirectory(from) ? "" : ".jar"));
                    copyReadable(from, to);
                    classPath.add(to.toString());
                }
            }
        }
        catch (final IOException | RuntimeException e)
        {
            close();
            throw e;
        }
    }

    /** A directory nobody can read, for files the command needs. */
    Path dir()
    {
        return dir;
    }

    /** Runs {@code aoe args...} as nobody and waits up to a minute for it. */
    Result run(final String... args) throws IOException, InterruptedException
    {
        final List<String> command = new ArrayList<>(List.of("setpriv", "--reuid=65534", "--regid=65534", "--clear-groups",
            Path.of(System.getProperty("java.home"), "bin", "java").toString(), "--enable-native-access=ALL-UNNAMED",
            "-cp", String.join(java.io.File.pathSeparator, classPath), AoeCommand.class.getName()));
        command.addAll(List.of(args));
        final Process p = new ProcessBuilder(command).redirectErrorStream(true).start();
        final String output = new String(p.getInputStream().readAllBytes());
        if (!p.waitFor(60, TimeUnit.SECONDS))
        {
            p.destroyForcibly();
            throw new IOException("aoe " + String.join(" ", args) + " as nobody did not end within 60 s: " + output);
        }
        return new Result(p.exitValue(), output);
    }

    @Override
    public void close() throws IOException
    {
        try (Stream<Path> walk = Files.walk(dir))
        {
            walk.sorted(Comparator.reverseOrder()).forEach(f -> f.toFile().delete());
        }
    }

    private static void copyReadable(final Path from, final Path to) throws IOException
    {
        try (Stream<Path> walk = Files.walk(from))
        {
            for (final Path f : (Iterable<Path>)walk::iterator)
            {
                final Path target = Files.isDirectory(from) ? to.resolve(from.relativize(f).toString()) : to;
                if (Files.isDirectory(f))
                {
                    Files.createDirectories(target);
                    Files.setPosixFilePermissions(target, PosixFilePermissions.fromString("rwxr-xr-x"));
                }
                else
                {
                    Files.copy(f, target);
                    Files.setPosixFilePermissions(target, PosixFilePermissions.fromString("rw-r--r--"));
                }
            }
        }
    }
}
