package org.aoemp.target;

import java.nio.ByteBuffer;

import org.aoemp.protocol.AoeHeader;
import org.aoemp.protocol.AtaHeader;
import org.aoemp.protocol.ConfigHeader;
import org.aoemp.protocol.Identify;
import org.aoemp.protocol.MacMaskHeader;
import org.aoemp.protocol.ReserveHeader;

/**
 * The target's protocol, without threads or I/O: turns one request frame received on one NIC into
 * what the target does with it, one of {@link #REPLY} (the reply is in {@link #reply()}),
 * {@link #DISK} (the command needs the file: {@link #diskOp()} and friends say what) or
 * {@link #DROP} (nothing is sent; a counter says why).
 *
 * <p>What it answers, with vblade's semantics: requests addressed to the target's shelf (or
 * 0xffff) and slot (or 0xff), never responses (R flag). Query Config: read, test (exact match),
 * test prefix, set (only while no string is set, else AoE error 4), force set; a query too short
 * to hold the argument is a read, a string longer than 1024 bytes or an unknown ccmd gets AoE
 * error 2, a test that does not match is not answered. MAC Mask List: read, edit (at most 32
 * masks, merror 2 for an unknown directive and 3 for a full list; the directives before a failed
 * one stay applied); while the list is not empty, frames from other MACs are ignored without a
 * word. Reserve/Release: read, set (only if not reserved or the sender is on the list, else AoE
 * error 6), force set; while reserved, ATA commands from other MACs except IDENTIFY get AoE error
 * 6. Any other AoE command gets error 1, another AoE version error 5.
 *
 * <p>ATA: IDENTIFY DEVICE (512 bytes of identify data), READ and WRITE SECTORS (EXT), CHECK POWER
 * MODE (active: sector count 0xff), FLUSH CACHE and FLUSH CACHE EXT (both sync the file, so they
 * go to the disk; on a read-only target nothing can need a sync and they succeed at once). The E
 * flag (not the opcode) selects LBA48 addressing, else the low 28 bits of the LBA are used. Other
 * ATA commands are aborted (status DRDY|ERR, error ABRT); an address range beyond the end gets
 * DRDY|ERR with IDNF; a write to a read-only target DRDY|ERR with ABRT; a sector count larger
 * than the NIC's MTU carries ((MTU - 36) / 512, at most 255), or a write frame shorter than its
 * sector count, gets AoE error 2; a zero-sector read or write succeeds at once with no data.
 * Frames too short for the header or the argument they declare are dropped. Where this differs
 * from vblade 25, on purpose: both FLUSH commands really sync (vblade answers 0xE7 without syncing
 * and aborts 0xEA), another AoE version gets error 5 (vblade does not look), and replies always
 * carry the target's own shelf.slot (never the wildcard the request used: initiators refuse
 * those).
 *
 * <p>Replies: addressed back to the sender, from this NIC's MAC, AoE version 1, the request's tag
 * and command, padded with zeros to Ethernet's 60-byte minimum. {@link #handle} writes them into
 * this responder's own transmit buffer; nothing is allocated per frame (only the rare edits of
 * the config string, masks and reservations allocate their new arrays).
 *
 * <p>Threading: one responder per NIC, used by that NIC's receive thread only ({@link #handle}
 * and the accessors of its result, until the next {@link #handle}). {@link #writeAnnouncement}
 * and the static helpers may be called from any thread with a buffer of the caller's own. The
 * shared {@link TargetState} and {@link TargetCounters} are safe for every NIC's thread at once.
 */
final class TargetResponder
{
    /** {@link #handle}: nothing to send (a counter says why). */
    static final int DROP = 0;
    /** {@link #handle}: send {@link #reply()}'s bytes {@code [0, replyLength())}. */
    static final int REPLY = 1;
    /** {@link #handle}: a disk command; copy {@code [0, diskCopyLength())} of the request for a disk worker. */
    static final int DISK = 2;

    /** A disk command: read {@code count} sectors at {@code lba}. */
    static final int OP_READ = 1;
    /** A disk command: write the request's {@code count} sectors at {@code lba}. */
    static final int OP_WRITE = 2;
    /** A disk command: sync the file (FLUSH CACHE, FLUSH CACHE EXT). */
    static final int OP_FLUSH = 3;

