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
     * Link state of one interface, cheap enough to poll every few milliseconds: open handles on
     * {@code /sys/class/net/<name>/operstate}, {@code ifindex} and {@code mtu}, re-read from
     * offset 0 (sysfs regenerates the value on every read from 0) into a reused buffer, combined
     * with {@link NetworkInterface#isUp()}. "up" and "unknown" (interfaces that do not report an
     * operational state) count as up. Each poll also notes the interface's index and MTU now: an
     * interface deleted and created again under the same name shows a new index, a reconfigured
     * one a new MTU. A handle that fails (the interface was deleted) is reopened by name next time.
     *
     * <p>Threading: any thread; reads are serialised on this object; {@link #ifindex} and
     * {@link #mtu} are volatile.
     */
    public static final class LinkState implements AutoCloseable
    {
        private final String name;
        private final NetworkInterface nic;
        private final ByteBuffer text = ByteBuffer.allocateDirect(32);
        private final SysFile operstate;
        private final SysFile ifindexFile;
        private final SysFile mtuFile;
        private volatile int ifindex;
        private volatile int mtu;
        private boolean closed;

        public LinkState(final String name)
        {
            this(name, -1, -1);
        }

        /** A link state that starts from what {@code info} saw at lookup. */
        public LinkState(final Info info)
        {
            this(info.name(), info.index(), info.mtu());
        }

        private LinkState(final String name, final int ifindex, final int mtu)
        {
            this.name = name;
            this.nic = sysDir(name) != null ? null : require(name);
            this.operstate = new SysFile(SYS_CLASS_NET.resolve(name).resolve("operstate"));
            this.ifindexFile = new SysFile(SYS_CLASS_NET.resolve(name).resolve("ifindex"));
            this.mtuFile = new SysFile(SYS_CLASS_NET.resolve(name).resolve("mtu"));
            this.ifindex = ifindex;
            this.mtu = mtu;
        }

        /** Whether the link is administratively up and has carrier now; also notes the index and MTU. */
        public synchronized boolean isUp()
        {
            if (closed)
            {
                return false;
            }
            try
            {
                final boolean up = operstateUp() && (nic == null || nic.isUp());
                if (up && nic == null)
                {
                    final int index = (int)readNumber(ifindexFile);
                    final int m = (int)readNumber(mtuFile);
                    if (index <= 0 || m <= 0)
                    {
                        return false;  // a handle of a deleted interface failed: reopened next time, up then if it is
                    }
                    ifindex = index;
                    mtu = m;
                }
                return up;
            }
            catch (final SocketException e)
            {
                return false;
            }
        }

        /** The interface index as of the last {@link #isUp} that saw the link up (or at lookup); any thread. */
        public int ifindex()
        {
            return ifindex;
        }

        /** The MTU as of the last {@link #isUp} that saw the link up (or at lookup); any thread. */
        public int mtu()
        {
            return mtu;
        }

        private boolean operstateUp()
        {
            final int n = operstate.read(text);
            // "up\n" or "unknown\n"; everything else (down, lowerlayerdown, dormant, ...) is not up.
            return (n >= 2 && text.get(0) == 'u' && text.get(1) == 'p')
                || (n >= 7 && text.get(0) == 'u' && text.get(1) == 'n' && text.get(2) == 'k');
        }

        /** A decimal number from a sysfs file, -1 when it cannot be read. */
        private long readNumber(final SysFile file)
        {
            final int n = file.read(text);
            long v = 0;
            int digits = 0;
            for (int i = 0; i < n; i++)
            {
                final byte b = text.get(i);
                if (b < '0' || b > '9')
                {
                    break;
                }
                v = v * 10 + (b - '0');
                digits++;
            }
            return digits == 0 ? -1 : v;
        }

        @Override
        public synchronized void close()
        {
            closed = true;
            operstate.close();
            ifindexFile.close();
            mtuFile.close();
        }
    }

    /** One sysfs attribute kept open and re-read from offset 0; reopened by name after a failure. Not thread-safe. */
    private static final class SysFile
    {
        private final Path path;
        private FileChannel channel;

        SysFile(final Path path)
        {
            this.path = path;
        }

        /** Reads the value into {@code text} from 0; returns the bytes read, or -1 (the interface may have been deleted). */
        int read(final ByteBuffer text)
        {
            try
            {
                if (channel == null)
                {
                    channel = FileChannel.open(path, StandardOpenOption.READ);
                }
                text.clear();
                return channel.read(text, 0);
            }
            catch (final IOException e)
            {
                // The interface may have been deleted (and perhaps re-created): reopen next time.
                close();
                return -1;
            }
        }

        void close()
        {
            if (channel != null)
            {
                try
                {
                    channel.close();
                }
                catch (final IOException ignored)
                {
                    // Nothing to do: the handle is dropped either way.
                }
                channel = null;
            }
        }
    }
}
