package org.aoemp.tools;

import java.io.PrintWriter;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import java.util.concurrent.Callable;

import org.aoemp.initiator.Initiator;
import org.aoemp.protocol.AoeHeader;
import org.aoemp.protocol.MacAddress;
import org.aoemp.protocol.MacMaskHeader;
import picocli.CommandLine.Command;
import picocli.CommandLine.Mixin;
import picocli.CommandLine.Option;
import picocli.CommandLine.Parameters;
import picocli.CommandLine.Spec;
import picocli.CommandLine.Model.CommandSpec;

/** {@code aoe mask}: read or edit a target's MAC mask list (the initiators it answers). */
@Command(name = "mask", mixinStandardHelpOptions = true,
    description = {"Read or edit the MAC mask list of SHELF.SLOT: the initiator MACs the target answers (empty = everyone).",
        "Without --add/--delete the list is read. Exits 1 on no answer or a mask error."})
final class MaskCommand implements Callable<Integer>
{
    @Parameters(index = "0", paramLabel = "SHELF")
    int shelf;

    @Parameters(index = "1", paramLabel = "SLOT")
    int slot;

    @Mixin
    NetworkOptions net;

    @Option(names = {"-a", "--add"}, paramLabel = "MAC", description = "Add MAC to the list; repeatable.")
    List<String> add = new ArrayList<>();

    @Option(names = {"-d", "--delete"}, paramLabel = "MAC", description = "Delete MAC from the list; repeatable.")
    List<String> delete = new ArrayList<>();

    @Option(names = "--json", description = "Print JSON.")
    boolean json;

    @Spec
    CommandSpec spec;

    @Override
    public Integer call() throws Exception
    {
        final List<long[]> directives = new ArrayList<>();
        add.forEach(m -> directives.add(new long[] {MacMaskHeader.DCMD_ADD, MacAddress.parse(m).bits()}));
        delete.forEach(m -> directives.add(new long[] {MacMaskHeader.DCMD_DELETE, MacAddress.parse(m).bits()}));
        if (directives.size() > 255)
        {
            throw new IllegalArgumentException("at most 255 edits per request");
        }
        final PrintWriter out = spec.commandLine().getOut();
        try (Initiator initiator = net.openInitiator())
        {
            final List<Initiator.Reply> replies = initiator.exchange(initiator.ports(), MacAddress.BROADCAST_BITS, shelf, slot,
                AoeHeader.CMD_MAC_MASK, f ->
                {
                    final MacMaskHeader m = new MacMaskHeader().wrap(f, 0);
                    m.clearReserved().mcmd(directives.isEmpty() ? MacMaskHeader.MCMD_READ : MacMaskHeader.MCMD_EDIT).merror(0)
                        .directiveCount(directives.size());
                    for (int i = 0; i < directives.size(); i++)
                    {
                        m.directive(i, (int)directives.get(i)[0], directives.get(i)[1]);
                    }
                    return MacMaskHeader.lengthFor(directives.size());
                }, net.timeout, Integer.MAX_VALUE);
            if (replies.isEmpty())
            {
                return ReplyTable.noAnswer(spec.commandLine().getErr(), "mask", shelf, slot, net.timeout.toMillis());
            }
            final ReplyTable table = new ReplyTable(shelf, slot);
            for (final Initiator.Reply r : replies)
            {
                final MacMaskHeader m = new MacMaskHeader().wrap(r.frame(), 0);
                final Map<String, Object> row = table.add(r, m.isValid(r.length()));
                if (row == null)
                {
                    continue;
                }
                if (m.merror() != 0)
                {
                    table.fail(row, switch (m.merror())
                    {
                        case MacMaskHeader.MERROR_BAD_DCMD -> "bad directive command";
                        case MacMaskHeader.MERROR_LIST_FULL -> "mask list full";
                        default -> "unspecified mask error";
                    });
                }
                final List<String> masks = new ArrayList<>();
                for (int i = 0; i < m.directiveCount(); i++)
                {
                    masks.add(new MacAddress(m.mac(i)).toString());
                }
                row.put("masks", masks);
            }
            return table.print(out, json, row ->
                (row.containsKey("masks") ? (((List<?>)row.get("masks")).isEmpty() ? "no masks (answers everyone)" : "masks " + row.get("masks")) : "")
                    + (row.containsKey("error") ? "  error: " + row.get("error") : ""));
        }
    }
}
