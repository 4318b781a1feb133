package org.aoemp.tools;

import java.time.Duration;
import java.util.ArrayList;
import java.util.List;

import org.aoemp.initiator.Initiator;
import org.aoemp.transport.NetInterfaces;
import org.aoemp.transport.Transports;
import picocli.CommandLine.Option;

/** Options shared by every command that talks AoE: interfaces, transport, timeout. */
public final class NetworkOptions
{
    @Option(names = {"-i", "--interface"}, paramLabel = "IF",
        description = "Local interface to use; repeat for several. Default: every interface that is up, has a MAC and is not loopback.")
    List<String> interfaces = new ArrayList<>();

    @Option(names = "--transport", paramLabel = "KIND",
        description = "How raw frames are sent: afpacket (Linux, java.lang.foreign) or pcap (libpcap via pcap4j). Default: ${DEFAULT-VALUE}.")
    String transport = Transports.defaultKind();

    @Option(names = {"-t", "--timeout"}, paramLabel = "DURATION", defaultValue = "2s", converter = Units.DurationConverter.class,
        description = "How long to wait for answers (e.g. 2s, 500ms). Default: ${DEFAULT-VALUE}.")
    Duration timeout;

    /** The interfaces to use: the ones named, or every plausible Ethernet interface. */
    public List<String> interfaceNames()
    {
        if (!interfaces.isEmpty())
        {
            return interfaces;
        }
        final List<String> names = NetInterfaces.usableByDefault();
        if (names.isEmpty())
        {
            throw new IllegalArgumentException("no usable network interface is up; name one with -i IF");
        }
        return names;
    }

    /** Opens an initiator on the chosen interfaces (periodic discovery off: commands run briefly). */
    public Initiator openInitiator()
    {
        return openInitiator(Duration.ZERO);
    }

    /** Opens an initiator that also re-broadcasts a config query every {@code discoveryInterval} (0 = never). */
    public Initiator openInitiator(final Duration discoveryInterval)
    {
        return Initiator.open(transport, interfaceNames(), discoveryInterval);
    }

    public Timeout deadline()
    {
        return new Timeout(timeout);
    }

    /** A deadline that starts now. */
    public record Timeout(Duration total, long startNanos)
    {
        Timeout(final Duration total)
        {
            this(total, System.nanoTime());
        }

        public Duration left()
        {
            return Duration.ofNanos(Math.max(0, total.toNanos() - (System.nanoTime() - startNanos)));
        }
    }
}
