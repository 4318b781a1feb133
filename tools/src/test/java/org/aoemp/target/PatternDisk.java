package org.aoemp.target;

import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.Arrays;

import org.aoemp.protocol.AtaHeader;

/** A small disk image whose every sector is filled with a byte of its own, so a read shows which sector it got. */
final class PatternDisk
{
    private static final int SECTOR = AtaHeader.SECTOR_SIZE;

    private PatternDisk()
    {
    }

    /** The byte that fills sector {@code sector}. */
    static byte pattern(final long sector)
    {
        return (byte)(sector * 31 + 7);
    }

    /** Writes {@code sectors} patterned sectors to {@code file} and returns it. */
    static Path write(final Path file, final int sectors) throws IOException
    {
        final byte[] content = new byte[sectors * SECTOR];
        for (int s = 0; s < sectors; s++)
        {
            Arrays.fill(content, s * SECTOR, (s + 1) * SECTOR, pattern(s));
        }
        Files.write(file, content);
        return file;
    }
}
