package org.aoemp.target;

import java.io.EOFException;
import java.io.IOException;
import java.nio.ByteBuffer;
import java.nio.channels.FileChannel;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.OpenOption;
import java.nio.file.Path;
import java.nio.file.StandardOpenOption;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.HashSet;
import java.util.List;
import java.util.Set;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicInteger;
import java.util.concurrent.atomic.AtomicReference;
import java.util.concurrent.atomic.LongAdder;
import java.util.concurrent.locks.LockSupport;

import org.aoemp.protocol.AoeHeader;
import org.aoemp.protocol.AtaHeader;
import org.aoemp.protocol.ConfigHeader;
import org.aoemp.protocol.Identify;
import org.aoemp.protocol.MacAddress;
import org.aoemp.protocol.MacMaskHeader;
import org.aoemp.protocol.ReserveHeader;
import org.aoemp.transport.FrameHandler;
import org.aoemp.transport.FrameTransport;
import org.aoemp.transport.Transports;
import org.jctools.queues.atomic.MpmcAtomicArrayQueue;
import org.jctools.queues.atomic.MpscAtomicArrayQueue;

/**
 * An AoE target: serves one shelf.slot from a file or block device over one or more NICs in one
 * process, with vblade's semantics (see docs/aoe-protocol.md §3) and without its one-I/O-at-a-time
 * loop.
 *
 * <p>What it answers: requests addressed to its shelf (or 0xffff) and slot (or 0xff), never
 * responses. Query Config (read, test, test prefix, set if empty else AoE error 4, force set),
 * MAC Mask List (read, edit: at most 32 masks; while the list is not empty, frames from other
 * MACs are ignored without a word), Reserve/Release (read, set if empty or the sender is listed,
 * force set; while reserved, ATA commands from other MACs except IDENTIFY get AoE error 6), any
 * other AoE command gets error 1 and another AoE version error 5. ATA: IDENTIFY DEVICE, READ and
 * WRITE SECTORS (EXT) with LBA28 and LBA48 addressing, CHECK POWER MODE (active), FLUSH CACHE and
 * FLUSH CACHE EXT (both sync the file); other ATA commands are aborted (status DRDY|ERR, error
 * ABRT); an address range beyond the end gets ERR with IDNF; writes to a read-only target get
 * ERR with ABRT; a sector count larger than the receiving NIC's MTU allows, or a write frame
 * shorter than its sector count, gets AoE error 2; frames too short for their header are dropped.
 * At start a config response is sent on every NIC (broadcast, or to each allowed MAC). Where
 * this differs from vblade 25, on purpose: both FLUSH commands really sync (vblade answers 0xE7
 * without syncing and aborts 0xEA), another AoE version gets error 5 (vblade does not look), and
 * replies always carry our own shelf.slot. The E flag (not the opcode) decides LBA48 addressing.
 *
 * <p>Threads. Each transport's receive thread runs a {@link Receiver}: it filters and validates
 * every frame and answers everything that needs no disk (config, masks, reservations, IDENTIFY,
 * CHECK POWER, errors) itself from its own transmit buffer. A command that needs the disk (read,
 * write, flush) is copied into a free {@link Command} buffer and queued to that NIC's {@link Disk}:
 * as many I/O threads as the advertised buffer count (and twice as many buffers), per NIC,
 * because an initiator keeps up to that many commands in flight per target MAC (the kernel's
 * window is per MAC, and vblade's multipath setup is one process with its own buffers per NIC). The receive thread never
 * waits: with every buffer of its NIC busy the frame is dropped, as the protocol allows. An I/O
 * thread does positional I/O on the shared {@link FileChannel}, builds the reply in place in the
 * command's buffer and sends it on the NIC the request came in on. I/O threads are woken only as
 * needed (see {@link Disk}), so a stream of fast page-cache reads costs no wake-up per frame,
 * while slow disk I/O still gets every thread. The mask list, reservation list and config
 * string are immutable arrays behind volatile fields, replaced under a lock by the (rare) edits,
 * so the per-frame checks read them without locking. Nothing is allocated per frame in steady
 * state.
 */
public final class AoeTarget implements AutoCloseable
{
    /** Config reply firmware version: 0x4000 + our release, in the style of vblade's 0x4000 + 25. */
    public static final int FIRMWARE_VERSION = 0x4001;
    /** IDENTIFY model (words 27-46). */
    public static final String MODEL = "aoemp userspace AoE target";
    /** IDENTIFY firmware revision (words 23-26, 8 characters). */
    public static final String FIRMWARE = "aoemp0.1";

    /** ATA status of a command that succeeded: DRDY. */
    public static final int STATUS_OK = AtaHeader.STATUS_DRDY;
    /** ATA status of a command that failed: DRDY|ERR (0x41), with the reason in the error register. */
    public static final int STATUS_FAILED = AtaHeader.STATUS_DRDY | AtaHeader.STATUS_ERR;
    /** CHECK POWER MODE's sector count for "active or idle". */
    public static final int POWER_ACTIVE = 0xFF;

