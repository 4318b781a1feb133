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
import org.aoemp.initiator.PathStats;
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

    @Option(names = {"-v", "--verbose"}, description = "Add each path's counters (state, window, SRTT, RTO, frames, bytes, "
        + "retransmits, timeouts) as measured while this command talked to the target.")
    boolean verbose;

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
                    if (verbose)
                    {
                        final List<Object> paths = new ArrayList<>();
                        e.paths().forEach(p -> paths.add(Survey.pathJson(p)));
                        m.put("paths", paths);
                    }
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
                    if (verbose)
                    {
                        for (final PathStats p : e.paths())
                        {
                            out.printf(Locale.ROOT, "    %-12s -> %s  %-7s window %d/%d  srtt %d us  rto %d us  frames %d/%d  "
                                + "retransmits %d  timeouts %d%n", p.localInterface(), p.remoteMac(), p.state(), p.window(),
                                p.bufferCount(), p.srttMicros(), p.rtoMicros(), p.framesSent(), p.framesReceived(), p.retransmits(),
                                p.timeouts());
                        }
                    }
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
