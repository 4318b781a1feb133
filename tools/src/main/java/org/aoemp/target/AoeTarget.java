package org.aoemp.target;

import java.io.IOException;
import java.nio.ByteBuffer;
import java.nio.channels.FileChannel;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.OpenOption;
import java.nio.file.Path;
import java.nio.file.StandardOpenOption;
import java.time.Duration;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.HashSet;
import java.util.List;
import java.util.Set;

import org.aoemp.agent.AgentRunner;
import org.aoemp.protocol.AtaHeader;
import org.aoemp.protocol.ConfigHeader;
import org.aoemp.protocol.Identify;
import org.aoemp.protocol.MacAddress;
import org.aoemp.transport.FrameTransport;
import org.aoemp.transport.Transports;

/**
 * An AoE target: serves one shelf.slot from a file or block device over one or more NICs in one
 * process, with vblade's semantics (what it answers, and where it differs on purpose, is
 * described in {@link TargetResponder}) and without vblade's one-I/O-at-a-time loop.
 *
 * <p>This class is the owner: it opens the file, builds the parts, starts them and closes them.
 * <ul>
 * <li>{@link TargetState}: the config string, MAC mask list and reservations, shared by every NIC;
 * <li>{@link TargetCounters}: the counts behind {@link #stats};
 * <li>per NIC, a {@link TargetReceiver} on the transport's receive thread, which asks that NIC's
 *     {@link TargetResponder} (the protocol, pure) what to do with each frame, answers what needs
 *     no disk and queues disk commands to the NIC's {@link DiskQueue};
 * <li>per NIC, {@code bufferCount} {@link DiskWorker}s, each an agent on its own
 *     {@link AgentRunner} (thread {@code aoe-target-io-<nic>-<n>}), doing positional I/O on the
 *     shared {@link FileChannel} and sending the replies; woken only as needed (see
 *     {@link DiskQueue}), so a stream of fast page-cache reads costs no wake-up per frame while
 *     slow disk I/O still gets every worker. A command whose I/O fails is answered with an ATA
 *     error (see {@link DiskWorker}), never left unanswered.
 * </ul>
 * At start, a config response is sent on every NIC (broadcast, or to each allowed MAC). Nothing is
 * allocated per frame in steady state.
 *
 * <p>Threading: the static factories start the target, and nothing starts a thread from a
 * constructor; {@link #close} from any thread but the target's own (receive and disk worker)
 * threads; the accessors from any thread.
 */
public final class AoeTarget implements AutoCloseable
{
    /** Config reply firmware version: 0x4000 + our release, in the style of vblade's 0x4000 + 25. */
    public static final int FIRMWARE_VERSION = TargetResponder.FIRMWARE_VERSION;
    /** IDENTIFY model (words 27-46). */
    public static final String MODEL = "aoemp userspace AoE target";
    /** IDENTIFY firmware revision (words 23-26, 8 characters). */
    public static final String FIRMWARE = "aoemp0.1";

    /** ATA status of a command that succeeded: DRDY. */
    public static final int STATUS_OK = TargetResponder.STATUS_OK;
    /** ATA status of a command that failed: DRDY|ERR (0x41), with the reason in the error register. */
    public static final int STATUS_FAILED = TargetResponder.STATUS_FAILED;
    /** CHECK POWER MODE's sector count for "active or idle". */
    public static final int POWER_ACTIVE = TargetResponder.POWER_ACTIVE;

    private static final int SECTOR = AtaHeader.SECTOR_SIZE;
    /** How long {@link #close} waits for each disk worker to finish the command it holds. */
    private static final Duration WORKER_CLOSE_TIMEOUT = Duration.ofSeconds(10);

