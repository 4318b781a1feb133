package org.aoemp.tools;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;
import static org.junit.jupiter.api.Assertions.fail;

import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.List;
import java.util.concurrent.TimeUnit;

import org.aoemp.testing.Prerequisites;
import org.aoemp.testing.RealPeer;
import org.junit.jupiter.api.Test;

/**
 * The CI version of the soak: {@code bench/soak.sh 60}, i.e. a minute of verified mixed I/O
 * through {@code aoe nbd} over three veth paths to {@code aoe target}, with link flaps and 1-3 %
 * loss, must end with a PASS verdict (no mismatch, no I/O error, heap after GC, fds and threads
 * flat). The script builds and removes its own uniquely named rig; it runs the classes of this
 * build (AOE_CLASSPATH) rather than building the jar.
 */
@RealPeer
class SoakTest
{
    @Test
    void shouldPassAOneMinuteSoakWithFlapsAndLoss() throws Exception
    {
        Prerequisites.requireRoot();
        Prerequisites.requireCommand("ip", "iproute2");
        Prerequisites.requireCommand("nft", "nftables");
        Prerequisites.require(pythonHasLibnbd(), "python3 module nbd (Debian package python3-libnbd)");
        final Path jcmd = Path.of(System.getProperty("java.home"), "bin", "jcmd");
        Prerequisites.require(Files.isExecutable(jcmd), "jcmd in " + jcmd.getParent() + " (a full JDK)");

        final Path script = projectRoot().resolve("bench/soak.sh");
        final Path out = Files.createTempFile("soak-test", ".out");
        try
        {
            final ProcessBuilder pb = new ProcessBuilder(script.toString(), "60")
                .redirectErrorStream(true)
                .redirectOutput(out.toFile());
            pb.environment().put("JAVA_HOME", System.getProperty("java.home"));
            pb.environment().put("AOE_CLASSPATH", System.getProperty("java.class.path"));
            final Process p = pb.start();
            // A minute of I/O, start-up of two JVMs and the final samples; generous for a loaded machine.
            if (!p.waitFor(6, TimeUnit.MINUTES))
            {
                p.destroy();  // SIGTERM: the script removes its rig on the way out
                if (!p.waitFor(60, TimeUnit.SECONDS))
                {
                    p.destroyForcibly();
                }
                fail("bench/soak.sh 60 did not finish within 6 minutes:\n" + Files.readString(out));
            }
            final String output = Files.readString(out);
            final List<String> verdict = output.lines().filter(l -> l.startsWith("soak: PASS") || l.startsWith("soak: FAIL")).toList();
            assertEquals(1, verdict.size(), "one verdict line:\n" + output);
            assertTrue(verdict.get(0).startsWith("soak: PASS"), verdict.get(0) + "\n" + output);
            assertEquals(0, p.exitValue(), output);
        }
        finally
        {
            Files.deleteIfExists(out);
        }
    }

    private static boolean pythonHasLibnbd() throws IOException, InterruptedException
    {
        if (!Files.isExecutable(Path.of("/usr/bin/python3")))
        {
            return false;
        }
        final Process p = new ProcessBuilder("/usr/bin/python3", "-c", "import nbd").redirectErrorStream(true)
            .redirectOutput(ProcessBuilder.Redirect.DISCARD).start();
        return p.waitFor(30, TimeUnit.SECONDS) && p.exitValue() == 0;
    }

    private static Path projectRoot()
    {
        Path dir = Path.of("").toAbsolutePath();
        while (dir != null && !Files.isRegularFile(dir.resolve("bench/soak.sh")))
        {
            dir = dir.getParent();
        }
        if (dir == null)
        {
            fail("bench/soak.sh not found above " + Path.of("").toAbsolutePath());
        }
        return dir;
    }
}
