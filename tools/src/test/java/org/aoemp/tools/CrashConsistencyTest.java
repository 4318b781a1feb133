package org.aoemp.tools;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;
import static org.junit.jupiter.api.Assertions.fail;

import java.io.IOException;
import java.net.InetAddress;
import java.net.ServerSocket;
import java.nio.ByteBuffer;
import java.nio.ByteOrder;
import java.nio.channels.FileChannel;
import java.nio.file.Path;
import java.nio.file.StandardOpenOption;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import java.util.regex.Matcher;
import java.util.regex.Pattern;

import org.aoemp.testing.BulkIo;
import org.aoemp.testing.Prerequisites;
import org.aoemp.testing.RealPeer;
import org.aoemp.testing.VethRig;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * Crash consistency with real processes: the project's AoE target ({@code aoe target}) in a
 * network namespace on a veth pair, the bridge ({@code aoe nbd}) on the other end, an nbdsh client
 * writing through it, and one of the two killed with SIGKILL. What a completed NBD FLUSH
 * promises must then be in the target's backing file, checked block by block: each 64 KiB block
 * {@code i} holds the 32-bit little-endian {@code i + 1} over and over, so a block that is
 * missing, stale or misplaced shows which one.
 */
@RealPeer
class CrashConsistencyTest
{
    private static final Duration EXIT = Duration.ofSeconds(60);
    private static final int BLOCK = 64 * 1024;

    /**
     * Writes the blocks in order, 16 at a time in flight (aio), and after each batch FLUSHes and
     * prints how many writes that FLUSH covers; it goes on until the disk is full or the
     * connection breaks.
     */
    private static final String FLUSHING_WRITER = """
        import struct
        B = 65536
        total = h.get_size() // B
        n = 0
        try:
            while n < total:
                for i in range(n, min(n + 16, total)):
                    h.aio_pwrite(struct.pack('<I', i + 1) * (B // 4), i * B)
                while h.aio_in_flight() > 0:
                    h.poll(-1)
                n = min(n + 16, total)
                h.flush()
                print('flushed', n, flush=True)
            print('done', n, flush=True)
        except Exception as e:
            print('stopped:', e, flush=True)
        """;

    /** Writes COUNT blocks (the test puts the number in; all in flight at once), FLUSHes, says so, then holds the connection until stdin closes. */
    private static final String WRITE_FLUSH_HOLD = """
        import struct, sys
        B = 65536
        count = COUNT
        for i in range(count):
            h.aio_pwrite(struct.pack('<I', i + 1) * (B // 4), i * B)
        while h.aio_in_flight() > 0:
            h.poll(-1)
        h.flush()
        print('flushed', count, flush=True)
        sys.stdin.readline()
        """;

    @TempDir
    Path dir;

    private final List<ServeProcess> processes = new ArrayList<>();
    private VethRig rig;

    @AfterEach
    void tearDown()
    {
        for (int i = processes.size() - 1; i >= 0; i--)
        {
            processes.get(i).close();
        }
        if (rig != null)
        {
            rig.close();
        }
    }

    private static void requireClients()
    {
        Prerequisites.requireRoot();
        Prerequisites.requireCommand("nbdsh", "python3-libnbd");
    }

    private ServeProcess aoe(final String label, final List<String> prefix, final String... args) throws IOException
    {
        final ServeProcess p = ServeProcess.aoe(label, prefix, Map.of(), dir.resolve(label + ".log"), args);
        processes.add(p);
        return p;
    }

    private ServeProcess nbdsh(final String label, final String uri, final String script) throws IOException
    {
        final List<String> argv = List.of("nbdsh", "-u", uri, "-c", script);
        // nbdsh is "python3 -m nbd": the system python, which has the nbd module.
        final ServeProcess p = ServeProcess.start(label, argv, Map.of("PATH", "/usr/bin:" + System.getenv("PATH")),
            dir.resolve(label + ".log"));
        processes.add(p);
        return p;
    }

    private static int freePort() throws IOException
    {
        try (ServerSocket s = new ServerSocket(0, 1, InetAddress.getLoopbackAddress()))
        {
            return s.getLocalPort();
        }
    }

