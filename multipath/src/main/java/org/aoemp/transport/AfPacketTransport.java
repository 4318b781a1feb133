package org.aoemp.transport;

import static java.lang.foreign.ValueLayout.ADDRESS;
import static java.lang.foreign.ValueLayout.JAVA_BYTE;
import static java.lang.foreign.ValueLayout.JAVA_INT;
import static java.lang.foreign.ValueLayout.JAVA_LONG;
import static java.lang.foreign.ValueLayout.JAVA_SHORT;

import java.lang.foreign.Arena;
import java.lang.foreign.FunctionDescriptor;
import java.lang.foreign.Linker;
import java.lang.foreign.MemoryLayout;
import java.lang.foreign.MemorySegment;
import java.lang.foreign.StructLayout;
import java.lang.invoke.MethodHandle;
import java.lang.invoke.VarHandle;
import java.nio.ByteBuffer;
import java.nio.ByteOrder;
import java.util.concurrent.locks.StampedLock;

import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * {@link FrameTransport} over a Linux {@code AF_PACKET} raw socket, called through
 * {@code java.lang.foreign} (no JNA, no libpcap). Measured at about the cost of the same calls
 * from C, and it allocates nothing per frame.
 *
 * <p>The socket is created with protocol 0, so it receives nothing until {@code bind} attaches
 * it to exactly one interface and EtherType 0x88A2; creating it with the protocol already set
 * would queue AoE frames from every interface during the gap before {@code bind}.
 * {@code PACKET_IGNORE_OUTGOING} hides our own transmissions, and {@code SO_RCVTIMEO} bounds
 * each blocking {@code recv} so the receive thread sees {@link #close} within
 * {@value #RECEIVE_TIMEOUT_MILLIS} ms.
 *
 * <p>Threading: the receive agent "aoe-rx-&lt;ifname&gt;" owns the receive buffer and is the only
 * caller of {@code recv}; it calls the handler. {@link #send} may be called from any number of
 * threads at once: each thread stages through its own native buffer, and a {@link StampedLock}
 * read stamp (a CAS, never a wait) keeps the descriptor open while a send is in the kernel.
 * {@link #close} may be called from any thread, including from inside the handler (lifecycle:
 * {@link KernelTransport}).
 */
public final class AfPacketTransport extends KernelTransport
{
    /** How long one blocking {@code recv} waits before the receive thread re-checks for close. */
    static final int RECEIVE_TIMEOUT_MILLIS = 50;
    /** Frames one duty cycle of the receive agent takes at most. */
    static final int RECEIVE_BATCH = 64;
    /** Requested socket buffer sizes; as root we force them past {@code net.core.rmem_max}. */
    static final int SOCKET_BUFFER_BYTES = 4 << 20;
    /** Receive buffer: at least a 9000-MTU jumbo frame with a VLAN tag, with room to spare. */
    static final int MIN_RECEIVE_BUFFER = 9216;
    /** Largest frame a sending thread can stage from a heap buffer. */
    static final int STAGING_BYTES = 65536 + 32;

    private static final Logger LOG = LoggerFactory.getLogger(AfPacketTransport.class);

    private final int fd;
    private final Arena arena = Arena.ofShared();
    private final MemorySegment receiveSegment;
    private final ByteBuffer receiveView;
    private final MemorySegment receiveErrno;
    private final StampedLock sendGate = new StampedLock();

    private volatile int lastSendErrno;
    private volatile int lastReceiveErrno;
    /** Receive thread only: failed {@code recv} calls since the last one that returned a frame or timed out. */
    private int failuresInARow;

    /**
     * Opens an AF_PACKET socket bound to {@code ifName} for EtherType 0x88A2.
     *
     * @throws TransportException when the interface does not exist, the process lacks
     *                            CAP_NET_RAW, or the kernel refuses the socket
     */
    public AfPacketTransport(final String ifName)
    {
        this(NetInterfaces.lookup(ifName));
    }

    private AfPacketTransport(final NetInterfaces.Info info)
    {
        super(info);
        int socket = -1;
        try
        {
            socket = Libc.openPacketSocket(name, info.index());
            this.fd = socket;
            final int size = (int)Math.max(MIN_RECEIVE_BUFFER, (long)mtu + 14 + 4);
            receiveSegment = arena.allocate(size, 64);
            receiveView = receiveSegment.asByteBuffer();
            receiveErrno = arena.allocate(Libc.CAPTURE_LAYOUT);
        }
        catch (final RuntimeException | Error e)
        {
            if (socket >= 0)
            {
                Libc.close(socket);
            }
            arena.close();
            abandon();
            throw e;
        }
    }

    /** The socket's descriptor (tests provoke receive errors through it). */
    int fd()
    {
        return fd;
    }

    /**
     * Binds the socket to the new interface of the same name: a packet socket may be bound again,
     * the kernel unhooks it from the old device (gone anyway) and hooks it to the new one, and
     * sending threads need nothing new (sends carry no address). The send gate keeps the
     * descriptor open meanwhile.
     */
    @Override
    boolean followReplacedInterface(final NetInterfaces.Info now)
    {
        final long stamp = sendGate.tryReadLock();
        if (stamp == 0)
        {
            return false;  // closing
        }
        try
        {
            Libc.rebind(fd, name, now.index());
            return true;
        }
        finally
        {
            sendGate.unlockRead(stamp);
        }
    }

    /** Sends use {@code MSG_DONTWAIT}. */
    @Override
    public boolean sendNeverWaits()
    {
        return true;
    }

    /**
     * {@inheritDoc}
     *
     * <p>A direct buffer is sent straight from its memory; a heap buffer is copied into the calling
     * thread's native staging buffer first. Uses {@code MSG_DONTWAIT}: a full socket buffer is a
     * {@code false}, not a wait.
     */
    @Override
    public boolean send(final ByteBuffer frame, final int length)
    {
        final long stamp = sendGate.tryReadLock();
        if (stamp == 0)
        {
            counters.sendFailures.increment();
            return false;
        }
        try
        {
            final Libc.SenderState state = Libc.SENDER.get();
            final MemorySegment source = state.source(frame, length);
            if (source == null)
            {
                counters.sendFailures.increment();
                return false;
            }
            final long sent = Libc.send(state.errno, fd, source, length);
            if (sent == length)
            {
                counters.sent(length);
                return true;
            }
            // EAGAIN/ENOBUFS (queue full), ENETDOWN/ENXIO (link down or gone), EMSGSIZE: all mean "not now".
            lastSendErrno = sent < 0 ? Libc.errno(state.errno) : 0;
            counters.sendFailures.increment();
            return false;
        }
        finally
        {
            sendGate.unlockRead(stamp);
        }
    }

    /** errno of the most recent failed send, 0 if none failed yet; for diagnostics. */
    public int lastSendErrno()
    {
        return lastSendErrno;
    }

    /** errno of the most recent receive error other than a timeout (EMSGSIZE: an oversized frame), 0 if none; for diagnostics. */
    public int lastReceiveErrno()
    {
        return lastReceiveErrno;
    }

    /** Shuts the send gate for good, after in-flight sends (which never block) have left the kernel. */
    @Override
    void stopSends()
    {
        sendGate.writeLock();
    }

    /** Nothing to do: a blocked {@code recv} returns within {@value #RECEIVE_TIMEOUT_MILLIS} ms anyway. */
    @Override
    void wakeReceiver()
    {
    }

    @Override
    void releaseResources()
    {
        Libc.close(fd);
        arena.close();
    }

    /**
     * Up to {@value #RECEIVE_BATCH} frames, each from a blocking {@code recv} (so a busy link costs
     * one system call per frame, as in C); a receive timeout ends the batch early. The runner
     * calls this again at once (no idle strategy: the wait is the {@code recv}).
     */
    @Override
    int receiveBatch()
    {
        int frames = 0;
        while (frames < RECEIVE_BATCH && !closed)
        {
            final long n = Libc.recv(receiveErrno, fd, receiveSegment, receiveSegment.byteSize());
            if (n < 0)
            {
                final int errno = Libc.errno(receiveErrno);
                if (errno == Libc.EAGAIN || errno == Libc.EINTR)
                {
                    failuresInARow = 0;  // the socket works, the link is just quiet
                    break;               // receive timeout: let the runner look at the closed flag
                }
                onReceiveError(errno);
                break;
            }
            frames++;
            failuresInARow = 0;
            final int length = (int)n;
            if (length > receiveSegment.byteSize())
            {
                // MSG_TRUNC reports the real length: larger than our buffer means the MTU grew after open.
                lastReceiveErrno = Libc.EMSGSIZE;
                counters.receiveErrors.increment();
                continue;
            }
            if (!closed && Transports.isForStation(receiveView, length, mac))
            {
                deliver(receiveView, length);
            }
        }
        return frames;
    }

    /** Receive thread: counts a failed {@code recv}; throws unless it is the one ENETDOWN of a link going down. */
    private void onReceiveError(final int errno)
    {
        lastReceiveErrno = errno;
        counters.receiveErrors.increment();
        failuresInARow++;
        // ENETDOWN is reported once when the link goes down: the kernel's packet_notifier has unhooked
        // the socket from the device (NETDEV_DOWN) and re-hooks it by itself on NETDEV_UP, because the
        // socket is still bound to a protocol; a recv-based socket (no PACKET_MMAP ring, no fanout)
        // needs nothing redone. So a single ENETDOWN only asks us to keep receiving; re-binding would
        // be a no-op (same device and protocol), and a new socket would race with sending threads.
        if (errno == Libc.ENETDOWN && failuresInARow == 1)
        {
            LOG.debug("{}: link went down (ENETDOWN from recv); receiving on", name);
            return;
        }
        // Anything else, or a failure that repeats, must not turn into a busy loop: the runner counts
        // and logs this (rate-limited) and its error handler backs off before the next recv.
        throw new TransportException("recv on '" + name + "' failed: " + Libc.strerror(errno) + " (errno " + errno + ", "
            + failuresInARow + " in a row)");
    }

    @Override
    public String toString()
    {
        return "afpacket:" + name;
    }

    /**
     * The few libc calls this transport makes, as {@code java.lang.foreign} downcalls that capture
     * errno. Linux x86-64/aarch64 constants. Downcalls are restricted methods: run with
     * {@code --enable-native-access=ALL-UNNAMED} (or the module's name), or the JDK warns once.
     */
    @SuppressWarnings("restricted")
    static final class Libc
    {
        static final int AF_PACKET = 17;
        static final int SOCK_RAW = 3;
        static final int SOL_SOCKET = 1;
        static final int SO_SNDBUF = 7;
        static final int SO_RCVBUF = 8;
        static final int SO_RCVTIMEO = 20;
        static final int SO_SNDBUFFORCE = 32;
        static final int SO_RCVBUFFORCE = 33;
        static final int SOL_PACKET = 263;
        static final int PACKET_IGNORE_OUTGOING = 23;
        static final int MSG_TRUNC = 0x20;
        static final int MSG_DONTWAIT = 0x40;
        static final int ETH_P_AOE = 0x88A2;

        static final int EPERM = 1;
        static final int EINTR = 4;
        static final int ENXIO = 6;
        static final int EAGAIN = 11;
        static final int EACCES = 13;
        static final int ENODEV = 19;
        static final int EMSGSIZE = 90;
        static final int EAFNOSUPPORT = 97;
        static final int ENETDOWN = 100;

        static final StructLayout CAPTURE_LAYOUT = Linker.Option.captureStateLayout();
        private static final VarHandle ERRNO = CAPTURE_LAYOUT.varHandle(MemoryLayout.PathElement.groupElement("errno"));

        private static final MethodHandle SOCKET;
        private static final MethodHandle BIND;
        private static final MethodHandle SETSOCKOPT;
        private static final MethodHandle RECV;
        private static final MethodHandle SEND;
        private static final MethodHandle CLOSE;
        private static final MethodHandle STRERROR;

        /** Per sending thread: errno capture, staging buffer, and the last direct buffer seen. */
        static final ThreadLocal<SenderState> SENDER = ThreadLocal.withInitial(SenderState::new);

        static
        {
            final Linker linker = Linker.nativeLinker();
            final Linker.Option errno = Linker.Option.captureCallState("errno");
            SOCKET = downcall(linker, "socket", FunctionDescriptor.of(JAVA_INT, JAVA_INT, JAVA_INT, JAVA_INT), errno);
            BIND = downcall(linker, "bind", FunctionDescriptor.of(JAVA_INT, JAVA_INT, ADDRESS, JAVA_INT), errno);
            SETSOCKOPT = downcall(linker, "setsockopt",
                FunctionDescriptor.of(JAVA_INT, JAVA_INT, JAVA_INT, JAVA_INT, ADDRESS, JAVA_INT), errno);
            RECV = downcall(linker, "recv", FunctionDescriptor.of(JAVA_LONG, JAVA_INT, ADDRESS, JAVA_LONG, JAVA_INT), errno);
            SEND = downcall(linker, "send", FunctionDescriptor.of(JAVA_LONG, JAVA_INT, ADDRESS, JAVA_LONG, JAVA_INT), errno);
            CLOSE = linker.downcallHandle(linker.defaultLookup().findOrThrow("close"), FunctionDescriptor.of(JAVA_INT, JAVA_INT));
            STRERROR = linker.downcallHandle(linker.defaultLookup().findOrThrow("strerror"), FunctionDescriptor.of(ADDRESS, JAVA_INT));
        }

        private Libc()
        {
        }

        private static MethodHandle downcall(final Linker linker, final String symbol, final FunctionDescriptor descriptor,
            final Linker.Option option)
        {
            return linker.downcallHandle(linker.defaultLookup().findOrThrow(symbol), descriptor, option);
        }

        static int errno(final MemorySegment capture)
        {
            return (int)ERRNO.get(capture, 0L);
        }

        static String strerror(final int errno)
        {
            try
            {
                final MemorySegment text = (MemorySegment)STRERROR.invokeExact(errno);
                return text.reinterpret(256).getString(0);
            }
            catch (final Throwable t)
            {
                return "errno " + errno;
            }
        }

        /**
         * socket + bind to {@code ifindex} for EtherType 0x88A2 + options; returns the descriptor.
         * Closes the socket again if any step fails.
         */
        static int openPacketSocket(final String ifName, final int ifindex)
        {
            try (Arena scratch = Arena.ofConfined())
            {
                final MemorySegment capture = scratch.allocate(CAPTURE_LAYOUT);
                final int fd = (int)SOCKET.invokeExact(capture, AF_PACKET, SOCK_RAW, 0);
                if (fd < 0)
                {
                    final int err = errno(capture);
                    if (err == EPERM || err == EACCES)
                    {
                        throw new TransportException("AF_PACKET needs root or CAP_NET_RAW (socket(AF_PACKET, SOCK_RAW) on '"
                            + ifName + "' failed: " + strerror(err) + "); run as root, or grant the capability with "
                            + "'setcap cap_net_raw,cap_net_admin=eip " + javaBinary() + "'");
                    }
                    if (err == EAFNOSUPPORT)
                    {
                        throw new TransportException("this kernel has no AF_PACKET support (" + strerror(err) + "); use the pcap transport");
                    }
                    throw new TransportException("socket(AF_PACKET) for '" + ifName + "' failed: " + strerror(err));
                }
                try
                {
                    configure(scratch, capture, fd);
                    bind(scratch, capture, fd, ifName, ifindex);
                    return fd;
                }
                catch (final RuntimeException | Error e)
                {
                    close(fd);
                    throw e;
                }
            }
            catch (final RuntimeException | Error e)
            {
                throw e;
            }
            catch (final Throwable t)
            {
                throw new TransportException("cannot open AF_PACKET socket on '" + ifName + "': " + t, t);
            }
        }

        /** Binds an open packet socket to another interface (one of the same name, created again). */
        static void rebind(final int fd, final String ifName, final int ifindex)
        {
            try (Arena scratch = Arena.ofConfined())
            {
                bind(scratch, scratch.allocate(CAPTURE_LAYOUT), fd, ifName, ifindex);
            }
            catch (final RuntimeException | Error e)
            {
                throw e;
            }
            catch (final Throwable t)
            {
                throw new TransportException("cannot bind the AF_PACKET socket to '" + ifName + "' again: " + t, t);
            }
        }

        private static void configure(final Arena scratch, final MemorySegment capture, final int fd) throws Throwable
        {
            final MemorySegment one = scratch.allocate(JAVA_INT);
            one.set(JAVA_INT, 0, 1);
            setsockopt(capture, fd, SOL_PACKET, PACKET_IGNORE_OUTGOING, one, "PACKET_IGNORE_OUTGOING");

            final MemorySegment timeout = scratch.allocate(16, 8);  // struct timeval { long tv_sec; long tv_usec; }
            timeout.set(JAVA_LONG, 0, 0);
            timeout.set(JAVA_LONG, 8, RECEIVE_TIMEOUT_MILLIS * 1000L);
            setsockopt(capture, fd, SOL_SOCKET, SO_RCVTIMEO, timeout, "SO_RCVTIMEO");

            final MemorySegment size = scratch.allocate(JAVA_INT);
            size.set(JAVA_INT, 0, SOCKET_BUFFER_BYTES);
            // The FORCE variants (CAP_NET_ADMIN) may exceed rmem_max/wmem_max; without them the kernel caps quietly.
            if ((int)SETSOCKOPT.invokeExact(capture, fd, SOL_SOCKET, SO_RCVBUFFORCE, size, 4) != 0)
            {
                setsockopt(capture, fd, SOL_SOCKET, SO_RCVBUF, size, "SO_RCVBUF");
            }
            if ((int)SETSOCKOPT.invokeExact(capture, fd, SOL_SOCKET, SO_SNDBUFFORCE, size, 4) != 0)
            {
                setsockopt(capture, fd, SOL_SOCKET, SO_SNDBUF, size, "SO_SNDBUF");
            }
        }

        private static void setsockopt(final MemorySegment capture, final int fd, final int level, final int option,
            final MemorySegment value, final String what) throws Throwable
        {
            final int rc = (int)SETSOCKOPT.invokeExact(capture, fd, level, option, value, (int)value.byteSize());
            if (rc != 0)
            {
                throw new TransportException("setsockopt(" + what + ") failed: " + strerror(errno(capture))
                    + (option == PACKET_IGNORE_OUTGOING ? " (needs Linux 4.20 or newer)" : ""));
            }
        }

        private static void bind(final Arena scratch, final MemorySegment capture, final int fd, final String ifName,
            final int ifindex) throws Throwable
        {
            // struct sockaddr_ll: family(2, host order) protocol(2, network order) ifindex(4) hatype(2) pkttype(1) halen(1) addr(8)
            final MemorySegment address = scratch.allocate(20, 4);
            address.set(JAVA_SHORT, 0, (short)AF_PACKET);
            address.set(JAVA_SHORT.withOrder(ByteOrder.BIG_ENDIAN), 2, (short)ETH_P_AOE);
            address.set(JAVA_INT, 4, ifindex);
            if ((int)BIND.invokeExact(capture, fd, address, (int)address.byteSize()) != 0)
            {
                final int err = errno(capture);
                if (err == ENODEV || err == ENXIO)
                {
                    throw new TransportException("interface '" + ifName + "' does not exist (it disappeared while opening)");
                }
                throw new TransportException("bind(AF_PACKET) to '" + ifName + "' (ifindex " + ifindex + ") failed: " + strerror(err));
            }
        }

        static long recv(final MemorySegment capture, final int fd, final MemorySegment buffer, final long size)
        {
            try
            {
                return (long)RECV.invokeExact(capture, fd, buffer, size, MSG_TRUNC);
            }
            catch (final Throwable t)
            {
                throw new IllegalStateException("recv downcall failed", t);
            }
        }

        static long send(final MemorySegment capture, final int fd, final MemorySegment buffer, final int length)
        {
            try
            {
                return (long)SEND.invokeExact(capture, fd, buffer, (long)length, MSG_DONTWAIT);
            }
            catch (final Throwable t)
            {
                throw new IllegalStateException("send downcall failed", t);
            }
        }

        static void close(final int fd)
        {
            try
            {
                final int ignored = (int)CLOSE.invokeExact(fd);
            }
            catch (final Throwable t)
            {
                LOG.warn("close({}) failed", fd, t);
            }
        }

        private static String javaBinary()
        {
            return ProcessHandle.current().info().command().orElse("<path to java>");
        }

        /**
         * Native state of one sending thread, shared by all transports that thread sends on.
         * Allocated once per thread from an automatic arena: the GC frees it after the thread dies.
         */
        static final class SenderState
        {
            final MemorySegment errno;
            private final MemorySegment staging;
            private final ByteBuffer stagingView;
            private ByteBuffer lastDirect;
            private MemorySegment lastDirectSegment;

            SenderState()
            {
                final Arena arena = Arena.ofAuto();
                errno = arena.allocate(CAPTURE_LAYOUT);
                staging = arena.allocate(STAGING_BYTES, 64);
                stagingView = staging.asByteBuffer();
            }

            /**
             * Native memory holding bytes {@code [0, length)} of {@code frame}, or null when they do
             * not fit. A direct buffer is used in place; its segment (spanning the whole buffer,
             * whatever its position) is remembered, so a thread that keeps sending from the same
             * buffer creates no garbage. The cached segment keeps the buffer's own liveness checks.
             */
            MemorySegment source(final ByteBuffer frame, final int length)
            {
                if (length < 0 || length > frame.capacity())
                {
                    return null;
                }
                if (frame.isDirect())
                {
                    if (frame != lastDirect)
                    {
                        lastDirectSegment = MemorySegment.ofBuffer(frame.duplicate().clear());
                        lastDirect = frame;
                    }
                    return lastDirectSegment;
                }
                if (length > STAGING_BYTES)
                {
                    return null;
                }
                if (frame.hasArray())
                {
                    MemorySegment.copy(frame.array(), frame.arrayOffset(), staging, JAVA_BYTE, 0, length);
                }
                else
                {
                    stagingView.put(0, frame, 0, length);
                }
                return staging;
            }
        }
    }
}
