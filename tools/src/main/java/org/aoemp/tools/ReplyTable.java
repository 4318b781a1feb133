package org.aoemp.tools;

import java.io.PrintWriter;
import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Locale;
import java.util.Map;
import java.util.function.Function;

import org.aoemp.initiator.Initiator;
import org.aoemp.protocol.AoeHeader;
import org.aoemp.protocol.MacAddress;
import org.aoemp.util.JsonText;

/**
 * The answers to one list-type exchange ({@code aoe mask}, {@code aoe reserve}): a row per answering
 * port and target MAC, with the AoE error or the decoded list, printed as text or JSON.
 */
final class ReplyTable
{
    private final String target;
    private final List<Map<String, Object>> rows = new ArrayList<>();
    private int status;

    ReplyTable(final int shelf, final int slot)
    {
        this.target = "e" + shelf + "." + slot;
    }

    /**
     * Adds the row of {@code reply}. Returns it for the caller to fill in, or {@code null} when the
     * reply carries an AoE error or is malformed ({@code wellFormed} false): the row then says so.
     */
    Map<String, Object> add(final Initiator.Reply reply, final boolean wellFormed)
    {
        final Map<String, Object> row = new LinkedHashMap<>();
        row.put("target", target);
        row.put("interface", reply.port().name());
        row.put("mac", new MacAddress(reply.sourceMac()).toString());
        rows.add(row);
        if (reply.header().isError())
        {
            fail(row, AoeHeader.errorName(reply.header().error()));
            return null;
        }
        if (!wellFormed)
        {
            fail(row, "malformed reply");
            return null;
        }
        return row;
    }

    /** Marks {@code row} as failed: the command will exit with {@link AoeCommand#EXIT_FAILURE}. */
    void fail(final Map<String, Object> row, final String error)
    {
        row.put("error", error);
        status = AoeCommand.EXIT_FAILURE;
    }

    /**
     * Prints every row, as one JSON array or a line each ({@code "eX.Y via IF from MAC: "} followed by
     * {@code describe}); returns the exit status.
     */
    int print(final PrintWriter out, final boolean json, final Function<Map<String, Object>, String> describe)
    {
        if (json)
        {
            out.println(JsonText.write(new ArrayList<Object>(rows)));
        }
        else
        {
            for (final Map<String, Object> row : rows)
            {
                out.printf(Locale.ROOT, "%s via %s from %s: %s%n", row.get("target"), row.get("interface"), row.get("mac"), describe.apply(row));
            }
        }
        out.flush();
        return status;
    }

    /** Prints the usual "no answer" line for {@code command}; returns the exit status to use. */
    static int noAnswer(final PrintWriter err, final String command, final int shelf, final int slot, final long timeoutMillis)
    {
        err.println("aoe " + command + ": no answer from e" + shelf + "." + slot + " within " + timeoutMillis + " ms");
        return AoeCommand.EXIT_FAILURE;
    }
}
