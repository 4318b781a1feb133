package org.aoemp.nbd;

import static org.aoemp.nbd.ExternalCommand.ok;
import static org.aoemp.testing.Prerequisites.requireCommand;
import static org.aoemp.testing.Prerequisites.which;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.io.IOException;
import java.net.InetAddress;
import java.net.InetSocketAddress;
import java.nio.ByteBuffer;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.util.Map;
import java.util.concurrent.ExecutorService;
import java.util.concurrent.Executors;
import java.util.regex.Pattern;

import io.netty.buffer.ByteBufAllocator;
import io.netty.buffer.PooledByteBufAllocator;
import org.aoemp.block.MemoryBlockDevice;
import org.aoemp.testing.RealPeer;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * The server against the real userspace NBD clients (libnbd's nbdinfo, nbdcopy and nbdsh, qemu's
 * qemu-img and qemu-io, nbd-client's listing). Each test is skipped when its client is not
 * installed, and fails instead under {@code CI=true}.
 *
 * <p>Exports: {@code disk} (completes inline on the event loop), {@code async} (completes on
 * another thread, like the AoE initiator) and {@code ro} (read-only).
 */
@RealPeer
class RealClientsTest
{
    private static final int MIB = 1 << 20;
    private static final Duration TIMEOUT = Duration.ofSeconds(60);
    /** libnbd's Python module is installed for Debian's python3, which a pyenv on PATH would hide. */
    private static final Map<String, String> SYSTEM_PYTHON_FIRST = Map.of("PATH", "/usr/bin:" + System.getenv("PATH"));

    private final ExecutorService initiator = Executors.newFixedThreadPool(2, r -> new Thread(r, "test-initiator"));
    private final MemoryBlockDevice disk = new MemoryBlockDevice("disk", 128L * MIB);
    private final MemoryBlockDevice async = new MemoryBlockDevice("async", 96L * MIB, false, initiator);
    private final MemoryBlockDevice ro = new MemoryBlockDevice("ro", MIB, true, null);
    private TrackingAllocator tracking;
    private NbdServer server;

    @TempDir
    Path tmp;

    private NbdServer start(final ByteBufAllocator allocator)
    {
        server = NbdServer.builder()
            .listen(new InetSocketAddress(InetAddress.getLoopbackAddress(), 0))
            .export("disk", disk)
            .export("async", async)
            .export("ro", ro)
            .allocator(allocator)
            .start();
        return server;
    }

    private NbdServer start()
    {
        tracking = new TrackingAllocator();
        return start(tracking);
    }

    @AfterEach
    void stop()
    {
        if (server != null)
        {
            server.close();
        }
        initiator.shutdown();
        disk.close();
        async.close();
        ro.close();
        if (tracking != null)
        {
            tracking.assertAllReleased();
        }
    }

    @Test
    void nbdinfoShouldReportSizeAndExactlyTheAdvertisedFeatures() throws Exception
    {
        requireCommand("nbdinfo", "libnbd-bin");
        start();
        final String json = ok(ExternalCommand.run(TIMEOUT, "nbdinfo", "--json", server.uri("disk")));
        assertJson(json, "export-size", "134217728");
        assertJson(json, "export-name", "\"disk\"");
        assertJson(json, "is_read_only", "false");
        assertJson(json, "can_flush", "true");
        assertJson(json, "can_fua", "true");
        assertJson(json, "can_multi_conn", "true");
        assertJson(json, "can_zero", "true");
        assertJson(json, "can_trim", "false");
        assertJson(json, "can_cache", "false");
        assertJson(json, "can_fast_zero", "false");
        assertJson(json, "block_size_minimum", "512");
        assertJson(json, "block_size_preferred", "4096");
        assertJson(json, "block_size_maximum", "33554432");

        final String readOnly = ok(ExternalCommand.run(TIMEOUT, "nbdinfo", "--json", server.uri("ro")));
        assertJson(readOnly, "is_read_only", "true");
        assertJson(readOnly, "export-size", "1048576");

        final String byDefault = ok(ExternalCommand.run(TIMEOUT, "nbdinfo", "--size", server.uri()));
        assertEquals("134217728", byDefault.strip(), "the default export is the first one");
    }

    @Test
    void nbdinfoListShouldShowEveryExport() throws Exception
    {
        requireCommand("nbdinfo", "libnbd-bin");
        start();
        final String list = ok(ExternalCommand.run(TIMEOUT, "nbdinfo", "--list", server.uri()));
        for (final String name : server.exportNames())
        {
            assertTrue(list.contains("export=\"" + name + "\""), name + " missing from\n" + list);
        }
    }

    @Test
    void nbdClientShouldListTheExports() throws Exception
    {
        requireCommand("nbd-client", "nbd-client");
        start();
        final String list = ok(ExternalCommand.run(TIMEOUT, which("nbd-client").toString(),
            "-l", "127.0.0.1", Integer.toString(server.port())));
        for (final String name : server.exportNames())
        {
            assertTrue(Pattern.compile("(?m)^" + name + ": ").matcher(list).find(), name + " missing from\n" + list);
        }
    }

    @Test
    void nbdcopyShouldRoundTrip64MiBOverFourConnections() throws Exception
    {
        requireCommand("nbdcopy", "libnbd-bin");
        requireCommand("cmp", "diffutils");
        // The production allocator here, with Netty's paranoid leak detector watching it.
        start(PooledByteBufAllocator.DEFAULT);
        final Path in = randomFile(64 * MIB);
        final Path out = tmp.resolve("out.img");
        for (final String export : new String[] {"disk", "async"})
        {
            ok(ExternalCommand.run(TIMEOUT, "nbdcopy", "--flush", "-C", "4", in.toString(), server.uri(export)));
            ok(ExternalCommand.run(TIMEOUT, "nbdcopy", "-C", "4", server.uri(export), out.toString()));
            // The copy back holds the whole export; the first 64 MiB must be the file, the rest zeroes.
            ok(ExternalCommand.run(TIMEOUT, "cmp", "-n", Long.toString(64L * MIB), in.toString(), out.toString()));
            Files.delete(out);
        }
    }

    @Test
    void qemuImgCompareShouldFindTheExportIdenticalToTheFileCopiedIn() throws Exception
    {
        requireCommand("qemu-img", "qemu-utils");
        start();
        final Path in = randomFile(96 * MIB);
        ok(ExternalCommand.run(TIMEOUT, "qemu-img", "convert", "-n", "-f", "raw", "-O", "raw", in.toString(), server.uri("async")));
        final String same = ok(ExternalCommand.run(TIMEOUT, "qemu-img", "compare", "-f", "raw", "-F", "raw", in.toString(), server.uri("async")));
        assertTrue(same.contains("Images are identical"), same);

        async.writeZeroesAsync(MIB, 4096).get();
        final ExternalCommand.Result differ = ExternalCommand.run(TIMEOUT, "qemu-img", "compare", "-f", "raw", "-F", "raw",
            in.toString(), server.uri("async"));
        assertEquals(1, differ.exitCode(), "qemu-img compare must see a change made behind its back: " + differ.all());
    }

    @Test
    void qemuIoPatternsShouldWriteReadFlushAndZero() throws Exception
    {
        requireCommand("qemu-io", "qemu-utils");
        start();
        final String out = ok(ExternalCommand.run(TIMEOUT, "qemu-io", "-f", "raw", server.uri("disk"),
            "-c", "write -P 0xab 0 1M",
            "-c", "read -P 0xab 0 1M",
            "-c", "flush",
            "-c", "write -z 1M 1M",
            "-c", "read -P 0 1M 1M",
            "-c", "write -f -P 0xcd 2M 64k",
            "-c", "read -P 0xcd 2M 64k",
            "-c", "aio_write -P 0x11 4M 256k",
            "-c", "aio_write -P 0x22 8M 256k",
            "-c", "aio_flush",
            "-c", "read -P 0x11 4M 256k",
            "-c", "read -P 0x22 8M 256k",
            "-c", "read -P 0 127M 1M"));
        assertFalse(out.contains("failed") || out.contains("error"), out);
        final ByteBuffer b = ByteBuffer.allocate(512);
        disk.readAsync(2 * MIB, b).get();
        assertEquals((byte)0xcd, b.get(511), "the data is on the device, not just echoed");
    }

    @Test
    void nbdshEdgeCasesShouldGetTheRightErrnosAndLeaveTheConnectionUsable() throws Exception
    {
        requireCommand("nbdsh", "python3-libnbd");
        start();
        final Path script = Path.of(RealClientsTest.class.getResource("/nbdsh-edge-cases.py").toURI());
        for (final String export : new String[] {"disk", "async"})
        {
            final Map<String, String> env = new java.util.HashMap<>(SYSTEM_PYTHON_FIRST);
            env.put("URI", server.uri(export));
            final String out = ok(ExternalCommand.run(TIMEOUT, env, "nbdsh", "-c", "exec(open('" + script + "').read())"));
            assertTrue(out.strip().endsWith("OK"), out);
        }
    }

    // ---------------------------------------------------------------- helpers

    private Path randomFile(final int size) throws IOException
    {
        return ExternalCommand.randomFile(tmp.resolve("in.img"), size);
    }

    private static void assertJson(final String json, final String key, final String value)
    {
        assertTrue(Pattern.compile("\"" + Pattern.quote(key) + "\"\\s*:\\s*" + Pattern.quote(value) + "\\s*[,}\\n]").matcher(json).find(),
            key + " = " + value + " not in\n" + json);
    }
}
