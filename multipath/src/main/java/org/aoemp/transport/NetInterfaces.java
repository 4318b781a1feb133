package org.aoemp.transport;

import java.io.IOException;
import java.net.NetworkInterface;
import java.net.SocketException;
import java.nio.ByteBuffer;
import java.nio.channels.FileChannel;
import java.nio.file.Path;
import java.nio.file.StandardOpenOption;
import java.util.ArrayList;
import java.util.Collections;
import java.util.Enumeration;
import java.util.List;

/**
 * Local network interfaces as the transports need them: index, MAC, MTU and link state, with
 * error messages meant for a user who mistyped an interface name.
 *
 * <p>Threading: the static methods may be called from any thread. A {@link LinkState} may be
 * polled from any thread too; it serialises its own reads.
 */
public final class NetInterfaces
{
    private static final Path SYS_CLASS_NET = Path.of("/sys/class/net");

    /**
     * One interface as seen when it was looked up.
     *
     * @param name  interface name
     * @param index kernel interface index (what {@code sockaddr_ll.sll_ifindex} wants)
     * @param mac   48-bit MAC in the low bytes, 0 when the interface has none (loopback)
     * @param mtu   MTU: the largest payload after the 14-byte Ethernet header
     * @param up    administratively up and running at lookup time
     */
    public record Info(String name, int index, long mac, int mtu, boolean up)
    {
    }

    private NetInterfaces()
    {
    }

    /**
     * Looks an interface up by name.
     *
     * @throws TransportException naming the interface and listing the ones that exist when there
     *                            is no such interface
     */
    public static Info lookup(final String name)
    {
        final Path sys = sysDir(name);
        if (sys != null)
        {
            // Linux: sysfs knows every interface, also those without an IP address (AoE NICs often
            // have none), which java.net.NetworkInterface does not list.
            try
            {
                final long flags = Long.decode(readSys(sys, "flags"));
                return new Info(name, Integer.parseInt(readSys(sys, "ifindex")), parseMac(readSys(sys, "address")),
                    Integer.parseInt(readSys(sys, "mtu")), (flags & 1) != 0);
            }
            catch (final IOException | NumberFormatException e)
            {
                throw new TransportException("cannot read interface '" + name + "' from " + sys + ": " + e.getMessage(), e);
            }
        }
        final NetworkInterface nic = require(name);
        try
        {
            return new Info(name, nic.getIndex(), macOf(nic), nic.getMTU(), nic.isUp());
        }
        catch (final SocketException e)
        {
            throw new TransportException("cannot read interface '" + name + "': " + e.getMessage(), e);
        }
    }

    /** True when an interface of that name exists in this process's network namespace. */
    public static boolean exists(final String name)
    {
        if (sysDir(name) != null)
        {
            return true;
        }
        try
        {
            return name != null && !name.isEmpty() && NetworkInterface.getByName(name) != null;
        }
        catch (final SocketException e)
        {
            return false;
        }
    }

    /**
     * The interfaces a command uses when none is named, as aoetools do: every one that is up, has
     * a MAC address and is not loopback, sorted by name (possibly none).
     */
    public static List<String> usableByDefault()
    {
        final List<String> usable = new ArrayList<>();
        for (final String name : names())
        {
            final Info info = lookup(name);
            if (info.up() && info.mac() != 0 && !name.equals("lo"))
            {
                usable.add(name);
            }
        }
        return usable;
    }

    /** Names of all interfaces in this process's network namespace, sorted. */
    public static List<String> names()
    {
        final List<String> names = new ArrayList<>();
        if (java.nio.file.Files.isDirectory(SYS_CLASS_NET))
        {
            try (java.util.stream.Stream<Path> list = java.nio.file.Files.list(SYS_CLASS_NET))
            {
                list.forEach(p -> names.add(p.getFileName().toString()));
                Collections.sort(names);
                return names;
            }
            catch (final IOException e)
            {
                names.clear(); // fall back to java.net below
            }
        }
        try
        {
            final Enumeration<NetworkInterface> all = NetworkInterface.getNetworkInterfaces();
            while (all != null && all.hasMoreElements())
            {
                names.add(all.nextElement().getName());
            }
        }
        catch (final SocketException e)
        {
            // Listing is only used for messages; an empty list still leaves a clear message.
        }
        Collections.sort(names);
        return names;
    }

