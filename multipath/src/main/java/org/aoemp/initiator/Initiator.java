package org.aoemp.initiator;

import java.nio.ByteBuffer;
import java.time.Duration;
import java.util.ArrayList;
import java.util.Collection;
import java.util.List;
import java.util.Map;
import java.util.concurrent.ConcurrentHashMap;
import java.util.concurrent.LinkedBlockingQueue;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicInteger;
import java.util.concurrent.atomic.LongAdder;

import org.aoemp.agent.Agent;
import org.aoemp.agent.AgentRunner;
import org.aoemp.agent.Wakeup;
import org.aoemp.block.IoError;
import org.aoemp.protocol.AoeHeader;
import org.aoemp.protocol.ConfigHeader;
import org.aoemp.transport.FrameHandler;
import org.aoemp.transport.FrameTransport;
import org.aoemp.transport.Transports;

/**
 * The AoE initiator: a set of local ports, discovery, the directory of targets, the open
 * devices, and request/response exchanges for the control commands (config, MAC mask, reserve,
 * one-off ATA commands such as aoeping's IDENTIFY).
 *
 * <p>Threads: each port's receive thread runs {@link PortReceiver#onFrame}, which routes ATA
 * replies to the device of their shelf.slot, config replies to the directory, and anything with
 * a tag a caller is waiting for to that caller. One agent, {@code aoe-discovery}, sends the
 * periodic config-query broadcast. Each open device has its engine agent ({@link DeviceEngine})
 * and each port whose sends may wait its sender agent ({@link PortSender}); the initiator starts
 * and closes them. Everything else happens on the caller's thread.
 */
public final class Initiator implements AutoCloseable
{
    /** Bit 30 of a userland tag: set on control exchanges, clear on device commands (see {@link Slot}). */
    static final int EXCHANGE_TAG_BIT = 0x4000_0000;
    private static final org.slf4j.Logger LOG = org.slf4j.LoggerFactory.getLogger(Initiator.class);

    private final List<Port> ports;
    private final TargetDirectory directory = new TargetDirectory();
    private final Map<Integer, Exchange> exchanges = new ConcurrentHashMap<>();
    private final AtomicInteger exchangeTags = new AtomicInteger((int)(System.nanoTime() & 0xFFFF));
    private final AgentRunner discovery;
    private volatile DeviceTable devices = new DeviceTable(new int[0], new AoeDevice[0]);
    private volatile boolean closed;

    private final LongAdder malformedFrames = new LongAdder();
    private final LongAdder requestsIgnored = new LongAdder();
    private final LongAdder configReplies = new LongAdder();
    private final LongAdder unmatchedReplies = new LongAdder();

    private record DeviceTable(int[] keys, AoeDevice[] devices)
    {
    }

    private Initiator(final List<FrameTransport> transports, final Duration discoveryInterval)
    {
        if (transports.isEmpty())
        {
            throw new IllegalArgumentException("an initiator needs at least one interface");
        }
        final List<Port> ps = new ArrayList<>();
        for (final FrameTransport t : transports)
        {
            ps.add(new Port(ps.size(), t));
        }
        this.ports = List.copyOf(ps);
        if (discoveryInterval.isZero())
        {
            this.discovery = null;
        }
        else
        {
            final Discovery agent = new Discovery(discoveryInterval);
            // a query that failed is sent again at the next interval: nothing to add to the runner's log
            this.discovery = new AgentRunner(agent, IdleStrategies.discovery(agent.wakeup, discoveryInterval), error -> { });
        }
    }

    /**
     * Starts an initiator over already-open transports (it takes ownership and closes them).
     *
     * @param discoveryInterval how often to broadcast a config query; zero disables the periodic
     *                          query (announcements are still heard)
     */
    public static Initiator start(final List<FrameTransport> transports, final Duration discoveryInterval)
    {
        final Initiator i = new Initiator(transports, discoveryInterval);
        for (final Port p : i.ports)
        {
            p.transport().start(i.new PortReceiver(p));
        }
        if (i.discovery != null)
        {
            i.discovery.start();
        }
        i.queryConfig();
        return i;
    }

    /** Opens {@code interfaces} with the named transport kind ("afpacket" or "pcap") and starts an initiator over them. */
    public static Initiator open(final String transportKind, final List<String> interfaces, final Duration discoveryInterval)
    {
        final List<FrameTransport> ts = new ArrayList<>();
        try
        {
            for (final String name : interfaces)
            {
                ts.add(Transports.open(transportKind, name));
            }
        }
        catch (final RuntimeException e)
        {
            ts.forEach(FrameTransport::close);
            throw e;
        }
        return start(ts, discoveryInterval);
    }