    private static final int SECTOR = AtaHeader.SECTOR_SIZE;
    private static final int RESPONSE = AoeHeader.FLAG_RESPONSE;
    private static final long IDLE_PARK_NANOS = TimeUnit.MILLISECONDS.toNanos(100);
    /**
     * A queued command older than this means the working I/O threads are stuck in slow I/O (or
     * descheduled): the watcher takes it. Page-cache I/O drains the queue well within it.
     */
    static final long WAKE_AFTER_NANOS = TimeUnit.MICROSECONDS.toNanos(Long.getLong("aoe.target.wakeAfterMicros", 100));
    private static final int OP_READ = 1;
    private static final int OP_WRITE = 2;
    private static final int OP_FLUSH = 3;

    private final TargetOptions options;
    private final FileChannel channel;
    private final long baseOffset;
    private final long sizeSectors;
    private final ByteBuffer identifyData;
    private final List<FrameTransport> transports;
    private final Receiver[] receivers;
    private final List<Thread> ioThreads = new ArrayList<>();
    private final Object edits = new Object();
    private volatile long[] masks;
    private volatile long[] reservations = new long[0];
    private volatile byte[] configString;
    private volatile boolean running = true;
    private boolean closed;

    private final LongAdder framesReceived = new LongAdder();
    private final LongAdder ignored = new LongAdder();
    private final LongAdder masked = new LongAdder();
    private final LongAdder truncated = new LongAdder();
    private final LongAdder busyDrops = new LongAdder();
    private final LongAdder ataCommands = new LongAdder();
    private final LongAdder sectorsRead = new LongAdder();
    private final LongAdder sectorsWritten = new LongAdder();
    private final LongAdder flushes = new LongAdder();
    private final LongAdder ataErrors = new LongAdder();
    private final LongAdder aoeErrors = new LongAdder();
    private final LongAdder ioErrors = new LongAdder();
    private final LongAdder sendFailures = new LongAdder();

