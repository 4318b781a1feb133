package org.aoemp.tools.serve;

import java.io.IOException;
import java.net.InetSocketAddress;
import java.nio.file.Files;
import java.nio.file.NoSuchFileException;
import java.nio.file.Path;
import java.time.Duration;
import java.util.ArrayList;
import java.util.HashMap;
import java.util.List;
import java.util.Locale;
import java.util.Map;
import java.util.Set;
import java.util.function.Predicate;

import org.aoemp.initiator.TargetAddress;
import org.aoemp.nbd.AllowList;
import org.aoemp.nbd.ListenAddress;
import org.aoemp.nbd.TlsSettings;
import org.aoemp.protocol.MacAddress;
import org.aoemp.target.TargetOptions;
import org.aoemp.tools.Units;
import org.aoemp.transport.NetInterfaces;
import org.aoemp.transport.Transports;
import org.tomlj.Toml;
import org.tomlj.TomlArray;
import org.tomlj.TomlParseError;
import org.tomlj.TomlParseResult;
import org.tomlj.TomlPosition;
import org.tomlj.TomlTable;

/**
 * Reads and checks an {@code aoe serve} config file (TOML, parsed by tomlj). Every problem is
 * collected, not only the first, each as {@code FILE:LINE: KEY: what is wrong}: unknown keys,
 * wrong types, bad durations and addresses, shelf/slot out of range, duplicate exports or targets,
 * missing required keys, a target's file that does not exist, an interface that does not exist.
 *
 * <p>Needs no privilege and opens no socket: interfaces are looked up in sysfs, files with
 * {@code stat}. Stateless; any thread.
 */
public final class ConfigLoader
{
    private static final Set<String> TOP = Set.of("nbd", "service", "export", "target");
    private static final Set<String> NBD = Set.of("listen", "default-export", "allow", "tls", "tls-certificates");
    private static final Set<String> SERVICE = Set.of("stop-timeout", "transport", "metrics");
    private static final Set<String> EXPORT = Set.of("target", "interfaces", "read-only", "dead-after", "open-timeout",
        "exclusive");
    private static final Set<String> TARGET = Set.of("shelf", "slot", "file", "interfaces", "read-only", "mac-mask", "buffers", "sync",
        "offset", "length", "config-string");

    /** One problem in a config file. */
    public record Problem(Path file, int line, String key, String message)
    {
        @Override
        public String toString()
        {
            return file + ":" + (line > 0 ? line : "?") + ": " + (key == null ? "" : key + ": ") + message;
        }
    }

    /** The file is not usable; {@link #problems()} says why, each with file, line and key. */
    public static final class InvalidConfig extends Exception
    {
        private static final long serialVersionUID = 1L;
        private final transient List<Problem> problems;

        InvalidConfig(final List<Problem> problems)
        {
            super(describe(problems));
            this.problems = List.copyOf(problems);
        }

        public List<Problem> problems()
        {
            return problems;
        }

        private static String describe(final List<Problem> problems)
        {
            final StringBuilder b = new StringBuilder();
            for (final Problem p : problems)
            {
                b.append(b.length() == 0 ? "" : "\n").append(p);
            }
            return b.toString();
        }
    }

    private final Predicate<String> interfaceExists;
    private final Path file;
    private final List<Problem> problems = new ArrayList<>();

    private ConfigLoader(final Path file, final Predicate<String> interfaceExists)
    {
        this.file = file;
        this.interfaceExists = interfaceExists;
    }

    /** Reads and checks {@code file}; interfaces must exist in this network namespace. */
    public static ServeConfig load(final Path file) throws InvalidConfig
    {
        return load(file, NetInterfaces::exists);
    }

    static ServeConfig load(final Path file, final Predicate<String> interfaceExists) throws InvalidConfig
    {
        return new ConfigLoader(file, interfaceExists).read();
    }

