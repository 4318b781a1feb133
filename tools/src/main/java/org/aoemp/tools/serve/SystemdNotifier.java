package org.aoemp.tools.serve;

import static java.lang.foreign.ValueLayout.ADDRESS;
import static java.lang.foreign.ValueLayout.JAVA_BYTE;
import static java.lang.foreign.ValueLayout.JAVA_INT;
import static java.lang.foreign.ValueLayout.JAVA_LONG;
import static java.lang.foreign.ValueLayout.JAVA_SHORT;

import java.lang.foreign.Arena;
import java.lang.foreign.FunctionDescriptor;
import java.lang.foreign.Linker;
import java.lang.foreign.MemoryLayout;
import java.lang.foreign.MemorySegment;
import java.lang.foreign.StructLayout;
import java.lang.invoke.MethodHandle;
import java.lang.invoke.VarHandle;
import java.nio.charset.StandardCharsets;
import java.util.Map;

import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * sd_notify(3) without libsystemd: one datagram per message to the unix socket systemd names in
 * {@code NOTIFY_SOCKET} (a path, or an abstract name when it starts with {@code @}). Java's NIO
 * has no AF_UNIX datagram channel, so this is socket(AF_UNIX, SOCK_DGRAM) and sendto() through
 * {@code java.lang.foreign}. Without {@code NOTIFY_SOCKET} every call does nothing.
 *
 * <p>Failures to notify are logged and otherwise ignored: a service must not stop because its
 * supervisor is not listening. Threading: any thread (sends are serialised).
 */
public final class SystemdNotifier implements AutoCloseable
{
    private static final Logger LOG = LoggerFactory.getLogger(SystemdNotifier.class);
    private static final int AF_UNIX = 1;
    private static final int SOCK_DGRAM = 2;
    private static final int SOCK_CLOEXEC = 0x80000;
    private static final int MSG_NOSIGNAL = 0x4000;
    /** sizeof(sun_path) on Linux. */
    private static final int SUN_PATH = 108;

    private final String socketName;
    private final Arena arena;
    private final MemorySegment address;
    private final int addressLength;
    private int fd = -1;

    private SystemdNotifier(final String socketName)
    {
        this.socketName = socketName;
        if (socketName == null)
        {
            this.arena = null;
            this.address = null;
            this.addressLength = 0;
            return;
        }
        final byte[] name = socketName.getBytes(StandardCharsets.UTF_8);
        final boolean abstractName = name.length > 0 && name[0] == '@';
        if (name.length == 0 || name.length >= SUN_PATH)
        {
            throw new IllegalArgumentException("NOTIFY_SOCKET is empty or longer than " + (SUN_PATH - 1) + " bytes: " + socketName);
        }
        this.arena = Arena.ofShared();
        this.address = arena.allocate(2 + SUN_PATH);
        address.set(JAVA_SHORT, 0, (short)AF_UNIX);
        MemorySegment.copy(name, 0, address, JAVA_BYTE, 2, name.length);
        if (abstractName)
        {
            address.set(JAVA_BYTE, 2, (byte)0);
            this.addressLength = 2 + name.length; // no terminating NUL: the name is exactly these bytes
        }
        else
        {
            this.addressLength = 2 + name.length + 1;
        }
    }

    /** A notifier for {@code NOTIFY_SOCKET} in {@code env}; one that does nothing when it is not set. */
    public static SystemdNotifier fromEnvironment(final Map<String, String> env)
    {
        final String name = env.get("NOTIFY_SOCKET");
        return new SystemdNotifier(name == null || name.isBlank() ? null : name);
    }

    public boolean enabled()
    {
        return socketName != null;
    }

    /** READY=1 with a STATUS line. */
    public void ready(final String status)
    {
        send("READY=1\nSTATUS=" + status);
    }

    /** RELOADING=1 with MONOTONIC_USEC (Type=notify-reload wants it), and a STATUS line. */
    public void reloading(final String status)
    {
        // System.nanoTime() is CLOCK_MONOTONIC on Linux, the clock systemd compares against.
        send("RELOADING=1\nMONOTONIC_USEC=" + System.nanoTime() / 1000 + "\nSTATUS=" + status);
    }

    public void stopping(final String status)
    {
        send("STOPPING=1\nSTATUS=" + status);
    }

    public void status(final String status)
    {
        send("STATUS=" + status);
    }

    /** Sends one notification (newline-separated VAR=VALUE lines). */
    public synchronized void send(final String message)
    {
        if (socketName == null)
        {
            return;
        }
        try
        {
            if (fd < 0)
            {
                fd = (int)Libc.SOCKET.invokeExact(AF_UNIX, SOCK_DGRAM | SOCK_CLOEXEC, 0);
                if (fd < 0)
                {
                    LOG.warn("sd_notify: cannot create a unix datagram socket");
                    return;
                }
            }
            try (Arena a = Arena.ofConfined())
            {
                final byte[] bytes = message.getBytes(StandardCharsets.UTF_8);
                final MemorySegment buffer = a.allocate(bytes.length);
                MemorySegment.copy(bytes, 0, buffer, JAVA_BYTE, 0, bytes.length);
                final MemorySegment errno = a.allocate(Libc.CAPTURE);
                final long sent = (long)Libc.SENDTO.invokeExact(errno, fd, buffer, (long)bytes.length, MSG_NOSIGNAL, address, addressLength);
                if (sent < 0)
                {
                    LOG.warn("sd_notify to {} failed (errno {}): {}", socketName, (int)Libc.ERRNO.get(errno, 0L),
                        message.replace('\n', ' '));
                }
                else
                {
                    LOG.debug("sd_notify: {}", message.replace('\n', ' '));
                }
            }
        }
        catch (final Throwable t)
        {
            LOG.warn("sd_notify to {} failed: {}", socketName, t.toString());
        }
    }

    @Override
    public synchronized void close()
    {
        if (fd >= 0)
        {
            try
            {
                final int ignored = (int)Libc.CLOSE.invokeExact(fd);
            }
            catch (final Throwable t)
            {
                // closing on the way out
            }
            fd = -1;
        }
        if (arena != null && arena.scope().isAlive())
        {
            arena.close();
        }
    }

    /** The three libc calls, bound once. */
    private static final class Libc
    {
        static final StructLayout CAPTURE = Linker.Option.captureStateLayout();
        static final VarHandle ERRNO = CAPTURE.varHandle(MemoryLayout.PathElement.groupElement("errno"));
        static final MethodHandle SOCKET;
        static final MethodHandle SENDTO;
        static final MethodHandle CLOSE;

        static
        {
            final Linker linker = Linker.nativeLinker();
            SOCKET = linker.downcallHandle(linker.defaultLookup().findOrThrow("socket"),
                FunctionDescriptor.of(JAVA_INT, JAVA_INT, JAVA_INT, JAVA_INT));
            SENDTO = linker.downcallHandle(linker.defaultLookup().findOrThrow("sendto"),
                FunctionDescriptor.of(JAVA_LONG, JAVA_INT, ADDRESS, JAVA_LONG, JAVA_INT, ADDRESS, JAVA_INT),
                Linker.Option.captureCallState("errno"));
            CLOSE = linker.downcallHandle(linker.defaultLookup().findOrThrow("close"), FunctionDescriptor.of(JAVA_INT, JAVA_INT));
        }
    }
}
