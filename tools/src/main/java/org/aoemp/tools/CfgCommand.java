package org.aoemp.tools;

import java.io.PrintWriter;
import java.nio.charset.StandardCharsets;
import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Locale;
import java.util.Map;
import java.util.concurrent.Callable;

import org.aoemp.initiator.Initiator;
import org.aoemp.protocol.AoeHeader;
import org.aoemp.protocol.ConfigHeader;
import org.aoemp.protocol.MacAddress;
import org.aoemp.util.JsonText;
import picocli.CommandLine.Command;
import picocli.CommandLine.Mixin;
import picocli.CommandLine.Option;
import picocli.CommandLine.Spec;
import picocli.CommandLine.Model.CommandSpec;

/** {@code aoe cfg}: read, test and set targets' config strings, as aoecfg does. */
@Command(name = "cfg", mixinStandardHelpOptions = true,
    description = {"Read, test or set the config string of targets (like aoecfg). Without SHELF/SLOT every target is asked.",
        "  read   print every answering target's config string",
        "  test   only targets whose string equals -s answer",
        "  prefix only targets whose string starts with -s answer",
        "  set    set the string where it is still empty (else error 4: config string present)",
        "  fset   set the string unconditionally",
        "Exits 1 when no target answered."})
final class CfgCommand implements Callable<Integer>
{
    enum Ccmd
    {
        read(ConfigHeader.CCMD_READ), test(ConfigHeader.CCMD_TEST), prefix(ConfigHeader.CCMD_TEST_PREFIX), set(ConfigHeader.CCMD_SET),
        fset(ConfigHeader.CCMD_FORCE_SET);

        final int code;

        Ccmd(final int code)
        {
            this.code = code;
        }
    }

    @Mixin
    TargetArgs target = new TargetArgs();

    @Mixin
    NetworkOptions net;

    @Option(names = {"-c", "--command"}, paramLabel = "CMD", defaultValue = "read",
        description = "read, test, prefix, set or fset. Default: ${DEFAULT-VALUE}.")
    Ccmd command;

    @Option(names = {"-s", "--string"}, paramLabel = "STRING", defaultValue = "", description = "The config string (at most 1024 bytes).")
    String string;

    @Option(names = "--json", description = "Print JSON.")
    boolean json;

    @Spec
    CommandSpec spec;

    @Override
    public Integer call() throws Exception
    {
        final byte[] bytes = string.getBytes(StandardCharsets.ISO_8859_1);
        if (bytes.length > ConfigHeader.MAX_CONFIG_STRING)
        {
            throw new IllegalArgumentException("a config string has at most " + ConfigHeader.MAX_CONFIG_STRING + " bytes, this one has "
                + bytes.length);
        }
        final PrintWriter out = spec.commandLine().getOut();
        try (Initiator initiator = net.openInitiator())
        {
            final List<Initiator.Reply> replies = initiator.exchange(initiator.ports(), MacAddress.BROADCAST_BITS, target.shelfOrAny(),
                target.slotOrAny(), AoeHeader.CMD_CONFIG, f ->
                {
                    new ConfigHeader().wrap(f, 0).bufferCount(0).firmwareVersion(0).sectorCount(0)
                        .versionCcmd(AoeHeader.VERSION, command.code).configString(bytes, bytes.length);
                    return ConfigHeader.lengthFor(bytes.length);
                }, net.timeout, Integer.MAX_VALUE);
            final List<Object> rows = new ArrayList<>();
            int errors = 0;
            for (final Initiator.Reply r : replies)
            {
                final AoeHeader h = r.header();
                final Map<String, Object> m = new LinkedHashMap<>();
                m.put("target", "e" + h.shelf() + "." + h.slot());
                m.put("interface", r.port().name());
                m.put("mac", new MacAddress(r.sourceMac()).toString());
                if (h.isError())
                {
                    m.put("error", AoeHeader.errorName(h.error()));
                    errors++;
                }
                else
                {
                    final ConfigHeader c = new ConfigHeader().wrap(r.frame(), 0);
                    m.put("configString", c.isValid(r.length()) ? c.configStringAsString() : "(malformed reply)");
                }
                rows.add(m);
            }
            if (json)
            {
                out.println(JsonText.write(rows));
            }
            else
            {
                for (final Object o : rows)
                {
                    final Map<?, ?> m = (Map<?, ?>)o;
                    out.printf(Locale.ROOT, "%-8s %-10s %s  %s%n", m.get("target"), m.get("interface"), m.get("mac"),
                        m.containsKey("error") ? "error: " + m.get("error") : "\"" + m.get("configString") + "\"");
                }
            }
            out.flush();
            if (replies.isEmpty())
            {
                spec.commandLine().getErr().println("aoe cfg: no target " + target.describe() + " answered the " + command + " within "
                    + net.timeout.toMillis() + " ms");
                return AoeCommand.EXIT_FAILURE;
            }
            return errors > 0 ? AoeCommand.EXIT_FAILURE : 0;
        }
    }
}