    private ServeConfig read() throws InvalidConfig
    {
        final TomlParseResult toml;
        try
        {
            toml = Toml.parse(file);
        }
        catch (final NoSuchFileException e)
        {
            throw new InvalidConfig(List.of(new Problem(file, 0, null, "no such file")));
        }
        catch (final IOException e)
        {
            throw new InvalidConfig(List.of(new Problem(file, 0, null, "cannot read: " + e.getMessage())));
        }
        if (toml.hasErrors())
        {
            for (final TomlParseError e : toml.errors())
            {
                problems.add(new Problem(file, e.position() == null ? 0 : e.position().line(), null,
                    "not valid TOML: " + e.getMessage()));
            }
            throw new InvalidConfig(problems);
        }
        unknownKeys(toml, TOP, "");
        final ServeConfig.Nbd nbd = nbd(toml);
        final ServeConfig.Service service = service(toml);
        final List<ServeConfig.ExportSpec> exports = new ArrayList<>();
        final List<ServeConfig.TargetSpec> targets = new ArrayList<>();
        final TomlArray exportArray = tables(toml, "export");
        if (exportArray != null)
        {
            final Map<String, Integer> seen = new HashMap<>();
            for (int i = 0; i < exportArray.size(); i++)
            {
                final int line = exportArray.inputPositionOf(i) == null ? 0 : exportArray.inputPositionOf(i).line();
                final TomlTable t = exportArray.getTable(i);
                final ServeConfig.ExportSpec e = export(t, "export[" + (i + 1) + "]", line);
                final String name = e != null ? e.name() : lenientAddress(t.get("target"));
                final Integer before = name == null ? null : seen.putIfAbsent(name, line);
                if (before != null)
                {
                    problems.add(new Problem(file, position(t.inputPositionOf("target"), line), "export[" + (i + 1) + "].target",
                        "duplicate export " + name + " (already exported at line " + before + ")"));
                }
                else if (e != null)
                {
                    exports.add(e);
                }
            }
        }
        final TomlArray targetArray = tables(toml, "target");
        if (targetArray != null)
        {
            final Map<String, Integer> seen = new HashMap<>();
            for (int i = 0; i < targetArray.size(); i++)
            {
                final int line = targetArray.inputPositionOf(i) == null ? 0 : targetArray.inputPositionOf(i).line();
                final TomlTable table = targetArray.getTable(i);
                final ServeConfig.TargetSpec t = target(table, "target[" + (i + 1) + "]", line);
                final String name = t != null ? t.name()
                    : table.get("shelf") instanceof Long sh && table.get("slot") instanceof Long sl ? "e" + sh + "." + sl : null;
                final Integer before = name == null ? null : seen.putIfAbsent(name, line);
                if (before != null)
                {
                    problems.add(new Problem(file, position(table.inputPositionOf("shelf"), line), "target[" + (i + 1) + "].shelf",
                        "duplicate target " + name + " (already served at line " + before + ")"));
                }
                else if (t != null)
                {
                    targets.add(t);
                }
            }
        }
        if (nbd != null && nbd.defaultExport() != null && exports.stream().noneMatch(e -> e.name().equals(nbd.defaultExport())))
        {
            problems.add(new Problem(file, line(toml, "nbd.default-export"), "nbd.default-export",
                "'" + nbd.defaultExport() + "' is not one of the [[export]] targets"));
        }
        if (!problems.isEmpty())
        {
            problems.sort(java.util.Comparator.comparingInt(Problem::line));
            throw new InvalidConfig(problems);
        }
        return new ServeConfig(file, nbd, service, exports, targets);
    }

    // ------------------------------------------------------------------------------- sections

