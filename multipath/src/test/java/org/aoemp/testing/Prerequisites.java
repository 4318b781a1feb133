package org.aoemp.testing;

import java.io.File;
import java.nio.file.Files;
import java.nio.file.Path;

import org.junit.jupiter.api.Assertions;
import org.junit.jupiter.api.Assumptions;

/**
 * Gates for tests that need root, Debian packages or kernel features. Outside CI a missing
 * prerequisite skips the test with a message naming what is missing; under {@code CI=true} it
 * fails the test, because CI is supposed to have installed everything.
 */
public final class Prerequisites
{
    private Prerequisites()
    {
    }

    public static boolean inCi()
    {
        return "true".equalsIgnoreCase(System.getenv("CI"));
    }

    /** Skips (or, under CI, fails) unless {@code condition} holds. */
    public static void require(final boolean condition, final String whatIsMissing)
    {
        if (condition)
        {
            return;
        }
        if (inCi())
        {
            Assertions.fail("prerequisite missing under CI=true: " + whatIsMissing);
        }
        Assumptions.abort("skipped, prerequisite missing: " + whatIsMissing);
    }

    public static boolean isRoot()
    {
        return "root".equals(System.getProperty("user.name"));
    }

    public static void requireRoot()
    {
        require(isRoot(), "root (network namespaces, veth and AF_PACKET need it); run the tests as root");
    }

    /** Absolute path of {@code command} on PATH (plus /usr/sbin and /sbin), or null. */
    public static Path which(final String command)
    {
        final String path = System.getenv().getOrDefault("PATH", "") + File.pathSeparator + "/usr/sbin" + File.pathSeparator + "/sbin";
        for (final String dir : path.split(File.pathSeparator))
        {
            if (dir.isEmpty())
            {
                continue;
            }
            final Path candidate = Path.of(dir, command);
            if (Files.isExecutable(candidate))
            {
                return candidate;
            }
        }
        return null;
    }

    public static void requireCommand(final String command, final String debianPackage)
    {
        require(which(command) != null, "command '" + command + "' (Debian package " + debianPackage + ")");
    }
}
