package org.aoemp.tools;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.io.BufferedReader;
import java.io.InputStreamReader;
import java.net.ServerSocket;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.Random;
import java.util.concurrent.TimeUnit;

import org.aoemp.testing.Prerequisites;
import org.aoemp.testing.RealPeer;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * The README's main command: {@code aoe nbd} with no target and no interface runs the whole
 * stack in one process (target behind two in-memory NICs, multipath initiator, NBD bridge).
 * Started as its own JVM, probed with nbdinfo, round-tripped with nbdcopy, stopped with SIGTERM.
 */
@RealPeer
class EmbeddedDefaultTest
{
    @TempDir
    Path dir;

    private static String run(final String... command) throws Exception
    {
        final Process p = new ProcessBuilder(command).redirectErrorStream(true).start();
        final String out = new String(p.getInputStream().readAllBytes());
        assertTrue(p.waitFor(120, TimeUnit.SECONDS), String.join(" ", command));
        assertEquals(0, p.exitValue(), String.join(" ", command) + ": " + out);
        return out;
    }

    @Test
    void nbdinfoAndNbdcopyWorkAgainstTheEmbeddedDefault() throws Exception
    {
        Prerequisites.requireCommand("nbdinfo", "libnbd-bin");
        Prerequisites.requireCommand("nbdcopy", "libnbd-bin");
        final int port;
        try (ServerSocket s = new ServerSocket(0))
        {
            port = s.getLocalPort();
        }
        final Path disk = dir.resolve("aoe-disk.img");
        final List<String> cmd = new ArrayList<>(List.of(Path.of(System.getProperty("java.home"), "bin", "java").toString(),
            "--enable-native-access=ALL-UNNAMED", "-cp", System.getProperty("java.class.path"), AoeCommand.class.getName(), "nbd",
            "--disk", disk.toString(), "--size", "64M", "--listen", "127.0.0.1:" + port));
        final Process server = new ProcessBuilder(cmd).redirectErrorStream(true).start();
        try
        {
            final BufferedReader lines = new BufferedReader(new InputStreamReader(server.getInputStream()));
            final StringBuilder seen = new StringBuilder();
            String line;
            while ((line = lines.readLine()) != null && !line.startsWith("next: "))
            {
                seen.append(line).append('\n');
            }
            assertTrue(line != null && line.contains("nbd-client localhost " + port + " /dev/nbd0"), seen + String.valueOf(line));
            assertTrue(seen.toString().contains("over 2 in-memory paths"), seen.toString());
            final String uri = "nbd://127.0.0.1:" + port;

            final String info = run("nbdinfo", "--json", uri);
            assertTrue(info.contains("\"export-size\": 67108864"), info);
            assertTrue(info.contains("\"can_flush\": true") && info.contains("\"can_multi_conn\": true")
                && info.contains("\"can_zero\": true") && info.contains("\"can_trim\": false"), info);

            final byte[] data = new byte[16 << 20];
            new Random(5).nextBytes(data);
            final Path src = dir.resolve("src.bin");
            Files.write(src, data);
            run("nbdcopy", "--flush", src.toString(), uri);
            final Path back = dir.resolve("back.bin");
            run("nbdcopy", uri, back.toString());
            final byte[] all = Files.readAllBytes(back);
            assertEquals(64 << 20, all.length);
            assertArrayEquals(data, java.util.Arrays.copyOf(all, data.length), "nbdcopy round trip");
            assertArrayEquals(data, java.util.Arrays.copyOf(Files.readAllBytes(disk), data.length), "the sparse file holds it");
        }
        finally
        {
            server.destroy(); // SIGTERM: the shutdown hook closes bridge, initiator and target
            assertTrue(server.waitFor(20, TimeUnit.SECONDS), "aoe nbd stops on SIGTERM");
            server.destroyForcibly();
        }
    }
}
