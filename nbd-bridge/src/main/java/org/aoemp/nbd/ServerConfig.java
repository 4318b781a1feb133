package org.aoemp.nbd;

import java.util.List;

/**
 * What every connection of one {@link NbdServer} shares: the exports and the per-connection
 * limits. Immutable; read from any event loop.
 */
record ServerConfig(
    List<Export> exports,
    Export defaultExport,
    int maxOptions,
    long handshakeTimeoutMillis,
    long maxInFlightBytes,
    int maxInFlightRequests)
{
    ServerConfig
    {
        exports = List.copyOf(exports);
    }

    /**
     * The export a client asked for: an exact name match first, so an export literally named
     * {@code ""} wins; otherwise {@code ""} means the default export. Null when there is none.
     */
    Export lookup(final String name)
    {
        for (final Export e : exports)
        {
            if (e.name().equals(name))
            {
                return e;
            }
        }
        return name.isEmpty() ? defaultExport : null;
    }
}
