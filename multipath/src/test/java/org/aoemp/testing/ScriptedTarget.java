package org.aoemp.testing;

import java.nio.ByteBuffer;
import java.util.concurrent.Executors;
import java.util.concurrent.ScheduledExecutorService;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicLong;

import org.aoemp.protocol.AoeHeader;
import org.aoemp.protocol.AtaHeader;
import org.aoemp.protocol.ConfigHeader;
import org.aoemp.protocol.Identify;
import org.aoemp.transport.FrameTransport;

/**
 * A memory-backed AoE target for tests, with a hook that decides the fate of every reply: send
 * it, drop it, send it twice, hold it back, or send it from another MAC. It answers Query Config,
 * IDENTIFY, READ/WRITE (LBA28 and LBA48) and FLUSH CACHE (it aborts FLUSH CACHE EXT, as vblade
 * does). Writes are applied when the request arrives, as a real target would.
 */
public final class ScriptedTarget implements AutoCloseable
{
    /** What to do with one reply. */
    public record Fate(int copies, long delayMillis, long sourceMac)
    {
        public static final Fate SEND = new Fate(1, 0, -1);
        public static final Fate DROP = new Fate(0, 0, -1);
        public static final Fate TWICE = new Fate(2, 0, -1);

        public static Fate delay(final long millis)
        {
            return new Fate(1, millis, -1);
        }

        public static Fate from(final long mac)
        {
            return new Fate(1, 0, mac);
        }
    }

    /** Decides each reply's fate; {@code n} counts ATA requests from 0. Called on the target's receive thread. */
    @FunctionalInterface
    public interface Script
    {
        Fate fate(long n, int ataCommand, long lba, int sectors);
    }

    private final FrameTransport nic;
    private final int shelf;
    private final int slot;
    private final byte[] disk;
    private final int bufferCount;
    private volatile Script script = (n, c, l, s) -> Fate.SEND;
    private volatile boolean lba48 = true;
    private final java.util.Set<Integer> commandsSeen = java.util.concurrent.ConcurrentHashMap.newKeySet();
    private final ScheduledExecutorService later = Executors.newSingleThreadScheduledExecutor(
        r -> Thread.ofPlatform().name("scripted-target-later").daemon(true).unstarted(r));
    private final AtomicLong ataRequests = new AtomicLong();
    private final AtomicLong writesApplied = new AtomicLong();

    public ScriptedTarget(final FrameTransport nic, final int shelf, final int slot, final long sizeBytes, final int bufferCount)
    {
        this.nic = nic;
        this.shelf = shelf;
        this.slot = slot;
        this.disk = new byte[Math.toIntExact(sizeBytes)];
        this.bufferCount = bufferCount;
        nic.start(this::onFrame);
    }

    public ScriptedTarget script(final Script s)
    {
        this.script = s;
        return this;
    }

    /** Advertises LBA28 only (IDENTIFY words 83/86 without bit 10), as an old disk would. */
    public ScriptedTarget lba28Only()
    {
        lba48 = false;
        return this;
    }

    /** Every ATA command code received so far. */
    public java.util.Set<Integer> commandsSeen()
    {
        return commandsSeen;
    }

    public byte[] disk()
    {
        return disk;
    }

    public long ataRequests()
    {
        return ataRequests.get();
    }

    public long writesApplied()
    {
        return writesApplied.get();
    }

    /** Broadcasts an unsolicited config response, as vblade does at start. */
    public void announce()
    {
        final ByteBuffer f = ByteBuffer.allocate(64);
        new AoeHeader().wrap(f, 0).request(org.aoemp.protocol.MacAddress.BROADCAST_BITS, nic.mac(),
            shelf, slot, AoeHeader.CMD_CONFIG, 0).versionFlags(AoeHeader.VERSION, AoeHeader.FLAG_RESPONSE);
        writeConfig(f);
        nic.send(f, AoeHeader.MIN_ETHERNET_FRAME);
    }

    private void writeConfig(final ByteBuffer f)
    {
        new ConfigHeader().wrap(f, 0).bufferCount(bufferCount).firmwareVersion(0x4019).sectorCount(0)
            .versionCcmd(AoeHeader.VERSION, ConfigHeader.CCMD_READ).configString(new byte[0], 0);
    }

