package org.aoemp.initiator;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertNull;
import static org.junit.jupiter.api.Assertions.fail;

import java.nio.ByteBuffer;
import java.time.Duration;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.List;
import java.util.Random;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.TimeoutException;
import java.util.concurrent.atomic.AtomicInteger;
import java.util.concurrent.locks.LockSupport;
import java.util.function.BooleanSupplier;

import com.code_intelligence.jazzer.junit.FuzzTest;
import org.aoemp.block.IoError;
import org.aoemp.protocol.Bytes;
import org.aoemp.testing.ScriptedTarget;
import org.aoemp.transport.MemoryHub;

/**
 * Coverage-guided fuzzing of the initiator's receive path with I/O in flight: a device on the
 * in-memory hub writes one range and reads another of a {@link ScriptedTarget}; while the
 * target's replies are held back, arbitrary frames arrive at the initiator's NIC from another
 * NIC; then the replies are let through.
 *
 * <p>Whatever the frames: no exception escapes the receive path (the NIC counts none lost in its
 * handler, the engine none in its duty cycle, no callback threw), and each request completes
 * exactly once within the deadline. When the forged frames do not claim the target's own MAC as
 * their source (bit 0 of the first input byte clear), the write also succeeds, lands on the
 * target's disk, and the read returns the disk's bytes: nothing a stranger sends may complete a
 * request with wrong data. With the target's MAC as source, AoE itself offers no defence (no
 * authentication; a matching tag is a valid reply), so only the first part is checked.
 *
 * <p>Input layout: byte 0 flags (bit 0: frames may carry the target's MAC as source); then
 * frames, each a big-endian u16 length and that many bytes (at most {@value #MAX_FRAMES}; cut
 * short at the end of the input). Each frame's destination is set to the initiator's MAC so the
 * hub delivers it; everything else is as given. {@code mvn verify} replays the committed corpus in
 * {@code src/test/resources/org/aoemp/initiator/ReceivePathFuzzTestInputs/}; {@code bench/fuzz.sh
 * initiator-receive DURATION} fuzzes for real.
 */
class ReceivePathFuzzTest
{
    private static final long INITIATOR_MAC = 0x02_00_00_00_00_01L;
    private static final long TARGET_MAC = 0x02_00_00_00_00_02L;
    private static final long STRANGER_MAC = 0x02_00_00_00_00_99L;
    private static final int SHELF = 7;
    private static final int SLOT = 3;
    private static final int DISK = 64 * 1024;
    private static final int IO = 4096;
    private static final long WRITE_AT = 8192;
    private static final long READ_AT = 32768;
    private static final int MAX_FRAMES = 16;
    private static final Duration DEADLINE = Duration.ofSeconds(30);

    private static final java.util.logging.Logger QUIET = java.util.logging.Logger.getLogger("org.aoemp");

    private static final DeviceOptions OPTIONS = DeviceOptions.defaults()
        .withRto(Duration.ofMillis(20), Duration.ofMillis(5), Duration.ofMillis(200))
        .withDeadAfter(Duration.ofSeconds(20));

    static
    {
        if (System.getenv("JAZZER_FUZZ") != null)
        {
            // Fuzzing opens a device per input: its INFO lines would cost more than the input.
            QUIET.setLevel(java.util.logging.Level.WARNING);
        }
    }