    private final TargetOptions options;
    private final FileChannel channel;
    private final long sizeSectors;
    private final List<FrameTransport> transports;
    private final TargetState state;
    private final TargetCounters counters = new TargetCounters();
    private final TargetResponder[] responders;
    private final TargetReceiver[] receivers;
    private final List<AgentRunner> workers = new ArrayList<>();
    /** Reads the receive threads answer from the page cache themselves; null when every read goes to the workers. */
    private final CachedReads cachedReads;
    private boolean closed;

    private AoeTarget(final TargetOptions options, final FileChannel channel, final long fileSectors, final List<FrameTransport> transports,
        final CachedReads cachedReads)
    {
        this.cachedReads = cachedReads;
        this.options = options;
        this.channel = channel;
        this.transports = List.copyOf(transports);
        this.sizeSectors = options.lengthSectors() >= 0 ? options.lengthSectors() : fileSectors - options.offsetSectors();
        this.state = new TargetState(options.allowedMacs().stream().mapToLong(MacAddress::bits).distinct().toArray(),
            options.configString().getBytes(StandardCharsets.ISO_8859_1));
        final long baseOffset = options.offsetSectors() * SECTOR;

        final ByteBuffer id = ByteBuffer.allocateDirect(Identify.LENGTH);
        Identify.write(id, 0, sizeSectors, MODEL, serialNumber(options), FIRMWARE);
        final ByteBuffer identifyData = id.asReadOnlyBuffer();

        final int n = this.transports.size();
        this.responders = new TargetResponder[n];
        this.receivers = new TargetReceiver[n];
        for (int i = 0; i < n; i++)
        {
            final FrameTransport nic = this.transports.get(i);
            responders[i] = new TargetResponder(options, sizeSectors, identifyData, state, counters, nic.mac(), nic.mtu());
            final DiskQueue disk = new DiskQueue(nic, options.bufferCount());
            receivers[i] = new TargetReceiver(nic, responders[i], disk, counters, cachedReads == null ? null : cachedReads.reader(),
                options.shelf(), options.slot());
            for (int k = 0; k < options.bufferCount(); k++)
            {
                final DiskWorker worker = new DiskWorker(disk, k, channel, baseOffset, options, counters);
                workers.add(new AgentRunner(worker, DiskQueue.idleStrategy(worker.wakeup()), worker::onError, WORKER_CLOSE_TIMEOUT));
            }
        }
    }

    /**
     * Opens the file and starts serving it on {@code transports}, which the target then owns (it
     * starts them, and closes them on {@link #close}, also when this method fails).
     *
     * @throws IOException              the file cannot be opened (missing, no permission, a directory)
     * @throws IllegalArgumentException the window ({@code -o/-l}) does not fit in the file, or exports nothing
     */
    public static AoeTarget start(final TargetOptions options, final List<? extends FrameTransport> transports) throws IOException
    {
        return start(options, transports, () -> openFile(options), true);
    }

    /** Opens the backing store; tests pass a channel of their own (a slow one, to see commands overlap). */
    @FunctionalInterface
    interface ChannelOpener
    {
        FileChannel open() throws IOException;
    }

    static AoeTarget start(final TargetOptions options, final List<? extends FrameTransport> transports, final ChannelOpener opener)
        throws IOException
    {
        return start(options, transports, opener, false);
    }

    /**
     * @param cachedReadsWanted answer reads the page cache holds on the receive threads, from the
     *        file named in the options (only when the channel is that file: not for a test's channel)
     */
    static AoeTarget start(final TargetOptions options, final List<? extends FrameTransport> transports, final ChannelOpener opener,
        final boolean cachedReadsWanted) throws IOException
    {
        if (transports.isEmpty())
        {
            throw new IllegalArgumentException("a target needs at least one interface");
        }
        FileChannel channel = null;
        CachedReads cachedReads = null;
        AoeTarget target = null;
        try
        {
            channel = opener.open();
            final long fileSectors = channel.size() / SECTOR;
            checkWindow(options, fileSectors);
            cachedReads = cachedReadsWanted ? CachedReads.open(options.file(), options.offsetSectors() * SECTOR, options.direct()) : null;
            target = new AoeTarget(options, channel, fileSectors, List.copyOf(transports), cachedReads);
            target.startParts();
            return target;
        }
        catch (final IOException | RuntimeException | Error e)
        {
            if (target != null)
            {
                target.close();
            }
            else
            {
                transports.forEach(FrameTransport::close);
                if (cachedReads != null)
                {
                    cachedReads.close();
                }
                if (channel != null)
                {
                    channel.close();
                }
            }
            throw e;
        }
    }

