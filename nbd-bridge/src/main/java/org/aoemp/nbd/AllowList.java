package org.aoemp.nbd;

import java.net.Inet6Address;
import java.net.InetAddress;
import java.net.UnknownHostException;
import java.util.ArrayList;
import java.util.List;
import java.util.Objects;

/**
 * The TCP clients an {@link NbdServer} talks to, as CIDR blocks ({@code 10.0.0.0/8},
 * {@code 192.168.1.7}, {@code fd00::/64}). Empty means everyone. An IPv4 client seen on a dual-stack
 * socket as {@code ::ffff:a.b.c.d} matches the IPv4 blocks. Immutable; any thread.
 */
public final class AllowList
{
    /** One CIDR block: the network's address bytes and the prefix length. */
    private record Block(byte[] network, int prefix, String text)
    {
        boolean contains(final byte[] address)
        {
            if (address.length != network.length)
            {
                return false;
            }
            final int whole = prefix / 8;
            for (int i = 0; i < whole; i++)
            {
                if (address[i] != network[i])
                {
                    return false;
                }
            }
            final int rest = prefix % 8;
            if (rest == 0)
            {
                return true;
            }
            final int mask = (0xff << (8 - rest)) & 0xff;
            return (address[whole] & mask) == (network[whole] & mask);
        }
    }

    /** Everyone may connect. */
    public static final AllowList EVERYONE = new AllowList(List.of());

    private final List<Block> blocks;

    private AllowList(final List<Block> blocks)
    {
        this.blocks = List.copyOf(blocks);
    }

    /**
     * Parses CIDR blocks; an address without {@code /N} is one host. Only literal addresses are
     * accepted: a host name could resolve differently at each connection.
     *
     * @throws IllegalArgumentException naming the entry that is not a CIDR block
     */
    public static AllowList parse(final List<String> cidrs)
    {
        final List<Block> blocks = new ArrayList<>();
        for (final String c : cidrs)
        {
            blocks.add(block(Objects.requireNonNull(c, "cidr").strip()));
        }
        return new AllowList(blocks);
    }

    private static Block block(final String text)
    {
        final int slash = text.indexOf('/');
        final String host = slash < 0 ? text : text.substring(0, slash);
        if (!isLiteral(host))
        {
            throw new IllegalArgumentException("not a CIDR block (address/prefix, e.g. 192.168.1.0/24 or fd00::/64): '" + text + "'");
        }
        final byte[] network;
        try
        {
            network = InetAddress.getByName(host).getAddress();
        }
        catch (final UnknownHostException e)
        {
            throw new IllegalArgumentException("not an IP address: '" + host + "' in '" + text + "'");
        }
        final int bits = network.length * 8;
        int prefix = bits;
        if (slash >= 0)
        {
            try
            {
                prefix = Integer.parseInt(text.substring(slash + 1));
            }
            catch (final NumberFormatException e)
            {
                prefix = -1;
            }
            if (prefix < 0 || prefix > bits)
            {
                throw new IllegalArgumentException("prefix length must be 0.." + bits + " in '" + text + "'");
            }
        }
        return new Block(network, prefix, text);
    }

    /** Digits, dots, hex and colons only: InetAddress.getByName then never asks a name server. */
    private static boolean isLiteral(final String host)
    {
        if (host.isEmpty())
        {
            return false;
        }
        final boolean v6 = host.indexOf(':') >= 0;
        for (int i = 0; i < host.length(); i++)
        {
            final char ch = host.charAt(i);
            final boolean ok = (ch >= '0' && ch <= '9') || ch == '.' || (v6 && (ch == ':' || (ch >= 'a' && ch <= 'f') || (ch >= 'A' && ch <= 'F')));
            if (!ok)
            {
                return false;
            }
        }
        return v6 || host.chars().filter(ch -> ch == '.').count() == 3;
    }

    /** Whether no block is given, so every client may connect. */
    public boolean allowsEveryone()
    {
        return blocks.isEmpty();
    }

    /** Whether a client at {@code address} may connect. */
    public boolean allows(final InetAddress address)
    {
        if (blocks.isEmpty())
        {
            return true;
        }
        byte[] bytes = address.getAddress();
        if (address instanceof Inet6Address && isV4Mapped(bytes))
        {
            bytes = java.util.Arrays.copyOfRange(bytes, 12, 16);
        }
        for (final Block b : blocks)
        {
            if (b.contains(bytes))
            {
                return true;
            }
        }
        return false;
    }

    private static boolean isV4Mapped(final byte[] a)
    {
        for (int i = 0; i < 10; i++)
        {
            if (a[i] != 0)
            {
                return false;
            }
        }
        return (a[10] & 0xff) == 0xff && (a[11] & 0xff) == 0xff;
    }

    @Override
    public String toString()
    {
        if (blocks.isEmpty())
        {
            return "everyone";
        }
        final List<String> texts = new ArrayList<>();
        blocks.forEach(b -> texts.add(b.text()));
        return String.join(", ", texts);
    }
}