    private synchronized void onFrame(final ByteBuffer frame, final int length)
    {
        final AoeHeader h = new AoeHeader().wrap(frame, 0);
        if (!h.isAoeV1(length) || h.isResponse())
        {
            return;
        }
        final boolean forUs = (h.shelf() == shelf || h.shelf() == AoeHeader.SHELF_ANY) && (h.slot() == slot || h.slot() == AoeHeader.SLOT_ANY);
        if (!forUs)
        {
            return;
        }
        final ByteBuffer reply = ByteBuffer.allocate(nic.mtu() + 14);
        reply.put(0, frame, 0, Math.min(length, AtaHeader.DATA_OFFSET));
        final AoeHeader r = new AoeHeader().wrap(reply, 0);
        r.dst(h.src()).src(nic.mac()).shelf(shelf).slot(slot).versionFlags(AoeHeader.VERSION, AoeHeader.FLAG_RESPONSE);
        if (h.command() == AoeHeader.CMD_CONFIG)
        {
            writeConfig(reply);
            nic.send(reply, AoeHeader.MIN_ETHERNET_FRAME);
            return;
        }
        if (h.command() != AoeHeader.CMD_ATA)
        {
            r.versionFlags(AoeHeader.VERSION, AoeHeader.FLAG_RESPONSE | AoeHeader.FLAG_ERROR).error(AoeHeader.ERR_UNRECOGNIZED_COMMAND);
            nic.send(reply, AoeHeader.MIN_ETHERNET_FRAME);
            return;
        }
        final AtaHeader a = new AtaHeader().wrap(frame, 0);
        final AtaHeader ra = new AtaHeader().wrap(reply, 0);
        final int cmd = a.cmdStatus();
        final boolean ext = (a.aflags() & AtaHeader.AFLAG_LBA48) != 0;
        final long lba = ext ? a.lba() : a.lba28();
        final int sectors = a.sectorCount();
        final long n = ataRequests.getAndIncrement();
        commandsSeen.add(cmd);
        int replyLength = AtaHeader.DATA_OFFSET;
        int status = AtaHeader.STATUS_DRDY;
        int error = 0;
        switch (cmd)
        {
            case AtaHeader.ATA_IDENTIFY ->
            {
                Identify.write(reply, AtaHeader.DATA_OFFSET, disk.length / 512, "Scripted Target", shelf + "." + slot, "T1");
                if (!lba48)
                {
                    for (final int word : new int[] {Identify.COMMAND_SET_SUPPORTED_OFFSET, Identify.COMMAND_SET_ENABLED_OFFSET})
                    {
                        final int at = AtaHeader.DATA_OFFSET + word;
                        org.aoemp.protocol.Bytes.u16le(reply, at, org.aoemp.protocol.Bytes.u16le(reply, at) & ~Identify.LBA48_BIT);
                    }
                }
                replyLength += 512;
            }
            case AtaHeader.ATA_READ, AtaHeader.ATA_READ_EXT ->
            {
                final long end = (lba + sectors) * 512;
                if (end > disk.length)
                {
                    status |= AtaHeader.STATUS_ERR;
                    error = AtaHeader.ERROR_IDNF;
                }
                else
                {
                    reply.put(AtaHeader.DATA_OFFSET, disk, (int)(lba * 512), sectors * 512);
                    replyLength += sectors * 512;
                }
            }
            case AtaHeader.ATA_WRITE, AtaHeader.ATA_WRITE_EXT ->
            {
                final long end = (lba + sectors) * 512;
                if (end > disk.length || length < AtaHeader.DATA_OFFSET + sectors * 512)
                {
                    status |= AtaHeader.STATUS_ERR;
                    error = AtaHeader.ERROR_IDNF;
                }
                else
                {
                    frame.get(AtaHeader.DATA_OFFSET, disk, (int)(lba * 512), sectors * 512);
                    writesApplied.incrementAndGet();
                }
            }
            case AtaHeader.ATA_FLUSH ->
            {
            }
            default ->
            {
                status |= AtaHeader.STATUS_ERR;
                error = AtaHeader.ERROR_ABRT;
            }
        }
        ra.cmdStatus(status).errFeature(error).sectorCount(0);
        final Fate fate = script.fate(n, cmd, lba, sectors);
        if (fate.sourceMac() >= 0)
        {
            r.src(fate.sourceMac());
        }
        final int len = Math.max(AoeHeader.MIN_ETHERNET_FRAME, replyLength);
        final Runnable send = () ->
        {
            for (int i = 0; i < fate.copies(); i++)
            {
                nic.send(reply, len);
            }
        };
        if (fate.delayMillis() > 0)
        {
            later.schedule(send, fate.delayMillis(), TimeUnit.MILLISECONDS);
        }
        else
        {
            send.run();
        }
    }

    @Override
    public void close()
    {
        later.shutdownNow();
        nic.close();
    }
}
