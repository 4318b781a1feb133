package org.aoemp.tools;

import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.Set;
import java.util.TreeSet;

import org.aoemp.initiator.AoeDevice;
import org.aoemp.initiator.TargetIdentities;
import org.aoemp.protocol.MacAddress;
import picocli.CommandLine.Option;

/**
 * {@code --mac MAC}: the only target MACs that may be paths, for when two targets claim the same
 * shelf.slot; and what {@code aoe nbd} and {@code aoe copy} say about the disk they kept.
 */
final class TargetMacs
{
    @Option(names = "--mac", paramLabel = "MAC", description = {"Use only this target MAC (repeat for several NICs of one target) "
        + "as a path. Without it, when more than one disk answers as the same shelf.slot (aoe discover shows them), the disk "
        + "of the lowest MAC that answered is used (the same every run) and no I/O goes to a MAC with another."})
    List<String> macs = new ArrayList<>();

    /** The MACs given, as numbers; empty when none. */
    Set<Long> parse()
    {
        final Set<Long> out = new TreeSet<>();
        for (final String m : macs)
        {
            try
            {
                out.add(MacAddress.parse(m).bits());
            }
            catch (final IllegalArgumentException e)
            {
                throw new IllegalArgumentException("--mac takes a MAC address like 02:00:00:00:01:01 (got '" + m + "')");
            }
        }
        return out;
    }

    /**
     * The lines telling which disk a device kept when more than one answers as its shelf.slot, or
     * none when there is no conflict.
     */
    static List<String> conflictNotice(final AoeDevice d)
    {
        final TargetIdentities ids = d.identities();
        if (ids == null || !ids.hasConflict())
        {
            return List.of();
        }
        final List<String> out = new ArrayList<>();
        out.add(d.name() + ": MORE THAN ONE DISK answers as " + d.name() + "; using " + ids.reference().describe() + " ("
            + (ids.listed().isEmpty() ? "of the lowest MAC that answered" : "of the MAC named with --mac") + "), no I/O goes to the others:");
        ids.describe().forEach(line -> out.add("    " + line));
        out.add("    choose with --mac MAC");
        return out;
    }

    /** Every MAC heard for the device and what it answered with, as JSON. */
    static List<Object> identitiesJson(final TargetIdentities ids)
    {
        final List<Object> out = new ArrayList<>();
        if (ids == null)
        {
            return out;
        }
        for (final TargetIdentities.MacIdentity m : ids.all())
        {
            final Map<String, Object> o = new LinkedHashMap<>();
            o.put("mac", m.macString());
            o.put("verdict", m.verdict().name().toLowerCase(java.util.Locale.ROOT));
            if (m.identity() != null)
            {
                o.put("sizeBytes", m.identity().sizeBytes());
                o.put("lba48", m.identity().identify().lba48());
                o.put("model", m.identity().identify().model());
                o.put("serial", m.identity().identify().serial());
                o.put("configString", m.identity().configString());
            }
            out.add(o);
        }
        return out;
    }
}
