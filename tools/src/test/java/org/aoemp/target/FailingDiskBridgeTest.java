package org.aoemp.target;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.io.IOException;
import java.net.InetSocketAddress;
import java.nio.ByteBuffer;
import java.nio.channels.FileChannel;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.StandardOpenOption;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import java.util.concurrent.ConcurrentLinkedQueue;
import java.util.logging.Handler;
import java.util.logging.LogRecord;
import java.util.logging.Logger;

import org.aoemp.initiator.AoeDevice;
import org.aoemp.initiator.DeviceOptions;
import org.aoemp.initiator.Initiator;
import org.aoemp.initiator.TargetAddress;
import org.aoemp.nbd.NbdServer;
import org.aoemp.testing.BulkIo;
import org.aoemp.testing.Prerequisites;
import org.aoemp.testing.ProcessRunner;
import org.aoemp.testing.RealPeer;
import org.aoemp.transport.MemoryHub;
import org.aoemp.util.JsonText;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * The project's target on a disk that fails, behind the NBD bridge, driven by real NBD clients
 * (nbdsh's libnbd from python3, nbdcopy, nbdinfo): e1.1 is an 8 MiB sparse file on a 1 MiB tmpfs,
 * so writes fail with ENOSPC once the tmpfs is full, and its sectors [4096, 4112) fail to read
 * (a channel that throws EIO there: device-mapper's error target is not available everywhere CI
 * runs). e1.2 is a healthy disk on the same bridge. Each failing request, and only it, gets EIO
 * (ATA can only say "aborted" or "uncorrectable", not "no space"); the rewrites, reads and the
 * other export go on being served, nothing hangs, and the target's log names ENOSPC and the
 * command.
 */
@RealPeer
class FailingDiskBridgeTest
{
    private static final long MIB = 1 << 20;
    private static final long BAD_SECTOR = 4096;
    private static final int BAD_SECTORS = 16;
    private static final Duration CLIENT_TIMEOUT = Duration.ofSeconds(120);
    /** Debian's python3, which python3-libnbd installs into (not a python3 of pyenv's or a venv's earlier on PATH). */
    private static final String PYTHON = Files.isExecutable(Path.of("/usr/bin/python3")) ? "/usr/bin/python3" : "python3";

    /** The NBD client: one handle per export, each request's outcome recorded (errno 0 = success). */
    private static final String CLIENT = """
        import json, sys, nbd
        def attempt(f):
            try:
                f()
                return 0
            except nbd.Error as e:
                return e.errnum or -1
        full, good = nbd.NBD(), nbd.NBD()
        full.connect_uri(sys.argv[1])
        good.connect_uri(sys.argv[2])
        chunk = 256 * 1024
        out = {"writes": [], "other": []}
        for off in range(0, 8 * 1024 * 1024, chunk):
            out["writes"].append(attempt(lambda: full.pwrite(b"\\xaa" * chunk, off)))
            # the healthy export, between the failures
            data = bytes([off // chunk]) * 65536
            good.pwrite(data, off // 4)
            out["other"].append(good.pread(65536, off // 4) == data)
        # space already allocated can be written again; what was written reads back
        out["rewrite"] = attempt(lambda: full.pwrite(b"\\x55" * 4096, 0))
        out["readBack"] = full.pread(4096, 0) == b"\\x55" * 4096 and full.pread(4096, chunk) == b"\\xaa" * 4096
        bad = 4096 * 512
        out["readBad"] = attempt(lambda: full.pread(65536, bad - 32768))
        out["readBefore"] = attempt(lambda: full.pread(32768, bad - 32768))
        out["readAfter"] = attempt(lambda: full.pread(65536, bad + 16 * 512))
        out["flush"] = attempt(lambda: full.flush())
        print(json.dumps(out))
        """;

    @TempDir
    Path dir;

    private Path mount;
    private final List<AutoCloseable> resources = new ArrayList<>();
    private final ConcurrentLinkedQueue<String> log = new ConcurrentLinkedQueue<>();
    private final Handler capture = new Handler()
    {
        @Override
        public void publish(final LogRecord r)
        {
            final String thrown = r.getThrown() == null ? "" : " " + r.getThrown();
            log.add(r.getLevel() + " " + r.getLoggerName() + ": " + new java.util.logging.SimpleFormatter().formatMessage(r) + thrown);
        }

        @Override
        public void flush()
        {
        }

        @Override
        public void close()
        {
        }
    };

    private NbdServer server;

    @BeforeEach
    void setUp() throws Exception
    {
        Prerequisites.requireRoot();
        Prerequisites.require(ProcessRunner.run(PYTHON, "-c", "import nbd").ok(), "python3-libnbd (nbdsh's libnbd for python3)");
        Prerequisites.requireCommand("nbdcopy", "libnbd-bin");
        Logger.getLogger("").addHandler(capture);
        mount = Files.createDirectory(dir.resolve("tmpfs"));
        ProcessRunner.run("mount", "-t", "tmpfs", "-o", "size=1m", "aoe-test-full", mount.toString()).orThrow();
        final Path fullDisk = BulkIo.sparseFile(mount.resolve("full.img"), 8 * MIB);
        final Path goodDisk = BulkIo.sparseFile(dir.resolve("good.img"), 4 * MIB);

        final MemoryHub hub = new MemoryHub();
        resources.add(hub);
        resources.add(AoeTarget.start(TargetOptions.of(1, 1, fullDisk), List.of(hub.attach("tgt-full", 0x02_00_00_00_01_01L, 9000)),
            () -> new BadSectors(FileChannel.open(fullDisk, StandardOpenOption.READ, StandardOpenOption.WRITE))));
        resources.add(AoeTarget.start(TargetOptions.of(1, 2, goodDisk), List.of(hub.attach("tgt-good", 0x02_00_00_00_01_02L, 9000))));
        final Initiator initiator = Initiator.start(List.of(hub.attach("ini", 0x02_00_00_00_00_01L, 9000)), Duration.ofSeconds(60));
        resources.add(initiator);
        final DeviceOptions options = DeviceOptions.defaults().withDeadAfter(Duration.ofSeconds(20));
        final AoeDevice full = initiator.open(new TargetAddress(1, 1), options);
        final AoeDevice good = initiator.open(new TargetAddress(1, 2), options);
        server = NbdServer.builder().listen(new InetSocketAddress("127.0.0.1", 0)).exports(Map.of("e1.1", full, "e1.2", good))
            .defaultExport("e1.1").start();
        resources.add(server);
    }

    @AfterEach
    void tearDown()
    {
        for (int i = resources.size() - 1; i >= 0; i--)
        {
            try
            {
                resources.get(i).close();
            }
            catch (final Exception e)
            {
                // the others still close
            }
        }
        Logger.getLogger("").removeHandler(capture);
        if (mount != null)
        {
            ProcessRunner.run("umount", "-l", mount.toString());
        }
    }

    @Test
    void eachFailingRequestAloneShouldGetAnErrorAndEverythingElseBeServed() throws Exception
    {
        final Path script = Files.writeString(dir.resolve("client.py"), CLIENT);
        final ProcessRunner.Result r = ProcessRunner.run(CLIENT_TIMEOUT, PYTHON, script.toString(), server.uri("e1.1"),
            server.uri("e1.2"));
        assertEquals(0, r.exitCode(), r.stderr());
        final Map<?, ?> out = (Map<?, ?>)JsonText.parse(r.stdout().trim());

        final List<?> writes = (List<?>)out.get("writes");
        final int succeeded = (int)writes.stream().takeWhile(e -> ((Number)e).intValue() == 0).count();
        assertTrue(succeeded >= 1 && succeeded <= 4, "the first writes fit the 1 MiB tmpfs, at most 4 of 256 KiB: " + writes);
        for (final Object e : writes.subList(succeeded, writes.size()))
        {
            assertEquals(5L, ((Number)e).longValue(), "every write past the full tmpfs fails with EIO: " + writes);
        }
        assertTrue(((List<?>)out.get("other")).stream().allMatch(Boolean.TRUE::equals), "the other export served throughout: " + out);
        assertEquals(0L, ((Number)out.get("rewrite")).longValue(), "a write into space already allocated succeeds");
        assertEquals(Boolean.TRUE, out.get("readBack"), "what was written reads back");
        assertEquals(5L, ((Number)out.get("readBad")).longValue(), "a read over the bad sectors fails with EIO");
        assertEquals(0L, ((Number)out.get("readBefore")).longValue(), "the sectors before them read");
        assertEquals(0L, ((Number)out.get("readAfter")).longValue(), "the sectors after them read");
        assertEquals(0L, ((Number)out.get("flush")).longValue(), "a flush succeeds");

        // a real copy through the bridge to the healthy export, after all that
        final Path source = Files.write(dir.resolve("src.bin"), BulkIo.random((int)(4 * MIB), 7));
        final ProcessRunner.Result copy = ProcessRunner.run(CLIENT_TIMEOUT, "nbdcopy", source.toString(), server.uri("e1.2"));
        assertEquals(0, copy.exitCode(), copy.stderr());
        final Path back = dir.resolve("back.bin");
        assertEquals(0, ProcessRunner.run(CLIENT_TIMEOUT, "nbdcopy", server.uri("e1.2"), back.toString()).exitCode());
        assertTrue(java.util.Arrays.equals(Files.readAllBytes(source), Files.readAllBytes(back)), "the healthy export copies intact");

        assertTrue(log.stream().anyMatch(l -> l.matches("SEVERE .*e1\\.1: write of \\d+ sectors at sector \\d+ failed: No space left on "
            + "device; answered with ATA error ABRT.*")), "the target's log names a failed write and ENOSPC: " + String.join("\n", log));
        // the frames over the bad sectors (4083 and 4100 with 17 sectors a frame) fail on parallel workers: either may be the one logged
        assertTrue(log.stream().anyMatch(l -> l.matches("SEVERE .*e1\\.1: read of \\d+ sectors at sector (40[89]\\d|410\\d) failed: .*medium error.*UNC.*")),
            "the target's log names the failed read: " + String.join("\n", log));
        assertTrue(log.stream().noneMatch(l -> l.contains("AgentRunner")), "no disk error went to the runners' log as a fault: "
            + String.join("\n", log));
    }

    /** The backing file, with sectors [BAD_SECTOR, BAD_SECTOR + BAD_SECTORS) unreadable (EIO), as a failing disk's. */
    static final class BadSectors extends ForwardingFileChannel
    {
        BadSectors(final FileChannel inner)
        {
            super(inner);
        }

        @Override
        public int read(final ByteBuffer dst, final long position) throws IOException
        {
            if (position < (BAD_SECTOR + BAD_SECTORS) * 512 && position + dst.remaining() > BAD_SECTOR * 512)
            {
                throw new IOException("Input/output error (injected medium error)");
            }
            return inner.read(dst, position);
        }
    }
}
