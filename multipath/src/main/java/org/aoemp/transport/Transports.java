package org.aoemp.transport;

import java.nio.ByteBuffer;
import java.time.Duration;
import java.util.List;
import java.util.Locale;
import java.util.concurrent.TimeUnit;

import org.aoemp.agent.Agent;
import org.aoemp.agent.AgentRunner;
import org.aoemp.agent.ErrorHandler;
import org.aoemp.agent.IdleStrategy;
import org.aoemp.protocol.Bytes;

/**
 * Opens a {@link FrameTransport} by kind and interface name: {@value #AFPACKET} (Linux,
 * {@code java.lang.foreign}, the fast one) or {@value #PCAP} (libpcap through pcap4j, portable).
 *
 * <p>Threading: stateless; any thread.
 */
public final class Transports
{
    public static final String AFPACKET = "afpacket";
    public static final String PCAP = "pcap";

    private Transports()
    {
    }

    /** The kinds {@link #open} understands. */
    public static List<String> kinds()
    {
        return List.of(AFPACKET, PCAP);
    }

    /** {@value #AFPACKET} on Linux, {@value #PCAP} elsewhere. */
    public static String defaultKind()
    {
        final String os = System.getProperty("os.name", "").toLowerCase(Locale.ROOT);
        return os.startsWith("linux") ? AFPACKET : PCAP;
    }

    /**
     * Opens a transport on {@code ifName}; the caller owns it and must close it.
     *
     * @param kind   {@value #AFPACKET} or {@value #PCAP} (case-insensitive); null means {@link #defaultKind()}
     * @param ifName the local interface
     * @throws TransportException when the interface does not exist (the message lists those that
     *                            do), the kind is unknown, or the transport cannot be opened
     */
    public static FrameTransport open(final String kind, final String ifName)
    {
        final String k = kind == null ? defaultKind() : kind.trim().toLowerCase(Locale.ROOT);
        if (!kinds().contains(k))
        {
            throw new TransportException("unknown transport kind '" + kind + "'; known kinds: " + String.join(", ", kinds()));
        }
        NetInterfaces.lookup(ifName); // a clear "does not exist; available: ..." before any native call
        return switch (k)
        {
            case AFPACKET -> new AfPacketTransport(ifName);
            case PCAP -> new PcapTransport(ifName);
            default -> throw new IllegalStateException("unreachable: " + k);
        };
    }

    /** Opens the {@link #defaultKind()} transport on {@code ifName}. */
    public static FrameTransport open(final String ifName)
    {
        return open(null, ifName);
    }

    /**
     * The runner of a receive agent, not yet started: its thread is named after the agent's
     * {@link Agent#roleName()}, which is "aoe-rx-&lt;ifName&gt;" as the contract says.
     */
    static AgentRunner receiveRunner(final Agent agent, final IdleStrategy idle, final ErrorHandler errors)
    {
        return new AgentRunner(agent, idle, errors, Duration.ofSeconds(1));
    }

    /** The name of the receive thread of interface {@code ifName}. */
    static String receiveThreadName(final String ifName)
    {
        return "aoe-rx-" + ifName;
    }

    /**
     * Stops a receive agent whose {@link Agent#doWork} ends the loop once its transport is marked
     * closed (so a handler that blocks is never interrupted). From the receive thread itself (a
     * handler closing its own transport) it only asks; from any other it nudges with {@code wake}
     * and waits up to {@code millis} (see {@link #stopReceiveThread}).
     *
     * @return whether the receive thread has ended
     */
    static boolean stopReceiver(final AgentRunner runner, final long millis, final Runnable wake)
    {
        if (runner.thread() == Thread.currentThread())
        {
            runner.close();  // only asks: the loop ends when the handler has returned
            wake.run();
            return false;
        }
        final boolean ended = stopReceiveThread(runner.thread(), millis, wake);
        if (ended)
        {
            runner.close();  // the thread has ended: marks the runner closed without waiting
        }
        return ended;
    }

    /**
     * Waits up to {@code millis} for a receive thread to end, calling {@code wake} before every wait
     * of at most 50 ms (for receive loops a single nudge might miss). The caller's interrupt status
     * survives. Must not be called on {@code thread} itself.
     *
     * @return whether the thread has ended
     */
    static boolean stopReceiveThread(final Thread thread, final long millis, final Runnable wake)
    {
        final long deadline = System.nanoTime() + TimeUnit.MILLISECONDS.toNanos(millis);
        boolean interrupted = false;
        while (thread.isAlive())
        {
            final long left = deadline - System.nanoTime();
            if (left <= 0)
            {
                break;
            }
            wake.run();
            try
            {
                thread.join(Math.clamp(TimeUnit.NANOSECONDS.toMillis(left), 1, 50));
            }
            catch (final InterruptedException e)
            {
                interrupted = true;
            }
        }
        if (interrupted)
        {
            Thread.currentThread().interrupt();
        }
        return !thread.isAlive();
    }

    /**
     * Whether a received frame is one a NIC with address {@code mac} should pass up: long enough to
     * have an Ethernet header, and sent to {@code mac} or to a group (broadcast/multicast) address.
     * veth and packet sockets also hand over frames for other stations (PACKET_OTHERHOST), which the
     * {@link FrameTransport} contract excludes. Allocation-free; any thread.
     */
    static boolean isForStation(final ByteBuffer frame, final int length, final long mac)
    {
        if (length < 14)
        {
            return false;
        }
        final boolean group = (frame.get(0) & 0x01) != 0;
        return group || Bytes.mac(frame, 0) == mac;
    }
}
