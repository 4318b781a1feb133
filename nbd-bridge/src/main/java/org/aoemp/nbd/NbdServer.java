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
import io.netty.channel.ServerChannel;
import io.netty.channel.WriteBufferWaterMark;
import io.netty.channel.epoll.Epoll;
import io.netty.channel.epoll.EpollIoHandler;
import io.netty.channel.epoll.EpollServerSocketChannel;
import io.netty.channel.group.ChannelGroup;
import io.netty.channel.group.DefaultChannelGroup;
import io.netty.channel.nio.NioIoHandler;
import io.netty.channel.socket.nio.NioServerSocketChannel;
import io.netty.handler.flush.FlushConsolidationHandler;
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
 * <p>Threads: {@link #start} and {@link #close} from any thread; connections live on the
 * server's event loops.
 */
public final class NbdServer implements AutoCloseable
{
    /** IANA port for NBD. */
    public static final int DEFAULT_PORT = 10809;

    private static final Logger LOG = LoggerFactory.getLogger(NbdServer.class);

    /** Which Netty transport to use. */
    public enum Transport
    {
        /** Epoll when available, else NIO. */
        AUTO,
        EPOLL,
        NIO
    }

    private final EventLoopGroup group;
    private final Channel serverChannel;
    private final ChannelGroup connections;
    private final ServerConfig config;
    private final boolean epoll;
    private final Duration closeTimeout;
    private final AtomicBoolean closed = new AtomicBoolean();

    private NbdServer(final Builder b, final ServerConfig config)
    {
        this.config = config;
        this.closeTimeout = b.closeTimeout;
        this.epoll = switch (b.transport)
        {
            case AUTO -> Epoll.isAvailable();
            case EPOLL ->
            {
                Epoll.ensureAvailability();
                yield true;
            }
            case NIO -> false;
        };
        final IoHandlerFactory handlers = epoll ? EpollIoHandler.newFactory() : NioIoHandler.newFactory();
        final Class<? extends ServerChannel> channelClass = epoll ? EpollServerSocketChannel.class : NioServerSocketChannel.class;
        this.group = new MultiThreadIoEventLoopGroup(b.ioThreads, handlers);
        this.connections = new DefaultChannelGroup("nbd-connections", GlobalEventExecutor.INSTANCE);
        try
        {
            this.serverChannel = new ServerBootstrap()
                .group(group)
                .channel(channelClass)
                .option(ChannelOption.SO_REUSEADDR, true)
                .option(ChannelOption.SO_BACKLOG, 128)
                .childOption(ChannelOption.TCP_NODELAY, true)
                .childOption(ChannelOption.ALLOCATOR, b.allocator == null ? defaultAllocator() : b.allocator)
                // Reads grow up to 1 MiB so a large WRITE arrives in a few syscalls, not one per 64 KiB.
                .childOption(ChannelOption.RCVBUF_ALLOCATOR, new AdaptiveRecvByteBufAllocator(512, 16 * 1024, 1 << 20))
                .childOption(ChannelOption.WRITE_BUFFER_WATER_MARK, new WriteBufferWaterMark(b.lowWaterMark, b.highWaterMark))
                .childHandler(new ChannelInitializer<>()
                {
                    @Override
                    protected void initChannel(final Channel ch)
                    {
                        connections.add(ch);
                        ch.pipeline()
                            .addLast("flush", new FlushConsolidationHandler(256, true))
                            .addLast("nbd-handshake", new HandshakeHandler(config));
                    }
                })
                .bind(b.listen)
                .syncUninterruptibly()
                .channel();
        }
        catch (final RuntimeException e)
        {
            group.shutdownGracefully(0, 0, TimeUnit.MILLISECONDS).syncUninterruptibly();
            throw e;
        }
        LOG.info("NBD server on {} ({}), exports {}", serverChannel.localAddress(), epoll ? "epoll" : "nio", exportNames());
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

    /** The port actually bound. */
    public int port()
    {
        return address().getPort();
    }

    public InetSocketAddress address()
    {
        return (InetSocketAddress)serverChannel.localAddress();
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

    /** The URI of the default export, e.g. {@code nbd://127.0.0.1:10809}. */
    public String uri()
    {
        return uri("");
    }

    /**
     * The URI of a named export, as libnbd, qemu and fio take it: {@code nbd://127.0.0.1:10809/NAME}.
     * A server bound to the wildcard address is shown as the loopback address.
     */
    public String uri(final String exportName)
    {
        final InetSocketAddress a = address();
        final InetAddress ip = a.getAddress() != null && a.getAddress().isAnyLocalAddress()
            ? InetAddress.getLoopbackAddress() : a.getAddress();
        final String host = ip == null ? a.getHostString()
            : ip.getAddress().length == 16 ? "[" + ip.getHostAddress() + "]" : ip.getHostAddress();
        return "nbd://" + host + ":" + a.getPort() + (exportName.isEmpty() ? "" : "/" + percentEncode(exportName));
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
    public void close()
    {
        if (!closed.compareAndSet(false, true))
        {
            return;
        }
        serverChannel.close().syncUninterruptibly();
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
        LOG.info("NBD server on {} closed", serverChannel.localAddress());
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
        private InetSocketAddress listen = new InetSocketAddress(InetAddress.getLoopbackAddress(), DEFAULT_PORT);
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
        private int lowWaterMark = 4 << 20;
        private int highWaterMark = 16 << 20;

        private Builder()
        {
        }

        /** Default: loopback, port {@value #DEFAULT_PORT}; port 0 picks a free port. */
        public Builder listen(final InetSocketAddress listen)
        {
            this.listen = Objects.requireNonNull(listen, "listen");
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

        /** Per connection: payload bytes in flight before reading pauses; default 64 MiB. */
        public Builder maxInFlightBytes(final long bytes)
        {
            this.maxInFlightBytes = bytes;
            return this;
        }

        /** Per connection: requests in flight before reading pauses; default 1024. */
        public Builder maxInFlightRequests(final int requests)
        {
            this.maxInFlightRequests = requests;
            return this;
        }

        /** Per connection outbound buffer water marks; default 4 MiB / 16 MiB. */
        public Builder writeWaterMarks(final int low, final int high)
        {
            this.lowWaterMark = low;
            this.highWaterMark = high;
            return this;
        }

        /** Binds and starts serving. */
        public NbdServer start()
        {
            if (exports.isEmpty())
            {
                throw new IllegalArgumentException("no exports");
            }
            final List<Export> list = new ArrayList<>();
            exports.forEach((name, device) -> list.add(new Export(name, device, readOnly)));
            final Export dflt = defaultExport == null ? list.get(0)
                : list.stream().filter(e -> e.name().equals(defaultExport)).findFirst()
                    .orElseThrow(() -> new IllegalArgumentException("default export '" + defaultExport + "' is not an export"));
            if (maxOptions < 1 || maxInFlightBytes < 1 || maxInFlightRequests < 1 || lowWaterMark > highWaterMark)
            {
                throw new IllegalArgumentException("limits must be positive and low water mark <= high");
            }
            return new NbdServer(this, new ServerConfig(list, dflt, maxOptions, handshakeTimeout.toMillis(),
                maxInFlightBytes, maxInFlightRequests));
        }
    }
}