    private AoeTarget(final TargetOptions options, final FileChannel channel, final long fileSectors, final List<FrameTransport> transports)
    {
        this.options = options;
        this.channel = channel;
        this.transports = List.copyOf(transports);
        this.baseOffset = options.offsetSectors() * SECTOR;
        this.sizeSectors = options.lengthSectors() >= 0 ? options.lengthSectors() : fileSectors - options.offsetSectors();
        this.masks = options.allowedMacs().stream().mapToLong(MacAddress::bits).distinct().toArray();
        this.configString = options.configString().getBytes(StandardCharsets.ISO_8859_1);

        final ByteBuffer id = ByteBuffer.allocateDirect(Identify.LENGTH);
        Identify.write(id, 0, sizeSectors, MODEL, serialNumber(options), FIRMWARE);
        this.identifyData = id.asReadOnlyBuffer();

        this.receivers = new Receiver[this.transports.size()];
        for (int i = 0; i < receivers.length; i++)
        {
            receivers[i] = new Receiver(this.transports.get(i));
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
        return start(options, transports, () -> openFile(options));
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
        if (transports.isEmpty())
        {
            throw new IllegalArgumentException("a target needs at least one interface");
        }
        FileChannel channel = null;
        AoeTarget target = null;
        try
        {
            channel = opener.open();
            final long fileSectors = channel.size() / SECTOR;
            checkWindow(options, fileSectors);
            target = new AoeTarget(options, channel, fileSectors, List.copyOf(transports));
            target.startThreads();
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

    private void startThreads()
    {
        for (final Thread t : ioThreads)
        {
            t.start();
        }
        for (final Receiver r : receivers)
        {
            r.nic.start(r);
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
        for (final FrameTransport t : transports)
        {
            final ByteBuffer f = ByteBuffer.allocateDirect(Math.max(t.mtu() + 14, ConfigHeader.lengthFor(ConfigHeader.MAX_CONFIG_STRING)));
            final long[] to = masks.length == 0 ? new long[] {MacAddress.BROADCAST_BITS} : masks;
            for (final long dst : to)
            {
                new AoeHeader().wrap(f, 0).request(dst, t.mac(), options.shelf(), options.slot(), AoeHeader.CMD_CONFIG, 0)
                    .versionFlags(AoeHeader.VERSION, RESPONSE);
                final int length = writeConfig(new ConfigHeader().wrap(f, 0), maxSectors(t), ConfigHeader.CCMD_READ);
                send(t, f, length);
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
        return Math.clamp((nic.mtu() - AtaHeader.DATA_OFFSET) / SECTOR, 0, 255);
    }

    public String configString()
    {
        return new String(configString, StandardCharsets.ISO_8859_1);
    }

    public List<MacAddress> masks()
    {
        return Arrays.stream(masks).mapToObj(MacAddress::new).toList();
    }

    public List<MacAddress> reservations()
    {
        return Arrays.stream(reservations).mapToObj(MacAddress::new).toList();
    }

    public TargetStats stats()
    {
        return new TargetStats(framesReceived.sum(), ignored.sum(), masked.sum(), truncated.sum(), busyDrops.sum(),
            ataCommands.sum(), sectorsRead.sum(), sectorsWritten.sum(), flushes.sum(), ataErrors.sum(), aoeErrors.sum(),
            ioErrors.sum(), sendFailures.sum());
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
            .append(options.readOnly() ? "read-only" : "read-write").append(options.sync() ? ", DSYNC" : "")
            .append(", ").append(options.bufferCount()).append(" buffers per interface, on");
        for (final FrameTransport t : transports)
        {
            b.append(' ').append(t.name()).append(" (").append(new MacAddress(t.mac())).append(", MTU ").append(t.mtu())
                .append(", ").append(maxSectors(t)).append(" sectors/frame)");
        }
        if (masks.length > 0)
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

    /**
     * Stops receiving (closes the transports), lets every I/O thread finish the command it holds,
     * and closes the file; commands still queued are dropped. Idempotent; any thread but an I/O
     * or receive thread of this target.
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
        running = false;
        boolean interrupted = false;
        for (final Thread t : ioThreads)
        {
            LockSupport.unpark(t);
            if (t.isAlive())
            {
                try
                {
                    t.join(TimeUnit.SECONDS.toMillis(10));
                }
                catch (final InterruptedException e)
                {
                    interrupted = true;
                }
            }
        }
        try
        {
            channel.close();
        }
        catch (final IOException e)
        {
            // nothing left to do with it
        }
        if (interrupted)
        {
            Thread.currentThread().interrupt();
        }
    }

    // ---------------------------------------------------------------------------------------
    // Shared helpers

    private static boolean contains(final long[] macs, final long mac)
    {
        return indexOf(macs, macs.length, mac) >= 0;
    }

    private static int indexOf(final long[] macs, final int n, final long mac)
    {
        for (int i = 0; i < n; i++)
        {
            if (macs[i] == mac)
            {
                return i;
            }
        }
        return -1;
    }

    /** Sends {@code [0, length)}, padded with zeros to Ethernet's 60-byte minimum. */
    private void send(final FrameTransport nic, final ByteBuffer frame, final int length)
    {
        int n = length;
        while (n < AoeHeader.MIN_ETHERNET_FRAME)
        {
            frame.put(n++, (byte)0);
        }
        if (!nic.send(frame, n))
        {
            sendFailures.increment();
        }
    }

    /**
     * Turns the request header at the start of {@code h}'s buffer into the header of its response
     * from {@code nic}: addressed back to the requester, version 1, and always with our own shelf
     * and slot, never the wildcards a query may have used (initiators refuse those).
     */
    private void respond(final AoeHeader h, final FrameTransport nic, final int flags)
    {
        final long requester = h.src();
        h.dst(requester).src(nic.mac()).versionFlags(AoeHeader.VERSION, flags).shelf(options.shelf()).slot(options.slot());
    }

    /** Fills the config argument with our values and string; returns the frame length. */
    private int writeConfig(final ConfigHeader c, final int maxSectors, final int ccmd)
    {
        final byte[] string = configString;
        c.bufferCount(options.bufferCount()).firmwareVersion(FIRMWARE_VERSION).sectorCount(maxSectors)
            .versionCcmd(AoeHeader.VERSION, ccmd).configString(string, string.length);
        return ConfigHeader.lengthFor(string.length);
    }

    // ---------------------------------------------------------------------------------------
    // Receive side

    /**
     * Handles every frame of one NIC, on that NIC's receive thread, which owns this object (its
     * flyweights and its transmit buffer for the replies it sends itself).
     */
    private final class Receiver implements FrameHandler
    {
        private final FrameTransport nic;
        private final int maxSectors;
        private final Disk disk;
        private final ByteBuffer tx;
        private final AoeHeader rx = new AoeHeader();
        private final AtaHeader rxAta = new AtaHeader();
        private final ConfigHeader rxConfig = new ConfigHeader();
        private final MacMaskHeader rxMask = new MacMaskHeader();
        private final ReserveHeader rxReserve = new ReserveHeader();
        private final AoeHeader txHeader = new AoeHeader();
        private final AtaHeader txAta = new AtaHeader();
        private final ConfigHeader txConfig = new ConfigHeader();
        private final MacMaskHeader txMask = new MacMaskHeader();
        private final ReserveHeader txReserve = new ReserveHeader();

        Receiver(final FrameTransport nic)
        {
            this.nic = nic;
            this.maxSectors = maxSectors(nic);
            this.tx = ByteBuffer.allocateDirect(Math.max(nic.mtu() + 14,
                Math.max(AtaHeader.DATA_OFFSET + Identify.LENGTH, ConfigHeader.lengthFor(ConfigHeader.MAX_CONFIG_STRING))));
            txHeader.wrap(tx, 0);
            txAta.wrap(tx, 0);
            txConfig.wrap(tx, 0);
            txMask.wrap(tx, 0);
            txReserve.wrap(tx, 0);
            disk = new Disk(nic);
        }

        @Override
        public void onFrame(final ByteBuffer frame, final int length)
        {
            framesReceived.increment();
            if (length < AoeHeader.LENGTH)
            {
                truncated.increment();
                return;
            }
            final AoeHeader h = rx.wrap(frame, 0);
            if (h.etherType() != AoeHeader.ETHERTYPE || h.isResponse())
            {
                ignored.increment();
                return;
            }
            final int shelf = h.shelf();
            final int slot = h.slot();
            if (shelf != options.shelf() && shelf != AoeHeader.SHELF_ANY || slot != options.slot() && slot != AoeHeader.SLOT_ANY)
            {
                ignored.increment();
                return;
            }
            final long source = h.src();
            final long[] allowed = masks;
            if (allowed.length > 0 && !contains(allowed, source))
            {
                masked.increment();
                return;
            }
            if (h.version() != AoeHeader.VERSION)
            {
                error(frame, length, AoeHeader.LENGTH, AoeHeader.ERR_UNSUPPORTED_VERSION);
                return;
            }
            switch (h.command())
            {
                case AoeHeader.CMD_ATA -> onAta(frame, length, source);
                case AoeHeader.CMD_CONFIG -> onConfig(frame, length);
                case AoeHeader.CMD_MAC_MASK -> onMask(frame, length);
                case AoeHeader.CMD_RESERVE -> onReserve(frame, length, source);
                default -> error(frame, length, AoeHeader.LENGTH, AoeHeader.ERR_UNRECOGNIZED_COMMAND);
            }
        }

        // ----------------------------------------------------------------------------------- ATA

        private void onAta(final ByteBuffer frame, final int length, final long source)
        {
            if (length < AtaHeader.DATA_OFFSET)
            {
                truncated.increment();
                return;
            }
            final AtaHeader ata = rxAta.wrap(frame, 0);
            final int command = ata.cmdStatus();
            final long[] reservedFor = reservations;
            if (reservedFor.length > 0 && command != AtaHeader.ATA_IDENTIFY && !contains(reservedFor, source))
            {
                ataCommands.increment();
                error(frame, length, AtaHeader.DATA_OFFSET, AoeHeader.ERR_TARGET_RESERVED);
                return;
            }
            ataCommands.increment();
            switch (command)
            {
                case AtaHeader.ATA_READ, AtaHeader.ATA_READ_EXT -> onReadWrite(frame, length, false);
                case AtaHeader.ATA_WRITE, AtaHeader.ATA_WRITE_EXT -> onReadWrite(frame, length, true);
                case AtaHeader.ATA_FLUSH, AtaHeader.ATA_FLUSH_EXT ->
                {
                    if (options.readOnly())
                    {
                        ataReply(frame, STATUS_OK, 0, 0, false);  // nothing was written that could need a sync
                    }
                    else
                    {
                        dispatch(frame, AtaHeader.DATA_OFFSET, OP_FLUSH, 0, 0);
                    }
                }
                case AtaHeader.ATA_IDENTIFY -> ataReply(frame, STATUS_OK, 0, 0, true);
                case AtaHeader.ATA_CHECK_POWER -> ataReply(frame, STATUS_OK, 0, POWER_ACTIVE, false);
                default -> ataReply(frame, STATUS_FAILED, AtaHeader.ERROR_ABRT, ata.sectorCount(), false);
            }
        }

        private void onReadWrite(final ByteBuffer frame, final int length, final boolean write)
        {
            final AtaHeader ata = rxAta;
            final int count = ata.sectorCount();
            if (count > maxSectors)
            {
                error(frame, length, AtaHeader.DATA_OFFSET, AoeHeader.ERR_BAD_ARGUMENT);
                return;
            }
            final int dataBytes = count * SECTOR;
            if (write && length < AtaHeader.DATA_OFFSET + dataBytes)
            {
                error(frame, length, AtaHeader.DATA_OFFSET, AoeHeader.ERR_BAD_ARGUMENT);
                return;
            }
            final long lba = (ata.aflags() & AtaHeader.AFLAG_LBA48) != 0 ? ata.lba() : ata.lba28();
            if (lba + count > sizeSectors)
            {
                ataReply(frame, STATUS_FAILED, AtaHeader.ERROR_IDNF, count, false);
                return;
            }
            if (write && options.readOnly())
            {
                ataReply(frame, STATUS_FAILED, AtaHeader.ERROR_ABRT, count, false);
                return;
            }
            if (count == 0)
            {
                ataReply(frame, STATUS_OK, 0, 0, false);
                return;
            }
            dispatch(frame, AtaHeader.DATA_OFFSET + (write ? dataBytes : 0), write ? OP_WRITE : OP_READ, lba, count);
        }

        /** Copies the command into a free buffer and queues it for the I/O threads; drops it when none is free. */
        private void dispatch(final ByteBuffer frame, final int copyLength, final int op, final long lba, final int count)
        {
            final Command c = disk.free.relaxedPoll();
            if (c == null)
            {
                busyDrops.increment();
                return;
            }
            c.frame.put(0, frame, 0, copyLength);
            c.op = op;
            c.lba = lba;
            c.count = count;
            disk.submit(c);
        }

        /** Answers an ATA command that needs no disk, from this receiver's buffer. */
        private void ataReply(final ByteBuffer frame, final int status, final int error, final int count, final boolean identify)
        {
            tx.put(0, frame, 0, AtaHeader.DATA_OFFSET);
            respond(txHeader, nic, RESPONSE);
            txAta.cmdStatus(status).errFeature(error).sectorCount(count);
            int length = AtaHeader.DATA_OFFSET;
            if (identify)
            {
                tx.put(AtaHeader.DATA_OFFSET, identifyData, 0, Identify.LENGTH);
                length += Identify.LENGTH;
            }
            if ((status & AtaHeader.STATUS_ERR) != 0)
            {
                ataErrors.increment();
            }
            send(nic, tx, length);
        }

        /** Answers with AoE error {@code code}, echoing the first {@code echoLength} bytes the request had. */
        private void error(final ByteBuffer frame, final int length, final int echoLength, final int code)
        {
            final int n = Math.min(Math.min(length, echoLength), tx.capacity());
            tx.put(0, frame, 0, n);
            respond(txHeader, nic, RESPONSE | AoeHeader.FLAG_ERROR);
            txHeader.error(code);
            aoeErrors.increment();
            send(nic, tx, n);
        }

        // -------------------------------------------------------------------------------- config

        private void onConfig(final ByteBuffer frame, final int length)
        {
            final ConfigHeader c = rxConfig.wrap(frame, 0);
            // A query too short to hold the argument asks nothing but "who is there": a read.
            final int ccmd = length >= ConfigHeader.STRING_LENGTH_OFFSET ? c.ccmd() : ConfigHeader.CCMD_READ;
            if (ccmd == ConfigHeader.CCMD_READ)
            {
                configReply(frame, ccmd, 0);
                return;
            }
            if (ccmd > ConfigHeader.CCMD_FORCE_SET)
            {
                error(frame, length, ConfigHeader.LENGTH, AoeHeader.ERR_BAD_ARGUMENT);
                return;
            }
            if (length < ConfigHeader.LENGTH)
            {
                truncated.increment();
                return;
            }
            final int stringLength = c.configStringLength();
            if (stringLength > ConfigHeader.MAX_CONFIG_STRING)
            {
                error(frame, length, ConfigHeader.LENGTH, AoeHeader.ERR_BAD_ARGUMENT);
                return;
            }
            if (ConfigHeader.STRING_OFFSET + stringLength > length)
            {
                truncated.increment();
                return;
            }
            switch (ccmd)
            {
                case ConfigHeader.CCMD_TEST ->
                {
                    if (stringLength == configString.length && matches(frame, configString, stringLength))
                    {
                        configReply(frame, ccmd, 0);
                    }
                }
                case ConfigHeader.CCMD_TEST_PREFIX ->
                {
                    final byte[] current = configString;
                    if (stringLength <= current.length && matches(frame, current, stringLength))
                    {
                        configReply(frame, ccmd, 0);
                    }
                }
                case ConfigHeader.CCMD_SET ->
                {
                    final boolean set;
                    synchronized (edits)
                    {
                        set = configString.length == 0;
                        if (set)
                        {
                            configString = requestString(frame, stringLength);
                        }
                    }
                    configReply(frame, ccmd, set ? 0 : AoeHeader.ERR_CONFIG_STRING_PRESENT);
                }
                default ->
                {
                    synchronized (edits)
                    {
                        configString = requestString(frame, stringLength);
                    }
                    configReply(frame, ccmd, 0);
                }
            }
        }

        private static boolean matches(final ByteBuffer frame, final byte[] current, final int n)
        {
            for (int i = 0; i < n; i++)
            {
                if (frame.get(ConfigHeader.STRING_OFFSET + i) != current[i])
                {
                    return false;
                }
            }
            return true;
        }

        private static byte[] requestString(final ByteBuffer frame, final int n)
        {
            final byte[] s = new byte[n];
            frame.get(ConfigHeader.STRING_OFFSET, s, 0, n);
            return s;
        }

        private void configReply(final ByteBuffer frame, final int ccmd, final int errorCode)
        {
            tx.put(0, frame, 0, AoeHeader.LENGTH);
            respond(txHeader, nic, errorCode == 0 ? RESPONSE : RESPONSE | AoeHeader.FLAG_ERROR);
            txHeader.error(errorCode);
            if (errorCode != 0)
            {
                aoeErrors.increment();
            }
            send(nic, tx, writeConfig(txConfig, maxSectors, ccmd));
        }

        // ---------------------------------------------------------------------------------- mask

        private void onMask(final ByteBuffer frame, final int length)
        {
            if (length < MacMaskHeader.LENGTH)
            {
                truncated.increment();
                return;
            }
            final MacMaskHeader m = rxMask.wrap(frame, 0);
            final int mcmd = m.mcmd();
            if (mcmd == MacMaskHeader.MCMD_READ)
            {
                maskReply(frame, masks, 0);
                return;
            }
            if (mcmd != MacMaskHeader.MCMD_EDIT)
            {
                error(frame, length, MacMaskHeader.LENGTH, AoeHeader.ERR_BAD_ARGUMENT);
                return;
            }
            if (!m.isValid(length))
            {
                truncated.increment();
                return;
            }
            int merror = 0;
            final long[] list;
            synchronized (edits)
            {
                final long[] edited = Arrays.copyOf(masks, MacMaskHeader.MAX_MASKS);
                int n = masks.length;
                // Directives apply in order; the first one that fails stops the edit, and the
                // ones before it stay applied. The reply says why, with the list as it now is.
                for (int i = 0; i < m.directiveCount() && merror == 0; i++)
                {
                    final long mac = m.mac(i);
                    switch (m.dcmd(i))
                    {
                        case MacMaskHeader.DCMD_NONE ->
                        {
                        }
                        case MacMaskHeader.DCMD_ADD ->
                        {
                            if (indexOf(edited, n, mac) < 0)
                            {
                                if (n == MacMaskHeader.MAX_MASKS)
                                {
                                    merror = MacMaskHeader.MERROR_LIST_FULL;
                                }
                                else
                                {
                                    edited[n++] = mac;
                                }
                            }
                        }
                        case MacMaskHeader.DCMD_DELETE ->
                        {
                            final int j = indexOf(edited, n, mac);
                            if (j >= 0)
                            {
                                System.arraycopy(edited, j + 1, edited, j, n - j - 1);
                                n--;
                            }
                        }
                        default -> merror = MacMaskHeader.MERROR_BAD_DCMD;
                    }
                }
                list = Arrays.copyOf(edited, n);
                masks = list;
            }
            maskReply(frame, list, merror);
        }

        private void maskReply(final ByteBuffer frame, final long[] list, final int merror)
        {
            tx.put(0, frame, 0, MacMaskHeader.LENGTH);
            respond(txHeader, nic, RESPONSE);
            txMask.clearReserved().merror(merror).directiveCount(list.length);
            for (int i = 0; i < list.length; i++)
            {
                txMask.directive(i, MacMaskHeader.DCMD_NONE, list[i]);
            }
            send(nic, tx, MacMaskHeader.lengthFor(list.length));
        }

        // ------------------------------------------------------------------------------- reserve

        private void onReserve(final ByteBuffer frame, final int length, final long source)
        {
            if (length < ReserveHeader.LENGTH)
            {
                truncated.increment();
                return;
            }
            final ReserveHeader r = rxReserve.wrap(frame, 0);
            final int rcmd = r.rcmd();
            if (rcmd == ReserveHeader.RCMD_READ)
            {
                reserveReply(frame, reservations, 0);
                return;
            }
            if (rcmd != ReserveHeader.RCMD_SET && rcmd != ReserveHeader.RCMD_FORCE_SET)
            {
                error(frame, length, ReserveHeader.LENGTH, AoeHeader.ERR_BAD_ARGUMENT);
                return;
            }
            if (!r.isValid(length))
            {
                truncated.increment();
                return;
            }
            final long[] list;
            int errorCode = 0;
            synchronized (edits)
            {
                final long[] current = reservations;
                if (rcmd == ReserveHeader.RCMD_SET && current.length > 0 && !contains(current, source))
                {
                    errorCode = AoeHeader.ERR_TARGET_RESERVED;
                    list = current;
                }
                else
                {
                    final long[] wanted = new long[r.macCount()];
                    for (int i = 0; i < wanted.length; i++)
                    {
                        wanted[i] = r.mac(i);
                    }
                    list = Arrays.stream(wanted).distinct().toArray();
                    reservations = list;
                }
            }
            reserveReply(frame, list, errorCode);
        }

        private void reserveReply(final ByteBuffer frame, final long[] list, final int errorCode)
        {
            tx.put(0, frame, 0, ReserveHeader.RCMD_OFFSET + 1);
            respond(txHeader, nic, errorCode == 0 ? RESPONSE : RESPONSE | AoeHeader.FLAG_ERROR);
            txHeader.error(errorCode);
            if (errorCode != 0)
            {
                aoeErrors.increment();
            }
            // A list set through a jumbo-frame NIC may not fit a smaller one: send what fits.
            final int fits = (nic.mtu() + 14 - ReserveHeader.LENGTH) / ReserveHeader.MAC_LENGTH;
            final int n = Math.min(list.length, Math.max(0, fits));
            txReserve.macCount(n);
            for (int i = 0; i < n; i++)
            {
                txReserve.mac(i, list[i]);
            }
            send(nic, tx, ReserveHeader.lengthFor(n));
        }
    }

    // ---------------------------------------------------------------------------------------
    // Disk side

    /** One command's buffer, and what the receive thread decoded from it. Owned by whoever took it from a queue. */
    private static final class Command
    {
        final ByteBuffer frame;
        final ByteBuffer data;
        final AoeHeader header = new AoeHeader();
        final AtaHeader ata = new AtaHeader();
        int op;
        long lba;
        int count;
        long queuedNanos;

        Command(final int size)
        {
            frame = ByteBuffer.allocateDirect(size);
            data = frame.duplicate();
            header.wrap(frame, 0);
            ata.wrap(frame, 0);
        }
    }

    /**
     * The disk side of one NIC: {@code bufferCount} I/O threads and twice as many command buffers.
     * The spare buffers are for the moment between a thread sending a reply and putting its buffer
     * back: an initiator that has the reply may already have sent its next command, which must not
     * find every buffer taken (measured: without them, hundreds of drops and 20 ms retransmission
     * timeouts per second at queue depth 16 on two cores). More than {@code bufferCount} commands
     * are then held only in that race, or when an initiator exceeds the count; beyond twice the
     * count they are dropped.
     *
     * <p>The receive thread takes a buffer from {@link #free}, fills it and {@link #submit}s it to
     * {@link #pending}; I/O threads take commands from there, run them, send the reply and put the
     * buffer back. Threads are woken only as needed, because on a small machine a wake-up per
     * frame costs more than a page-cache read:
     * <ul>
     * <li>a thread that finds the queue empty goes to sleep on {@link #sleepers};
     * <li>a submit wakes one when no thread is {@link #awake};
     * <li>while commands wait and others work, one sleeper is made the {@link #watcher}: it checks
     *     the oldest waiting command on a timer and takes it over itself once it has waited
     *     {@link #WAKE_AFTER_NANOS} (the working threads are stuck in slow I/O, or descheduled),
     *     after making another sleeper the watcher. So a stream of fast reads keeps one thread
     *     busy and one watching, and a slow disk gets one more thread in flight every
     *     {@link #WAKE_AFTER_NANOS} until every command has its own.
     * </ul>
     *
     * <p>No command is left waiting with nobody to run it: a thread going to sleep first counts
     * itself out of {@link #awake}, then registers in {@link #sleepers}, then looks at the queue
     * once more and wakes a sleeper (perhaps itself) if it is not empty; a submit queues first,
     * then reads {@link #awake}; a watcher takes over at once when it sees work and nobody awake.
     * All of these are volatile accesses, so one side always sees the other.
     */
    private final class Disk
    {
        /** Stands in {@link #watcher} while a submitter or thread is choosing one. */
        private final Thread choosing = new Thread(() -> { }, "aoe-target-choosing-watcher");

        final FrameTransport nic;
        /** Buffers nobody holds: I/O threads put, the receive thread takes. */
        final MpscAtomicArrayQueue<Command> free;
        /** Commands waiting for an I/O thread, oldest first: the receive thread puts, I/O threads take. */
        final MpmcAtomicArrayQueue<Command> pending;
        /** Sleeping I/O threads; whoever wakes one takes it off. */
        final MpmcAtomicArrayQueue<IoThread> sleepers;
        /** I/O threads running a command or looking for one (not asleep, not watching). */
        final AtomicInteger awake = new AtomicInteger();
        /** The thread watching the queue, {@link #choosing}, or null. */
        final AtomicReference<Thread> watcher = new AtomicReference<>();

        Disk(final FrameTransport nic)
        {
            this.nic = nic;
            final int n = options.bufferCount();
            final int buffers = 2 * n;
            free = new MpscAtomicArrayQueue<>(buffers);
            pending = new MpmcAtomicArrayQueue<>(buffers);
            sleepers = new MpmcAtomicArrayQueue<>(Math.max(2, n));
            final int size = Math.max(nic.mtu() + 14, AoeHeader.MIN_ETHERNET_FRAME);
            for (int i = 0; i < buffers; i++)
            {
                free.offer(new Command(size));
            }
            for (int i = 0; i < n; i++)
            {
                ioThreads.add(new IoThread(this, i).thread);
                awake.incrementAndGet();
            }
        }

        /** Receive thread only. */
        void submit(final Command c)
        {
            c.queuedNanos = System.nanoTime();
            pending.offer(c);  // never full: there are only as many commands as slots
            if (awake.get() == 0)
            {
                final Thread watching = watcher.get();
                if (watching != null)
                {
                    LockSupport.unpark(watching);  // it sees nobody awake and takes the command at once
                }
                else
                {
                    wakeOne();
                }
            }
            else
            {
                ensureWatcher();
            }
        }

        /** Makes a sleeper the watcher when commands wait and there is none. Any thread. */
        void ensureWatcher()
        {
            if (pending.isEmpty() || watcher.get() != null || !watcher.compareAndSet(null, choosing))
            {
                return;
            }
            final IoThread io = sleepers.poll();
            if (io == null)
            {
                watcher.set(null);  // every thread is up anyway
                return;
            }
            io.watch = true;
            watcher.set(io.thread);
            io.sleeping = false;
            LockSupport.unpark(io.thread);
        }

        void wakeOne()
        {
            final IoThread io = sleepers.poll();
            if (io != null)
            {
                awake.incrementAndGet();
                io.watch = false;
                io.sleeping = false;
                LockSupport.unpark(io.thread);
            }
        }
    }

    /** One I/O thread of a {@link Disk}; its loop runs until the target closes. */
    private final class IoThread implements Runnable
    {
        final Disk disk;
        final FrameTransport nic;
        final Thread thread;
        /** Cleared by whoever takes this thread off {@link Disk#sleepers} to wake it. */
        volatile boolean sleeping;
        /** Set before {@link #sleeping} is cleared when woken as the watcher; read and cleared by this thread. */
        boolean watch;

        IoThread(final Disk disk, final int index)
        {
            this.disk = disk;
            this.nic = disk.nic;
            this.thread = Thread.ofPlatform().name("aoe-target-io-" + nic.name() + "-" + index).daemon(true).unstarted(this);
        }

        @Override
        public void run()
        {
            while (running)
            {
                if (watch)
                {
                    watchQueue();
                    continue;
                }
                final Command c = disk.pending.poll();
                if (c == null)
                {
                    sleep();
                    continue;
                }
                disk.ensureWatcher();
                execute(c);
                disk.free.offer(c);
            }
        }

        /** Waits, on a timer, until the oldest waiting command has waited too long or nobody else works; then works. */
        private void watchQueue()
        {
            int emptyLooks = 0;
            while (running)
            {
                final Command oldest = disk.pending.peek();
                if (oldest == null)
                {
                    if (++emptyLooks > 2)
                    {
                        break;
                    }
                    LockSupport.parkNanos(this, WAKE_AFTER_NANOS);
                    continue;
                }
                emptyLooks = 0;
                final long waited = System.nanoTime() - oldest.queuedNanos;
                if (waited >= WAKE_AFTER_NANOS || disk.awake.get() == 0)
                {
                    break;
                }
                LockSupport.parkNanos(this, WAKE_AFTER_NANOS - waited);
            }
            disk.awake.incrementAndGet();
            watch = false;
            disk.watcher.set(null);
        }

        private void sleep()
        {
            sleeping = true;
            disk.awake.decrementAndGet();
            disk.sleepers.offer(this);
            if (!disk.pending.isEmpty())
            {
                disk.wakeOne();
            }
            while (sleeping && running)
            {
                LockSupport.park(this);
            }
        }

        private void execute(final Command c)
        {
            final int op = c.op;
            final long lba = c.lba;
            final int count = c.count;
            final ByteBuffer data = c.data;
            int length = AtaHeader.DATA_OFFSET;
            int status = STATUS_OK;
            int error = 0;
            final int bytes = count * SECTOR;
            final long position = baseOffset + lba * SECTOR;
            try
            {
                switch (op)
                {
                    case OP_READ ->
                    {
                        data.limit(AtaHeader.DATA_OFFSET + bytes).position(AtaHeader.DATA_OFFSET);
                        while (data.hasRemaining())
                        {
                            if (channel.read(data, position + data.position() - AtaHeader.DATA_OFFSET) < 0)
                            {
                                throw new EOFException("the file ended before sector " + (lba + count));
                            }
                        }
                        length += bytes;
                        sectorsRead.add(count);
                    }
                    case OP_WRITE ->
                    {
                        data.limit(AtaHeader.DATA_OFFSET + bytes).position(AtaHeader.DATA_OFFSET);
                        while (data.hasRemaining())
                        {
                            channel.write(data, position + data.position() - AtaHeader.DATA_OFFSET);
                        }
                        sectorsWritten.add(count);
                    }
                    default ->
                    {
                        channel.force(true);
                        flushes.increment();
                    }
                }
            }
            catch (final IOException e)
            {
                // Reads get UNC (the data cannot be had), writes and flushes ABRT; the initiator sees ERR either way.
                ioErrors.increment();
                ataErrors.increment();
                status = STATUS_FAILED;
                error = op == OP_READ ? 0x40 : AtaHeader.ERROR_ABRT;
                length = AtaHeader.DATA_OFFSET;
            }
            respond(c.header, nic, RESPONSE);
            c.ata.cmdStatus(status).errFeature(error).sectorCount(status == STATUS_OK ? 0 : count);
            send(nic, c.frame, length);
        }
    }
}
