package org.aoemp.tools;

import java.io.PrintWriter;
import java.util.ArrayList;
import java.util.List;
import java.util.Locale;
import java.util.concurrent.Callable;

import org.aoemp.initiator.Initiator;
import org.aoemp.initiator.TargetDirectory;
import org.aoemp.initiator.TargetIdentities;
import org.aoemp.util.JsonText;
import picocli.CommandLine.Command;
import picocli.CommandLine.Mixin;
import picocli.CommandLine.Option;
import picocli.CommandLine.Spec;
import picocli.CommandLine.Model.CommandSpec;

/** {@code aoe discover}: broadcast a config query and describe every target that answers. */
@Command(name = "discover", mixinStandardHelpOptions = true,
    description = {"Find AoE targets: broadcast a Query Config on each interface, then IDENTIFY every target that answered.",
        "Prints size, model, the target MACs seen on each local interface, payload bytes per frame, buffer count, firmware "
            + "and config string. Exits 1 when nothing answered.",
        "When more than one disk answers as the same shelf.slot (two targets claiming it), says so: each disk (size, model, "
            + "serial, config string) with the MACs that answer with it. aoe nbd and aoe copy then use the disk of the lowest "
            + "MAC (marked opened), or the one picked with --mac."})
final class DiscoverCommand implements Callable<Integer>
{
    @Mixin
    NetworkOptions net;

    @Option(names = "--json", description = "Print JSON instead of text.")
    boolean json;

    @Spec
    CommandSpec spec;

    @Override
    public Integer call() throws Exception
    {
        final PrintWriter out = spec.commandLine().getOut();
        try (Initiator initiator = net.openInitiator())
        {
            final List<Survey.Entry> entries = Survey.run(initiator, net.timeout);
            if (json)
            {
                final List<Object> list = new ArrayList<>();
                entries.forEach(e -> list.add(e.toJson()));
                out.println(JsonText.write(list));
            }
            else if (entries.isEmpty())
            {
                out.println("no AoE target answered on " + String.join(", ", net.interfaceNames()) + " within " + net.timeout.toMillis() + " ms");
            }
            else
            {
                for (final Survey.Entry e : entries)
                {
                    print(out, e);
                }
            }
            out.flush();
            return entries.isEmpty() ? AoeCommand.EXIT_FAILURE : 0;
        }
    }

    private static String verdict(final TargetIdentities.Verdict v)
    {
        return v == null ? "" : switch (v)
        {
            case PATH -> "path";
            case CONFLICT -> "CONFLICT: another disk";
            case CHANGED -> "CHANGED: another disk now";
            case NOT_LISTED -> "not named with --mac";
            case UNVERIFIED -> "no IDENTIFY answer";
        };
    }

    private static void print(final PrintWriter out, final Survey.Entry e)
    {
        final TargetDirectory.Target t = e.target();
        final String size = e.identify() == null ? "size unknown (" + e.error() + ")"
            : Units.gigabytes(e.sizeBytes()) + " (" + e.sizeBytes() + " bytes, " + (e.identify().lba48() ? "LBA48" : "LBA28") + ")";
        out.printf(Locale.ROOT, "%s  %s%n", t.address(), size);
        if (e.identify() != null)
        {
            out.printf(Locale.ROOT, "    model \"%s\"  serial \"%s\"  revision \"%s\"%n", e.identify().model(), e.identify().serial(),
                e.identify().firmware());
        }
        out.printf(Locale.ROOT, "    firmware 0x%04x  buffers %d  payload %d bytes/frame  config \"%s\"%n", t.firmwareVersion(),
            t.bufferCount(), t.payloadBytes(), t.configString());
        for (final TargetDirectory.Endpoint p : t.endpoints())
        {
            out.printf(Locale.ROOT, "    %-12s -> %s  (buffers %d, payload %d)%s%n", p.port().name(), p.macString(), p.bufferCount(),
                p.payloadBytes(), e.conflict() ? "  " + verdict(e.identities().verdict(p.mac())) : "");
        }
        if (e.conflict())
        {
            out.printf(Locale.ROOT, "    CONFLICT: more than one disk answers as %s (no I/O goes to a MAC whose disk differs from "
                + "the one used; pick one with --mac MAC):%n", t.address());
            e.identities().describe().forEach(line -> out.println("      " + line));
        }
    }
}