    /** Config reply firmware version: 0x4000 + our release, in the style of vblade's 0x4000 + 25. */
    static final int FIRMWARE_VERSION = 0x4001;
    /** ATA status of a command that succeeded: DRDY. */
    static final int STATUS_OK = AtaHeader.STATUS_DRDY;
    /** ATA status of a command that failed: DRDY|ERR (0x41), with the reason in the error register. */
    static final int STATUS_FAILED = AtaHeader.STATUS_DRDY | AtaHeader.STATUS_ERR;
    /** ATA error register UNC: uncorrectable data, the sectors cannot be read. */
    static final int ERROR_UNC = 0x40;
    /** CHECK POWER MODE's sector count for "active or idle". */
    static final int POWER_ACTIVE = 0xFF;

    private static final int SECTOR = AtaHeader.SECTOR_SIZE;
    private static final int RESPONSE = AoeHeader.FLAG_RESPONSE;

    private final int shelf;
    private final int slot;
    private final boolean readOnly;
    private final int bufferCount;
    private final long sizeSectors;
    private final ByteBuffer identifyData;
    private final TargetState state;
    private final TargetCounters counters;
    private final long nicMac;
    private final int mtu;
    private final int maxSectors;

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

    // The result of the last handle().
    private int replyLength;
    private int diskOp;
    private long diskLba;
    private int diskCount;
    private int diskCopyLength;

    /**
     * @param options      the target's address, read-only flag and buffer count
     * @param sizeSectors  sectors exported
     * @param identifyData the 512 bytes IDENTIFY answers (read, never modified)
     * @param nicMac       the MAC of the NIC this responder answers for
     * @param mtu          that NIC's MTU
     */
    TargetResponder(final TargetOptions options, final long sizeSectors, final ByteBuffer identifyData, final TargetState state,
        final TargetCounters counters, final long nicMac, final int mtu)
    {
        this.shelf = options.shelf();
        this.slot = options.slot();
        this.readOnly = options.readOnly();
        this.bufferCount = options.bufferCount();
        this.sizeSectors = sizeSectors;
        this.identifyData = identifyData;
        this.state = state;
        this.counters = counters;
        this.nicMac = nicMac;
        this.mtu = mtu;
        this.maxSectors = maxSectors(mtu);
        this.tx = ByteBuffer.allocateDirect(Math.max(mtu + 14,
            Math.max(AtaHeader.DATA_OFFSET + Identify.LENGTH, ConfigHeader.lengthFor(ConfigHeader.MAX_CONFIG_STRING))));
        txHeader.wrap(tx, 0);
        txAta.wrap(tx, 0);
        txConfig.wrap(tx, 0);
        txMask.wrap(tx, 0);
        txReserve.wrap(tx, 0);
    }

    /** Most sectors per ATA command a NIC of this MTU carries: (MTU − 36) / 512, at most 255, as the kernel and vblade count. */
    static int maxSectors(final int mtu)
    {
        return Math.clamp((mtu - AtaHeader.DATA_OFFSET) / SECTOR, 0, 255);
    }

    /** The transmit buffer {@link #REPLY} refers to. */
    ByteBuffer reply()
    {
        return tx;
    }

    /** After {@link #REPLY}: the reply's length, padding included. */
    int replyLength()
    {
        return replyLength;
    }

    /** After {@link #DISK}: {@link #OP_READ}, {@link #OP_WRITE} or {@link #OP_FLUSH}. */
    int diskOp()
    {
        return diskOp;
    }

    /** After {@link #DISK}: the first sector (of the exported window) to read or write. */
    long diskLba()
    {
        return diskLba;
    }

    /** After {@link #DISK}: sectors to read or write (at least 1), 0 for a flush. */
    int diskCount()
    {
        return diskCount;
    }

    /** After {@link #DISK}: how many bytes of the request the disk worker needs (the headers, and a write's data). */
    int diskCopyLength()
    {
        return diskCopyLength;
    }

    /**
     * Decides what to do with bytes {@code [0, length)} of {@code frame}, a frame received on this
     * responder's NIC (the buffer is only read). Counts every frame and what became of it.
     *
     * @return {@link #REPLY}, {@link #DISK} or {@link #DROP}
     */
    int handle(final ByteBuffer frame, final int length)
    {
        counters.framesReceived.increment();
        if (length < AoeHeader.LENGTH)
        {
            counters.truncated.increment();
            return DROP;
        }
        final AoeHeader h = rx.wrap(frame, 0);
        if (h.etherType() != AoeHeader.ETHERTYPE || h.isResponse())
        {
            counters.ignored.increment();
            return DROP;
        }
        final int toShelf = h.shelf();
        final int toSlot = h.slot();
        if (toShelf != shelf && toShelf != AoeHeader.SHELF_ANY || toSlot != slot && toSlot != AoeHeader.SLOT_ANY)
        {
            counters.ignored.increment();
            return DROP;
        }
        final long source = h.src();
        final long[] allowed = state.masks();
        if (allowed.length > 0 && !TargetState.contains(allowed, source))
        {
            counters.masked.increment();
            return DROP;
        }
        if (h.version() != AoeHeader.VERSION)
        {
            return error(frame, length, AoeHeader.LENGTH, AoeHeader.ERR_UNSUPPORTED_VERSION);
        }
        return switch (h.command())
        {
            case AoeHeader.CMD_ATA -> onAta(frame, length, source);
            case AoeHeader.CMD_CONFIG -> onConfig(frame, length);
            case AoeHeader.CMD_MAC_MASK -> onMask(frame, length);
            case AoeHeader.CMD_RESERVE -> onReserve(frame, length, source);
            default -> error(frame, length, AoeHeader.LENGTH, AoeHeader.ERR_UNRECOGNIZED_COMMAND);
        };
    }