    /** Opens {@code interfaces} with the named transport kind ({@code afpacket} or {@code pcap}) and {@link #start}s on them. */
    public static AoeTarget open(final TargetOptions options, final String transportKind, final List<String> interfaces) throws IOException
    {
        if (new HashSet<>(interfaces).size() != interfaces.size())
        {
            throw new IllegalArgumentException("an interface is named twice: " + interfaces);
        }
        final List<FrameTransport> opened = new ArrayList<>();
        try
        {
            for (final String name : interfaces)
            {
                opened.add(Transports.open(transportKind, name));
            }
        }
        catch (final RuntimeException e)
        {
            opened.forEach(FrameTransport::close);
            throw e;
        }
        return start(options, opened);
    }

    private static FileChannel openFile(final TargetOptions options) throws IOException
    {
        final Path file = options.file();
        if (Files.isDirectory(file))
        {
            throw new IOException(file + " is a directory, not a file or block device");
        }
        final Set<OpenOption> how = new HashSet<>();
        how.add(StandardOpenOption.READ);
        if (!options.readOnly())
        {
            how.add(StandardOpenOption.WRITE);
        }
        if (options.sync())
        {
            how.add(StandardOpenOption.DSYNC);
        }
        if (options.direct())
        {
            how.add(DirectIo.openOption(file));
        }
        return FileChannel.open(file, how);
    }

    private static void checkWindow(final TargetOptions options, final long fileSectors)
    {
        final long offset = options.offsetSectors();
        final long length = options.lengthSectors();
        if (offset > fileSectors)
        {
            throw new IllegalArgumentException("offset " + offset + " sectors is beyond the end of " + options.file() + " ("
                + fileSectors + " sectors)");
        }
        if (length >= 0 && length > fileSectors - offset)
        {
            throw new IllegalArgumentException("offset " + offset + " + length " + length + " sectors ends beyond the end of "
                + options.file() + " (" + fileSectors + " sectors)");
        }
        final long exported = length >= 0 ? length : fileSectors - offset;
        if (exported == 0)
        {
            throw new IllegalArgumentException("nothing to export: " + options.file() + " has " + fileSectors
                + " whole sectors and the window holds none");
        }
        if (exported > AtaHeader.LBA48_LIMIT)
        {
            throw new IllegalArgumentException("LBA48 addresses at most 2^48 sectors; the window holds " + exported);
        }
    }

    private static String serialNumber(final TargetOptions options)
    {
        String host = "localhost";
        try
        {
            host = new String(Files.readAllBytes(Path.of("/proc/sys/kernel/hostname")), StandardCharsets.US_ASCII).strip();
        }
        catch (final IOException | RuntimeException e)
        {
            // not Linux, or no procfs: the serial number only has to be stable, not exact
        }
        return options.address() + ":" + host;
    }

    /** Starts the disk workers, then the transports' receive threads, then announces the target. */
    private void startParts()
    {
        for (final AgentRunner w : workers)
        {
            w.start();
        }
        for (int i = 0; i < receivers.length; i++)
        {
            transports.get(i).start(receivers[i]);
        }
        announce();
    }

