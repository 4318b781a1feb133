package org.aoemp.tools;

import java.net.InetAddress;
import java.net.InetSocketAddress;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;

import org.aoemp.nbd.AllowList;
import org.aoemp.nbd.ListenAddress;
import org.aoemp.nbd.NbdServer;
import org.aoemp.nbd.TlsSettings;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * Who may connect to the NBD side, as {@code aoe nbd}'s options and {@code aoe serve}'s
 * {@code [nbd]} keys say (the same names): where to listen, the allow-list and TLS. Checked when
 * built, so a typo fails before anything is opened.
 *
 * @param listen TCP addresses and Unix sockets, at least one
 * @param allow  the TCP clients let in
 * @param tls    TLS mode and credentials
 */
public record NbdAccess(List<ListenAddress> listen, AllowList allow, TlsSettings tls)
{
    public static final String DEFAULT_LISTEN = "127.0.0.1:10809";

    private static final Logger LOG = LoggerFactory.getLogger(NbdAccess.class);

    public NbdAccess
    {
        listen = List.copyOf(listen);
    }

    /**
     * Parses and checks the options; {@code prefix} names them in messages ({@code "--"} for
     * options, {@code "nbd."} for config keys).
     *
     * @throws IllegalArgumentException naming the option and what is wrong
     */
    public static NbdAccess of(final List<String> listen, final List<String> allow, final String tlsMode, final Path tlsCertificates,
        final String prefix)
    {
        final List<ListenAddress> addresses = new ArrayList<>();
        for (final String l : listen.isEmpty() ? List.of(DEFAULT_LISTEN) : listen)
        {
            try
            {
                addresses.add(ListenAddress.parse(l));
            }
            catch (final IllegalArgumentException e)
            {
                throw new IllegalArgumentException(prefix + "listen: " + e.getMessage(), e);
            }
        }
        if (addresses.stream().distinct().count() != addresses.size())
        {
            throw new IllegalArgumentException(prefix + "listen: an address is given twice");
        }
        final AllowList allowList;
        try
        {
            allowList = AllowList.parse(allow);
        }
        catch (final IllegalArgumentException e)
        {
            throw new IllegalArgumentException(prefix + "allow: " + e.getMessage(), e);
        }
        final TlsSettings.Mode mode;
        try
        {
            mode = TlsSettings.Mode.parse(tlsMode == null ? "off" : tlsMode);
        }
        catch (final IllegalArgumentException e)
        {
            throw new IllegalArgumentException(prefix + "tls: " + e.getMessage(), e);
        }
        if (mode == TlsSettings.Mode.OFF && tlsCertificates != null)
        {
            throw new IllegalArgumentException(prefix + "tls-certificates is given but " + prefix + "tls is off; say "
                + prefix + "tls on or require");
        }
        try
        {
            return new NbdAccess(addresses, allowList, TlsSettings.load(mode, tlsCertificates));
        }
        catch (final IllegalArgumentException e)
        {
            throw new IllegalArgumentException((tlsCertificates == null ? prefix + "tls: " : prefix + "tls-certificates: ") + e.getMessage(), e);
        }
    }

    /** Sets the listen addresses, allow-list and TLS on {@code b}. */
    public NbdServer.Builder apply(final NbdServer.Builder b)
    {
        return b.listen(listen).allow(allow).tls(tls);
    }

    /** TCP addresses on which anyone who reaches the port may read and write: no allow-list, TLS not required, not loopback. */
    public List<ListenAddress> openToTheNetwork()
    {
        final List<ListenAddress> open = new ArrayList<>();
        if (!allow.allowsEveryone() || tls.mode() == TlsSettings.Mode.REQUIRE)
        {
            return open;
        }
        for (final ListenAddress l : listen)
        {
            if (l instanceof ListenAddress.Tcp t)
            {
                final InetAddress a = new InetSocketAddress(t.host(), t.port()).getAddress();
                if (a == null || !a.isLoopbackAddress())
                {
                    open.add(l);
                }
            }
        }
        return open;
    }

    /** Logs a warning when {@link #openToTheNetwork()} finds an address. */
    public void warnIfOpen()
    {
        for (final ListenAddress l : openToTheNetwork())
        {
            LOG.warn("NBD on {} is open to every host that reaches it, with neither an allow-list nor TLS required: anyone there can read "
                + "and write the exported disks (use --allow CIDR and/or --tls require)", l);
        }
    }

    /** Every address a server listens on, for the operator: {@code 127.0.0.1:10809, unix:/run/aoe/nbd.sock}. */
    public static String where(final NbdServer server)
    {
        final List<String> out = new ArrayList<>();
        server.listenAddresses().forEach(l -> out.add(l.toString()));
        return String.join(", ", out) + (server.tls().mode() == TlsSettings.Mode.OFF ? "" : " (TLS " + server.tls().mode() + ")");
    }

    /** What to type to attach the kernel's client: {@code nbd-client localhost 10809 /dev/nbd0} or {@code nbd-client -u PATH /dev/nbd0}. */
    public static String nbdClientHint(final NbdServer server)
    {
        final String tls = server.tls().mode() == TlsSettings.Mode.OFF ? "" : " -cacertfile CA -certfile CERT -keyfile KEY";
        final ListenAddress first = server.listenAddresses().get(0);
        if (first instanceof ListenAddress.Unix u)
        {
            return "nbd-client -u " + u.path() + " /dev/nbd0" + tls;
        }
        final InetSocketAddress a = server.address();
        return "nbd-client " + (a.getAddress().isLoopbackAddress() || a.getAddress().isAnyLocalAddress() ? "localhost" : a.getHostString())
            + " " + a.getPort() + " /dev/nbd0" + tls;
    }
}