    public List<Port> ports()
    {
        return ports;
    }

    public TargetDirectory directory()
    {
        return directory;
    }

    /** Broadcasts a config query (shelf 0xffff, slot 0xff) on every port. */
    public void queryConfig()
    {
        for (final Port p : ports)
        {
            queryConfig(p);
        }
    }

    /** Broadcasts a config query on one port. */
    private static void queryConfig(final Port p)
    {
        final ByteBuffer f = ByteBuffer.allocate(AoeHeader.MIN_ETHERNET_FRAME);
        new AoeHeader().wrap(f, 0).request(org.aoemp.protocol.MacAddress.BROADCAST_BITS, p.mac(), AoeHeader.SHELF_ANY,
            AoeHeader.SLOT_ANY, AoeHeader.CMD_CONFIG, AoeHeader.USERLAND_TAG_BIT);
        p.transport().send(f, f.capacity());
    }

    /** Broadcasts a config query and collects answers for {@code wait}. */
    public Collection<TargetDirectory.Target> discover(final Duration wait) throws InterruptedException
    {
        queryConfig();
        Thread.sleep(wait.toMillis());
        return directory.targets();
    }

    /**
     * Opens a target as a block device: waits for it to be discovered (up to the open timeout),
     * makes a path of every (port, MAC) that answered, and reads its IDENTIFY data.
     */
    public AoeDevice open(final TargetAddress address, final DeviceOptions options) throws IoError, InterruptedException
    {
        if (closed)
        {
            throw new IoError(IoError.ESHUTDOWN, "initiator is closed");
        }
        final long deadline = System.nanoTime() + options.openTimeout().toNanos();
        TargetDirectory.Target target = directory.get(address);
        if (target == null)
        {
            queryConfig();
            target = directory.await(address, deadline);
        }
        if (target == null)
        {
            throw new IoError(IoError.EIO, "no AoE target " + address + " answered on " + portNames() + " within "
                + options.openTimeout().toMillis() + " ms (is the target running, on this network, and unmasked for us?)");
        }
        synchronized (this)
        {
            if (findDevice(address.key()) != null)
            {
                throw new IoError(IoError.EINVAL, address + " is already open in this initiator");
            }
        }
        final AoeDevice[] holder = new AoeDevice[1];
        final TargetDirectory.Listener listener = (a, e) ->
        {
            if (a.equals(address))
            {
                holder[0].addPath(e.port(), e.mac(), e.bufferCount(), e.sectorCount());
            }
        };
        final AoeDevice device = new AoeDevice(address, options, () ->
        {
            directory.removeListener(listener);
            unregister(address);
        });
        holder[0] = device;
        register(address, device);
        directory.addListener(listener);
        for (final TargetDirectory.Endpoint e : target.endpoints())
        {
            device.addPath(e.port(), e.mac(), e.bufferCount(), e.sectorCount());
        }
        device.start();
        try
        {
            device.identify(Math.max(1, deadline - System.nanoTime()) + TimeUnit.SECONDS.toNanos(1));
        }
        catch (final IoError e)
        {
            device.close();
            throw e;
        }
        LOG.info("{} opened: {} bytes, {}, {} sectors per command, over {}", address, device.size(), device.isLba48() ? "LBA48" : "LBA28",
            device.sectorsPerCommand(), device.pathStats().size() == 1 ? "1 path" : device.pathStats().size() + " paths");
        return device;
    }

    private String portNames()
    {
        final StringBuilder b = new StringBuilder();
        for (final Port p : ports)
        {
            b.append(b.length() == 0 ? "" : ", ").append(p.name());
        }
        return b.toString();
    }

    private synchronized void register(final TargetAddress address, final AoeDevice device)
    {
        final DeviceTable t = devices;
        final int n = t.keys.length;
        final int[] keys = java.util.Arrays.copyOf(t.keys, n + 1);
        final AoeDevice[] devs = java.util.Arrays.copyOf(t.devices, n + 1);
        keys[n] = address.key();
        devs[n] = device;
        devices = new DeviceTable(keys, devs);
    }

    private synchronized void unregister(final TargetAddress address)
    {
        final DeviceTable t = devices;
        final List<Integer> keep = new ArrayList<>();
        for (int i = 0; i < t.keys.length; i++)
        {
            if (t.keys[i] != address.key())
            {
                keep.add(i);
            }
        }
        final int[] keys = new int[keep.size()];
        final AoeDevice[] devs = new AoeDevice[keep.size()];
        for (int i = 0; i < keep.size(); i++)
        {
            keys[i] = t.keys[keep.get(i)];
            devs[i] = t.devices[keep.get(i)];
        }
        devices = new DeviceTable(keys, devs);
    }