    // --------------------------------------------------------------------------------------- ATA

    private int onAta(final ByteBuffer frame, final int length, final long source)
    {
        if (length < AtaHeader.DATA_OFFSET)
        {
            counters.truncated.increment();
            return DROP;
        }
        final AtaHeader ata = rxAta.wrap(frame, 0);
        final int command = ata.cmdStatus();
        counters.ataCommands.increment();
        final long[] reservedFor = state.reservations();
        if (reservedFor.length > 0 && command != AtaHeader.ATA_IDENTIFY && !TargetState.contains(reservedFor, source))
        {
            return error(frame, length, AtaHeader.DATA_OFFSET, AoeHeader.ERR_TARGET_RESERVED);
        }
        return switch (command)
        {
            case AtaHeader.ATA_READ, AtaHeader.ATA_READ_EXT -> onReadWrite(frame, length, false);
            case AtaHeader.ATA_WRITE, AtaHeader.ATA_WRITE_EXT -> onReadWrite(frame, length, true);
            case AtaHeader.ATA_FLUSH, AtaHeader.ATA_FLUSH_EXT -> readOnly
                ? ataReply(frame, STATUS_OK, 0, 0, false)  // nothing was written that could need a sync
                : disk(AtaHeader.DATA_OFFSET, OP_FLUSH, 0, 0);
            case AtaHeader.ATA_IDENTIFY -> ataReply(frame, STATUS_OK, 0, 0, true);
            case AtaHeader.ATA_CHECK_POWER -> ataReply(frame, STATUS_OK, 0, POWER_ACTIVE, false);
            default -> ataReply(frame, STATUS_FAILED, AtaHeader.ERROR_ABRT, ata.sectorCount(), false);
        };
    }

    private int onReadWrite(final ByteBuffer frame, final int length, final boolean write)
    {
        final AtaHeader ata = rxAta;
        final int count = ata.sectorCount();
        if (count > maxSectors)
        {
            return error(frame, length, AtaHeader.DATA_OFFSET, AoeHeader.ERR_BAD_ARGUMENT);
        }
        final int dataBytes = count * SECTOR;
        if (write && length < AtaHeader.DATA_OFFSET + dataBytes)
        {
            return error(frame, length, AtaHeader.DATA_OFFSET, AoeHeader.ERR_BAD_ARGUMENT);
        }
        final long lba = (ata.aflags() & AtaHeader.AFLAG_LBA48) != 0 ? ata.lba() : ata.lba28();
        if (lba + count > sizeSectors)
        {
            return ataReply(frame, STATUS_FAILED, AtaHeader.ERROR_IDNF, count, false);
        }
        if (write && readOnly)
        {
            return ataReply(frame, STATUS_FAILED, AtaHeader.ERROR_ABRT, count, false);
        }
        if (count == 0)
        {
            return ataReply(frame, STATUS_OK, 0, 0, false);
        }
        return disk(AtaHeader.DATA_OFFSET + (write ? dataBytes : 0), write ? OP_WRITE : OP_READ, lba, count);
    }

    private int disk(final int copyLength, final int op, final long lba, final int count)
    {
        diskCopyLength = copyLength;
        diskOp = op;
        diskLba = lba;
        diskCount = count;
        return DISK;
    }

    /** Answers an ATA command that needs no disk. */
    private int ataReply(final ByteBuffer frame, final int status, final int error, final int count, final boolean identify)
    {
        tx.put(0, frame, 0, AtaHeader.DATA_OFFSET);
        respond(txHeader, nicMac, RESPONSE);
        txAta.cmdStatus(status).errFeature(error).sectorCount(count);
        int length = AtaHeader.DATA_OFFSET;
        if (identify)
        {
            tx.put(AtaHeader.DATA_OFFSET, identifyData, 0, Identify.LENGTH);
            length += Identify.LENGTH;
        }
        if ((status & AtaHeader.STATUS_ERR) != 0)
        {
            counters.ataErrors.increment();
        }
        return reply(length);
    }

