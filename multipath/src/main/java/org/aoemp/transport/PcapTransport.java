package org.aoemp.transport;

import java.nio.ByteBuffer;
import java.util.Locale;

import org.aoemp.agent.AgentTerminationException;
import org.aoemp.protocol.MacAddress;
import org.pcap4j.core.BpfProgram.BpfCompileMode;
import org.pcap4j.core.NotOpenException;
import org.pcap4j.core.PcapHandle;
import org.pcap4j.core.PcapHandle.PcapDirection;
import org.pcap4j.core.PcapNativeException;
import org.pcap4j.core.PcapNetworkInterface.PromiscuousMode;
import org.pcap4j.core.RawPacketListener;

/**
 * {@link FrameTransport} over libpcap through pcap4j 1.8.2: the portable choice (Linux, macOS,
 * Windows with Npcap), about 1 µs per frame dearer than {@link AfPacketTransport} on Linux and one
 * byte[] of garbage per received frame (pcap4j's, not ours).
 *
 * <p>The handle runs in immediate mode (no block batching), receives only (direction IN, so our
 * own frames do not come back), and its BPF filter passes only AoE frames sent to this NIC or to a
 * group address. On Linux a blocking read never times out on an idle link, so the receive agent
 * sits in {@code pcap_loop} (one loop per duty cycle, broken after {@value #RECEIVE_BATCH} frames)
 * and {@link #close} wakes it with {@code pcap_breakloop}.
 *
 * <p>Threading: the receive agent "aoe-rx-&lt;ifname&gt;" is the only reader of the handle and
 * calls the handler. {@link #send} may be called from any thread (on Linux it is a plain
 * {@code send()} on the packet socket, disjoint from the receive ring); each thread stages into its
 * own byte[]. {@link #close} may be called from any thread (lifecycle: {@link KernelTransport}).
 */
public final class PcapTransport extends KernelTransport
{
    /** libpcap's read timeout; on Linux it does not fire on an idle link, but other platforms use it. */
    static final int READ_TIMEOUT_MILLIS = 100;
    static final int MIN_BUFFER_BYTES = 8 << 20;
    /** Ring slots wanted at least, so a burst of jumbo frames does not overrun an 8 MiB ring. */
    static final int MIN_RING_FRAMES = 2048;
    static final int STAGING_BYTES = 65536 + 32;
    /** Frames one {@code pcap_loop} (one duty cycle of the receive agent) takes at most. */
    static final int RECEIVE_BATCH = 256;

    private static final ThreadLocal<byte[]> STAGING = ThreadLocal.withInitial(() -> new byte[STAGING_BYTES]);

    private final int snaplen;
    private final PcapHandle handle;
    private final byte[] receiveBytes;
    private final ByteBuffer receiveView;

    private final RawPacketListener listener = this::onPacket;

    private volatile String lastSendError;
    /** Receive thread only: frames taken by the current {@code pcap_loop}, and a handler failure to report after it. */
    private int batchFrames;
    private HandlerFailure handlerFailure;

    /**
     * Opens a live capture handle on {@code ifName}.
     *
     * @throws TransportException when libpcap is missing, the interface does not exist, or the
     *                            process may not capture on it
     */
    public PcapTransport(final String ifName)
    {
        super(NetInterfaces.lookup(ifName));
        // Ethernet header + 802.1Q tag + MTU; frames never come with an FCS on Linux.
        this.snaplen = Math.max(mtu + 18, 1518);
        this.receiveBytes = new byte[snaplen];
        this.receiveView = ByteBuffer.wrap(receiveBytes);
        try
        {
            this.handle = openHandle(ifName, snaplen, filterFor(mac));
        }
        catch (final RuntimeException | Error e)
        {
            abandon();
            throw e;
        }
    }

    private static String filterFor(final long mac)
    {
        final String aoe = "ether proto 0x88a2";
        return mac == 0 ? aoe : aoe + " and (ether dst " + new MacAddress(mac) + " or ether multicast)";
    }

    private static PcapHandle openHandle(final String ifName, final int snaplen, final String filter)
    {
        final long ring = Math.max(MIN_BUFFER_BYTES, (long)MIN_RING_FRAMES * (snaplen + 128));
        final PcapHandle handle;
        try
        {
            handle = new PcapHandle.Builder(ifName)
                .snaplen(snaplen)
                .promiscuousMode(PromiscuousMode.NONPROMISCUOUS)
                .immediateMode(true)
                .bufferSize((int)Math.min(ring, 256L << 20))
                .timeoutMillis(READ_TIMEOUT_MILLIS)
                .direction(PcapDirection.IN)
                .build();
        }
        catch (final LinkageError e)
        {
            throw new TransportException("libpcap is not available (" + linkProblem(e) + "); install it (Debian: "
                + "apt-get install libpcap0.8) or use the afpacket transport", e);
        }
        catch (final PcapNativeException e)
        {
            throw openFailure(ifName, e);
        }
        try
        {
            handle.setFilter(filter, BpfCompileMode.OPTIMIZE);
            return handle;
        }
        catch (final PcapNativeException | NotOpenException e)
        {
            handle.close();
            throw new TransportException("cannot set the BPF filter '" + filter + "' on '" + ifName + "': " + e.getMessage(), e);
        }
    }

