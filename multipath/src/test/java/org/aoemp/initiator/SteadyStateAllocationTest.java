package org.aoemp.initiator;

import static org.junit.jupiter.api.Assertions.assertTrue;

import java.lang.management.ManagementFactory;
import java.nio.ByteBuffer;
import java.nio.file.Path;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.TimeUnit;

import org.aoemp.testing.BulkIo;
import org.aoemp.testing.Prerequisites;
import org.aoemp.testing.RealPeer;
import org.aoemp.testing.VethRig;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * The per-frame path allocates nothing: with 1 MiB reads and writes in flight against vblade over
 * a veth pair (AF_PACKET, MTU 9000, so 61 frames per request), the engine thread (which builds and
 * sends every frame) and the receive thread (which parses every reply) allocate less than a few
 * bytes per frame once warm. Measured with {@code ThreadMXBean.getThreadAllocatedBytes}: bytes,
 * not time, so the verdict does not depend on the machine's speed. What a request allocates (its
 * {@code IoRequest}, its future) is on the caller's thread and amortized over its frames.
 */
@RealPeer
class SteadyStateAllocationTest
{
    private static final int MIB = 1 << 20;
    /** Bytes per frame a thread may allocate: per-request objects over 61 frames stay far below it. */
    private static final double MAX_BYTES_PER_FRAME = 16;

    @TempDir
    Path dir;

    private VethRig rig;
    private Initiator initiator;

    @AfterEach
    void tearDown()
    {
        if (initiator != null)
        {
            initiator.close();
        }
        if (rig != null)
        {
            rig.close();
        }
    }

    @Test
    void shouldNotAllocateOnTheEngineOrReceiveThreadPerFrame() throws Exception
    {
        Prerequisites.requireRoot();
        Prerequisites.requireCommand("vblade", "vblade");
        final Path disk = dir.resolve("disk.img");
        BulkIo.sparseFile(disk, 64L * MIB);
        rig = VethRig.builder().pairs(1).mtu(9000).build();
        rig.startVblade(7, 3, 0, disk);
        initiator = Initiator.open("afpacket", List.of(rig.initiatorIf(0)), Duration.ofSeconds(60));
        final AoeDevice d = initiator.open(new TargetAddress(7, 3), DeviceOptions.defaults());

        final List<ByteBuffer> buffers = new ArrayList<>();
        for (int i = 0; i < 8; i++)
        {
            buffers.add(ByteBuffer.allocateDirect(MIB));
        }
        run(d, buffers, 200);  // warm up: JIT, caches of every frame buffer, the path's window

        final Thread engine = thread("aoe-" + d.address());
        final Thread receiver = thread("aoe-rx-" + rig.initiatorIf(0));
        final var threads = (com.sun.management.ThreadMXBean)ManagementFactory.getThreadMXBean();
        // On a loaded 2-core machine the JIT may still be compiling after the warm-up (and its
        // interim code allocating), so measure rounds until one is clean, at most 5.
        double enginePerFrame = 0;
        double receiverPerFrame = 0;
        long frames = 0;
        for (int round = 0; round < 5; round++)
        {
            final long engineBefore = threads.getThreadAllocatedBytes(engine.threadId());
            final long receiverBefore = threads.getThreadAllocatedBytes(receiver.threadId());
            final long framesBefore = d.pathStats().get(0).framesSent();
            run(d, buffers, 400);
            frames = d.pathStats().get(0).framesSent() - framesBefore;
            enginePerFrame = (double)(threads.getThreadAllocatedBytes(engine.threadId()) - engineBefore) / frames;
            receiverPerFrame = (double)(threads.getThreadAllocatedBytes(receiver.threadId()) - receiverBefore) / frames;
            if (enginePerFrame < MAX_BYTES_PER_FRAME && receiverPerFrame < MAX_BYTES_PER_FRAME)
            {
                break;
            }
        }
        System.out.printf("SteadyStateAllocationTest: %d frames; allocated per frame: engine %.2f B, receive %.2f B%n",
            frames, enginePerFrame, receiverPerFrame);
        assertTrue(frames >= 400L * 60, "1 MiB requests went out as frames: " + frames);
        assertTrue(enginePerFrame < MAX_BYTES_PER_FRAME, "engine thread allocated " + enginePerFrame + " B per frame");
        assertTrue(receiverPerFrame < MAX_BYTES_PER_FRAME, "receive thread allocated " + receiverPerFrame + " B per frame");
    }

    /** {@code requests} 1 MiB requests, 8 in flight, alternating reads and writes. */
    private static void run(final AoeDevice d, final List<ByteBuffer> buffers, final int requests) throws Exception
    {
        final List<CompletableFuture<?>> inFlight = new ArrayList<>();
        for (int i = 0; i < requests; i++)
        {
            final ByteBuffer b = buffers.get(i % buffers.size()).clear();
            final long offset = (long)(i % 48) * MIB;
            inFlight.add(i % 2 == 0 ? d.readAsync(offset, b) : d.writeAsync(offset, b));
            if (inFlight.size() == buffers.size())
            {
                for (final CompletableFuture<?> f : inFlight)
                {
                    f.get(60, TimeUnit.SECONDS);
                }
                inFlight.clear();
            }
        }
        for (final CompletableFuture<?> f : inFlight)
        {
            f.get(60, TimeUnit.SECONDS);
        }
    }

    private static Thread thread(final String name)
    {
        return Thread.getAllStackTraces().keySet().stream().filter(t -> t.getName().equals(name)).findFirst()
            .orElseThrow(() -> new AssertionError("no thread named " + name + " among " + Thread.getAllStackTraces().keySet()));
    }
}
