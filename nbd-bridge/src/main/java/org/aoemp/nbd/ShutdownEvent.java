package org.aoemp.nbd;

/**
 * Fired down every connection's pipeline when the server closes: a handshake ends at once, a
 * transmission stops reading, finishes its in-flight requests, then closes.
 */
enum ShutdownEvent
{
    INSTANCE
}