    private AoeDevice findDevice(final int key)
    {
        final DeviceTable t = devices;
        final int[] keys = t.keys;
        for (int i = 0; i < keys.length; i++)
        {
            if (keys[i] == key)
            {
                return t.devices[i];
            }
        }
        return null;
    }

    public List<AoeDevice> devices()
    {
        return List.of(devices.devices);
    }

    // ---------------------------------------------------------------------------------------
    // Control exchanges

    /** Writes a command's argument after the 24-byte header and returns the frame length. */
    @FunctionalInterface
    public interface ArgumentWriter
    {
        int write(ByteBuffer frame);
    }

    /** A response frame to an exchange, copied out of the receive buffer. */
    public record Reply(Port port, long sourceMac, ByteBuffer frame, int length)
    {
        public AoeHeader header()
        {
            return new AoeHeader().wrap(frame, 0);
        }
    }

    private static final class Exchange
    {
        final int command;
        final LinkedBlockingQueue<Reply> replies = new LinkedBlockingQueue<>();

        Exchange(final int command)
        {
            this.command = command;
        }
    }

    /**
     * Sends one request per port in {@code via} (to {@code dstMac}, or broadcast) with a fresh
     * userland tag and collects replies carrying that tag until {@code maxReplies} arrived or the
     * timeout passed.
     */
    public List<Reply> exchange(final Collection<Port> via, final long dstMac, final int shelf, final int slot, final int command,
        final ArgumentWriter argument, final Duration timeout, final int maxReplies) throws InterruptedException
    {
        final int tag = AoeHeader.USERLAND_TAG_BIT | EXCHANGE_TAG_BIT | (exchangeTags.incrementAndGet() & 0x3FFF_FFFF);
        final Exchange ex = new Exchange(command);
        exchanges.put(tag, ex);
        try
        {
            for (final Port p : via)
            {
                final ByteBuffer f = ByteBuffer.allocate(p.mtu() + 14);
                new AoeHeader().wrap(f, 0).request(dstMac, p.mac(), shelf, slot, command, tag);
                final int length = Math.max(AoeHeader.MIN_ETHERNET_FRAME, argument.write(f));
                p.transport().send(f, length);
            }
            final List<Reply> out = new ArrayList<>();
            final long deadline = System.nanoTime() + timeout.toNanos();
            while (out.size() < maxReplies)
            {
                final long left = deadline - System.nanoTime();
                if (left <= 0)
                {
                    break;
                }
                final Reply r = ex.replies.poll(left, TimeUnit.NANOSECONDS);
                if (r == null)
                {
                    break;
                }
                out.add(r);
            }
            return out;
        }
        finally
        {
            exchanges.remove(tag);
        }
    }

    public Port port(final String name)
    {
        for (final Port p : ports)
        {
            if (p.name().equals(name))
            {
                return p;
            }
        }
        throw new IllegalArgumentException("interface " + name + " is not one of this initiator's: " + portNames());
    }

    /** Frames that were not AoE v1 or too short, requests from other initiators, replies nobody waited for. */
    public InitiatorStats stats()
    {
        return new InitiatorStats(malformedFrames.sum(), requestsIgnored.sum(), configReplies.sum(), unmatchedReplies.sum());
    }

    /** Counters of the receive dispatch. */
    public record InitiatorStats(long malformedFrames, long requestsIgnored, long configReplies, long unmatchedReplies)
    {
    }

    @Override
    public void close()
    {
        if (closed)
        {
            return;
        }
        closed = true;
        if (discovery != null)
        {
            discovery.close();
        }
        for (final AoeDevice d : devices.devices)
        {
            d.close();
        }
        for (final Port p : ports)
        {
            p.sender().close();
            p.transport().close();
        }
    }

    /**
     * Broadcasts a config query every interval (the first one interval after the initiator's own
     * at start), and on a port at once when its link comes up (a NIC named at start but down then,
     * a cable plugged in, an interface deleted and created again under the same name): its targets
     * become paths then, not at the next interval. The links are polled every
     * {@value #LINK_POLL_MILLIS} ms.
     */
    private final class Discovery implements Agent
    {
        static final long LINK_POLL_MILLIS = 200;
        private static final long LINK_POLL_NANOS = TimeUnit.MILLISECONDS.toNanos(LINK_POLL_MILLIS);
        private final long intervalNanos;
        final Wakeup wakeup = new Wakeup(() -> false);
        private long nextNanos;
        private long nextLinkPollNanos;
        private final boolean[] linkUp = new boolean[ports.size()];
        private final int[] ifindex = new int[ports.size()];

