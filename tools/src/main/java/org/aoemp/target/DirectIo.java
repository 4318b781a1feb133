package org.aoemp.target;

import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.OpenOption;
import java.nio.file.Path;

import org.aoemp.protocol.AtaHeader;

/**
 * vblade's {@code -d}: the backing file opened with O_DIRECT, through the JDK's
 * {@code com.sun.nio.file.ExtendedOpenOption.DIRECT}. The JDK allows direct I/O only at offsets,
 * lengths and buffer addresses that are multiples of the file store's block size
 * ({@link java.nio.file.FileStore#getBlockSize}, 4096 on ext4 and xfs), while AoE commands address
 * 512-byte sectors at any sector. So {@code -d} works only where that unit is 512; elsewhere it is
 * refused with a clear error at start, never half-applied. Where it works the disk workers move
 * data through an aligned buffer ({@link DiskWorker}).
 */
public final class DirectIo
{
    private DirectIo()
    {
    }

    /**
     * The open option for O_DIRECT on {@code file}.
     *
     * @throws IOException naming why when this JDK or this file store cannot do direct I/O in 512-byte sectors
     */
    public static OpenOption openOption(final Path file) throws IOException
    {
        final OpenOption direct = jdkOption();
        if (direct == null)
        {
            throw new IOException("-d (O_DIRECT): this Java runtime has no com.sun.nio.file.ExtendedOpenOption.DIRECT "
                + "(module jdk.unsupported); run without -d");
        }
        final long unit = Files.getFileStore(file).getBlockSize();
        if (unit != AtaHeader.SECTOR_SIZE)
        {
            throw new IOException("-d (O_DIRECT): the JDK does direct I/O on " + file + " only in units of " + unit
                + " bytes (the file system's block size), but AoE commands address single 512-byte sectors; run without -d "
                + "(-s makes every write durable before it is acknowledged)");
        }
        return direct;
    }

    /** ExtendedOpenOption.DIRECT, or null when this runtime does not have it. */
    static OpenOption jdkOption()
    {
        try
        {
            final Class<?> c = Class.forName("com.sun.nio.file.ExtendedOpenOption");
            for (final Object o : c.getEnumConstants())
            {
                if ("DIRECT".equals(((Enum<?>)o).name()))
                {
                    return (OpenOption)o;
                }
            }
            return null;
        }
        catch (final ClassNotFoundException | LinkageError e)
        {
            return null;
        }
    }
}
