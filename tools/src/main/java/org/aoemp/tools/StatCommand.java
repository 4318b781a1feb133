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
import org.aoemp.util.JsonText;
import picocli.CommandLine.Command;
import picocli.CommandLine.Mixin;
import picocli.CommandLine.Option;
import picocli.CommandLine.Spec;
import picocli.CommandLine.Model.CommandSpec;

/** {@code aoe stat}: the aoe-stat table. */
@Command(name = "stat", mixinStandardHelpOptions = true,
    description = {"Print the aoe-stat table of the targets reachable now: device, size in GB (decimal, three decimals), "
        + "local interfaces, payload bytes per frame, state (up, down, or conflict when more than one disk answers as the "
        + "target: then each disk and its MACs follow the row)."})
final class StatCommand implements Callable<Integer>
{
    @Mixin
    NetworkOptions net;

    @Option(names = "--json", description = "Print JSON instead of the table.")
    boolean json;

    @Option(names = {"-v", "--verbose"}, description = {"Add each path's counters (state, window, SRTT, RTO, frames, bytes, "
        + "retransmits, timeouts, when it last answered: idle paths are probed once a second) as measured while this command talked to the target, then the live counters of every "
        + "running session (e.g. aoe nbd) that uses the target, labelled by pid and command, with what went wrong there "
        + "(DEAD, GIVEN UP, requests failed, engine errors and the last one, callbacks failed).",
        "Sessions publish under $AOE_RUN_DIR, else /run/aoe, $XDG_RUNTIME_DIR/aoe or /tmp/aoe-USER."})
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
            final List<LiveSessions.Session> sessions = verbose
                ? LiveSessions.read(RunDir.candidates(System.getenv()), net.timeout) : List.of();
            final List<String> seen = new ArrayList<>();
            entries.forEach(e -> seen.add(e.target().address().toString()));
            final TreeSet<String> onlyInSessions = new TreeSet<>();
            sessions.forEach(s -> s.devices().forEach(d -> onlyInSessions.add(String.valueOf(d.get("device")))));
            onlyInSessions.removeAll(seen);
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
                    if (e.conflict())
                    {
                        m.put("identities", TargetMacs.identitiesJson(e.identities()));
                    }
                    if (verbose)
                    {
                        final List<Object> paths = new ArrayList<>();
                        e.paths().forEach(p -> paths.add(Survey.pathJson(p)));
                        m.put("paths", paths);
                        m.put("sessions", sessionsJson(sessions, e.target().address().toString()));
                    }
                    rows.add(m);
                }
                for (final String device : onlyInSessions)
                {
                    final Map<String, Object> m = new LinkedHashMap<>();
                    m.put("device", device);
                    m.put("state", NOT_SEEN);
                    m.put("sessions", sessionsJson(sessions, device));
                    rows.add(m);
                }
                out.println(JsonText.write(rows));
            }
            else
            {
                for (final Survey.Entry e : entries)
                {
                    out.printf(Locale.ROOT, "%10s %15s %10s %-5d %-14s%n", e.target().address(), Units.gigabytes(e.sizeBytes()),
                        String.join(",", interfaces(e.target())), e.target().payloadBytes(), state(e));
                    if (e.conflict())
                    {
                        e.identities().describe().forEach(line -> out.println("    " + line));
                    }
                    if (verbose)
                    {
                        for (final PathStats p : e.paths())
                        {
                            out.println(pathLine("    ", Survey.pathJson(p)));
                        }
                        printSessions(out, sessions, e.target().address().toString());
                    }
                }
                for (final String device : onlyInSessions)
                {
                    out.printf(Locale.ROOT, "%10s %15s %10s %-5s %-14s%n", device, "-", "-", "-", NOT_SEEN);
                    printSessions(out, sessions, device);
                }
            }
            out.flush();
            return 0;
        }
    }

    /** State of a target that running sessions use but this command's own probe did not find. */
    static final String NOT_SEEN = "not-seen";

    private static List<Object> sessionsJson(final List<LiveSessions.Session> sessions, final String device)
    {
        final List<Object> out = new ArrayList<>();
        for (final LiveSessions.Session s : sessions)
        {
            final Map<String, Object> d = s.device(device);
            if (d != null)
            {
                final Map<String, Object> m = s.label();
                d.forEach((k, v) -> m.putIfAbsent(k, v));
                m.remove("device");
                out.add(m);
            }
        }
        return out;
    }

    private static void printSessions(final PrintWriter out, final List<LiveSessions.Session> sessions, final String device)
    {
        for (final LiveSessions.Session s : sessions)
        {
            final Map<String, Object> d = s.device(device);
            if (d == null)
            {
                continue;
            }
            out.println(sessionLine("    ", s, d));
            if (d.get("paths") instanceof List<?> paths)
            {
                for (final Object p : paths)
                {
                    if (p instanceof Map<?, ?> m)
                    {
                        out.println(pathLine("      ", m));
                    }
                }
            }
        }
    }

    /**
     * A session's line for one device: pid, command, start, and what went wrong (dead, given up,
     * requests failed, engine errors with the last one, callbacks that threw), from its JSON object.
     */
    static String sessionLine(final String indent, final LiveSessions.Session s, final Map<?, ?> d)
    {
        final StringBuilder b = new StringBuilder(String.format(Locale.ROOT, "%spid %d: %s (since %s)", indent, s.pid(),
            s.command(), s.startedAt()));
        if (Boolean.TRUE.equals(d.get("dead")))
        {
            b.append("  DEAD");
        }
        if (Boolean.TRUE.equals(d.get("givenUp")))
        {
            b.append("  GIVEN UP");
        }
        if (d.get("requestsFailed") instanceof Long n && n > 0)
        {
            b.append("  requests failed ").append(n);
        }
        if (d.get("engineErrors") instanceof Long n && n > 0)
        {
            b.append("  engine errors ").append(n).append(" (last: ").append(d.get("lastEngineError")).append(')');
        }
        if (d.get("callbackFailures") instanceof Long n && n > 0)
        {
            b.append("  callbacks failed ").append(n);
        }
        return b.toString();
    }

    /** One path's counters as {@code aoe stat -v} prints them, from its JSON object ({@link Survey#pathJson}). */
    static String pathLine(final String indent, final Map<?, ?> p)
    {
        return String.format(Locale.ROOT, "%s%-12s -> %s  %-7s window %s/%s  srtt %s us  rto %s us  frames %s/%s  bytes %s/%s  "
            + "retransmits %s  timeouts %s%s  %s", indent, p.get("interface"), p.get("mac"), p.get("state"), p.get("window"),
            p.get("bufferCount"), p.get("srttMicros"), p.get("rtoMicros"), p.get("framesSent"), p.get("framesReceived"),
            bytes(p.get("bytesSent")), bytes(p.get("bytesReceived")), p.get("retransmits"), p.get("timeouts"),
            spurious(p.get("spuriousTimeouts"), p.get("rtoFloorMicros")), answered(p.get("lastAnsweredMillisAgo")));
    }

    /** {@code " (3 spurious, rto floor 45000 us)"} when some timeouts were spurious, else nothing. */
    static String spurious(final Object count, final Object floorMicros)
    {
        return count instanceof Number n && n.longValue() > 0
            ? " (" + n + " spurious, rto floor " + floorMicros + " us)" : "";
    }

    /** {@code answered 0.3 s ago}, {@code never answered}, or {@code answered ?} from a session of an older aoe. */
    static String answered(final Object millisAgo)
    {
        if (!(millisAgo instanceof Number n))
        {
            return "answered ?";
        }
        final long ms = n.longValue();
        return ms < 0 ? "never answered" : String.format(Locale.ROOT, "answered %.1f s ago", ms / 1000.0);
    }

    /** Data bytes in binary units ({@code 4.0 MiB}); {@code ?} when a session of an older aoe did not publish them. */
    private static String bytes(final Object n)
    {
        return n instanceof Number v ? org.aoemp.util.Format.bytes(v.longValue()) : "?";
    }

    private static TreeSet<String> interfaces(final TargetDirectory.Target t)
    {
        final TreeSet<String> names = new TreeSet<>();
        t.endpoints().forEach(p -> names.add(p.port().name()));
        return names;
    }

    private static String state(final Survey.Entry e)
    {
        return e.error() != null ? "down" : e.conflict() ? "conflict" : "up";
    }
}
