package org.aoemp.nbd;

import java.net.InetAddress;
import java.net.InetSocketAddress;
import java.nio.charset.StandardCharsets;
import java.time.Duration;
import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.Objects;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicBoolean;

import io.netty.bootstrap.ServerBootstrap;
import io.netty.channel.AdaptiveRecvByteBufAllocator;
import io.netty.buffer.ByteBufAllocator;
import io.netty.buffer.PooledByteBufAllocator;
import io.netty.channel.Channel;
import io.netty.channel.ChannelInitializer;
import io.netty.channel.ChannelOption;
import io.netty.channel.EventLoopGroup;
import io.netty.channel.IoHandlerFactory;
import io.netty.channel.MultiThreadIoEventLoopGroup;
import io.netty.channel.WriteBufferWaterMark;
import io.netty.channel.epoll.Epoll;
import io.netty.channel.epoll.EpollIoHandler;
import io.netty.channel.epoll.EpollServerDomainSocketChannel;
import io.netty.channel.epoll.EpollServerSocketChannel;
import io.netty.channel.group.ChannelGroup;
import io.netty.channel.group.DefaultChannelGroup;
import io.netty.channel.nio.NioIoHandler;
import io.netty.channel.socket.nio.NioServerSocketChannel;
import io.netty.channel.unix.DomainSocketAddress;
import io.netty.handler.flush.FlushConsolidationHandler;
import io.netty.util.AttributeKey;
import io.netty.util.concurrent.GlobalEventExecutor;
import org.aoemp.block.BlockDevice;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * An NBD server (fixed newstyle, simple replies) exporting {@link BlockDevice}s over TCP, so
 * {@code nbd-client localhost /dev/nbd0}, qemu, nbdcopy or fio can use them.
 *
 * <pre>{@code
 * try (NbdServer server = NbdServer.start(new InetSocketAddress(InetAddress.getLoopbackAddress(), 10809),
 *         Map.of("disk", device), "disk", false))
 * {
 *     System.out.println("serving " + server.uri());
 *     ...
 * }
 * }</pre>
 *
 * <p>Per connection the pipeline is {@code FlushConsolidationHandler → HandshakeHandler}, which
 * after GO becomes {@code FlushConsolidationHandler → RequestDecoder → TransmissionHandler}.
 * Netty's epoll transport is used when its native library loads, NIO otherwise. Devices are
 * shared by every connection and never closed by the server.
 *
 * <p>Who may connect ({@link Builder#listen(List)}, {@link Builder#allow}, {@link Builder#tls}):
 * the server listens on one or more TCP addresses and Unix-domain sockets; TCP clients outside
 * the allow-list are closed before the greeting; TLS is negotiated with NBD_OPT_STARTTLS.
 *
 * <p>Exports may be added and removed while the server runs ({@link #addExport},
 * {@link #removeExport}); connections on other exports are not touched. The server may also
 * serve a listening socket it inherited (systemd socket activation, {@link Builder#inheritedFd}).
 *
 * <p>Threads: {@link #start}, {@link #close}, {@link #addExport} and {@link #removeExport} from
 * any thread (changes are serialised); connections live on the server's event loops.
 */
public final class NbdServer implements AutoCloseable
{
    /** IANA port for NBD. */
    public static final int DEFAULT_PORT = 10809;

    /** Default payload bytes held by all connections together. */
    public static final long DEFAULT_MAX_TOTAL_IN_FLIGHT_BYTES = 256L << 20;

    /** Default time a request may wait for its device before the client gets EIO. */
    public static final Duration DEFAULT_REQUEST_TIMEOUT = Duration.ofMinutes(2);

    private static final Logger LOG = LoggerFactory.getLogger(NbdServer.class);

    /** The export a connection transmits on, set when its handshake ends with GO or EXPORT_NAME. */
    static final AttributeKey<Export> EXPORT = AttributeKey.valueOf(NbdServer.class, "export");

    /** Which Netty transport to use. */
    public enum Transport
    {
        /** Epoll when available, else NIO. */
        AUTO,
        EPOLL,
        NIO
    }

    private final EventLoopGroup group;
    /** One per listen address (or the inherited socket), in the order given; the first names {@link #uri}. */
    private final List<Channel> serverChannels = new ArrayList<>();
    /** The Unix-domain sockets this server created, removed when it closes. */
    private final List<java.nio.file.Path> unixSockets = new ArrayList<>();
    private final AllowList allow;
    private final TlsSettings tls;
    private final RateLimitedLog refusals = new RateLimitedLog(LOG);
    private final ChannelGroup connections;
    private final ServerConfig config;
    private final boolean epoll;
    private final boolean readOnly;
    private final int inheritedFd;
    private final Duration closeTimeout;
    private final AtomicBoolean closed = new AtomicBoolean();

    private NbdServer(final Builder b, final ServerConfig config)
    {
        this.config = config;
        this.closeTimeout = b.closeTimeout;
        this.readOnly = b.readOnly;
        this.inheritedFd = b.inheritedFd;
        this.allow = b.allow;
        this.tls = b.tls;
        final boolean unix = b.listens.stream().anyMatch(l -> l instanceof ListenAddress.Unix);
        if (inheritedFd >= 0 && b.transport == Transport.NIO)
        {
            throw new IllegalArgumentException("an inherited socket needs the epoll transport, not NIO");
        }
        if (unix && b.transport == Transport.NIO)
        {
            throw new IllegalArgumentException("a Unix-domain socket needs the epoll transport, not NIO");
        }
        this.epoll = switch (b.transport)
        {
            case AUTO ->
            {
                if (inheritedFd >= 0 || unix)
                {
                    // Only epoll can wrap a file descriptor or serve a Unix socket; say why when its native library does not load.
                    Epoll.ensureAvailability();
                    yield true;
                }
                yield Epoll.isAvailable();
            }
            case EPOLL ->
            {
                Epoll.ensureAvailability();
                yield true;
            }
            case NIO -> false;
        };
        final IoHandlerFactory handlers = epoll ? EpollIoHandler.newFactory() : NioIoHandler.newFactory();
        this.group = new MultiThreadIoEventLoopGroup(b.ioThreads, handlers);
        this.connections = new DefaultChannelGroup("nbd-connections", GlobalEventExecutor.INSTANCE);
        try
        {
            if (inheritedFd >= 0)
            {
                // Already bound and listening (systemd did both): wrap it and register, do not bind.
                final int fd = inheritedFd;
                serverChannels.add(tcpBootstrap(b).channelFactory(() -> new EpollServerSocketChannel(fd)).register()
                    .syncUninterruptibly().channel());
            }
            else
            {
                for (final ListenAddress l : b.listens)
                {
                    serverChannels.add(switch (l)
                    {
                        case ListenAddress.Tcp t -> tcpBootstrap(b).channel(epoll ? EpollServerSocketChannel.class : NioServerSocketChannel.class)
                            .bind(t.resolve()).syncUninterruptibly().channel();
                        case ListenAddress.Unix u -> bindUnix(b, u.path());
                    });
                }
            }
        }
        catch (final RuntimeException e)
        {
            serverChannels.forEach(ch -> ch.close().awaitUninterruptibly());
            removeUnixSockets();
            group.shutdownGracefully(0, 0, TimeUnit.MILLISECONDS).syncUninterruptibly();
            throw e;
        }
        final List<String> where = new ArrayList<>();
        serverChannels.forEach(ch -> where.add(describe(ch.localAddress())));
        LOG.info("NBD server on {} ({}{}), exports {}, {}, clients allowed: {}", String.join(", ", where), epoll ? "epoll" : "nio",
            inheritedFd >= 0 ? ", inherited socket fd " + inheritedFd : "", exportNames(), tls, allow);
    }

    /** Accepts TCP clients: Nagle off; the allow-list is checked before the greeting. */
    private ServerBootstrap tcpBootstrap(final Builder b)
    {
        return common(new ServerBootstrap().group(group), b)
            .option(ChannelOption.SO_REUSEADDR, true)
            .childOption(ChannelOption.TCP_NODELAY, true);
    }

    private ServerBootstrap common(final ServerBootstrap bootstrap, final Builder b)
    {
        return bootstrap
            .option(ChannelOption.SO_BACKLOG, 128)
            .childOption(ChannelOption.ALLOCATOR, b.allocator == null ? defaultAllocator() : b.allocator)
            // Reads grow up to 1 MiB so a large WRITE arrives in a few syscalls, not one per 64 KiB.
            .childOption(ChannelOption.RCVBUF_ALLOCATOR, new AdaptiveRecvByteBufAllocator(512, 16 * 1024, 1 << 20))
            .childOption(ChannelOption.WRITE_BUFFER_WATER_MARK, new WriteBufferWaterMark(b.lowWaterMark, b.highWaterMark))
            .childHandler(new ChannelInitializer<>()
            {
                @Override
                protected void initChannel(final Channel ch)
                {
                    if (!allowed(ch))
                    {
                        return;
                    }
                    connections.add(ch);
                    final long opened = System.nanoTime();
                    ch.closeFuture().addListener(f -> logClosed(ch, opened));
                    ch.pipeline()
                        .addLast("flush", new FlushConsolidationHandler(256, true))
                        .addLast("nbd-handshake", new HandshakeHandler(config, tls));
                }
            });
    }

    /**
     * Whether a new connection may go on to the handshake. A TCP client outside the allow-list is
     * closed before it reads a byte, and logged (at most one line a second). Unix-socket clients
     * are governed by the socket file's permissions instead.
     */
    private boolean allowed(final Channel ch)
    {
        if (ch.remoteAddress() instanceof InetSocketAddress peer && peer.getAddress() != null && !allow.allows(peer.getAddress()))
        {
            refusals.warn("NBD client {} refused: not in the allow-list ({})", peer, allow);
            ch.close();
            return false;
        }
        return true;
    }

    /**
     * Binds a Unix-domain socket at {@code path} with mode 0660. A socket file left by a server that
     * died is replaced; a live one, or a file that is not a socket, is not.
     */
    private Channel bindUnix(final Builder b, final java.nio.file.Path path)
    {
        UnixSockets.removeStale(path);
        final Channel ch = common(new ServerBootstrap().group(group), b).channel(EpollServerDomainSocketChannel.class)
            .bind(new DomainSocketAddress(path.toString())).syncUninterruptibly().channel();
        unixSockets.add(path);
        UnixSockets.restrictToOwnerAndGroup(path);
        return ch;
    }

    private void removeUnixSockets()
    {
        for (final java.nio.file.Path p : unixSockets)
        {
            UnixSockets.remove(p);
        }
        unixSockets.clear();
    }

    private static String describe(final java.net.SocketAddress a)
    {
        return a instanceof DomainSocketAddress d ? ListenAddress.UNIX_PREFIX + d.path() : String.valueOf(a);
    }

    private static void logClosed(final Channel ch, final long openedNanos)
    {
        final Export export = ch.attr(EXPORT).get();
        if (export != null)
        {
            LOG.info("NBD client {} closed export '{}' after {} s", describe(ch.remoteAddress()), export.name(),
                String.format(java.util.Locale.ROOT, "%.1f", (System.nanoTime() - openedNanos) / 1e9));
        }
        else
        {
            LOG.debug("NBD client {} closed during the handshake", describe(ch.remoteAddress()));
        }
    }

    /**
     * Starts a server with default limits.
     *
     * @param listen        address to bind, or null for loopback port {@value #DEFAULT_PORT}; port 0
     *                      picks a free one (see {@link #port()})
     * @param exports       export name → device, in the order LIST reports them
     * @param defaultExport the export the name {@code ""} selects, or null for the first one
     * @param readOnly      whether every export is read-only (a read-only device always is)
     */
    public static NbdServer start(
        final InetSocketAddress listen, final Map<String, BlockDevice> exports, final String defaultExport, final boolean readOnly)
    {
        final Builder b = builder().exports(exports).defaultExport(defaultExport).readOnly(readOnly);
        return (listen == null ? b : b.listen(listen)).start();
    }

    public static Builder builder()
    {
        return new Builder();
    }

    /** The port actually bound on the first TCP address; -1 when the server listens on Unix sockets only. */
    public int port()
    {
        final InetSocketAddress a = address();
        return a == null ? -1 : a.getPort();
    }

    /** The first TCP address it listens on (the port actually bound); null when it listens on Unix sockets only. */
    public InetSocketAddress address()
    {
        for (final Channel ch : serverChannels)
        {
            if (ch.localAddress() instanceof InetSocketAddress a)
            {
                return a;
            }
        }
        return null;
    }

    /** Every address it listens on, in the order given: TCP ({@code HOST:PORT}, the port bound) and {@code unix:PATH}. */
    public List<ListenAddress> listenAddresses()
    {
        final List<ListenAddress> out = new ArrayList<>();
        for (final Channel ch : serverChannels)
        {
            out.add(ch.localAddress() instanceof DomainSocketAddress d ? new ListenAddress.Unix(java.nio.file.Path.of(d.path()))
                : ListenAddress.of((InetSocketAddress)ch.localAddress()));
        }
        return out;
    }

    /** The TLS mode and certificates. */
    public TlsSettings tls()
    {
        return tls;
    }

    public boolean usesEpoll()
    {
        return epoll;
    }

    public List<String> exportNames()
    {
        final List<String> names = new ArrayList<>();
        config.exports().forEach(e -> names.add(e.name()));
        return names;
    }

    /** The exports now, in LIST order, with their counters (monitoring; any thread). */
    public List<Export> exports()
    {
        return config.exports();
    }

    /** The URI of the default export, e.g. {@code nbd://127.0.0.1:10809}. */
    public String uri()
    {
        return uri("");
    }

    /**
     * The URI of a named export on the first listen address, as libnbd, qemu and fio take it:
     * {@code nbd://127.0.0.1:10809/NAME}, {@code nbd+unix:///NAME?socket=PATH}, and {@code nbds}
     * instead of {@code nbd} when TLS is on. A server bound to the wildcard address is shown as the
     * loopback address.
     */
    public String uri(final String exportName)
    {
        return uri(exportName, listenAddresses().get(0));
    }

    /** The URI of a named export on one of {@link #listenAddresses()}. */
    public String uri(final String exportName, final ListenAddress on)
    {
        final String scheme = tls.mode() == TlsSettings.Mode.OFF ? "nbd" : "nbds";
        final String path = exportName.isEmpty() ? "" : "/" + percentEncode(exportName);
        if (on instanceof ListenAddress.Unix u)
        {
            return scheme + "+unix://" + (path.isEmpty() ? "/" : path) + "?socket=" + percentEncode(u.path().toString());
        }
        final ListenAddress.Tcp t = (ListenAddress.Tcp)on;
        final InetAddress bound = new InetSocketAddress(t.host(), t.port()).getAddress();
        final InetAddress ip = bound != null && bound.isAnyLocalAddress() ? InetAddress.getLoopbackAddress() : bound;
        final String host = ip == null ? t.host()
            : ip.getAddress().length == 16 ? "[" + ip.getHostAddress() + "]" : ip.getHostAddress();
        return scheme + "://" + host + ":" + t.port() + path;
    }

    /** Whether it serves a socket it inherited rather than one it bound. */
    public boolean inherited()
    {
        return inheritedFd >= 0;
    }

    /**
     * Adds an export while the server runs: new handshakes see it at once (LIST, INFO, GO).
     *
     * @param readOnly whether clients may not write (the server's read-only setting and a
     *                 read-only device make it read-only too)
     * @throws IllegalArgumentException when an export of that name exists
     */
    public synchronized void addExport(final String name, final BlockDevice device, final boolean readOnly)
    {
        if (closed.get())
        {
            throw new IllegalStateException("server is closed");
        }
        if (!config.add(new Export(name, device, readOnly || this.readOnly)))
        {
            throw new IllegalArgumentException("export '" + name + "' exists already");
        }
        LOG.info("NBD export '{}' added", name);
    }

    /**
     * Removes an export while the server runs: new handshakes no longer see it, and each
     * connection on it stops reading, finishes the requests it has in flight (requests still
     * arriving get ESHUTDOWN), then closes; connections still busy after the close timeout are
     * closed regardless. Returns when every connection on the export is closed, so its device may
     * then be closed. Connections on other exports are not touched.
     *
     * @return false when there is no export of that name
     */
    public synchronized boolean removeExport(final String name)
    {
        final Export removed = config.remove(name);
        if (removed == null)
        {
            return false;
        }
        final List<Channel> on = new ArrayList<>();
        for (final Channel ch : connections)
        {
            if (ch.attr(EXPORT).get() == removed)
            {
                on.add(ch);
                ch.pipeline().fireUserEventTriggered(ShutdownEvent.INSTANCE);
            }
        }
        final CompletableFuture<?>[] closing = new CompletableFuture<?>[on.size()];
        for (int i = 0; i < on.size(); i++)
        {
            final CompletableFuture<Void> f = new CompletableFuture<>();
            on.get(i).closeFuture().addListener(x -> f.complete(null));
            closing[i] = f;
        }
        try
        {
            CompletableFuture.allOf(closing).get(closeTimeout.toMillis(), TimeUnit.MILLISECONDS);
        }
        catch (final java.util.concurrent.TimeoutException e)
        {
            LOG.warn("NBD export '{}': connections still busy after {}; closing them", name, closeTimeout);
            on.forEach(ch -> ch.close().awaitUninterruptibly());
        }
        catch (final InterruptedException e)
        {
            Thread.currentThread().interrupt();
            on.forEach(ch -> ch.close().awaitUninterruptibly());
        }
        catch (final java.util.concurrent.ExecutionException e)
        {
            throw new IllegalStateException(e);
        }
        LOG.info("NBD export '{}' removed ({} connection(s) on it closed)", name, on.size());
        return true;
    }

    /** Payload bytes all connections hold right now (READ data and WRITE payloads admitted and not yet answered). */
    public long inFlightBytes()
    {
        return config.budget().heldBytes();
    }

    /** Number of open client connections, in handshake or transmission. */
    public int connectionCount()
    {
        return connections.size();
    }

    /**
     * Stops accepting, lets every connection finish the requests it has in flight (new ones get
     * ESHUTDOWN, handshakes are cut), closes them, then stops the event loops. Connections still
     * busy after the close timeout are closed regardless; their late completions are dropped
     * and their buffers released. Idempotent.
     */
    @Override
    public synchronized void close()
    {
        if (!closed.compareAndSet(false, true))
        {
            return;
        }
        serverChannels.forEach(ch -> ch.close().syncUninterruptibly());
        removeUnixSockets();
        for (final Channel ch : connections)
        {
            ch.pipeline().fireUserEventTriggered(ShutdownEvent.INSTANCE);
        }
        if (!connections.newCloseFuture().awaitUninterruptibly(closeTimeout.toMillis()))
        {
            LOG.warn("NBD connections still busy after {}; closing them", closeTimeout);
            connections.close().awaitUninterruptibly();
        }
        group.shutdownGracefully(0, 2, TimeUnit.SECONDS).syncUninterruptibly();
        final List<String> where = new ArrayList<>();
        serverChannels.forEach(ch -> where.add(describe(ch.localAddress())));
        LOG.info("NBD server on {} closed", String.join(", ", where));
    }

    @Override
    public String toString()
    {
        return "NbdServer[" + uri() + ", exports " + exportNames() + "]";
    }

    /**
     * The allocator servers use unless told otherwise: pooled, direct, shared by every server in
     * the JVM, with 16 MiB chunks instead of Netty's 4 MiB. READ replies of 1 MiB and more are
     * common here; with 4 MiB chunks a chunk holds only three of them, empties often and is freed
     * and re-allocated (zeroed) again and again, which profiling showed costing more than the
     * copy of the data itself.
     */
    public static ByteBufAllocator defaultAllocator()
    {
        return DefaultAllocator.INSTANCE;
    }

    private static final class DefaultAllocator
    {
        static final ByteBufAllocator INSTANCE = new PooledByteBufAllocator(
            true,
            0,
            PooledByteBufAllocator.defaultNumDirectArena(),
            PooledByteBufAllocator.defaultPageSize(),
            11,
            PooledByteBufAllocator.defaultSmallCacheSize(),
            PooledByteBufAllocator.defaultNormalCacheSize(),
            true);
    }

    private static String percentEncode(final String s)
    {
        final StringBuilder out = new StringBuilder();
        for (final byte b : s.getBytes(StandardCharsets.UTF_8))
        {
            final char c = (char)(b & 0xff);
            if ((c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') || "-._~/".indexOf(c) >= 0)
            {
                out.append(c);
            }
            else
            {
                out.append('%').append(Character.toUpperCase(Character.forDigit(c >> 4, 16)))
                    .append(Character.toUpperCase(Character.forDigit(c & 0xf, 16)));
            }
        }
        return out.toString();
    }

    /** Settings for {@link NbdServer}; every one has a default except the exports. */
    public static final class Builder
    {
        private List<ListenAddress> listens = List.of(ListenAddress.of(
            new InetSocketAddress(InetAddress.getLoopbackAddress(), DEFAULT_PORT)));
        private int inheritedFd = -1;
        private AllowList allow = AllowList.EVERYONE;
        private TlsSettings tls = TlsSettings.OFF;
        private final Map<String, BlockDevice> exports = new LinkedHashMap<>();
        private String defaultExport;
        private boolean readOnly;
        private Transport transport = Transport.AUTO;
        private int ioThreads;
        private ByteBufAllocator allocator;
        private int maxOptions = 256;
        private Duration handshakeTimeout = Duration.ofSeconds(30);
        private Duration closeTimeout = Duration.ofSeconds(30);
        private long maxInFlightBytes = 64L << 20;
        private int maxInFlightRequests = 1024;
        private long maxTotalInFlightBytes = DEFAULT_MAX_TOTAL_IN_FLIGHT_BYTES;
        private Duration requestTimeout = DEFAULT_REQUEST_TIMEOUT;
        private int lowWaterMark = 4 << 20;
        private int highWaterMark = 16 << 20;

        private Builder()
        {
        }

        /** Default: loopback, port {@value #DEFAULT_PORT}; port 0 picks a free port. */
        public Builder listen(final InetSocketAddress listen)
        {
            return listen(List.of(ListenAddress.of(Objects.requireNonNull(listen, "listen"))));
        }

        /**
         * Listens on each address: TCP ones and Unix-domain sockets (created with mode 0660,
         * removed when the server closes; they need the epoll transport). At least one.
         */
        public Builder listen(final List<ListenAddress> addresses)
        {
            if (addresses.isEmpty())
            {
                throw new IllegalArgumentException("at least one listen address");
            }
            this.listens = List.copyOf(addresses);
            return this;
        }

        /** TCP clients outside these blocks are closed before the handshake; default: everyone. */
        public Builder allow(final AllowList allow)
        {
            this.allow = Objects.requireNonNull(allow, "allow");
            return this;
        }

        /** TLS mode and certificates ({@link TlsSettings#load}); default off. */
        public Builder tls(final TlsSettings tls)
        {
            this.tls = Objects.requireNonNull(tls, "tls");
            return this;
        }

        /**
         * Serve the listening TCP socket on file descriptor {@code fd}, already bound and
         * listening (systemd socket activation passes it as fd 3), instead of binding
         * {@link #listen}. Needs the epoll transport.
         */
        public Builder inheritedFd(final int fd)
        {
            if (fd < 0)
            {
                throw new IllegalArgumentException("file descriptor must be >= 0: " + fd);
            }
            this.inheritedFd = fd;
            return this;
        }

        public Builder export(final String name, final BlockDevice device)
        {
            exports.put(Objects.requireNonNull(name, "name"), Objects.requireNonNull(device, "device"));
            return this;
        }

        /** Adds every entry, in the map's iteration order (the order LIST reports). */
        public Builder exports(final Map<String, BlockDevice> exports)
        {
            exports.forEach(this::export);
            return this;
        }

        /** The export that the name {@code ""} selects; default: the first one added. */
        public Builder defaultExport(final String name)
        {
            this.defaultExport = name;
            return this;
        }

        public Builder readOnly(final boolean readOnly)
        {
            this.readOnly = readOnly;
            return this;
        }

        public Builder transport(final Transport transport)
        {
            this.transport = Objects.requireNonNull(transport, "transport");
            return this;
        }

        /** Event loop threads; 0 (the default) lets Netty choose (twice the cores). */
        public Builder ioThreads(final int ioThreads)
        {
            this.ioThreads = ioThreads;
            return this;
        }

        /** Allocator for receive and reply buffers; default {@link NbdServer#defaultAllocator()}. */
        public Builder allocator(final ByteBufAllocator allocator)
        {
            this.allocator = Objects.requireNonNull(allocator, "allocator");
            return this;
        }

        /** Options allowed in one handshake before the server hangs up; default 256. */
        public Builder maxOptions(final int maxOptions)
        {
            this.maxOptions = maxOptions;
            return this;
        }

        /** Time from connect to GO before the server hangs up; default 30 s. */
        public Builder handshakeTimeout(final Duration timeout)
        {
            this.handshakeTimeout = Objects.requireNonNull(timeout, "timeout");
            return this;
        }

        /** How long {@link NbdServer#close()} waits for in-flight requests; default 30 s. */
        public Builder closeTimeout(final Duration timeout)
        {
            this.closeTimeout = Objects.requireNonNull(timeout, "timeout");
            return this;
        }

        /**
         * Per connection: payload bytes (READ data, WRITE payloads) held from admission until the
         * reply is written, before reading pauses; default 64 MiB. A single request larger than
         * this (up to 32 MiB) is still admitted when the connection holds nothing else.
         */
        public Builder maxInFlightBytes(final long bytes)
        {
            this.maxInFlightBytes = bytes;
            return this;
        }

        /** Per connection: requests admitted and not yet answered before reading pauses; default 1024. */
        public Builder maxInFlightRequests(final int requests)
        {
            this.maxInFlightRequests = requests;
            return this;
        }

        /**
         * All connections together: payload bytes held before connections pause; default 256 MiB,
         * at least 32 MiB (one largest request).
         */
        public Builder maxTotalInFlightBytes(final long bytes)
        {
            this.maxTotalInFlightBytes = bytes;
            return this;
        }

        /**
         * Time a request may wait for the device before the client gets EIO for it (its buffers
         * stay held until the device does complete); default 2 minutes.
         */
        public Builder requestTimeout(final Duration timeout)
        {
            this.requestTimeout = Objects.requireNonNull(timeout, "timeout");
            return this;
        }

        /** Per connection outbound buffer water marks; default 4 MiB / 16 MiB. */
        public Builder writeWaterMarks(final int low, final int high)
        {
            this.lowWaterMark = low;
            this.highWaterMark = high;
            return this;
        }

        /** Binds (or takes the inherited socket) and starts serving; with no exports yet, clients see an empty list. */
        public NbdServer start()
        {
            final List<Export> list = new ArrayList<>();
            exports.forEach((name, device) -> list.add(new Export(name, device, readOnly)));
            if (defaultExport != null && list.stream().noneMatch(e -> e.name().equals(defaultExport)))
            {
                throw new IllegalArgumentException("default export '" + defaultExport + "' is not an export");
            }
            if (maxOptions < 1 || maxInFlightBytes < 1 || maxInFlightRequests < 1 || lowWaterMark > highWaterMark
                || requestTimeout.toMillis() < 1)
            {
                throw new IllegalArgumentException("limits must be positive and low water mark <= high");
            }
            if (maxTotalInFlightBytes < RequestCheck.MAX_PAYLOAD)
            {
                throw new IllegalArgumentException("total in-flight bytes must be at least " + RequestCheck.MAX_PAYLOAD
                    + " (one largest request): " + maxTotalInFlightBytes);
            }
            return new NbdServer(this, new ServerConfig(list, defaultExport, maxOptions, handshakeTimeout.toMillis(),
                maxInFlightBytes, maxInFlightRequests, maxTotalInFlightBytes, requestTimeout.toMillis()));
        }
    }
}