    private ServeConfig.Nbd nbd(final TomlParseResult toml)
    {
        final TomlTable t = table(toml, "nbd");
        List<String> listen = List.of(ServeConfig.DEFAULT_LISTEN);
        List<String> allow = List.of();
        String tls = "off";
        Path tlsCertificates = null;
        String defaultExport = null;
        if (t != null)
        {
            unknownKeys(t, NBD, "nbd.");
            final List<String> given = stringOrStrings(t, "listen", "nbd.");
            if (given != null)
            {
                listen = given;
                for (final String l : listen)
                {
                    try
                    {
                        ListenAddress.parse(l);
                    }
                    catch (final IllegalArgumentException e)
                    {
                        problems.add(new Problem(file, line(t, "listen"), "nbd.listen", e.getMessage()));
                    }
                }
            }
            final List<String> cidrs = stringOrStrings(t, "allow", "nbd.");
            if (cidrs != null)
            {
                allow = cidrs;
                try
                {
                    AllowList.parse(allow);
                }
                catch (final IllegalArgumentException e)
                {
                    problems.add(new Problem(file, line(t, "allow"), "nbd.allow", e.getMessage()));
                }
            }
            final String mode = string(t, "tls", "nbd.", false);
            if (mode != null)
            {
                tls = mode;
            }
            final String dir = string(t, "tls-certificates", "nbd.", false);
            if (dir != null)
            {
                // Relative to the config file, as for a target's file.
                tlsCertificates = file.toAbsolutePath().getParent().resolve(dir).normalize();
            }
            if (mode != null || dir != null)
            {
                try
                {
                    TlsSettings.Mode m = TlsSettings.Mode.parse(tls);
                    if (m == TlsSettings.Mode.OFF && tlsCertificates != null)
                    {
                        throw new IllegalArgumentException("tls-certificates is given but tls is off; say tls = \"on\" or \"require\"");
                    }
                    // Reads the certificates and key now: --check finds a wrong file, not the first client.
                    TlsSettings.load(m, tlsCertificates);
                }
                catch (final IllegalArgumentException e)
                {
                    final String key = mode == null || (dir != null && !e.getMessage().contains("TLS mode")) ? "tls-certificates" : "tls";
                    problems.add(new Problem(file, line(t, key), "nbd." + key, e.getMessage()));
                }
            }
            final String d = string(t, "default-export", "nbd.", false);
            if (d != null)
            {
                try
                {
                    defaultExport = TargetAddress.parse(d).toString();
                }
                catch (final IllegalArgumentException e)
                {
                    problems.add(new Problem(file, line(t, "default-export"), "nbd.default-export", e.getMessage()));
                }
            }
        }
        return new ServeConfig.Nbd(listen, defaultExport, allow, tls, tlsCertificates);
    }

    private ServeConfig.Service service(final TomlParseResult toml)
    {
        final TomlTable t = table(toml, "service");
        Duration stop = ServeConfig.DEFAULT_STOP_TIMEOUT;
        String transport = Transports.defaultKind();
        InetSocketAddress metrics = null;
        if (t != null)
        {
            unknownKeys(t, SERVICE, "service.");
            final String m = string(t, "metrics", "service.", false);
            if (m != null)
            {
                try
                {
                    metrics = address(m);
                }
                catch (final IllegalArgumentException e)
                {
                    problems.add(new Problem(file, line(t, "metrics"), "service.metrics", e.getMessage()));
                }
            }
            stop = duration(t, "stop-timeout", "service.", stop, false);
            if (stop.isZero())
            {
                problems.add(new Problem(file, line(t, "stop-timeout"), "service.stop-timeout", "must be more than 0"));
            }
            final String kind = string(t, "transport", "service.", false);
            if (kind != null)
            {
                if (Transports.kinds().contains(kind.toLowerCase(Locale.ROOT)))
                {
                    transport = kind.toLowerCase(Locale.ROOT);
                }
                else
                {
                    problems.add(new Problem(file, line(t, "transport"), "service.transport",
                        "'" + kind + "' is not one of " + String.join(", ", Transports.kinds())));
                }
            }
        }
        return new ServeConfig.Service(stop, transport, metrics);
    }