        Discovery(final Duration interval)
        {
            this.intervalNanos = interval.toNanos();
            for (int i = 0; i < linkUp.length; i++)
            {
                linkUp[i] = ports.get(i).transport().isUp();  // those up were queried at start
                ifindex[i] = ports.get(i).transport().ifindex();
            }
        }

        @Override
        public String roleName()
        {
            return "aoe-discovery";
        }

        @Override
        public void onStart()
        {
            nextNanos = System.nanoTime() + intervalNanos;
        }

        @Override
        public int doWork()
        {
            final long now = System.nanoTime();
            int work = 0;
            if (now - nextLinkPollNanos >= 0)
            {
                nextLinkPollNanos = now + LINK_POLL_NANOS;
                work += queryWhereLinksCameUp();
            }
            if (now - nextNanos >= 0)
            {
                nextNanos = now + intervalNanos;
                queryConfig();
                return work + 1;
            }
            if (work == 0)
            {
                wakeup.limitNextPark(Math.min(nextNanos, nextLinkPollNanos) - now);
            }
            return work;
        }

        private int queryWhereLinksCameUp()
        {
            int n = 0;
            for (int i = 0; i < linkUp.length; i++)
            {
                final Port p = ports.get(i);
                final boolean up = p.transport().isUp();
                final int index = p.transport().ifindex();
                if (up && (!linkUp[i] || index != ifindex[i]))
                {
                    LOG.info("{}: link up{}: asking for targets", p.name(), index != ifindex[i] ? " (a new interface of that name)" : "");
                    queryConfig(p);
                    n++;
                }
                linkUp[i] = up;
                ifindex[i] = index;
            }
            return n;
        }
    }

    // ---------------------------------------------------------------------------------------
    // Receive dispatch

    /** Runs on one port's receive thread; owns its flyweights. */
    private final class PortReceiver implements FrameHandler
    {
        private final Port port;
        private final AoeHeader header = new AoeHeader();
        private final ConfigHeader config = new ConfigHeader();

        PortReceiver(final Port port)
        {
            this.port = port;
        }

        @Override
        public void onFrame(final ByteBuffer frame, final int length)
        {
            final AoeHeader h = header.wrap(frame, 0);
            if (!h.isAoeV1(length))
            {
                malformedFrames.increment();
                return;
            }
            if (!h.isResponse())
            {
                requestsIgnored.increment();
                return;
            }
            final int command = h.command();
            final int tag = h.tag();
            if (command == AoeHeader.CMD_ATA && (tag & AoeHeader.USERLAND_TAG_BIT) != 0)
            {
                if ((tag & EXCHANGE_TAG_BIT) == 0)
                {
                    final AoeDevice d = findDevice(TargetAddress.key(h.shelf(), h.slot()));
                    if (d != null)
                    {
                        d.onAtaResponse(frame, length);
                    }
                    else
                    {
                        unmatchedReplies.increment();
                    }
                    return;
                }
            }
            if (command == AoeHeader.CMD_CONFIG && !h.isError())
            {
                onConfig(h, frame, length);
            }
            if (!exchanges.isEmpty())
            {
                final Exchange ex = exchanges.get(tag);
                if (ex != null && ex.command == command)
                {
                    final ByteBuffer copy = ByteBuffer.allocate(length);
                    copy.put(0, frame, 0, length);
                    ex.replies.add(new Reply(port, h.src(), copy, length));
                    return;
                }
            }
            if (command != AoeHeader.CMD_CONFIG)
            {
                unmatchedReplies.increment();
            }
        }

        private void onConfig(final AoeHeader h, final ByteBuffer frame, final int length)
        {
            final int shelf = h.shelf();
            final int slot = h.slot();
            if (shelf == AoeHeader.SHELF_ANY || slot == AoeHeader.SLOT_ANY)
            {
                malformedFrames.increment(); // the kernel refuses these too: "shelf address is all ones"
                return;
            }
            final ConfigHeader c = config.wrap(frame, 0);
            if (!c.isValid(length))
            {
                malformedFrames.increment();
                return;
            }
            configReplies.increment();
            directory.update(new TargetAddress(shelf, slot), new TargetDirectory.Endpoint(port, h.src(), c.bufferCount(),
                c.firmwareVersion(), c.sectorCount(), c.configStringAsString(), System.nanoTime()));
        }
    }
}
