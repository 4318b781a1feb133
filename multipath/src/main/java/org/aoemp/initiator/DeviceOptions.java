package org.aoemp.initiator;

import java.time.Duration;

/**
 * Tunables of one AoE device. The defaults suit a switched LAN with disk-backed targets.
 *
 * @param deadAfter          fail commands with EIO when no path answered for this long while
 *                           commands were waiting; {@link Duration#ZERO} = retry forever
 * @param initialRto         retransmission timeout before the first RTT sample
 * @param rtoFloor           lowest RTO (a microsecond LAN still has disks behind it)
 * @param rtoCeiling         highest RTO, which bounds failover time
 * @param downAfterTimeouts  consecutive timeouts after which a path is DOWN
 * @param slots              command slots (tags) of the device: its in-flight limit across paths
 * @param maxSectors         cap on sectors per command (0 = MTU and target decide)
 * @param openTimeout        how long open() waits for discovery and IDENTIFY
 * @param readOnly           refuse writes locally (EPERM)
 * @param fenceTimeout       how long a retransmitted write fences its range against later
 *                           overlapping writes when no reply proves its first copy landed: it
 *                           must exceed the longest time a frame can linger in the network
 */
public record DeviceOptions(
    Duration deadAfter,
    Duration initialRto,
    Duration rtoFloor,
    Duration rtoCeiling,
    int downAfterTimeouts,
    int slots,
    int maxSectors,
    Duration openTimeout,
    boolean readOnly,
    Duration fenceTimeout)
{
    public DeviceOptions
    {
        if (slots < 1 || slots > Slot.MAX_SLOTS)
        {
            throw new IllegalArgumentException("slots must be 1.." + Slot.MAX_SLOTS);
        }
        if (maxSectors < 0 || maxSectors > 255)
        {
            throw new IllegalArgumentException("maxSectors must be 0..255");
        }
        if (deadAfter.isNegative())
        {
            throw new IllegalArgumentException("deadAfter must be >= 0");
        }
    }

    public static DeviceOptions defaults()
    {
        return new DeviceOptions(Duration.ofSeconds(60), Duration.ofMillis(200), Duration.ofMillis(20),
            Duration.ofSeconds(2), 3, 1024, 0, Duration.ofSeconds(5), false, Duration.ofSeconds(1));
    }

    public DeviceOptions withDeadAfter(final Duration d)
    {
        return new DeviceOptions(d, initialRto, rtoFloor, rtoCeiling, downAfterTimeouts, slots, maxSectors, openTimeout, readOnly, fenceTimeout);
    }

    public DeviceOptions withRto(final Duration initial, final Duration floor, final Duration ceiling)
    {
        return new DeviceOptions(deadAfter, initial, floor, ceiling, downAfterTimeouts, slots, maxSectors, openTimeout, readOnly, fenceTimeout);
    }

    public DeviceOptions withOpenTimeout(final Duration d)
    {
        return new DeviceOptions(deadAfter, initialRto, rtoFloor, rtoCeiling, downAfterTimeouts, slots, maxSectors, d, readOnly, fenceTimeout);
    }

    public DeviceOptions withReadOnly(final boolean ro)
    {
        return new DeviceOptions(deadAfter, initialRto, rtoFloor, rtoCeiling, downAfterTimeouts, slots, maxSectors, openTimeout, ro, fenceTimeout);
    }

    public DeviceOptions withFenceTimeout(final Duration d)
    {
        return new DeviceOptions(deadAfter, initialRto, rtoFloor, rtoCeiling, downAfterTimeouts, slots, maxSectors, openTimeout, readOnly, d);
    }

    public DeviceOptions withMaxSectors(final int n)
    {
        return new DeviceOptions(deadAfter, initialRto, rtoFloor, rtoCeiling, downAfterTimeouts, slots, n, openTimeout, readOnly, fenceTimeout);
    }
}
