package org.aoemp.bench;

import java.lang.management.ManagementFactory;
import java.nio.ByteBuffer;
import java.util.Locale;
import java.util.concurrent.TimeUnit;

import org.aoemp.protocol.Bytes;
import org.aoemp.protocol.MacAddress;
import org.aoemp.transport.FrameTransport;
import org.aoemp.transport.MemoryHub;
import org.aoemp.transport.Transports;

/**
 * Raw frame rate and CPU cost per frame of one {@link FrameTransport}: sends 1060-byte AoE-typed
 * frames (EtherType 0x88A2, the size of an AoE frame carrying 1024 data bytes) as fast as the
 * transport accepts them, or receives and counts them.
 *
 * <pre>
 * TransportRate afpacket|pcap send    IFNAME SECONDS [PEER_MAC]
 * TransportRate afpacket|pcap receive IFNAME SECONDS
 * TransportRate memory        both    -      SECONDS
 * </pre>
 *
 * <p>Timing, so that a sender and a receiver started independently measure the same steady state:
 * the sender sends for 1 s of warm-up, {@code SECONDS} measured, then 1 s of tail; the receiver
 * waits for the first frame, skips 1 s, then measures {@code SECONDS}. CPU is the whole process's
 * CPU time (all threads: sender or receive thread, JIT, GC) over the measured window only, divided
 * by the frames moved in that window, so start-up and warm-up are excluded but every cost the
 * steady state incurs is in. The one-line result on stdout is what {@code bench/transport-rate.sh}
 * parses; it has the same shape as the C reference program's ({@code bench/c/afpacket_rate.c}).
 *
 * <p>Threading: the main thread sends (or watches the counters); a receiving transport counts on
 * its own receive thread through its {@link FrameTransport#counters()}.
 */
public final class TransportRate
{
    /** 14 Ethernet + 10 AoE + 12 ATA header + 1024 data bytes. */
    static final int FRAME_BYTES = 1060;
    static final int AOE_ETHERTYPE = 0x88A2;
    static final long WARMUP_NANOS = TimeUnit.SECONDS.toNanos(1);
    static final long TAIL_NANOS = TimeUnit.SECONDS.toNanos(1);
    /** A receiver that sees no first frame within this long gives up (the sender never started). */
    static final long FIRST_FRAME_TIMEOUT_NANOS = TimeUnit.SECONDS.toNanos(30);
    /** Frames sent between two looks at the clock; small next to the ~10^5..10^6 frames per second. */
    private static final int CLOCK_CHECK_INTERVAL = 256;

    private static final com.sun.management.OperatingSystemMXBean OS =
        (com.sun.management.OperatingSystemMXBean)ManagementFactory.getOperatingSystemMXBean();

    private TransportRate()
    {
    }

    public static void main(final String[] args) throws Exception
    {
        if (args.length < 4)
        {
            System.err.println("usage: TransportRate afpacket|pcap send IFNAME SECONDS [PEER_MAC]\n"
                + "       TransportRate afpacket|pcap receive IFNAME SECONDS\n"
                + "       TransportRate memory both - SECONDS");
            System.exit(2);
        }
        final String kind = args[0].toLowerCase(Locale.ROOT);
        final String role = args[1].toLowerCase(Locale.ROOT);
        final String ifName = args[2];
        final long measureNanos = TimeUnit.MILLISECONDS.toNanos((long)(Double.parseDouble(args[3]) * 1000));
        final long peer = args.length > 4 ? MacAddress.parse(args[4]).bits() : MacAddress.BROADCAST_BITS;

        if (kind.equals("memory"))
        {
            memory(measureNanos);
            return;
        }
        try (FrameTransport transport = Transports.open(kind, ifName))
        {
            switch (role)
            {
                case "send" -> send(kind, transport, peer, measureNanos);
                case "receive" -> receive(kind, transport, measureNanos);
                default -> throw new IllegalArgumentException("role must be send or receive: " + role);
            }
        }
    }

    /**
     * A frame as an initiator would send it: our header, then an AoE ATA header, then data.
     * Direct memory for afpacket (sent straight from it), a heap array for pcap and memory (handed
     * over as they are), so each transport gets the buffer it is fastest with.
     */
    static ByteBuffer frame(final String kind, final long source, final long destination)
    {
        final ByteBuffer frame = kind.equals(Transports.AFPACKET) ? ByteBuffer.allocateDirect(FRAME_BYTES) : ByteBuffer.allocate(FRAME_BYTES);
        Bytes.mac(frame, 0, destination);
        Bytes.mac(frame, 6, source);
        Bytes.u16be(frame, 12, AOE_ETHERTYPE);
        Bytes.u8(frame, 14, 0x10);        // AoE version 1, no flags: a request
        Bytes.u16be(frame, 16, 0xFFFE);   // shelf no target answers to
        Bytes.u8(frame, 18, 0);           // slot
        Bytes.u8(frame, 19, 0);           // command 0: issue ATA command
        return frame;
    }