    /** {@code aoe target 7 3 FILE} on the rig's target end, in its namespace, serving. */
    private ServeProcess target(final Path file) throws Exception
    {
        final ServeProcess t = aoe("aoe-target", List.of("ip", "netns", "exec", rig.namespace()), "target", "7", "3", file.toString(),
            "-i", rig.targetIf(0));
        t.awaitLog("aoe target: serving");
        return t;
    }

    /** {@code aoe nbd e7.3} on the rig's initiator end, serving NBD on {@code port}. */
    private ServeProcess bridge(final int port) throws Exception
    {
        final ServeProcess b = aoe("aoe-nbd", List.of(), "nbd", "e7.3", "-i", rig.initiatorIf(0), "--listen", "127.0.0.1:" + port,
            "-t", "10s");
        b.awaitLog("ready: serving e7.3");
        return b;
    }

    /** The last "flushed N" the writer printed: N writes completed before a FLUSH that completed. */
    private static int lastFlushed(final String log)
    {
        final Matcher m = Pattern.compile("(?m)^flushed (\\d+)$").matcher(log);
        int n = -1;
        while (m.find())
        {
            n = Integer.parseInt(m.group(1));
        }
        return n;
    }

    /** Fails naming the first of blocks {@code [0, count)} of {@code file} that does not hold its pattern. */
    private static void assertBlocksInFile(final Path file, final int count) throws IOException
    {
        final ByteBuffer block = ByteBuffer.allocate(BLOCK).order(ByteOrder.LITTLE_ENDIAN);
        try (FileChannel ch = FileChannel.open(file, StandardOpenOption.READ))
        {
            for (int i = 0; i < count; i++)
            {
                block.clear();
                while (block.hasRemaining() && ch.read(block, (long)i * BLOCK + block.position()) >= 0)
                {
                    // read the whole block
                }
                for (int at = 0; at < BLOCK; at += 4)
                {
                    final int got = block.getInt(at);
                    if (got != i + 1)
                    {
                        fail("block " + i + " of " + count + " acknowledged before a completed FLUSH is not in the file: byte "
                            + at + " holds the pattern of " + (got - 1) + " (0 = never written or lost)");
                    }
                }
            }
        }
    }

    @Test
    void killingTheBridgeLosesNoWriteAFlushCompleted() throws Exception
    {
        requireClients();
        rig = VethRig.create(1);
        final Path disk = dir.resolve("e7.3.img");
        BulkIo.sparseFile(disk, 1L << 30);
        final ServeProcess target = target(disk);
        final int port = freePort();
        final ServeProcess bridge = bridge(port);

        final ServeProcess writer = nbdsh("writer", "nbd://127.0.0.1:" + port + "/e7.3", FLUSHING_WRITER);
        writer.awaitLog("flushed ", 8, Duration.ofSeconds(120));
        bridge.signal("KILL");
        assertEquals(137, bridge.awaitExit(EXIT), "killed by SIGKILL");
        writer.awaitExit(EXIT);
        final String log = writer.log();
        assertTrue(log.contains("stopped:"), "the writer was still writing when the bridge died:\n" + log);
        final int flushed = lastFlushed(log);
        assertTrue(flushed >= 8 * 16, log);

        assertBlocksInFile(disk, flushed);
        assertTrue(target.isAlive(), "the target outlived its initiator:\n" + target.log());
    }

    @Test
    void killingTheTargetAfterItAcknowledgedAFlushLosesNothing() throws Exception
    {
        requireClients();
        rig = VethRig.create(1);
        final Path disk = dir.resolve("e7.3.img");
        BulkIo.sparseFile(disk, 256L << 20);
        final ServeProcess target = target(disk);
        final int port = freePort();
        bridge(port);

        final int blocks = 512; // 32 MiB, all in flight at once before the FLUSH
        final ServeProcess writer = nbdsh("writer", "nbd://127.0.0.1:" + port + "/e7.3",
            WRITE_FLUSH_HOLD.replace("COUNT", String.valueOf(blocks)));
        writer.awaitLog("flushed " + blocks, 1, Duration.ofSeconds(120));
        target.signal("KILL");
        assertEquals(137, target.awaitExit(EXIT), "killed by SIGKILL");

        assertBlocksInFile(disk, blocks);
    }
}