    /** The telling line of a JNA load failure, whose full message lists the whole classpath. */
    private static String linkProblem(final Throwable e)
    {
        Throwable root = e;
        while (root.getCause() != null && root.getCause() != root)
        {
            root = root.getCause();
        }
        final String message = String.valueOf(root.getMessage());
        final String line = message.lines().filter(l -> l.contains("cannot open shared object")).findFirst()
            .orElse(message.lines().findFirst().orElse(root.toString()));
        return line.length() > 200 ? line.substring(0, 200) + "..." : line;
    }

    private static TransportException openFailure(final String ifName, final PcapNativeException e)
    {
        final String message = String.valueOf(e.getMessage());
        final String lower = message.toLowerCase(Locale.ROOT);
        if (lower.contains("permission") || lower.contains("not permitted"))
        {
            return new TransportException("libpcap needs root or CAP_NET_RAW to capture on '" + ifName + "' (" + message
                + "); run as root, or grant it with 'setcap cap_net_raw,cap_net_admin=eip <path of java>'", e);
        }
        if (lower.contains("no such device") || lower.contains("doesn't exist") || lower.contains("does not exist"))
        {
            return new TransportException("interface '" + ifName + "' does not exist (" + message + ")", e);
        }
        return new TransportException("cannot open a pcap handle on '" + ifName + "': " + message, e);
    }

    /** Bytes captured per frame at most: MTU plus Ethernet header and one VLAN tag. */
    public int snaplen()
    {
        return snaplen;
    }

    /**
     * {@inheritDoc}
     *
     * <p>A heap buffer whose array starts at offset 0 is handed to libpcap as it is; anything else
     * is copied into the calling thread's staging array first.
     */
    @Override
    public boolean send(final ByteBuffer frame, final int length)
    {
        if (closed || length < 0 || length > frame.capacity())
        {
            counters.sendFailures.increment();
            return false;
        }
        final byte[] bytes;
        if (frame.hasArray() && frame.arrayOffset() == 0)
        {
            bytes = frame.array();
        }
        else if (length <= STAGING_BYTES)
        {
            bytes = STAGING.get();
            frame.get(0, bytes, 0, length);
        }
        else
        {
            counters.sendFailures.increment();
            return false;
        }
        try
        {
            handle.sendPacket(bytes, length);
            counters.sent(length);
            return true;
        }
        catch (final PcapNativeException | NotOpenException e)
        {
            // "Network is down", "No buffer space available", or closed under us: all "not now".
            lastSendError = e.getMessage();
            counters.sendFailures.increment();
            return false;
        }
    }

    /** libpcap's message for the most recent failed send, null if none failed yet; for diagnostics. */
    public String lastSendError()
    {
        return lastSendError;
    }

    /** Breaks {@code pcap_loop} (or the next one, if the receive thread is not in it right now). */
    @Override
    void wakeReceiver()
    {
        breakLoop();
    }

    @Override
    void releaseResources()
    {
        handle.close();
    }

    /**
     * Runs {@code pcap_loop} until the callback has taken {@value #RECEIVE_BATCH} frames (it then
     * calls {@code pcap_breakloop}), a handler threw, or {@link #close} broke the loop. On an idle
     * Linux link the loop waits in the kernel until then. A JNA callback cannot throw through
     * {@code pcap_loop}, so a handler's failure is kept and thrown here, after the loop.
     */
    @Override
    int receiveBatch() throws Exception
    {
        batchFrames = 0;
        try
        {
            handle.loop(-1, listener);
        }
        catch (final InterruptedException e)
        {
            // pcap_breakloop: a full batch, a failed handler, close(), or a stale break; the runner decides.
        }
        catch (final PcapNativeException e)
        {
            // e.g. "The interface went down": the runner logs it and its error handler backs off.
            counters.receiveErrors.increment();
            throw new TransportException("pcap_loop on '" + name + "' failed: " + e.getMessage(), e);
        }
        catch (final NotOpenException e)
        {
            throw new AgentTerminationException("pcap handle closed");
        }
        final HandlerFailure failure = handlerFailure;
        if (failure != null)
        {
            handlerFailure = null;
            throw failure;
        }
        return batchFrames;
    }

    private void onPacket(final byte[] packet)
    {
        if (closed)
        {
            breakLoop();
            return;
        }
        final int length = Math.min(packet.length, receiveBytes.length);
        System.arraycopy(packet, 0, receiveBytes, 0, length);
        try
        {
            deliver(receiveView, length);
        }
        catch (final HandlerFailure e)
        {
            endBatch(e);
            handlerFailure = e;  // reported by receiveBatch: nothing may throw into libpcap
            breakLoop();
            return;
        }
        try
        {
            // pcap_loop may wait in the kernel for the next frame: each frame is a batch of its own
            endBatch(null);
        }
        catch (final HandlerFailure e)
        {
            handlerFailure = e;
            breakLoop();
            return;
        }
        if (++batchFrames >= RECEIVE_BATCH)
        {
            breakLoop();
        }
    }

    private void breakLoop()
    {
        try
        {
            handle.breakLoop();
        }
        catch (final NotOpenException e)
        {
            // Already closed: nothing left to wake.
        }
    }

    /** A pcap handle is opened on a device by name and cannot be moved to a new one: the transport stays down. */
    @Override
    boolean followReplacedInterface(final NetInterfaces.Info now)
    {
        return false;
    }

    @Override
    public String toString()
    {
        return "pcap:" + name;
    }
}
