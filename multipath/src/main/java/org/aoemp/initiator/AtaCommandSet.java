package org.aoemp.initiator;

import org.aoemp.protocol.AtaHeader;

/**
 * Which ATA command codes a device is sent: the EXT (LBA48) reads and writes when its IDENTIFY
 * data offers LBA48, else the LBA28 ones; FLUSH CACHE EXT until the target aborts one (vblade
 * does), then FLUSH CACHE for good.
 *
 * <p>Threading: {@link #lba48(boolean)} once by the opening thread after IDENTIFY (before any
 * read or write is accepted); everything else on the engine thread.
 */
final class AtaCommandSet
{
    private volatile boolean lba48;
    /** IDENTIFY said which reads and writes to use (before that, nothing but IDENTIFY should be sent). */
    private volatile boolean known;
    private int flush = AtaHeader.ATA_FLUSH_EXT;

    void lba48(final boolean on)
    {
        lba48 = on;
        known = true;
    }

    /** The device's IDENTIFY data was read: {@link #read} and {@link #write} are the device's own. */
    boolean known()
    {
        return known;
    }

    boolean lba48()
    {
        return lba48;
    }

    int read()
    {
        return lba48 ? AtaHeader.ATA_READ_EXT : AtaHeader.ATA_READ;
    }

    int write()
    {
        return lba48 ? AtaHeader.ATA_WRITE_EXT : AtaHeader.ATA_WRITE;
    }

    int flush()
    {
        return flush;
    }

    /** The target aborted FLUSH CACHE EXT: use FLUSH CACHE from now on. */
    void fallBackToFlushCache()
    {
        flush = AtaHeader.ATA_FLUSH;
    }
}
