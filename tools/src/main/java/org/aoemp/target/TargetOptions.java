package org.aoemp.target;

import java.nio.charset.StandardCharsets;
import java.nio.file.Path;
import java.util.List;
import java.util.Objects;

import org.aoemp.protocol.AoeHeader;
import org.aoemp.protocol.ConfigHeader;
import org.aoemp.protocol.MacAddress;
import org.aoemp.protocol.MacMaskHeader;

/**
 * What an {@link AoeTarget} serves and how, with vblade's option names in brackets.
 *
 * @param shelf         major address, 0..65534 (65535 is the broadcast shelf)
 * @param slot          minor address, 0..254 (255 is the broadcast slot)
 * @param file          the backing file or block device
 * @param readOnly      [-r] open the file read-only and abort every write (ATA status ERR, error ABRT)
 * @param bufferCount   [-b] the buffer count advertised in config replies, and the number of
 *                      commands each NIC (target MAC) runs at once: one I/O thread each (and two
 *                      buffers each, see {@link AoeTarget}); commands arriving while all of a
 *                      NIC's buffers are busy are dropped, as the protocol says
 * @param allowedMacs   [-m] the initial MAC mask list: when not empty, frames from any other MAC
 *                      are ignored, and the start-up announcement goes to each of these MACs
 *                      instead of the broadcast address
 * @param offsetSectors [-o] sectors of the file skipped before sector 0 of the target
 * @param lengthSectors [-l] sectors exported, or -1 for the rest of the file after the offset
 * @param sync          [-s] open the file with {@code DSYNC}: every write is on stable storage
 *                      before it is acknowledged
 * @param configString  the initial config string (ISO-8859-1, at most 1024 bytes); initiators may
 *                      change it with Query Config set / force set
 * @param direct        [-d] open the file with O_DIRECT ({@code ExtendedOpenOption.DIRECT}), which
 *                      the JDK allows only in units of the file system's block size: see
 *                      {@link DirectIo}
 */
public record TargetOptions(
    int shelf,
    int slot,
    Path file,
    boolean readOnly,
    int bufferCount,
    List<MacAddress> allowedMacs,
    long offsetSectors,
    long lengthSectors,
    boolean sync,
    String configString,
    boolean direct)
{
    /** vblade's default buffer count. */
    public static final int DEFAULT_BUFFER_COUNT = 16;
    /** Each buffer has a thread of its own (per NIC), so the count is bounded well below the 16-bit field. */
    public static final int MAX_BUFFER_COUNT = 1024;

    public TargetOptions
    {
        if (shelf < 0 || shelf >= AoeHeader.SHELF_ANY)
        {
            throw new IllegalArgumentException("shelf must be 0..65534 (65535 is the broadcast shelf): " + shelf);
        }
        if (slot < 0 || slot >= AoeHeader.SLOT_ANY)
        {
            throw new IllegalArgumentException("slot must be 0..254 (255 is the broadcast slot): " + slot);
        }
        Objects.requireNonNull(file, "file");
        if (bufferCount < 1 || bufferCount > MAX_BUFFER_COUNT)
        {
            throw new IllegalArgumentException("buffer count must be 1.." + MAX_BUFFER_COUNT + ": " + bufferCount);
        }
        allowedMacs = List.copyOf(allowedMacs);
        if (allowedMacs.size() > MacMaskHeader.MAX_MASKS)
        {
            throw new IllegalArgumentException("at most " + MacMaskHeader.MAX_MASKS + " MACs may be allowed, got " + allowedMacs.size());
        }
        if (offsetSectors < 0)
        {
            throw new IllegalArgumentException("offset must be >= 0 sectors: " + offsetSectors);
        }
        if (lengthSectors < -1)
        {
            throw new IllegalArgumentException("length must be >= 0 sectors (or -1 for the rest of the file): " + lengthSectors);
        }
        Objects.requireNonNull(configString, "configString");
        if (configString.getBytes(StandardCharsets.ISO_8859_1).length > ConfigHeader.MAX_CONFIG_STRING)
        {
            throw new IllegalArgumentException("a config string has at most " + ConfigHeader.MAX_CONFIG_STRING + " bytes");
        }
    }

    /** Without O_DIRECT (vblade's default). */
    public TargetOptions(final int shelf, final int slot, final Path file, final boolean readOnly, final int bufferCount,
        final List<MacAddress> allowedMacs, final long offsetSectors, final long lengthSectors, final boolean sync, final String configString)
    {
        this(shelf, slot, file, readOnly, bufferCount, allowedMacs, offsetSectors, lengthSectors, sync, configString, false);
    }

    /** Read-write, 16 buffers, no masks, the whole file, no DSYNC, empty config string: vblade's defaults. */
    public static TargetOptions of(final int shelf, final int slot, final Path file)
    {
        return new TargetOptions(shelf, slot, file, false, DEFAULT_BUFFER_COUNT, List.of(), 0, -1, false, "");
    }

    public TargetOptions withReadOnly(final boolean ro)
    {
        return new TargetOptions(shelf, slot, file, ro, bufferCount, allowedMacs, offsetSectors, lengthSectors, sync, configString, direct);
    }

    public TargetOptions withBufferCount(final int n)
    {
        return new TargetOptions(shelf, slot, file, readOnly, n, allowedMacs, offsetSectors, lengthSectors, sync, configString, direct);
    }

    public TargetOptions withAllowedMacs(final List<MacAddress> macs)
    {
        return new TargetOptions(shelf, slot, file, readOnly, bufferCount, macs, offsetSectors, lengthSectors, sync, configString, direct);
    }

    /** Exports {@code length} sectors (-1: to the end) starting {@code offset} sectors into the file. */
    public TargetOptions withWindow(final long offset, final long length)
    {
        return new TargetOptions(shelf, slot, file, readOnly, bufferCount, allowedMacs, offset, length, sync, configString, direct);
    }

    public TargetOptions withSync(final boolean s)
    {
        return new TargetOptions(shelf, slot, file, readOnly, bufferCount, allowedMacs, offsetSectors, lengthSectors, s, configString, direct);
    }

    public TargetOptions withConfigString(final String s)
    {
        return new TargetOptions(shelf, slot, file, readOnly, bufferCount, allowedMacs, offsetSectors, lengthSectors, sync, s, direct);
    }

    /** {@code e<shelf>.<slot>}. */
    public String address()
    {
        return "e" + shelf + "." + slot;
    }
}
