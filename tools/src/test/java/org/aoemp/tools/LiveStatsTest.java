package org.aoemp.tools;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.io.BufferedReader;
import java.io.InputStreamReader;
import java.net.ServerSocket;
import java.net.StandardProtocolFamily;
import java.net.UnixDomainSocketAddress;
import java.nio.channels.ServerSocketChannel;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import java.util.Random;
import java.util.concurrent.TimeUnit;

import org.aoemp.testing.BulkIo;
import org.aoemp.testing.Prerequisites;
import org.aoemp.testing.RealPeer;
import org.aoemp.testing.VethRig;
import org.aoemp.util.JsonText;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * A long-running {@code aoe nbd} (its own JVM) serving a vblade target over a veth pair publishes
 * its live counters; after nbdcopy pushed I/O through it, {@code aoe stat -v} (another JVM) shows
 * that session, by pid and command, with the frames it moved. A stale socket left by a dead
 * process is removed and not shown; SIGTERM removes the live one.
 */
@RealPeer
class LiveStatsTest
{
    @TempDir
    Path dir;

    private static final String JAVA = Path.of(System.getProperty("java.home"), "bin", "java").toString();

    private ProcessBuilder aoe(final Path runDir, final String... args)
    {
        final List<String> cmd = new ArrayList<>(List.of(JAVA, "--enable-native-access=ALL-UNNAMED", "-cp",
            System.getProperty("java.class.path"), AoeCommand.class.getName()));
        cmd.addAll(List.of(args));
        final ProcessBuilder pb = new ProcessBuilder(cmd).redirectErrorStream(true);
        pb.environment().put(RunDir.ENV, runDir.toString());
        return pb;
    }

    private static String run(final ProcessBuilder pb) throws Exception
    {
        final Process p = pb.start();
        final String out = new String(p.getInputStream().readAllBytes());
        assertTrue(p.waitFor(120, TimeUnit.SECONDS), String.join(" ", pb.command()));
        assertEquals(0, p.exitValue(), String.join(" ", pb.command()) + ": " + out);
        return out;
    }

    @Test
    void statVerboseShowsTheCountersOfARunningAoeNbd() throws Exception
    {
        Prerequisites.requireRoot();
        Prerequisites.requireCommand("vblade", "vblade");
        Prerequisites.requireCommand("nbdcopy", "libnbd-bin");
        final Path runDir = Files.createDirectories(dir.resolve("run"));
        final Path disk = dir.resolve("disk.img");
        BulkIo.sparseFile(disk, 16L << 20);
        // A socket whose process is gone: bound, then the listener closed, the file left behind.
        final Path stale = runDir.resolve("2147483000.sock");
        try (ServerSocketChannel dead = ServerSocketChannel.open(StandardProtocolFamily.UNIX))
        {
            dead.bind(UnixDomainSocketAddress.of(stale));
        }
        assertTrue(Files.exists(stale));
        final int port;
        try (ServerSocket s = new ServerSocket(0))
        {
            port = s.getLocalPort();
        }
        try (VethRig rig = VethRig.builder().pairs(1).build())
        {
            rig.startVblade(6, 2, 0, disk);
            final String ifName = rig.initiatorIf(0);
            final Process server = aoe(runDir, "nbd", "e6.2", "-i", ifName, "--listen", "127.0.0.1:" + port).start();
            try
            {
                final BufferedReader lines = new BufferedReader(new InputStreamReader(server.getInputStream()));
                final StringBuilder seen = new StringBuilder();
                String line;
                while ((line = lines.readLine()) != null && !line.startsWith("next: "))
                {
                    seen.append(line).append('\n');
                }
                assertTrue(line != null, "aoe nbd did not start: " + seen);
                final Path socket = runDir.resolve(server.pid() + ".sock");
                assertTrue(seen.toString().contains("live counters on " + socket), seen.toString());
                assertTrue(Files.exists(socket));

                final byte[] data = new byte[4 << 20];
                new Random(11).nextBytes(data);
                final Path src = dir.resolve("src.bin");
                Files.write(src, data);
                final String uri = "nbd://127.0.0.1:" + port;
                run(new ProcessBuilder("nbdcopy", "--flush", src.toString(), uri).redirectErrorStream(true));
                run(new ProcessBuilder("nbdcopy", uri, dir.resolve("back.bin").toString()).redirectErrorStream(true));

                final Object parsed = JsonText.parse(run(aoe(runDir, "stat", "-v", "--json", "-i", ifName)));
                final Map<?, ?> row = ((List<?>)parsed).stream().map(r -> (Map<?, ?>)r)
                    .filter(r -> "e6.2".equals(r.get("device"))).findFirst().orElseThrow(() -> new AssertionError(parsed));
                final List<?> sessions = (List<?>)row.get("sessions");
                assertEquals(1, sessions.size(), "only the live session, not the stale socket: " + row);
                final Map<?, ?> session = (Map<?, ?>)sessions.get(0);
                assertEquals(server.pid(), session.get("pid"), session.toString());
                assertTrue(String.valueOf(session.get("command")).startsWith("aoe nbd e6.2 -i " + ifName), session.toString());
                final Map<?, ?> path = (Map<?, ?>)((List<?>)session.get("paths")).get(0);
                assertEquals(ifName, path.get("interface"), path.toString());
                assertEquals("UP", path.get("state"), path.toString());
                // 4 MiB written and 16 MiB read back in 1 KiB frames (MTU 1500): thousands of frames each way.
                assertTrue((Long)path.get("framesReceived") > 16_000, path.toString());
                assertTrue((Long)path.get("bytesSent") >= 4L << 20, path.toString());
                assertFalse(Files.exists(stale), "the stale socket is removed");
                // issue 11, part 8: when the path last answered (it is probed once a second while idle)
                assertTrue(path.get("lastAnsweredMillisAgo") instanceof Long ago && ago >= 0 && ago < 10_000, path.toString());

                final String text = run(aoe(runDir, "stat", "-v", "-i", ifName));
                assertTrue(text.matches("(?s).*\n    pid " + server.pid() + ": aoe nbd e6\\.2 .*\n      " + ifName
                    + " +-> [0-9a-f:]{17}  UP +window \\d+/16 .* frames [1-9]\\d{4,}/[1-9]\\d{4,} .*  answered \\d+\\.\\d s ago\n.*"),
                    text);
                System.out.println(text);
            }
            finally
            {
                server.destroy(); // SIGTERM
                assertTrue(server.waitFor(20, TimeUnit.SECONDS), "aoe nbd stops on SIGTERM");
                server.destroyForcibly();
            }
            assertFalse(Files.exists(runDir.resolve(server.pid() + ".sock")), "SIGTERM removes the socket");
            final String after = run(aoe(runDir, "stat", "-v", "-i", ifName));
            assertFalse(after.contains("pid " + server.pid()), after);
        }
    }
}