    private ServeConfig.ExportSpec export(final TomlTable t, final String key, final int line)
    {
        final int before = problems.size();
        unknownKeys(t, EXPORT, key + ".");
        TargetAddress address = null;
        final String target = string(t, "target", key + ".", true);
        if (target != null)
        {
            try
            {
                address = TargetAddress.parse(target);
            }
            catch (final IllegalArgumentException e)
            {
                problems.add(new Problem(file, line(t, "target"), key + ".target", e.getMessage()));
            }
        }
        else if (!t.contains("target"))
        {
            problems.add(new Problem(file, line, key + ".target", "missing: which AoE target to export (e.g. target = \"e7.3\")"));
        }
        final List<String> interfaces = interfaces(t, key, false, line);
        final boolean readOnly = bool(t, "read-only", key + ".");
        final Duration deadAfter = duration(t, "dead-after", key + ".", ServeConfig.DEFAULT_DEAD_AFTER, false);
        final Duration openTimeout = duration(t, "open-timeout", key + ".", ServeConfig.DEFAULT_OPEN_TIMEOUT, false);
        if (problems.size() != before || address == null)
        {
            return null;
        }
        final boolean exclusive = bool(t, "exclusive", key + ".");
        return new ServeConfig.ExportSpec(address, interfaces, readOnly, deadAfter, openTimeout, exclusive);
    }

    private ServeConfig.TargetSpec target(final TomlTable t, final String key, final int line)
    {
        final int before = problems.size();
        unknownKeys(t, TARGET, key + ".");
        final Long shelf = integer(t, "shelf", key + ".", true, line, 0, 65534, "0..65534 (65535 is the broadcast shelf)");
        final Long slot = integer(t, "slot", key + ".", true, line, 0, 254, "0..254 (255 is the broadcast slot)");
        Path path = null;
        final String fileName = string(t, "file", key + ".", true);
        if (fileName != null)
        {
            path = Path.of(fileName);
            if (!path.isAbsolute())
            {
                // Relative to the config file, as a service's working directory is not the operator's.
                path = file.toAbsolutePath().getParent().resolve(path).normalize();
            }
            if (!Files.exists(path))
            {
                problems.add(new Problem(file, line(t, "file"), key + ".file", path + ": no such file or block device"));
            }
            else if (Files.isDirectory(path))
            {
                problems.add(new Problem(file, line(t, "file"), key + ".file", path + " is a directory, not a file or block device"));
            }
        }
        else if (!t.contains("file"))
        {
            problems.add(new Problem(file, line, key + ".file", "missing: the file or block device to serve"));
        }
        final List<String> interfaces = interfaces(t, key, true, line);
        final boolean readOnly = bool(t, "read-only", key + ".");
        final List<String> masks = new ArrayList<>();
        final TomlArray maskArray = array(t, "mac-mask", key + ".");
        if (maskArray != null)
        {
            for (int i = 0; i < maskArray.size(); i++)
            {
                final Object m = maskArray.get(i);
                try
                {
                    if (!(m instanceof String s))
                    {
                        throw new IllegalArgumentException("expected a MAC address string such as \"02:00:00:00:00:01\"");
                    }
                    masks.add(MacAddress.parse(s).toString());
                }
                catch (final IllegalArgumentException e)
                {
                    problems.add(new Problem(file, position(maskArray.inputPositionOf(i), line(t, "mac-mask")), key + ".mac-mask",
                        "not a MAC address: " + m + (e.getMessage() == null ? "" : " (" + e.getMessage() + ")")));
                }
            }
        }
        final Long buffers = integer(t, "buffers", key + ".", false, line, 1, TargetOptions.MAX_BUFFER_COUNT,
            "1.." + TargetOptions.MAX_BUFFER_COUNT);
        final boolean sync = bool(t, "sync", key + ".");
        final Long offset = integer(t, "offset", key + ".", false, line, 0, Long.MAX_VALUE / 512, "0 or more sectors");
        final Long length = integer(t, "length", key + ".", false, line, 0, Long.MAX_VALUE / 512, "0 or more sectors");
        final String configString = string(t, "config-string", key + ".", false);
        if (problems.size() != before || shelf == null || slot == null || path == null)
        {
            return null;
        }
        try
        {
            final ServeConfig.TargetSpec spec = new ServeConfig.TargetSpec(shelf.intValue(), slot.intValue(), path, interfaces, readOnly,
                masks, buffers == null ? TargetOptions.DEFAULT_BUFFER_COUNT : buffers.intValue(), sync, offset == null ? 0 : offset,
                length == null ? -1 : length, configString == null ? "" : configString);
            Targets.options(spec); // the target's own checks (at most 32 masks, config string length)
            return spec;
        }
        catch (final IllegalArgumentException e)
        {
            problems.add(new Problem(file, line, key, e.getMessage()));
            return null;
        }
    }

