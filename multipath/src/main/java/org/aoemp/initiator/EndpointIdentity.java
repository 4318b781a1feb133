package org.aoemp.initiator;

import java.util.ArrayList;
import java.util.List;
import java.util.Locale;
import java.util.Objects;

import org.aoemp.protocol.Identify;

/**
 * Who answers behind one target MAC: its IDENTIFY data (size, serial, model, LBA48) and the
 * config string it advertises. Two MACs are paths of one device only when their disks are the
 * same ({@link #sameDisk}) and they advertise the same config string ({@link #sameTarget}).
 * The firmware revision is shown but not compared (one disk reached through two target
 * programs of different versions is still one disk).
 */
public record EndpointIdentity(Identify identify, String configString)
{
    public EndpointIdentity
    {
        Objects.requireNonNull(identify, "identify");
        Objects.requireNonNull(configString, "configString");
    }

    /** Size in bytes, from the IDENTIFY capacity. */
    public long sizeBytes()
    {
        return identify.capacitySectors() * 512;
    }

    /** Same size, serial, model and LBA48 support: the same disk as far as IDENTIFY can tell. */
    public boolean sameDisk(final EndpointIdentity other)
    {
        return identify.capacitySectors() == other.identify.capacitySectors() && identify.lba48() == other.identify.lba48()
            && identify.serial().equals(other.identify.serial()) && identify.model().equals(other.identify.model());
    }

    /** The same disk and the same config string. */
    public boolean sameTarget(final EndpointIdentity other)
    {
        return sameDisk(other) && configString.equals(other.configString);
    }

    /** {@code 8388608 bytes, LBA48, model "...", serial "...", config "..."}: for messages. */
    public String describe()
    {
        return String.format(Locale.ROOT, "%d bytes, %s, model \"%s\", serial \"%s\", config \"%s\"", sizeBytes(),
            identify.lba48() ? "LBA48" : "LBA28", identify.model(), identify.serial(), configString);
    }

    /** What differs from {@code before}, e.g. {@code size 8388608 -> 16777216 bytes, serial "a" -> "b"}. */
    public String changesFrom(final EndpointIdentity before)
    {
        final List<String> out = new ArrayList<>();
        if (before.sizeBytes() != sizeBytes())
        {
            out.add("size " + before.sizeBytes() + " -> " + sizeBytes() + " bytes");
        }
        if (before.identify.lba48() != identify.lba48())
        {
            out.add(identify.lba48() ? "LBA28 -> LBA48" : "LBA48 -> LBA28");
        }
        if (!before.identify.serial().equals(identify.serial()))
        {
            out.add("serial \"" + before.identify.serial() + "\" -> \"" + identify.serial() + "\"");
        }
        if (!before.identify.model().equals(identify.model()))
        {
            out.add("model \"" + before.identify.model() + "\" -> \"" + identify.model() + "\"");
        }
        if (!before.configString.equals(configString))
        {
            out.add("config \"" + before.configString + "\" -> \"" + configString + "\"");
        }
        return out.isEmpty() ? "nothing" : String.join(", ", out);
    }
}
