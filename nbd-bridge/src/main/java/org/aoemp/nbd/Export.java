package org.aoemp.nbd;

import java.util.Objects;

import org.aoemp.block.BlockDevice;

/**
 * One named export: the device behind it and whether clients may write. Immutable.
 *
 * @param name     the name clients ask for ({@code nbd://host:port/NAME})
 * @param device   the disk; the server never closes it
 * @param readOnly true when the server or the device forbids writes
 * @param counters what its clients did ({@code --metrics}); the connections count into it
 */
public record Export(String name, BlockDevice device, boolean readOnly, ExportCounters counters)
{
    public Export(final String name, final BlockDevice device, final boolean readOnly)
    {
        this(name, device, readOnly, new ExportCounters());
    }

    public Export
    {
        Objects.requireNonNull(name, "name");
        Objects.requireNonNull(device, "device");
        Objects.requireNonNull(counters, "counters");
        if (HandshakeCodec.utf8(name).length > HandshakeCodec.MAX_STRING_LENGTH)
        {
            throw new IllegalArgumentException("export name longer than " + HandshakeCodec.MAX_STRING_LENGTH + " bytes");
        }
        readOnly = readOnly || device.isReadOnly();
    }

    public long size()
    {
        return device.size();
    }

    public int blockSize()
    {
        return device.blockSize();
    }

    public int transmissionFlags()
    {
        return TransmissionCodec.transmissionFlags(readOnly);
    }

    /** What LIST and INFO_DESCRIPTION show next to the name. */
    public String description()
    {
        return device.name() + ", " + device.size() + " bytes" + (readOnly ? ", read-only" : "");
    }
}
