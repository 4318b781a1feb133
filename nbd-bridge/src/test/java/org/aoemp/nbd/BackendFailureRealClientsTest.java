package org.aoemp.nbd;

import org.aoemp.testing.RealPeer;
import static org.aoemp.nbd.ExternalCommand.ok;
import static org.aoemp.nbd.FaultyBlockDevice.Fault;
import static org.aoemp.nbd.FaultyBlockDevice.Kind;
import static org.aoemp.testing.Prerequisites.requireCommand;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertNotEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.io.IOException;
import java.net.InetAddress;
import java.net.InetSocketAddress;
import java.nio.file.Path;
import java.time.Duration;
import java.util.HashMap;
import java.util.Map;

import org.aoemp.block.IoError;
import org.aoemp.block.MemoryBlockDevice;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * A failing backend against libnbd's clients (nbdsh, nbdcopy, nbdinfo): each failed request is
 * an error the client reports with the right errno, a backend that calls back twice or throws
 * after calling back does not upset the client at all, and neither the connection nor the other
 * exports stop serving. Skipped when a client is missing, failed instead under {@code CI=true}.
 */
@RealPeer
class BackendFailureRealClientsTest
{
    private static final int MIB = 1 << 20;
    private static final Duration TIMEOUT = Duration.ofSeconds(120);
    /** libnbd's Python module is installed for Debian's python3, which a pyenv on PATH would hide. */
    private static final Map<String, String> SYSTEM_PYTHON_FIRST = Map.of("PATH", "/usr/bin:" + System.getenv("PATH"));

    private final TrackingAllocator allocator = new TrackingAllocator();
    /** Fails by region as {@link BackendFailureTest} does. */
    private final FaultyBlockDevice faulty = new FaultyBlockDevice("faulty", 16L * MIB, BackendFailureTest.REGIONS);
    /** Never fails, but calls back twice or throws after calling back, by region. */
    private final FaultyBlockDevice doubles = new FaultyBlockDevice("doubles", 16L * MIB, Fault.of(Kind.TWICE_INLINE),
        Fault.of(Kind.TWICE_OTHER_THREADS), Fault.of(Kind.CALLBACK_THEN_THROW), Fault.of(Kind.TWICE_OTHER_THREADS),
        Fault.of(Kind.TWICE_INLINE), Fault.of(Kind.CALLBACK_THEN_THROW), Fault.of(Kind.TWICE_OTHER_THREADS),
        Fault.of(Kind.TWICE_INLINE), Fault.of(Kind.CALLBACK_THEN_THROW), Fault.of(Kind.TWICE_OTHER_THREADS),
        Fault.of(Kind.TWICE_INLINE), Fault.of(Kind.CALLBACK_THEN_THROW), Fault.of(Kind.TWICE_OTHER_THREADS),
        Fault.of(Kind.TWICE_INLINE), Fault.of(Kind.CALLBACK_THEN_THROW), Fault.of(Kind.TWICE_OTHER_THREADS));
    private final MemoryBlockDevice good = new MemoryBlockDevice("good", 4L * MIB);
    private NbdServer server;

    @TempDir
    Path tmp;

    private NbdServer start()
    {
        server = NbdServer.builder()
            .listen(new InetSocketAddress(InetAddress.getLoopbackAddress(), 0))
            .export("faulty", faulty)
            .export("doubles", doubles)
            .export("good", good)
            .allocator(allocator)
            .start();
        return server;
    }

    @AfterEach
    void stop()
    {
        if (server != null)
        {
            server.close();
        }
        faulty.close();
        doubles.close();
        good.close();
        allocator.assertAllReleased();
    }

    @Test
    void nbdshShouldGetTheErrnoOfEachFailedRequestAndKeepUsingTheConnection() throws Exception
    {
        requireCommand("nbdsh", "python3-libnbd");
        start();
        faulty.failFlushes(Fault.of(Kind.THROW), Fault.of(Kind.THROW_ERROR), Fault.ioError(IoError.ENOSPC),
            Fault.of(Kind.TWICE_OTHER_THREADS));
        final Path script = Path.of(BackendFailureRealClientsTest.class.getResource("/nbdsh-backend-failures.py").toURI());
        final Map<String, String> env = new HashMap<>(SYSTEM_PYTHON_FIRST);
        env.put("URI", server.uri("faulty"));
        env.put("GOOD_URI", server.uri("good"));
        final String out = ok(ExternalCommand.run(TIMEOUT, env, "nbdsh", "-c", "exec(open('" + script + "').read())"));
        assertTrue(out.strip().endsWith("OK"), out);
    }

    @Test
    void nbdcopyShouldRoundTripThroughABackendThatCallsBackTwiceOrThrowsAfterCallingBack() throws Exception
    {
        requireCommand("nbdcopy", "libnbd-bin");
        requireCommand("cmp", "diffutils");
        start();
        final Path in = randomFile(16 * MIB);
        final Path out = tmp.resolve("out.img");
        ok(ExternalCommand.run(TIMEOUT, "nbdcopy", "--flush", "-C", "4", in.toString(), server.uri("doubles")));
        ok(ExternalCommand.run(TIMEOUT, "nbdcopy", "-C", "4", server.uri("doubles"), out.toString()));
        ok(ExternalCommand.run(TIMEOUT, "cmp", in.toString(), out.toString()));
    }

    @Test
    void nbdcopyFromAnExportWithFailingRegionsShouldFailPromptlyNotHang() throws Exception
    {
        requireCommand("nbdcopy", "libnbd-bin");
        requireCommand("nbdinfo", "libnbd-bin");
        start();
        final ExternalCommand.Result copy = ExternalCommand.run(TIMEOUT, "nbdcopy", "-C", "4", server.uri("faulty"),
            tmp.resolve("out.img").toString());
        assertNotEquals(0, copy.exitCode(), "nbdcopy must report the failed reads: " + copy.all());
        assertTrue(copy.stderr().contains("Input/output error") || copy.stderr().contains("EIO")
            || copy.stderr().contains("No space left") || copy.stderr().contains("Operation not permitted"), copy.all());
        assertEquals(Long.toString(4L * MIB), ok(ExternalCommand.run(TIMEOUT, "nbdinfo", "--size", server.uri("good"))).strip(),
            "the other export still serves");
    }

    @Test
    void nbdinfoShouldBeRefusedAnExportWhoseDeviceFailsAndStillSeeTheOthers() throws Exception
    {
        requireCommand("nbdinfo", "libnbd-bin");
        start();
        faulty.sizeThrows = true;
        final ExternalCommand.Result info = ExternalCommand.run(TIMEOUT, "nbdinfo", "--size", server.uri("faulty"));
        assertNotEquals(0, info.exitCode(), "nbdinfo on an export whose size() throws: " + info.all());
        assertEquals(Long.toString(4L * MIB), ok(ExternalCommand.run(TIMEOUT, "nbdinfo", "--size", server.uri("good"))).strip());
        final ExternalCommand.Result list = ExternalCommand.run(TIMEOUT, "nbdinfo", "--list", server.uri());
        assertTrue(list.stdout().contains("export=\"good\""), list.all());
        assertTrue(list.stdout().contains("export=\"doubles\""), list.all());
        faulty.sizeThrows = false;
        assertEquals(Long.toString(16L * MIB), ok(ExternalCommand.run(TIMEOUT, "nbdinfo", "--size", server.uri("faulty"))).strip(),
            "the export serves again once its device does");
    }

    private Path randomFile(final int size) throws IOException
    {
        return ExternalCommand.randomFile(tmp.resolve("in.img"), size);
    }
}
