package org.aoemp.nbd;

import java.util.ArrayList;
import java.util.List;

/**
 * What every connection of one {@link NbdServer} shares: the exports and the per-connection
 * limits. The limits are fixed; the export table may change while the server runs
 * ({@link NbdServer#addExport}, {@link NbdServer#removeExport}) and is replaced as a whole, so a
 * handshake always sees one consistent table. Read from any event loop; changed under the
 * server's lock.
 */
final class ServerConfig
{
    /** The exports in LIST order and the one {@code ""} selects (null: the first one). Immutable. */
    private record Table(List<Export> exports, String defaultName)
    {
        Table
        {
            exports = List.copyOf(exports);
        }
    }

    private final int maxOptions;
    private final long handshakeTimeoutMillis;
    private final long maxInFlightBytes;
    private final int maxInFlightRequests;
    private final long requestTimeoutMillis;
    private final ServerBudget budget;
    private volatile Table table;

    ServerConfig(final List<Export> exports, final String defaultName, final int maxOptions, final long handshakeTimeoutMillis,
        final long maxInFlightBytes, final int maxInFlightRequests, final long maxTotalInFlightBytes, final long requestTimeoutMillis)
    {
        this.table = new Table(exports, defaultName);
        this.maxOptions = maxOptions;
        this.handshakeTimeoutMillis = handshakeTimeoutMillis;
        this.maxInFlightBytes = maxInFlightBytes;
        this.maxInFlightRequests = maxInFlightRequests;
        this.budget = new ServerBudget(maxTotalInFlightBytes);
        this.requestTimeoutMillis = requestTimeoutMillis;
    }

    List<Export> exports()
    {
        return table.exports();
    }

    /** The export {@code ""} selects: the one named as default while it exists, else the first; null when there is none. */
    Export defaultExport()
    {
        final Table t = table;
        for (final Export e : t.exports())
        {
            if (e.name().equals(t.defaultName()))
            {
                return e;
            }
        }
        return t.exports().isEmpty() ? null : t.exports().get(0);
    }

    int maxOptions()
    {
        return maxOptions;
    }

    long handshakeTimeoutMillis()
    {
        return handshakeTimeoutMillis;
    }

    long maxInFlightBytes()
    {
        return maxInFlightBytes;
    }

    int maxInFlightRequests()
    {
        return maxInFlightRequests;
    }

    /** Time a request may spend at the device before the client gets EIO for it. */
    long requestTimeoutMillis()
    {
        return requestTimeoutMillis;
    }

    /** The payload bytes all connections hold together. */
    ServerBudget budget()
    {
        return budget;
    }

    /** The request accounting of a connection entering transmission. */
    ConnectionBudget newConnectionBudget()
    {
        return new ConnectionBudget(budget, maxInFlightBytes, maxInFlightRequests);
    }

    /**
     * The export a client asked for: an exact name match first, so an export literally named
     * {@code ""} wins; otherwise {@code ""} means the default export. Null when there is none.
     */
    Export lookup(final String name)
    {
        for (final Export e : table.exports())
        {
            if (e.name().equals(name))
            {
                return e;
            }
        }
        return name.isEmpty() ? defaultExport() : null;
    }

    /** Appends an export; false when one of that name exists. Callers serialise changes. */
    boolean add(final Export export)
    {
        final Table t = table;
        for (final Export e : t.exports())
        {
            if (e.name().equals(export.name()))
            {
                return false;
            }
        }
        final List<Export> next = new ArrayList<>(t.exports());
        next.add(export);
        table = new Table(next, t.defaultName());
        return true;
    }

    /** Removes the export named {@code name}; the removed one, or null. Callers serialise changes. */
    Export remove(final String name)
    {
        final Table t = table;
        final List<Export> next = new ArrayList<>(t.exports());
        for (int i = 0; i < next.size(); i++)
        {
            if (next.get(i).name().equals(name))
            {
                final Export removed = next.remove(i);
                table = new Table(next, t.defaultName());
                return removed;
            }
        }
        return null;
    }
}