    /** Answers with AoE error {@code code}, echoing the first {@code echoLength} bytes the request had. */
    private int error(final ByteBuffer frame, final int length, final int echoLength, final int code)
    {
        final int n = Math.min(Math.min(length, echoLength), tx.capacity());
        tx.put(0, frame, 0, n);
        respond(txHeader, nicMac, RESPONSE | AoeHeader.FLAG_ERROR);
        txHeader.error(code);
        counters.aoeErrors.increment();
        return reply(n);
    }

    private int reply(final int length)
    {
        replyLength = pad(tx, length);
        return REPLY;
    }

    // ------------------------------------------------------------------------------------ config

    private int onConfig(final ByteBuffer frame, final int length)
    {
        final ConfigHeader c = rxConfig.wrap(frame, 0);
        // A query too short to hold the argument asks nothing but "who is there": a read.
        final int ccmd = length >= ConfigHeader.STRING_LENGTH_OFFSET ? c.ccmd() : ConfigHeader.CCMD_READ;
        if (ccmd == ConfigHeader.CCMD_READ)
        {
            return configReply(frame, ccmd, 0);
        }
        if (ccmd > ConfigHeader.CCMD_FORCE_SET)
        {
            return error(frame, length, ConfigHeader.LENGTH, AoeHeader.ERR_BAD_ARGUMENT);
        }
        if (length < ConfigHeader.LENGTH)
        {
            counters.truncated.increment();
            return DROP;
        }
        final int stringLength = c.configStringLength();
        if (stringLength > ConfigHeader.MAX_CONFIG_STRING)
        {
            return error(frame, length, ConfigHeader.LENGTH, AoeHeader.ERR_BAD_ARGUMENT);
        }
        if (ConfigHeader.STRING_OFFSET + stringLength > length)
        {
            counters.truncated.increment();
            return DROP;
        }
        switch (ccmd)
        {
            case ConfigHeader.CCMD_TEST ->
            {
                final byte[] current = state.configString();
                return stringLength == current.length && matches(frame, current, stringLength) ? configReply(frame, ccmd, 0) : DROP;
            }
            case ConfigHeader.CCMD_TEST_PREFIX ->
            {
                final byte[] current = state.configString();
                return stringLength <= current.length && matches(frame, current, stringLength) ? configReply(frame, ccmd, 0) : DROP;
            }
            case ConfigHeader.CCMD_SET ->
            {
                final boolean set = state.setConfigStringIfEmpty(requestString(frame, stringLength));
                return configReply(frame, ccmd, set ? 0 : AoeHeader.ERR_CONFIG_STRING_PRESENT);
            }
            default ->
            {
                state.forceConfigString(requestString(frame, stringLength));
                return configReply(frame, ccmd, 0);
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

    private int configReply(final ByteBuffer frame, final int ccmd, final int errorCode)
    {
        tx.put(0, frame, 0, AoeHeader.LENGTH);
        respond(txHeader, nicMac, errorCode == 0 ? RESPONSE : RESPONSE | AoeHeader.FLAG_ERROR);
        txHeader.error(errorCode);
        if (errorCode != 0)
        {
            counters.aoeErrors.increment();
        }
        return reply(writeConfig(txConfig, ccmd));
    }

    /** Fills the config argument with our values and the current string; returns the frame length. */
    private int writeConfig(final ConfigHeader c, final int ccmd)
    {
        final byte[] string = state.configString();
        c.bufferCount(bufferCount).firmwareVersion(FIRMWARE_VERSION).sectorCount(maxSectors)
            .versionCcmd(AoeHeader.VERSION, ccmd).configString(string, string.length);
        return ConfigHeader.lengthFor(string.length);
    }

    /**
     * Writes the unsolicited config response a target sends at start (as vblade does) into
     * {@code f}, addressed to {@code dst}; returns its length, padding included. Any thread: it
     * touches neither this responder's buffer nor its flyweights.
     */
    int writeAnnouncement(final ByteBuffer f, final long dst)
    {
        new AoeHeader().wrap(f, 0).request(dst, nicMac, shelf, slot, AoeHeader.CMD_CONFIG, 0).versionFlags(AoeHeader.VERSION, RESPONSE);
        return pad(f, writeConfig(new ConfigHeader().wrap(f, 0), ConfigHeader.CCMD_READ));
    }

    // -------------------------------------------------------------------------------------- mask

    private int onMask(final ByteBuffer frame, final int length)
    {
        if (length < MacMaskHeader.LENGTH)
        {
            counters.truncated.increment();
            return DROP;
        }
        final MacMaskHeader m = rxMask.wrap(frame, 0);
        final int mcmd = m.mcmd();
        if (mcmd == MacMaskHeader.MCMD_READ)
        {
            return maskReply(frame, state.masks(), 0);
        }
        if (mcmd != MacMaskHeader.MCMD_EDIT)
        {
            return error(frame, length, MacMaskHeader.LENGTH, AoeHeader.ERR_BAD_ARGUMENT);
        }
        if (!m.isValid(length))
        {
            counters.truncated.increment();
            return DROP;
        }
        final TargetState.Edit edit = state.editMasks(m);
        return maskReply(frame, edit.list(), edit.error());
    }

    private int maskReply(final ByteBuffer frame, final long[] list, final int merror)
    {
        tx.put(0, frame, 0, MacMaskHeader.LENGTH);
        respond(txHeader, nicMac, RESPONSE);
        txMask.clearReserved().merror(merror).directiveCount(list.length);
        for (int i = 0; i < list.length; i++)
        {
            txMask.directive(i, MacMaskHeader.DCMD_NONE, list[i]);
        }
        return reply(MacMaskHeader.lengthFor(list.length));
    }

    // ----------------------------------------------------------------------------------- reserve

    private int onReserve(final ByteBuffer frame, final int length, final long source)
    {
        if (length < ReserveHeader.LENGTH)
        {
            counters.truncated.increment();
            return DROP;
        }
        final ReserveHeader r = rxReserve.wrap(frame, 0);
        final int rcmd = r.rcmd();
        if (rcmd == ReserveHeader.RCMD_READ)
        {
            return reserveReply(frame, state.reservations(), 0);
        }
        if (rcmd != ReserveHeader.RCMD_SET && rcmd != ReserveHeader.RCMD_FORCE_SET)
        {
            return error(frame, length, ReserveHeader.LENGTH, AoeHeader.ERR_BAD_ARGUMENT);
        }
        if (!r.isValid(length))
        {
            counters.truncated.increment();
            return DROP;
        }
        final long[] wanted = new long[r.macCount()];
        for (int i = 0; i < wanted.length; i++)
        {
            wanted[i] = r.mac(i);
        }
        final TargetState.Edit edit = state.reserve(rcmd == ReserveHeader.RCMD_FORCE_SET, source, wanted);
        return reserveReply(frame, edit.list(), edit.error());
    }

    private int reserveReply(final ByteBuffer frame, final long[] list, final int errorCode)
    {
        tx.put(0, frame, 0, ReserveHeader.RCMD_OFFSET + 1);
        respond(txHeader, nicMac, errorCode == 0 ? RESPONSE : RESPONSE | AoeHeader.FLAG_ERROR);
        txHeader.error(errorCode);
        if (errorCode != 0)
        {
            counters.aoeErrors.increment();
        }
        // A list set through a jumbo-frame NIC may not fit a smaller one: send what fits.
        final int fits = (mtu + 14 - ReserveHeader.LENGTH) / ReserveHeader.MAC_LENGTH;
        final int n = Math.min(list.length, Math.max(0, fits));
        txReserve.macCount(n);
        for (int i = 0; i < n; i++)
        {
            txReserve.mac(i, list[i]);
        }
        return reply(ReserveHeader.lengthFor(n));
    }

    // ----------------------------------------------------------------------------- shared helpers

    /**
     * Turns the request header {@code h} wraps into the header of its response from the NIC with
     * MAC {@code nicMac}: addressed back to {@code requester} (the request's source), version 1,
     * {@code flags}, and the target's own shelf and slot, never the wildcards a query may have
     * used. The requester is passed in, so a header already turned around can be turned again.
     * Any thread, on its own flyweight.
     */
    static void respond(final AoeHeader h, final long requester, final long nicMac, final int flags, final int shelf, final int slot)
    {
        h.dst(requester).src(nicMac).versionFlags(AoeHeader.VERSION, flags).shelf(shelf).slot(slot);
    }

    private void respond(final AoeHeader h, final long mac, final int flags)
    {
        respond(h, h.src(), mac, flags, shelf, slot);
    }

    /** Pads {@code frame[length, 60)} with zeros (Ethernet's minimum); returns the padded length. Any thread, on its own buffer. */
    static int pad(final ByteBuffer frame, final int length)
    {
        int n = length;
        while (n < AoeHeader.MIN_ETHERNET_FRAME)
        {
            frame.put(n++, (byte)0);
        }
        return n;
    }
}