    /** The sysfs directory of a plausible interface name that exists, or null (no sysfs, or no such interface). */
    private static Path sysDir(final String name)
    {
        if (name == null || name.isEmpty() || name.contains("/") || name.equals(".") || name.equals("..")
            || !java.nio.file.Files.isDirectory(SYS_CLASS_NET))
        {
            return null;
        }
        final Path dir = SYS_CLASS_NET.resolve(name);
        return java.nio.file.Files.isRegularFile(dir.resolve("ifindex")) ? dir : null;
    }

    private static String readSys(final Path dir, final String file) throws IOException
    {
        try (var in = java.nio.file.Files.newInputStream(dir.resolve(file)))
        {
            return new String(in.readAllBytes(), java.nio.charset.StandardCharsets.US_ASCII).trim();
        }
    }

    /** {@code aa:bb:cc:dd:ee:ff} as 48 bits; 0 for anything else (interfaces without an Ethernet address). */
    private static long parseMac(final String text)
    {
        final String hex = text.replace(":", "");
        if (hex.length() != 12)
        {
            return 0;
        }
        try
        {
            return Long.parseLong(hex, 16);
        }
        catch (final NumberFormatException e)
        {
            return 0;
        }
    }

    /** The {@link NetworkInterface} of that name, or a {@link TransportException} that says which names exist. */
    static NetworkInterface require(final String name)
    {
        if (name == null || name.isEmpty())
        {
            throw new TransportException("no interface name given; available interfaces: " + String.join(", ", names()));
        }
        final NetworkInterface nic;
        try
        {
            nic = NetworkInterface.getByName(name);
        }
        catch (final SocketException e)
        {
            throw new TransportException("cannot look up interface '" + name + "': " + e.getMessage(), e);
        }
        if (nic == null)
        {
            throw new TransportException("interface '" + name + "' does not exist; available interfaces: "
                + String.join(", ", names()));
        }
        return nic;
    }

    private static long macOf(final NetworkInterface nic) throws SocketException
    {
        final byte[] address = nic.getHardwareAddress();
        if (address == null || address.length != 6)
        {
            return 0;
        }
        long mac = 0;
        for (final byte b : address)
        {
            mac = (mac << 8) | (b & 0xFF);
        }
        return mac;
    }

    /**
     * Link state of one interface, cheap enough to poll every few milliseconds: an open handle on
     * {@code /sys/class/net/<name>/operstate}, re-read from offset 0 (sysfs regenerates the value
     * on every read from 0) into a reused buffer, combined with {@link NetworkInterface#isUp()}.
     * "up" and "unknown" (interfaces that do not report an operational state) count as up.
     *
     * <p>Threading: any thread; reads are serialised on this object.
     */
    public static final class LinkState implements AutoCloseable
    {
        private final String name;
        private final NetworkInterface nic;
        private final ByteBuffer text = ByteBuffer.allocateDirect(32);
        private FileChannel operstate;
        private boolean closed;

        public LinkState(final String name)
        {
            this.name = name;
            this.nic = sysDir(name) != null ? null : require(name);
        }

        /** Whether the link is administratively up and has carrier now. */
        public synchronized boolean isUp()
        {
            if (closed)
            {
                return false;
            }
            try
            {
                return operstateUp() && (nic == null || nic.isUp());
            }
            catch (final SocketException e)
            {
                return false;
            }
        }

        private boolean operstateUp()
        {
            try
            {
                if (operstate == null)
                {
                    operstate = FileChannel.open(SYS_CLASS_NET.resolve(name).resolve("operstate"), StandardOpenOption.READ);
                }
                text.clear();
                final int n = operstate.read(text, 0);
                // "up\n" or "unknown\n"; everything else (down, lowerlayerdown, dormant, ...) is not up.
                return (n >= 2 && text.get(0) == 'u' && text.get(1) == 'p')
                    || (n >= 7 && text.get(0) == 'u' && text.get(1) == 'n' && text.get(2) == 'k');
            }
            catch (final IOException e)
            {
                // The interface may have been deleted (and perhaps re-created): reopen next time.
                closeChannel();
                return false;
            }
        }

        private void closeChannel()
        {
            if (operstate != null)
            {
                try
                {
                    operstate.close();
                }
                catch (final IOException ignored)
                {
                    // Nothing to do: the handle is dropped either way.
                }
                operstate = null;
            }
        }

        @Override
        public synchronized void close()
        {
            closed = true;
            closeChannel();
        }
    }
}
