package org.aoemp.transport;

import org.aoemp.testing.RealPeer;

/** The {@link FrameTransport} contract for {@link PcapTransport} over a veth pair (needs root and libpcap). */
@RealPeer
final class PcapTransportTest extends FrameTransportContractTest
{
    @Override
    Link openLink()
    {
        return VethLinkSupport.open(PcapTransport::new);
    }

    @Override
    boolean receivesWithoutAllocating()
    {
        return false;  // pcap4j copies every frame into a new byte[] before we see it
    }

    @Override
    FrameTransport openMissing(final String name)
    {
        return new PcapTransport(name);
    }
}
