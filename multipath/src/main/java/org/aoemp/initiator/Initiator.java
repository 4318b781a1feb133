package org.aoemp.initiator;

import java.nio.ByteBuffer;
import java.time.Duration;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.Collection;
import java.util.HashMap;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.Set;
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
import org.aoemp.protocol.AtaHeader;
import org.aoemp.protocol.ConfigHeader;
import org.aoemp.protocol.Identify;
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
    /** How long open() waits, after the first answer to its query, for other MACs to answer too. */
    static final long SETTLE_NANOS = TimeUnit.MILLISECONDS.toNanos(200);
    /** Bit 30 of a userland tag: set on control exchanges, clear on device commands (see {@link Slot}). */
    static final int EXCHANGE_TAG_BIT = 0x4000_0000;
    private static final org.slf4j.Logger LOG = org.slf4j.LoggerFactory.getLogger(Initiator.class);

    private final List<Port> ports;
    private final TargetDirectory directory = new TargetDirectory();
    private final Map<Integer, Exchange> exchanges = new ConcurrentHashMap<>();
    private final AtomicInteger exchangeTags = new AtomicInteger((int)(System.nanoTime() & 0xFFFF));
    private final AgentRunner discovery;
    private final IdentityVerifier identityVerifier = new IdentityVerifier(this);
    private final AgentRunner identityRunner;
    private volatile DeviceTable devices = new DeviceTable(new int[0], new AoeDevice[0]);
    private volatile boolean closed;

    private final LongAdder malformedFrames = new LongAdder();
    private final LongAdder requestsIgnored = new LongAdder();
    private final LongAdder configReplies = new LongAdder();
    private final LongAdder unmatchedReplies = new LongAdder();
    private final LongAdder announcements = new LongAdder();
    /** The least time between two queries a port sends after hearing vblade's (version 0) announcements. */
    static final long ANNOUNCEMENT_QUERY_GAP_MILLIS = 100;

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
        // an error loses at most one check; the next config reply from that MAC asks again
        this.identityRunner = new AgentRunner(identityVerifier, IdleStrategies.discovery(identityVerifier.wakeup,
            Duration.ofNanos(IdentityVerifier.IDLE_PARK_NANOS)), error -> { });
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
        i.identityRunner.start();
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
     * asks every MAC that answered for its IDENTIFY data, and makes a path of every (port, MAC)
     * whose disk is the one of the lowest MAC (see {@link #open(TargetAddress, DeviceOptions, Set)}).
     */
    public AoeDevice open(final TargetAddress address, final DeviceOptions options) throws IoError, InterruptedException
    {
        return open(address, options, Set.of());
    }

    /**
     * Opens a target as a block device. Every target MAC that answered discovery is asked for its
     * IDENTIFY data; the device's identity ({@link TargetIdentities#reference()}) is that of the
     * lowest MAC among {@code macs} that answered (any MAC when empty: the choice does not depend on
     * which answered first, so every run picks the same disk), and only the MACs that answer with
     * the same disk (size, serial, model, LBA48) and config string become paths: when two targets
     * claim the same shelf.slot, no I/O goes to the other one, and the log says so. MACs heard
     * later are checked the same way before they become paths ({@link IdentityVerifier}).
     *
     * @param macs the only target MACs that may be paths (the user's {@code --mac}); empty for any
     */
    public AoeDevice open(final TargetAddress address, final DeviceOptions options, final Set<Long> macs)
        throws IoError, InterruptedException
    {
        if (closed)
        {
            throw new IoError(IoError.ESHUTDOWN, "initiator is closed");
        }
        final long deadline = System.nanoTime() + options.openTimeout().toNanos();
        TargetDirectory.Target target = directory.get(address);
        if (target == null || !macs.isEmpty() && !answersFrom(target, macs))
        {
            queryConfig();
            target = macs.isEmpty() ? directory.await(address, deadline) : awaitMacs(address, macs, deadline);
            // let every target MAC on the segment answer, so that the disk chosen does not depend on which answered first
            final long settle = Math.min(SETTLE_NANOS, deadline - System.nanoTime());
            if (target != null && settle > 0)
            {
                TimeUnit.NANOSECONDS.sleep(settle);
            }
        }
        if (target == null)
        {
            throw new IoError(IoError.EIO, "no AoE target " + address + " answered on " + portNames() + " within "
                + options.openTimeout().toMillis() + " ms (is the target running, on this network, and unmasked for us?)");
        }
        if (!macs.isEmpty() && !answersFrom(target, macs))
        {
            throw new IoError(IoError.EINVAL, "none of the MACs given with --mac (" + macList(macs) + ") answered for " + address
                + " within " + options.openTimeout().toMillis() + " ms; it answers from " + macList(macsOf(target)));
        }
        synchronized (this)
        {
            if (findDevice(address.key()) != null)
            {
                throw new IoError(IoError.EINVAL, address + " is already open in this initiator");
            }
        }
        final TargetIdentities ids = identities(address, target.endpointsInOrderHeard(), macs, deadline, options);
        final AoeDevice[] holder = new AoeDevice[1];
        final TargetDirectory.Listener listener = (a, e) ->
        {
            if (a.equals(address))
            {
                if (ids.isPath(e.mac()))
                {
                    holder[0].addPath(e.port(), e.mac(), e.bufferCount(), e.sectorCount());
                }
                if (ids.checkDue(e.mac(), System.nanoTime()))
                {
                    identityVerifier.check(holder[0], e);
                }
            }
        };
        final AoeDevice device = new AoeDevice(address, options, () ->
        {
            directory.removeListener(listener);
            unregister(address);
        });
        device.identities(ids);
        holder[0] = device;
        register(address, device);
        directory.addListener(listener);
        judgeLateEndpoints(address, target, ids, deadline);
        final long now = System.nanoTime();
        for (final TargetDirectory.Endpoint e : target.endpoints())
        {
            if (ids.isPath(e.mac()))
            {
                device.addPath(e.port(), e.mac(), e.bufferCount(), e.sectorCount());
            }
            else if ((ids.verdict(e.mac()) == null || ids.verdict(e.mac()) == TargetIdentities.Verdict.UNVERIFIED)
                && ids.checkDue(e.mac(), now))
            {
                // heard after the IDENTIFYs went out, or did not answer them: checked now, not at its next config reply
                identityVerifier.check(device, e);
            }
        }
        device.start();
        try
        {
            device.identify(Math.max(1, deadline - System.nanoTime()) + TimeUnit.SECONDS.toNanos(1));
            if (!new EndpointIdentity(device.identity(), "").sameDisk(ids.reference()))
            {
                throw new IoError(IoError.EIO, address + " changed while it was being opened: IDENTIFY said "
                    + new EndpointIdentity(device.identity(), ids.reference().configString()).describe() + " after "
                    + ids.reference().describe() + "; open it again");
            }
        }
        catch (final IoError e)
        {
            device.close();
            throw e;
        }
        if (ids.hasConflict())
        {
            LOG.warn("{}: more than one disk answers as {}: opened the one {} and no I/O goes to a MAC with another; "
                + "choose another with --mac MAC. {}", address, address, macs.isEmpty() ? "of the lowest MAC" : "named with --mac",
                String.join("; ", ids.describe()));
        }
        LOG.info("{} opened: {} bytes, {}, {} sectors per command, over {}; model \"{}\", serial \"{}\"", address, device.size(),
            device.isLba48() ? "LBA48" : "LBA28", device.sectorsPerCommand(),
            device.pathStats().size() == 1 ? "1 path" : device.pathStats().size() + " paths", device.identity().model(),
            device.identity().serial());
        return device;
    }

    /**
     * Asks every MAC among {@code endpoints} for its IDENTIFY data and judges each against that of
     * the lowest MAC that answered and that the user allows.
     */
    private TargetIdentities identities(final TargetAddress address, final List<TargetDirectory.Endpoint> endpoints, final Set<Long> macs,
        final long deadline, final DeviceOptions options) throws IoError, InterruptedException
    {
        final Map<Long, String> refused = new LinkedHashMap<>();
        final Map<Long, EndpointIdentity> found = identifyEach(address, endpoints, deadline, refused);
        EndpointIdentity reference = null;
        for (final long mac : new java.util.TreeSet<>(found.keySet()))
        {
            if (macs.isEmpty() || macs.contains(mac))
            {
                reference = found.get(mac);
                break;
            }
        }
        if (reference == null && !refused.isEmpty())
        {
            final StringBuilder b = new StringBuilder();
            refused.forEach((mac, why) -> b.append(b.isEmpty() ? "" : "; ").append(new org.aoemp.protocol.MacAddress(mac)).append(": ")
                .append(why));
            throw new IoError(IoError.EIO, address + " refused IDENTIFY (" + b + ")");
        }
        if (reference == null)
        {
            throw new IoError(IoError.EIO, address + " did not answer IDENTIFY within " + options.openTimeout().toMillis() + " ms (asked "
                + macList(macs.isEmpty() ? macsOfEndpoints(endpoints) : macs) + ")");
        }
        final TargetIdentities ids = new TargetIdentities(address, reference, macs);
        final long now = System.nanoTime();
        for (final TargetDirectory.Endpoint e : endpoints)
        {
            final EndpointIdentity id = found.get(e.mac());
            if (id == null)
            {
                ids.unverified(e.mac());
            }
            else if (ids.verdict(e.mac()) == null)
            {
                ids.judge(e.mac(), id);
                ids.checkDue(e.mac(), now);
            }
        }
        for (final long mac : macs)
        {
            if (ids.verdict(mac) == TargetIdentities.Verdict.CONFLICT)
            {
                throw new IoError(IoError.EINVAL, "the MACs given with --mac answer for " + address + " with different disks: "
                    + String.join("; ", ids.describe()));
            }
        }
        return ids;
    }

    /** MACs heard while the first IDENTIFYs were out: asked too, so that the open includes them. */
    private void judgeLateEndpoints(final TargetAddress address, final TargetDirectory.Target target, final TargetIdentities ids,
        final long deadline) throws InterruptedException
    {
        final List<TargetDirectory.Endpoint> late = new ArrayList<>();
        for (final TargetDirectory.Endpoint e : target.endpoints())
        {
            if (ids.verdict(e.mac()) == null)
            {
                late.add(e);
            }
        }
        if (late.isEmpty())
        {
            return;
        }
        final long now = System.nanoTime();
        final Map<Long, EndpointIdentity> found = identifyEach(address, late, deadline, new HashMap<>());
        for (final TargetDirectory.Endpoint e : late)
        {
            final EndpointIdentity id = found.get(e.mac());
            if (id != null && ids.verdict(e.mac()) == null)
            {
                ids.judge(e.mac(), id);
                ids.checkDue(e.mac(), now);
            }
        }
    }

    /**
     * Sends an ATA IDENTIFY to each MAC among {@code endpoints} (over the port it was heard on
     * first), again every {@value IdentityVerifier#ATTEMPT_MILLIS} ms to those that have not
     * answered, until all have or the deadline passes.
     */
    private Map<Long, EndpointIdentity> identifyEach(final TargetAddress address, final List<TargetDirectory.Endpoint> endpoints,
        final long deadline, final Map<Long, String> refused) throws InterruptedException
    {
        final Map<Long, TargetDirectory.Endpoint> waiting = new LinkedHashMap<>();
        for (final TargetDirectory.Endpoint e : endpoints)
        {
            waiting.putIfAbsent(e.mac(), e);
        }
        final Map<Long, EndpointIdentity> found = new HashMap<>();
        final Exchange ex = openExchange(AoeHeader.CMD_ATA);
        try
        {
            while (!waiting.isEmpty() && deadline - System.nanoTime() > 0)
            {
                for (final TargetDirectory.Endpoint e : waiting.values())
                {
                    sendIdentify(e.port(), e.mac(), address, ex.tag);
                }
                final long roundEnd = Math.min(deadline, System.nanoTime() + TimeUnit.MILLISECONDS.toNanos(IdentityVerifier.ATTEMPT_MILLIS));
                long left;
                while (!waiting.isEmpty() && (left = roundEnd - System.nanoTime()) > 0)
                {
                    final Reply r = ex.replies.poll(left, TimeUnit.NANOSECONDS);
                    final TargetDirectory.Endpoint e = r == null ? null : waiting.get(r.sourceMac());
                    if (e == null)
                    {
                        continue;
                    }
                    final Identify id = identifyIn(r);
                    if (id != null)
                    {
                        found.put(e.mac(), new EndpointIdentity(id, e.configString()));
                    }
                    else
                    {
                        refused.put(e.mac(), whyRefused(r));
                    }
                    waiting.remove(e.mac());
                }
            }
        }
        finally
        {
            endExchange(ex);
        }
        return found;
    }

    /** The IDENTIFY data in an ATA reply, or null when it is an error or too short. */
    static Identify identifyIn(final Reply r)
    {
        final AtaHeader a = new AtaHeader().wrap(r.frame(), 0);
        if (r.header().isError() || a.failed() || r.length() < AtaHeader.DATA_OFFSET + Identify.LENGTH)
        {
            return null;
        }
        return Identify.parse(r.frame(), AtaHeader.DATA_OFFSET);
    }

    /** Why an IDENTIFY reply carries no data: its AoE error, its ATA status, or its length. */
    private static String whyRefused(final Reply r)
    {
        final AtaHeader a = new AtaHeader().wrap(r.frame(), 0);
        if (r.header().isError())
        {
            return "AoE error " + r.header().error() + " (" + AoeHeader.errorName(r.header().error()) + ")";
        }
        if (a.failed())
        {
            return "ATA status 0x" + Integer.toHexString(a.cmdStatus()) + " error 0x" + Integer.toHexString(a.errFeature());
        }
        return "a reply of " + r.length() + " bytes, too short for the IDENTIFY data";
    }

    /** Sends one ATA IDENTIFY DEVICE for {@code address} to {@code mac} over {@code port}, with {@code tag}. */
    void sendIdentify(final Port port, final long mac, final TargetAddress address, final int tag)
    {
        final ByteBuffer f = ByteBuffer.allocate(Math.max(AoeHeader.MIN_ETHERNET_FRAME, AtaHeader.DATA_OFFSET));
        new AoeHeader().wrap(f, 0).request(mac, port.mac(), address.shelf(), address.slot(), AoeHeader.CMD_ATA, tag);
        new AtaHeader().wrap(f, 0).aflags(0).errFeature(0).sectorCount(1).cmdStatus(AtaHeader.ATA_IDENTIFY).lba(0).lbaByte(3, 0xA0)
            .clearReserved();
        port.transport().send(f, f.capacity());
    }

    /** Adds (or refreshes) a path of {@code device} over every port that heard {@code mac}. */
    void addPathsTo(final AoeDevice device, final long mac)
    {
        final TargetDirectory.Target t = directory.get(device.address());
        if (t == null)
        {
            return;
        }
        for (final TargetDirectory.Endpoint e : t.endpoints())
        {
            if (e.mac() == mac)
            {
                device.addPath(e.port(), e.mac(), e.bufferCount(), e.sectorCount());
            }
        }
    }

    private static boolean answersFrom(final TargetDirectory.Target t, final Set<Long> macs)
    {
        for (final TargetDirectory.Endpoint e : t.endpoints())
        {
            if (macs.contains(e.mac()))
            {
                return true;
            }
        }
        return false;
    }

    /** Waits until {@code address} answers from one of {@code macs}, or the deadline passes; returns what was heard (or null). */
    private TargetDirectory.Target awaitMacs(final TargetAddress address, final Set<Long> macs, final long deadline)
        throws InterruptedException
    {
        TargetDirectory.Target t = directory.await(address, deadline);
        long nextQuery = System.nanoTime() + TimeUnit.MILLISECONDS.toNanos(500);
        while (t != null && !answersFrom(t, macs) && deadline - System.nanoTime() > 0)
        {
            Thread.sleep(10);
            if (System.nanoTime() - nextQuery > 0)
            {
                queryConfig();
                nextQuery = System.nanoTime() + TimeUnit.MILLISECONDS.toNanos(500);
            }
        }
        return t;
    }

    private static Set<Long> macsOf(final TargetDirectory.Target t)
    {
        return macsOfEndpoints(t.endpoints());
    }

    private static Set<Long> macsOfEndpoints(final List<TargetDirectory.Endpoint> endpoints)
    {
        final Set<Long> out = new java.util.TreeSet<>();
        endpoints.forEach(e -> out.add(e.mac()));
        return out;
    }

    private static String macList(final Set<Long> macs)
    {
        final StringBuilder b = new StringBuilder();
        for (final long m : new java.util.TreeSet<>(macs))
        {
            b.append(b.isEmpty() ? "" : ", ").append(new org.aoemp.protocol.MacAddress(m));
        }
        return b.toString();
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

    static final class Exchange
    {
        final int command;
        final int tag;
        final LinkedBlockingQueue<Reply> replies = new LinkedBlockingQueue<>();
        /** Run after each reply is queued (an agent polling the queue wakes); null when the owner blocks on the queue. */
        final Runnable onReply;

        Exchange(final int command, final int tag, final Runnable onReply)
        {
            this.command = command;
            this.tag = tag;
            this.onReply = onReply;
        }
    }

    /** Registers an exchange with a fresh tag for replies to {@code command}; {@link #endExchange} it when done. */
    Exchange openExchange(final int command)
    {
        return openExchange(command, null);
    }

    /** As {@link #openExchange(int)}, running {@code onReply} after each reply is queued. */
    Exchange openExchange(final int command, final Runnable onReply)
    {
        final int tag = AoeHeader.USERLAND_TAG_BIT | EXCHANGE_TAG_BIT | (exchangeTags.incrementAndGet() & 0x3FFF_FFFF);
        final Exchange ex = new Exchange(command, tag, onReply);
        exchanges.put(tag, ex);
        return ex;
    }

    void endExchange(final Exchange ex)
    {
        exchanges.remove(ex.tag);
    }

    /**
     * Sends one request per port in {@code via} (to {@code dstMac}, or broadcast) with a fresh
     * userland tag and collects replies carrying that tag until {@code maxReplies} arrived or the
     * timeout passed.
     */
    public List<Reply> exchange(final Collection<Port> via, final long dstMac, final int shelf, final int slot, final int command,
        final ArgumentWriter argument, final Duration timeout, final int maxReplies) throws InterruptedException
    {
        final Exchange ex = openExchange(command);
        final int tag = ex.tag;
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
    /** Version-0 announcements (vblade's start-up frame) that made a port ask who is there. */
    public long announcementsHeard()
    {
        return announcements.sum();
    }

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
        identityRunner.close();
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
     * {@value #LINK_POLL_MILLIS} ms while a port is down, and every {@value #LINK_POLL_REST_MILLIS} ms
     * while all are up (a re-created interface is noticed then; a path's own link is checked by its
     * engine, every 20 ms while it carries traffic): five polls a second cost a bridge at rest 1 ms of
     * CPU per second, as much as everything else it does then.
     */
    private final class Discovery implements Agent
    {
        static final long LINK_POLL_MILLIS = 200;
        static final long LINK_POLL_REST_MILLIS = 2000;
        private static final long LINK_POLL_NANOS = TimeUnit.MILLISECONDS.toNanos(LINK_POLL_MILLIS);
        private static final long LINK_POLL_REST_NANOS = TimeUnit.MILLISECONDS.toNanos(LINK_POLL_REST_MILLIS);
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
                work += queryWhereLinksCameUp();
                nextLinkPollNanos = now + (allLinksUp() ? LINK_POLL_REST_NANOS : LINK_POLL_NANOS);
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

        private boolean allLinksUp()
        {
            for (final boolean up : linkUp)
            {
                if (!up)
                {
                    return false;
                }
            }
            return true;
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
        /** When this port last asked after an announcement (its receive thread only). */
        private long lastAnnouncementQuery;
        /** Devices with completions queued in this batch: their engines are woken at its end (usually one). */
        private AoeDevice[] replied = new AoeDevice[4];
        private int repliedCount;

        PortReceiver(final Port port)
        {
            this.port = port;
        }

        private void repliedTo(final AoeDevice d)
        {
            for (int i = 0; i < repliedCount; i++)
            {
                if (replied[i] == d)
                {
                    return;
                }
            }
            if (repliedCount == replied.length)
            {
                replied = Arrays.copyOf(replied, repliedCount * 2);  // more devices than ever before on this port
            }
            replied[repliedCount++] = d;
        }

        /** Wakes each engine that got completions in this batch, once. */
        @Override
        public void onBatchEnd()
        {
            for (int i = 0; i < repliedCount; i++)
            {
                final AoeDevice d = replied[i];
                replied[i] = null;
                d.wakeEngine();
            }
            repliedCount = 0;
        }

        @Override
        public void onFrame(final ByteBuffer frame, final int length)
        {
            final AoeHeader h = header.wrap(frame, 0);
            if (!h.isAoeV1(length))
            {
                if (isVersionZeroAnnouncement(h, length))
                {
                    askAfterAnnouncement();
                    return;
                }
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
                        if (d.onAtaResponse(frame, length))
                        {
                            repliedTo(d);
                        }
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
                    if (ex.onReply != null)
                    {
                        ex.onReply.run();
                    }
                    return;
                }
            }
            if (command != AoeHeader.CMD_CONFIG)
            {
                unmatchedReplies.increment();
            }
        }

        /**
         * vblade's start-up announcement: a config response with the version nibble left 0 (its
         * {@code aoead} sets the flags alone). The kernel's driver does not check the version and
         * takes it; this initiator keeps refusing frames that are not AoE v1, but takes the hint:
         * a target just started here, so ask this port who is there.
         */
        private boolean isVersionZeroAnnouncement(final AoeHeader h, final int length)
        {
            return length >= AoeHeader.LENGTH && h.etherType() == AoeHeader.ETHERTYPE && h.version() == 0 && h.isResponse()
                && !h.isError() && h.command() == AoeHeader.CMD_CONFIG;
        }

        /** A config query on this port, at most one per {@value #ANNOUNCEMENT_QUERY_GAP_MILLIS} ms however many announcements arrive. */
        private void askAfterAnnouncement()
        {
            final long now = System.nanoTime();
            if (lastAnnouncementQuery != 0 && now - lastAnnouncementQuery < TimeUnit.MILLISECONDS.toNanos(ANNOUNCEMENT_QUERY_GAP_MILLIS))
            {
                return;
            }
            lastAnnouncementQuery = now;
            announcements.increment();
            queryConfig(port);
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
