package org.aoemp.transport;

import org.aoemp.testing.RealPeer;

/** The {@link FrameTransport} contract for {@link AfPacketTransport} over a veth pair (needs root). */
@RealPeer
final class AfPacketTransportTest extends FrameTransportContractTest
{
    @Override
    Link openLink()
    {
        return VethLinkSupport.open(AfPacketTransport::new);
    }

    @Override
    FrameTransport openMissing(final String name)
    {
        return new AfPacketTransport(name);
    }
}