    @FuzzTest
    void receive(final byte[] input) throws Exception
    {
        if (input.length == 0)
        {
            return;
        }
        final boolean spoofTarget = (input[0] & 1) != 0;
        final List<byte[]> frames = frames(input, spoofTarget);

        final Held held = new Held();
        try (MemoryHub hub = new MemoryHub())
        {
            final ScriptedTarget target = new ScriptedTarget(hub.attach("tgt0", TARGET_MAC, 1500), SHELF, SLOT, DISK, 16);
            final MemoryHub.Nic stranger = hub.attach("evil0", STRANGER_MAC, 9000);
            stranger.start((frame, length) -> { });
            final MemoryHub.Nic ini = hub.attach("ini0", INITIATOR_MAC, 1500);
            final byte[] before = new byte[DISK];
            new Random(42).nextBytes(before);
            System.arraycopy(before, 0, target.disk(), 0, DISK);
            hub.interceptor(held);
            try (Initiator initiator = Initiator.start(List.of(ini), Duration.ZERO))
            {
                final AoeDevice device = initiator.open(new TargetAddress(SHELF, SLOT), OPTIONS);
                final byte[] written = new byte[IO];
                new Random(7).nextBytes(written);
                final ByteBuffer readBack = ByteBuffer.allocate(IO);

                held.hold = true;
                final Completion write = new Completion();
                final Completion read = new Completion();
                device.write(WRITE_AT, ByteBuffer.wrap(written), write);
                device.read(READ_AT, readBack, read);
                waitFor(() -> held.count() > 0, "the target answered a command (held back)");

                final long seen = ini.counters().framesReceived.sum() + ini.rxDropped();
                int sent = 0;
                for (final byte[] f : frames)
                {
                    if (stranger.send(ByteBuffer.wrap(f), f.length))
                    {
                        sent++;
                    }
                }
                final int expected = sent;
                waitFor(() -> ini.counters().framesReceived.sum() + ini.rxDropped() >= seen + expected,
                    "the initiator's NIC took every forged frame");
                held.release();

                final IoError writeError = write.await();
                final IoError readError = read.await();
                final DeviceStats stats = device.stats();
                assertEquals(0, ini.counters().handlerFailures.sum(), "no exception escaped the receive handler");
                assertEquals(0, stats.engineErrors(), () -> "engine duty cycles that threw: " + stats.lastEngineError());
                assertEquals(0, stats.callbackFailures(), "no callback threw");
                assertFalse(stats.givenUp(), "the device did not give up");
                if (!spoofTarget)
                {
                    assertNull(writeError, "the write succeeded");
                    assertNull(readError, "the read succeeded");
                    assertArrayEquals(Arrays.copyOfRange(before, (int)READ_AT, (int)READ_AT + IO), readBack.array(),
                        "the read returned the target's bytes");
                    assertArrayEquals(written, Arrays.copyOfRange(target.disk(), (int)WRITE_AT, (int)WRITE_AT + IO),
                        "the write reached the target");
                }
                write.assertOnce();
                read.assertOnce();
            }
            finally
            {
                held.release();
                target.close();
            }
        }
    }

    /** The input's frames, each addressed to the initiator and, unless allowed, not from the target. */
    private static List<byte[]> frames(final byte[] input, final boolean spoofTarget)
    {
        final List<byte[]> frames = new ArrayList<>();
        int at = 1;
        while (frames.size() < MAX_FRAMES && at + 2 <= input.length)
        {
            final int declared = (input[at] & 0xFF) << 8 | input[at + 1] & 0xFF;
            at += 2;
            final int length = Math.min(declared, input.length - at);
            final byte[] f = Arrays.copyOfRange(input, at, at + Math.max(length, 14));
            at += length;
            final ByteBuffer b = ByteBuffer.wrap(f);
            Bytes.mac(b, 0, INITIATOR_MAC);
            if (!spoofTarget && Bytes.mac(b, 6) == TARGET_MAC)
            {
                Bytes.mac(b, 6, STRANGER_MAC);
            }
            frames.add(f);
        }
        return frames;
    }

    private static void waitFor(final BooleanSupplier condition, final String what)
    {
        final long deadline = System.nanoTime() + DEADLINE.toNanos();
        while (!condition.getAsBoolean())
        {
            if (System.nanoTime() - deadline > 0)
            {
                fail("not within " + DEADLINE + ": " + what);
            }
            LockSupport.parkNanos(50_000);
        }
    }

    /** Holds back what the target sends while {@link #hold} is set; {@link #release} lets it all through. */
    private static final class Held implements MemoryHub.Interceptor
    {
        private final List<Runnable> frames = new ArrayList<>();
        volatile boolean hold;

        @Override
        public synchronized void intercept(final MemoryHub.Nic source, final byte[] frame, final MemoryHub.Forwarder forward)
        {
            if (hold && source.mac() == TARGET_MAC)
            {
                frames.add(() -> forward.deliver(frame));
                return;
            }
            forward.deliver(frame);
        }

        synchronized int count()
        {
            return frames.size();
        }

        synchronized void release()
        {
            hold = false;
            frames.forEach(Runnable::run);
            frames.clear();
        }
    }

    /** A request's callback: how often it ran and with what. */
    private static final class Completion implements org.aoemp.block.IoCallback
    {
        private final AtomicInteger calls = new AtomicInteger();
        private final CompletableFuture<IoError> first = new CompletableFuture<>();

        @Override
        public void complete(final IoError error)
        {
            calls.incrementAndGet();
            first.complete(error);
        }

        IoError await() throws Exception
        {
            try
            {
                return first.get(DEADLINE.toSeconds(), TimeUnit.SECONDS);
            }
            catch (final TimeoutException e)
            {
                throw new AssertionError("a request did not complete within " + DEADLINE, e);
            }
        }

        void assertOnce()
        {
            assertEquals(1, calls.get(), "callback ran exactly once");
        }
    }
}
