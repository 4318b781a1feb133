package org.aoemp.initiator;

import org.aoemp.protocol.AtaHeader;
import org.aoemp.transport.FrameTransport;

/**
 * One local NIC used by the initiator: its transport, its {@link PortSender} agent, and what the
 * data path derives from it. Immutable after construction; the transport's own threads are
 * described there.
 */
public final class Port
{
    /** Ethernet header (14) + AoE (10) + ATA (12) counted against the MTU, as the kernel and vblade do. */
    public static final int MTU_OVERHEAD = 36;

    private final int index;
    private final FrameTransport transport;
    private final PortSender sender;

    Port(final int index, final FrameTransport transport)
    {
        this.index = index;
        this.transport = transport;
        this.sender = new PortSender(transport);
    }

    /** The agent that drains this port's path queues (its thread starts when the first path registers, if sends may wait). */
    PortSender sender()
    {
        return sender;
    }

    public int index()
    {
        return index;
    }

    public String name()
    {
        return transport.name();
    }

    public long mac()
    {
        return transport.mac();
    }

    public int mtu()
    {
        return transport.mtu();
    }

    public FrameTransport transport()
    {
        return transport;
    }

    /** Sectors that fit one frame at this MTU: (MTU − 36) / 512, so 2 at 1500 and 17 at 9000. */
    public int maxSectors()
    {
        return sectorsForMtu(transport.mtu());
    }

    public static int sectorsForMtu(final int mtu)
    {
        return Math.max(1, Math.min(255, (mtu - MTU_OVERHEAD) / AtaHeader.SECTOR_SIZE));
    }

    @Override
    public String toString()
    {
        return transport.name();
    }
}
