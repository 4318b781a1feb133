package org.aoemp.tools;

import java.io.PrintWriter;
import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Locale;
import java.util.Map;
import java.util.TreeSet;
import java.util.concurrent.Callable;

import org.aoemp.initiator.Initiator;
import org.aoemp.initiator.TargetDirectory;
import picocli.CommandLine.Command;
import picocli.CommandLine.Mixin;
import picocli.CommandLine.Option;
import picocli.CommandLine.Spec;
import picocli.CommandLine.Model.CommandSpec;

/** {@code aoe stat}: the aoe-stat table. */
@Command(name = "stat", mixinStandardHelpOptions = true,
    description = {"Print the aoe-stat table of the targets reachable now: device, size in GB (decimal, three decimals), "
        + "local interfaces, payload bytes per frame, state."})
final class StatCommand implements Callable<Integer>
{
    @Mixin
    NetworkOptions net;

    @Option(names = "--json", description = "Print JSON instead of the table.")
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
                final List<Object> rows = new ArrayList<>();
                for (final Survey.Entry e : entries)
                {
                    final Map<String, Object> m = new LinkedHashMap<>();
                    m.put("device", e.target().address().toString());
                    m.put("sizeBytes", e.sizeBytes());
                    m.put("interfaces", List.copyOf(interfaces(e.target())));
                    m.put("payloadBytes", e.target().payloadBytes());
                    m.put("state", state(e));
                    rows.add(m);
                }
                out.println(Json.write(rows));
            }
            else
            {
                for (final Survey.Entry e : entries)
                {
                    out.printf(Locale.ROOT, "%10s %15s %10s %-5d %-14s%n", e.target().address(), Units.gigabytes(e.sizeBytes()),
                        String.join(",", interfaces(e.target())), e.target().payloadBytes(), state(e));
                }
            }
            out.flush();
            return 0;
        }
    }

    private static TreeSet<String> interfaces(final TargetDirectory.Target t)
    {
        final TreeSet<String> names = new TreeSet<>();
        t.endpoints().forEach(p -> names.add(p.port().name()));
        return names;
    }

    private static String state(final Survey.Entry e)
    {
        return e.error() == null ? "up" : "down";
    }
}