    // ------------------------------------------------------------------------------- values

    private List<String> interfaces(final TomlTable t, final String key, final boolean required, final int line)
    {
        final List<String> names = new ArrayList<>();
        final TomlArray a = array(t, "interfaces", key + ".");
        if (a == null)
        {
            if (required && !t.contains("interfaces"))
            {
                problems.add(new Problem(file, line, key + ".interfaces", "missing: the interfaces to answer on (e.g. interfaces = [\"eth1\"])"));
            }
            return names;
        }
        if (a.isEmpty() && required)
        {
            problems.add(new Problem(file, line(t, "interfaces"), key + ".interfaces", "names no interface"));
        }
        for (int i = 0; i < a.size(); i++)
        {
            final Object v = a.get(i);
            final int at = position(a.inputPositionOf(i), line(t, "interfaces"));
            if (!(v instanceof String name) || name.isBlank())
            {
                problems.add(new Problem(file, at, key + ".interfaces", "expected interface names (strings), got " + v));
            }
            else if (names.contains(name))
            {
                problems.add(new Problem(file, at, key + ".interfaces", "interface '" + name + "' is named twice"));
            }
            else if (!interfaceExists.test(name))
            {
                problems.add(new Problem(file, at, key + ".interfaces", "interface '" + name + "' does not exist; available interfaces: "
                    + String.join(", ", NetInterfaces.names())));
            }
            else
            {
                names.add(name);
            }
        }
        return names;
    }

    /** eX.Y of a target value when it parses, else null (for duplicate checks of entries with other problems). */
    private static String lenientAddress(final Object value)
    {
        try
        {
            return value instanceof String s ? TargetAddress.parse(s).toString() : null;
        }
        catch (final IllegalArgumentException e)
        {
            return null;
        }
    }

    /** A string or an array of strings (as {@code listen = ["a", "b"]}); null when absent or wrong (a problem is recorded). */
    private List<String> stringOrStrings(final TomlTable t, final String name, final String prefix)
    {
        if (!t.contains(name))
        {
            return null;
        }
        final Object v = t.get(name);
        if (v instanceof String s)
        {
            return List.of(s);
        }
        if (v instanceof TomlArray a && !a.isEmpty())
        {
            final List<String> out = new ArrayList<>();
            for (int i = 0; i < a.size(); i++)
            {
                if (!(a.get(i) instanceof String s))
                {
                    problems.add(new Problem(file, position(a.inputPositionOf(i), line(t, name)), prefix + name,
                        "expected strings, got " + typeOf(a.get(i))));
                    return null;
                }
                out.add(s);
            }
            return out;
        }
        problems.add(new Problem(file, line(t, name), prefix + name, "expected a string or an array of strings, got "
            + (v instanceof TomlArray ? "an empty array" : typeOf(v))));
        return null;
    }

    private static InetSocketAddress address(final String text)
    {
        final ListenAddress.Tcp tcp = ListenAddress.parseTcp(text);
        // Unresolved: checking must not depend on name service; the server resolves when it binds.
        return InetSocketAddress.createUnresolved(tcp.host(), tcp.port());
    }

    private String string(final TomlTable t, final String name, final String prefix, final boolean required)
    {
        if (!t.contains(name))
        {
            return null;
        }
        final Object v = t.get(name);
        if (v instanceof String s)
        {
            return s;
        }
        problems.add(new Problem(file, line(t, name), prefix + name, "expected a string, got " + typeOf(v)));
        return null;
    }

    private boolean bool(final TomlTable t, final String name, final String prefix)
    {
        if (!t.contains(name))
        {
            return false;
        }
        final Object v = t.get(name);
        if (v instanceof Boolean b)
        {
            return b;
        }
        problems.add(new Problem(file, line(t, name), prefix + name, "expected true or false, got " + typeOf(v)));
        return false;
    }