    /**
     * Sends an unsolicited config response on every NIC, as vblade does at start: broadcast, or
     * unicast to each allowed MAC when the mask list is not empty. Initiators that heard it know
     * the target without asking. Any thread.
     */
    public void announce()
    {
        for (int i = 0; i < transports.size(); i++)
        {
            final FrameTransport t = transports.get(i);
            final ByteBuffer f = ByteBuffer.allocateDirect(Math.max(t.mtu() + 14, ConfigHeader.lengthFor(ConfigHeader.MAX_CONFIG_STRING)));
            final long[] masks = state.masks();
            final long[] to = masks.length == 0 ? new long[] {MacAddress.BROADCAST_BITS} : masks;
            for (final long dst : to)
            {
                if (!t.send(f, responders[i].writeAnnouncement(f, dst)))
                {
                    counters.sendFailures.increment();
                }
            }
        }
    }

    // ---------------------------------------------------------------------------------------
    // State, for the command line and tests (any thread)

    public TargetOptions options()
    {
        return options;
    }

    /** Sectors exported. */
    public long sizeSectors()
    {
        return sizeSectors;
    }

    public List<FrameTransport> transports()
    {
        return transports;
    }

    /** Most sectors per ATA command a NIC carries: (MTU − 36) / 512, as the kernel and vblade count. */
    public static int maxSectors(final FrameTransport nic)
    {
        return TargetResponder.maxSectors(nic.mtu());
    }

    public String configString()
    {
        return new String(state.configString(), StandardCharsets.ISO_8859_1);
    }

    public List<MacAddress> masks()
    {
        return Arrays.stream(state.masks()).mapToObj(MacAddress::new).toList();
    }

    public List<MacAddress> reservations()
    {
        return Arrays.stream(state.reservations()).mapToObj(MacAddress::new).toList();
    }

    public TargetStats stats()
    {
        long workerErrors = 0;
        for (final AgentRunner w : workers)
        {
            workerErrors += w.errorCount();
        }
        return counters.snapshot(workerErrors);
    }

    /** One line: what is served, where, how. */
    public String describe()
    {
        final StringBuilder b = new StringBuilder();
        b.append(options.address()).append(": ").append(options.file());
        if (options.offsetSectors() > 0 || options.lengthSectors() >= 0)
        {
            b.append(" sectors ").append(options.offsetSectors()).append("..").append(options.offsetSectors() + sizeSectors);
        }
        b.append(", ").append(sizeSectors).append(" sectors (").append(sizeSectors * SECTOR).append(" bytes), ")
            .append(options.readOnly() ? "read-only" : "read-write").append(options.sync() ? ", DSYNC" : "").append(options.direct() ? ", O_DIRECT" : "")
            .append(", ").append(options.bufferCount()).append(" buffers per interface, on");
        for (final FrameTransport t : transports)
        {
            b.append(' ').append(t.name()).append(" (").append(new MacAddress(t.mac())).append(", MTU ").append(t.mtu())
                .append(", ").append(maxSectors(t)).append(" sectors/frame)");
        }
        if (state.masks().length > 0)
        {
            b.append(", answering only ").append(masks());
        }
        return b.toString();
    }

    @Override
    public String toString()
    {
        return "AoeTarget[" + describe() + "]";
    }

    /** Reads the receive threads answered from the page cache themselves (tests, diagnostics). */
    long readsOnReceiveThread()
    {
        return counters.readsOnReceiveThread.sum();
    }

    /**
     * Stops receiving (closes the transports, whose receive threads end), closes every disk
     * worker (each finishes and answers the command it holds; commands still queued are dropped,
     * their NIC being closed), and closes the file. Idempotent; any thread but a receive or disk
     * worker thread of this target.
     */
    @Override
    public void close()
    {
        synchronized (this)
        {
            if (closed)
            {
                return;
            }
            closed = true;
        }
        for (final FrameTransport t : transports)
        {
            t.close();
        }
        for (final AgentRunner w : workers)
        {
            w.close();
        }
        if (cachedReads != null)
        {
            cachedReads.close();
        }
        try
        {
            channel.close();
        }
        catch (final IOException e)
        {
            // nothing left to do with it
        }
    }
}
