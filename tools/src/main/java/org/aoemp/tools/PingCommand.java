package org.aoemp.tools;

import java.io.PrintWriter;
import java.nio.ByteBuffer;
import java.time.Duration;
import java.util.HexFormat;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Locale;
import java.util.Map;
import java.util.concurrent.Callable;

import org.aoemp.initiator.Initiator;
import org.aoemp.initiator.Port;
import org.aoemp.initiator.TargetAddress;
import org.aoemp.protocol.AoeHeader;
import org.aoemp.protocol.AtaHeader;
import org.aoemp.protocol.ConfigHeader;
import org.aoemp.protocol.Identify;
import org.aoemp.protocol.MacAddress;
import org.aoemp.util.JsonText;
import picocli.CommandLine.Command;
import picocli.CommandLine.Mixin;
import picocli.CommandLine.Option;
import picocli.CommandLine.Parameters;
import picocli.CommandLine.Spec;
import picocli.CommandLine.Model.CommandSpec;

/** {@code aoe ping}: like aoeping, a config query to one shelf.slot and then an IDENTIFY. */
@Command(name = "ping", mixinStandardHelpOptions = true,
    description = {"Ping one target as aoeping does: a Query Config for SHELF.SLOT on one interface, then IDENTIFY DEVICE "
        + "sent to the MAC that answered. Prints both answers as fields with their round-trip times. Exits 1 without an answer."})
final class PingCommand implements Callable<Integer>
{
    @Parameters(index = "0", paramLabel = "SHELF")
    int shelf;

    @Parameters(index = "1", paramLabel = "SLOT")
    int slot;

    @Mixin
    NetworkOptions net;

    @Option(names = "-I", description = "Also print the 256 IDENTIFY words as hex.")
    boolean words;

    @Option(names = "--json", description = "Print JSON.")
    boolean json;

    @Spec
    CommandSpec spec;

    @Override
    public Integer call() throws Exception
    {
        final TargetAddress address = new TargetAddress(shelf, slot);
        if (net.interfaces.size() != 1)
        {
            throw new IllegalArgumentException("ping needs exactly one interface: -i IF");
        }
        final PrintWriter out = spec.commandLine().getOut();
        try (Initiator initiator = net.openInitiator())
        {
            final Port port = initiator.ports().get(0);
            final long t0 = System.nanoTime();
            final List<Initiator.Reply> cfg = initiator.exchange(List.of(port), MacAddress.BROADCAST_BITS, shelf, slot,
                AoeHeader.CMD_CONFIG, f -> ConfigHeader.lengthFor(0), net.timeout, 1);
            if (cfg.isEmpty())
            {
                spec.commandLine().getErr().println("aoe ping: no answer from " + address + " on " + port.name() + " within "
                    + net.timeout.toMillis() + " ms");
                return AoeCommand.EXIT_FAILURE;
            }
            final double cfgMicros = (System.nanoTime() - t0) / 1e3;
            final Initiator.Reply c = cfg.get(0);
            final ConfigHeader ch = new ConfigHeader().wrap(c.frame(), 0);
            final Map<String, Object> m = new LinkedHashMap<>();
            m.put("target", address.toString());
            m.put("interface", port.name());
            m.put("mac", new MacAddress(c.sourceMac()).toString());
            m.put("configRttMicros", Math.round(cfgMicros));
            m.put("bufferCount", ch.bufferCount());
            m.put("firmwareVersion", String.format(Locale.ROOT, "0x%04x", ch.firmwareVersion()));
            m.put("sectorsPerCommand", ch.effectiveSectorCount());
            m.put("configString", ch.configStringAsString());

            final long t1 = System.nanoTime();
            final List<Initiator.Reply> id = initiator.exchange(List.of(port), c.sourceMac(), shelf, slot, AoeHeader.CMD_ATA,
                f ->
                {
                    new AtaHeader().wrap(f, 0).aflags(0).errFeature(0).sectorCount(1).cmdStatus(AtaHeader.ATA_IDENTIFY).lba(0)
                        .lbaByte(3, 0xA0).clearReserved();
                    return AtaHeader.DATA_OFFSET;
                }, remaining(net.timeout), 1);
            int status = 0;
            if (id.isEmpty())
            {
                m.put("identify", "no answer");
                status = AoeCommand.EXIT_FAILURE;
            }
            else
            {
                final Initiator.Reply r = id.get(0);
                final AtaHeader a = new AtaHeader().wrap(r.frame(), 0);
                m.put("identifyRttMicros", Math.round((System.nanoTime() - t1) / 1e3));
                if (r.header().isError() || a.failed() || r.length() < AtaHeader.DATA_OFFSET + 512)
                {
                    m.put("identify", r.header().isError() ? "AoE error " + AoeHeader.errorName(r.header().error())
                        : String.format(Locale.ROOT, "ATA status 0x%02x error 0x%02x", a.cmdStatus(), a.errFeature()));
                    status = AoeCommand.EXIT_FAILURE;
                }
                else
                {
                    final Identify ident = Identify.parse(r.frame(), AtaHeader.DATA_OFFSET);
                    m.put("model", ident.model());
                    m.put("serial", ident.serial());
                    m.put("firmwareRevision", ident.firmware());
                    m.put("lba48", ident.lba48());
                    m.put("sectors", ident.capacitySectors());
                    m.put("sizeBytes", ident.capacitySectors() * 512);
                    if (words)
                    {
                        final byte[] data = new byte[512];
                        r.frame().get(AtaHeader.DATA_OFFSET, data);
                        m.put("identifyData", HexFormat.of().formatHex(data));
                    }
                }
            }
            if (json)
            {
                out.println(JsonText.write(m));
            }
            else
            {
                for (final Map.Entry<String, Object> e : m.entrySet())
                {
                    if (e.getKey().equals("identifyData"))
                    {
                        printWords(out, (String)e.getValue());
                    }
                    else
                    {
                        out.printf(Locale.ROOT, "%-18s %s%n", e.getKey() + ":", e.getValue());
                    }
                }
            }
            out.flush();
            return status;
        }
    }

    private static Duration remaining(final Duration d)
    {
        return d.isZero() ? Duration.ofSeconds(1) : d;
    }

    private static void printWords(final PrintWriter out, final String hex)
    {
        final ByteBuffer b = ByteBuffer.wrap(HexFormat.of().parseHex(hex));
        for (int w = 0; w < 256; w += 8)
        {
            out.printf(Locale.ROOT, "word %3d:", w);
            for (int i = 0; i < 8; i++)
            {
                out.printf(Locale.ROOT, " %04x", org.aoemp.protocol.Bytes.u16le(b, (w + i) * 2));
            }
            out.println();
        }
    }
}
