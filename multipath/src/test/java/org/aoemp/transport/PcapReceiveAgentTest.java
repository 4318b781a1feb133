package org.aoemp.transport;

import org.aoemp.testing.RealPeer;
import org.aoemp.agent.AgentRunner;

/** {@link ReceiveAgentContractTest} for {@link PcapTransport} over veth (root and libpcap). */
@RealPeer
final class PcapReceiveAgentTest extends ReceiveAgentContractTest
{
    @Override
    FrameTransportContractTest.Link openLink()
    {
        return VethLinkSupport.open(PcapTransport::new);
    }

    @Override
    AgentRunner runnerOf(final FrameTransport transport)
    {
        return ((KernelTransport)transport).receiver();
    }
}