    private Long integer(final TomlTable t, final String name, final String prefix, final boolean required, final int tableLine,
        final long min, final long max, final String range)
    {
        if (!t.contains(name))
        {
            if (required)
            {
                problems.add(new Problem(file, tableLine, prefix + name, "missing: " + range));
            }
            return null;
        }
        final Object v = t.get(name);
        if (!(v instanceof Long n))
        {
            problems.add(new Problem(file, line(t, name), prefix + name, "expected an integer, got " + typeOf(v)));
            return null;
        }
        if (n < min || n > max)
        {
            problems.add(new Problem(file, line(t, name), prefix + name, n + " is out of range: " + range));
            return null;
        }
        return n;
    }

    private Duration duration(final TomlTable t, final String name, final String prefix, final Duration dflt, final boolean required)
    {
        if (!t.contains(name))
        {
            return dflt;
        }
        final Object v = t.get(name);
        if (v instanceof String s)
        {
            try
            {
                return Units.parseDuration(s);
            }
            catch (final IllegalArgumentException e)
            {
                problems.add(new Problem(file, line(t, name), prefix + name, e.getMessage()));
                return dflt;
            }
        }
        problems.add(new Problem(file, line(t, name), prefix + name,
            "expected a duration string such as \"30s\", \"500ms\", \"2m\", got " + typeOf(v)));
        return dflt;
    }

    private TomlArray array(final TomlTable t, final String name, final String prefix)
    {
        if (!t.contains(name))
        {
            return null;
        }
        final Object v = t.get(name);
        if (v instanceof TomlArray a)
        {
            return a;
        }
        problems.add(new Problem(file, line(t, name), prefix + name, "expected an array such as [\"a\", \"b\"], got " + typeOf(v)));
        return null;
    }

    private TomlTable table(final TomlParseResult toml, final String name)
    {
        if (!toml.contains(name))
        {
            return null;
        }
        final Object v = toml.get(name);
        if (v instanceof TomlTable t)
        {
            return t;
        }
        problems.add(new Problem(file, line(toml, name), name, "expected a table [" + name + "], got " + typeOf(v)));
        return null;
    }

    /** An array of tables ({@code [[name]]}), or null (absent, or wrong: then a problem is recorded). */
    private TomlArray tables(final TomlParseResult toml, final String name)
    {
        if (!toml.contains(name))
        {
            return null;
        }
        final Object v = toml.get(name);
        if (v instanceof TomlArray a && allTables(a))
        {
            return a;
        }
        problems.add(new Problem(file, line(toml, name), name,
            "expected one [[" + name + "]] table per entry (double brackets), got " + typeOf(v)));
        return null;
    }

    private static boolean allTables(final TomlArray a)
    {
        for (int i = 0; i < a.size(); i++)
        {
            if (!(a.get(i) instanceof TomlTable))
            {
                return false;
            }
        }
        return true;
    }

    private void unknownKeys(final TomlTable t, final Set<String> known, final String prefix)
    {
        for (final String k : t.keySet())
        {
            if (!known.contains(k))
            {
                problems.add(new Problem(file, line(t, List.of(k)), prefix + k,
                    "unknown key; known here: " + String.join(", ", known.stream().sorted().toList())));
            }
        }
    }

    private static int line(final TomlTable t, final String dottedKey)
    {
        return line(t, Toml.parseDottedKey(dottedKey));
    }

    private static int line(final TomlTable t, final List<String> path)
    {
        return position(t.inputPositionOf(path), 0);
    }

    private static int position(final TomlPosition p, final int fallback)
    {
        return p == null ? fallback : p.line();
    }

    private static String typeOf(final Object v)
    {
        return switch (v)
        {
            case null -> "nothing";
            case String s -> "the string \"" + s + "\"";
            case Long n -> "the integer " + n;
            case Double d -> "the number " + d;
            case Boolean b -> "the boolean " + b;
            case TomlArray a -> "an array";
            case TomlTable t -> "a table";
            default -> "a " + v.getClass().getSimpleName().replace("Local", "").toLowerCase(Locale.ROOT);
        };
    }
}
