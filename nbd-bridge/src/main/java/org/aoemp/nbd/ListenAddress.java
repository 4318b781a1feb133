package org.aoemp.nbd;

import java.net.InetSocketAddress;
import java.nio.file.Path;
import java.util.Objects;

/**
 * Where an {@link NbdServer} listens: a TCP address ({@code HOST:PORT}, {@code [::1]:10809}) or a
 * Unix-domain socket ({@code unix:/run/aoe/nbd.sock}). Parsing is pure: names are not resolved
 * and nothing is opened.
 */
public sealed interface ListenAddress permits ListenAddress.Tcp, ListenAddress.Unix
{
    /** The prefix that marks a Unix-domain socket path. */
    String UNIX_PREFIX = "unix:";

    /** A TCP address; the host is resolved when the server binds. */
    record Tcp(String host, int port) implements ListenAddress
    {
        public Tcp
        {
            Objects.requireNonNull(host, "host");
            if (port < 0 || port > 65535)
            {
                throw new IllegalArgumentException("port out of range 0..65535: " + port);
            }
        }

        public InetSocketAddress resolve()
        {
            return new InetSocketAddress(host, port);
        }

        @Override
        public String toString()
        {
            return (host.indexOf(':') >= 0 ? "[" + host + "]" : host) + ":" + port;
        }
    }

    /** A Unix-domain socket at {@code path}, created by the server (mode 0660) and removed when it closes. */
    record Unix(Path path) implements ListenAddress
    {
        public Unix
        {
            Objects.requireNonNull(path, "path");
        }

        @Override
        public String toString()
        {
            return UNIX_PREFIX + path;
        }
    }

    static ListenAddress of(final InetSocketAddress a)
    {
        return new Tcp(a.getHostString(), a.getPort());
    }

    /**
     * {@code HOST:PORT}, {@code [IPV6]:PORT} or {@code unix:PATH} (an absolute or relative path).
     *
     * @throws IllegalArgumentException with a message that shows the accepted forms
     */
    static ListenAddress parse(final String text)
    {
        Objects.requireNonNull(text, "text");
        if (text.startsWith(UNIX_PREFIX))
        {
            final String path = text.substring(UNIX_PREFIX.length());
            if (path.isEmpty())
            {
                throw new IllegalArgumentException("unix: needs a socket path, e.g. unix:/run/aoe/nbd.sock");
            }
            // sun_path holds 108 bytes including the terminating NUL.
            if (path.getBytes(java.nio.charset.StandardCharsets.UTF_8).length > 107)
            {
                throw new IllegalArgumentException("Unix socket path longer than 107 bytes: " + path);
            }
            return new Unix(Path.of(path));
        }
        return tcp(text, "HOST:PORT or unix:PATH, e.g. 127.0.0.1:10809 or unix:/run/aoe/nbd.sock");
    }

    /**
     * {@code HOST:PORT} or {@code [IPV6]:PORT}, not a Unix socket: for endpoints that are TCP only
     * (the Prometheus metrics server). Pure, as {@link #parse}.
     *
     * @throws IllegalArgumentException with a message that shows the accepted form
     */
    static Tcp parseTcp(final String text)
    {
        Objects.requireNonNull(text, "text");
        return tcp(text, "HOST:PORT, e.g. 127.0.0.1:9810");
    }

    private static Tcp tcp(final String text, final String forms)
    {
        final int colon = text.lastIndexOf(':');
        if (colon <= 0)
        {
            throw new IllegalArgumentException("expected " + forms + " (got '" + text + "')");
        }
        String host = text.substring(0, colon);
        if (host.startsWith("[") && host.endsWith("]"))
        {
            host = host.substring(1, host.length() - 1);
        }
        if (host.isEmpty() || host.indexOf('[') >= 0 || host.indexOf(']') >= 0)
        {
            throw new IllegalArgumentException("bad host in '" + text + "' (IPv6 addresses go in brackets: [::1]:10809)");
        }
        final int port;
        try
        {
            port = Integer.parseInt(text.substring(colon + 1));
        }
        catch (final NumberFormatException e)
        {
            throw new IllegalArgumentException("bad port in '" + text + "'");
        }
        if (port < 0 || port > 65535)
        {
            throw new IllegalArgumentException("port out of range 0..65535 in '" + text + "'");
        }
        return new Tcp(host, port);
    }
}
