package org.aoemp.tools;

import java.io.PrintWriter;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import java.util.concurrent.Callable;

import org.aoemp.initiator.Initiator;
import org.aoemp.protocol.AoeHeader;
import org.aoemp.protocol.MacAddress;
import org.aoemp.protocol.ReserveHeader;
import picocli.CommandLine.ArgGroup;
import picocli.CommandLine.Command;
import picocli.CommandLine.Mixin;
import picocli.CommandLine.Option;
import picocli.CommandLine.Parameters;
import picocli.CommandLine.Spec;
import picocli.CommandLine.Model.CommandSpec;

/** {@code aoe reserve}: read, set or release a target's reservation list. */
@Command(name = "reserve", mixinStandardHelpOptions = true,
    description = {"Read, set or release the reservation of SHELF.SLOT: while the list is not empty, only the MACs on it may "
        + "read or write (others get AoE error 6).",
        "--set succeeds only when the list is empty or this host is on it; --force replaces the list regardless; --release "
            + "empties it (as --set with no MACs). Exits 1 on no answer or an error."})
final class ReserveCommand implements Callable<Integer>
{
    @Parameters(index = "0", paramLabel = "SHELF")
    int shelf;

    @Parameters(index = "1", paramLabel = "SLOT")
    int slot;

    @Mixin
    NetworkOptions net;

    static final class Action
    {
        @Option(names = "--set", paramLabel = "MAC", split = ",", description = "Reserve for these MACs (comma separated or repeated).")
        List<String> set;

        @Option(names = "--force", paramLabel = "MAC", split = ",", description = "Force the list to these MACs.")
        List<String> force;

        @Option(names = "--release", description = "Release the reservation (set an empty list).")
        boolean release;

        @Option(names = "--force-release", description = "Release the reservation even if another host holds it. Safe only "
            + "when that host no longer writes (it crashed or was stopped, and nothing restarts it): two writers corrupt an "
            + "ordinary filesystem.")
        boolean forceRelease;
    }

    @ArgGroup(exclusive = true, multiplicity = "0..1")
    Action action;

    @Option(names = "--json", description = "Print JSON.")
    boolean json;

    @Spec
    CommandSpec spec;

    @Override
    public Integer call() throws Exception
    {
        int rcmd = ReserveHeader.RCMD_READ;
        final List<Long> macs = new ArrayList<>();
        if (action != null)
        {
            if (action.set != null)
            {
                rcmd = ReserveHeader.RCMD_SET;
                action.set.forEach(m -> macs.add(MacAddress.parse(m).bits()));
            }
            else if (action.force != null)
            {
                rcmd = ReserveHeader.RCMD_FORCE_SET;
                action.force.forEach(m -> macs.add(MacAddress.parse(m).bits()));
            }
            else if (action.release)
            {
                rcmd = ReserveHeader.RCMD_SET;
            }
            else if (action.forceRelease)
            {
                rcmd = ReserveHeader.RCMD_FORCE_SET;
            }
        }
        if (macs.size() > 255)
        {
            throw new IllegalArgumentException("at most 255 MACs in a reservation");
        }
        final int command = rcmd;
        final PrintWriter out = spec.commandLine().getOut();
        try (Initiator initiator = net.openInitiator())
        {
            final List<Initiator.Reply> replies = initiator.exchange(initiator.ports(), MacAddress.BROADCAST_BITS, shelf, slot,
                AoeHeader.CMD_RESERVE, f ->
                {
                    final ReserveHeader r = new ReserveHeader().wrap(f, 0).rcmd(command).macCount(macs.size());
                    for (int i = 0; i < macs.size(); i++)
                    {
                        r.mac(i, macs.get(i));
                    }
                    return ReserveHeader.lengthFor(macs.size());
                }, net.timeout, Integer.MAX_VALUE);
            if (replies.isEmpty())
            {
                return ReplyTable.noAnswer(spec.commandLine().getErr(), "reserve", shelf, slot, net.timeout.toMillis());
            }
            final ReplyTable table = new ReplyTable(shelf, slot);
            for (final Initiator.Reply reply : replies)
            {
                final ReserveHeader r = new ReserveHeader().wrap(reply.frame(), 0);
                final Map<String, Object> row = table.add(reply, r.isValid(reply.length()));
                if (row != null)
                {
                    final List<String> list = new ArrayList<>();
                    for (int i = 0; i < r.macCount(); i++)
                    {
                        list.add(new MacAddress(r.mac(i)).toString());
                    }
                    row.put("reservedFor", list);
                }
            }
            return table.print(out, json, row -> row.containsKey("error") ? "error: " + row.get("error")
                : ((List<?>)row.get("reservedFor")).isEmpty() ? "not reserved" : "reserved for " + row.get("reservedFor"));
        }
    }
}
