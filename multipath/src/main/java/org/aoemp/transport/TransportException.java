package org.aoemp.transport;

/**
 * A transport could not be opened or used: no such interface, no permission, library missing.
 * The message is meant for the user, e.g. "interface eth7 does not exist" or "AF_PACKET needs
 * root or CAP_NET_RAW".
 */
public final class TransportException extends RuntimeException
{
    public TransportException(final String message)
    {
        super(message);
    }

    public TransportException(final String message, final Throwable cause)
    {
        super(message, cause);
    }
}