    private static void send(final String kind, final FrameTransport transport, final long peer, final long measureNanos)
    {
        final ByteBuffer frame = frame(kind, transport.mac(), peer);
        final long start = System.nanoTime();
        final long measureFrom = start + WARMUP_NANOS;
        final long measureTo = measureFrom + measureNanos;
        final long end = measureTo + TAIL_NANOS;
        long sent = 0;
        long refused = 0;
        long sentAtFrom = -1;
        long refusedAtFrom = 0;
        long cpuAtFrom = 0;
        long nanosAtFrom = 0;
        long sentInWindow = -1;
        long refusedInWindow = 0;
        long cpuInWindow = 0;
        long nanosInWindow = 0;
        int tag = 0;
        while (true)
        {
            for (int i = 0; i < CLOCK_CHECK_INTERVAL; i++)
            {
                frame.putInt(20, tag++);
                if (transport.send(frame, FRAME_BYTES))
                {
                    sent++;
                }
                else
                {
                    refused++;
                }
            }
            final long now = System.nanoTime();
            if (sentAtFrom < 0 && now >= measureFrom)
            {
                sentAtFrom = sent;
                refusedAtFrom = refused;
                cpuAtFrom = OS.getProcessCpuTime();
                nanosAtFrom = now;
            }
            // Not "else": a sender descheduled for over a second (a busy shared machine) must
            // still close a window it just opened rather than run past the end without one.
            if (sentAtFrom >= 0 && sentInWindow < 0 && now >= measureTo)
            {
                cpuInWindow = OS.getProcessCpuTime() - cpuAtFrom;
                nanosInWindow = now - nanosAtFrom;
                sentInWindow = sent - sentAtFrom;
                refusedInWindow = refused - refusedAtFrom;
            }
            if (now >= end && sentInWindow >= 0)
            {
                break;
            }
        }
        report(kind, "send", sentInWindow, nanosInWindow, cpuInWindow, "refused=" + refusedInWindow);
    }

    private static void receive(final String kind, final FrameTransport transport, final long measureNanos) throws InterruptedException
    {
        // The handler does nothing: the transport counts every frame it delivers, which is what we read.
        transport.start((frame, length) -> { });
        final long waitedFrom = System.nanoTime();
        while (transport.counters().framesReceived.sum() == 0)
        {
            if (System.nanoTime() - waitedFrom > FIRST_FRAME_TIMEOUT_NANOS)
            {
                System.err.println("TransportRate: no frame arrived on " + transport.name() + " within 30 s");
                System.exit(1);
            }
            Thread.sleep(1);
        }
        Thread.sleep(TimeUnit.NANOSECONDS.toMillis(WARMUP_NANOS));
        final long framesFrom = transport.counters().framesReceived.sum();
        final long cpuFrom = OS.getProcessCpuTime();
        final long nanosFrom = System.nanoTime();
        Thread.sleep(TimeUnit.NANOSECONDS.toMillis(measureNanos));
        final long frames = transport.counters().framesReceived.sum() - framesFrom;
        final long cpu = OS.getProcessCpuTime() - cpuFrom;
        final long nanos = System.nanoTime() - nanosFrom;
        report(kind, "receive", frames, nanos, cpu, "");
    }

    /**
     * Two NICs on one {@link MemoryHub}: the main thread sends on one, the other's receive thread
     * takes the frames. Reports both sides; CPU is the one process's, so it is divided by the frames
     * received (the ones that made it all the way) on the receive line and by those sent on the send line.
     */
    private static void memory(final long measureNanos) throws InterruptedException
    {
        try (MemoryHub hub = new MemoryHub())
        {
            final MemoryHub.Nic a = hub.attach("mem0", 0x02_00_00_00_00_01L, 1500);
            final MemoryHub.Nic b = hub.attach("mem1", 0x02_00_00_00_00_02L, 1500);
            b.start((frame, length) -> { });
            final ByteBuffer frame = frame("memory", a.mac(), b.mac());
            final long start = System.nanoTime();
            final long measureFrom = start + WARMUP_NANOS;
            final long measureTo = measureFrom + measureNanos;
            long sentFrom = -1;
            long receivedFrom = 0;
            long droppedFrom = 0;
            long cpuFrom = 0;
            long nanosFrom = 0;
            long now;
            int tag = 0;
            do
            {
                for (int i = 0; i < CLOCK_CHECK_INTERVAL; i++)
                {
                    frame.putInt(20, tag++);
                    a.send(frame, FRAME_BYTES);
                }
                now = System.nanoTime();
                if (sentFrom < 0 && now >= measureFrom)
                {
                    sentFrom = a.counters().framesSent.sum();
                    receivedFrom = b.counters().framesReceived.sum();
                    droppedFrom = b.rxDropped();
                    cpuFrom = OS.getProcessCpuTime();
                    nanosFrom = now;
                }
            }
            while (now < measureTo);
            final long sent = a.counters().framesSent.sum() - sentFrom;
            final long received = b.counters().framesReceived.sum() - receivedFrom;
            final long dropped = b.rxDropped() - droppedFrom;
            final long cpu = OS.getProcessCpuTime() - cpuFrom;
            final long nanos = now - nanosFrom;
            report("memory", "send", sent, nanos, cpu, "dropped=" + dropped);
            report("memory", "receive", received, nanos, cpu, "dropped=" + dropped);
        }
    }

    private static void report(final String kind, final String role, final long frames, final long nanos, final long cpuNanos, final String extra)
    {
        final double seconds = nanos / 1e9;
        final double fps = frames / seconds;
        final double cpuMicrosPerFrame = frames > 0 ? cpuNanos / 1e3 / frames : Double.NaN;
        System.out.printf(Locale.ROOT, "RESULT impl=java-%s role=%s frames=%d seconds=%.3f fps=%.0f cpu_s=%.3f cpu_us_per_frame=%.3f %s%n",
            kind, role, frames, seconds, fps, cpuNanos / 1e9, cpuMicrosPerFrame, extra);
    }
}
