package org.aoemp.transport;

/** The {@link FrameTransport} contract for {@link MemoryHub.Nic}: no root needed. */
final class MemoryHubTransportTest extends FrameTransportContractTest
{
    private final MemoryHub hub = new MemoryHub();

    @Override
    Link openLink()
    {
        final MemoryHub.Nic a = hub.attach("mem-a", 0x02_00_00_00_00_0AL, MTU);
        final MemoryHub.Nic b = hub.attach("mem-b", 0x02_00_00_00_00_0BL, MTU);
        return new Link()
        {
            @Override
            public FrameTransport a()
            {
                return a;
            }

            @Override
            public FrameTransport b()
            {
                return b;
            }

            @Override
            public void takeDownA()
            {
                a.setUp(false);
            }

            @Override
            public void bringUpA()
            {
                a.setUp(true);
            }

            @Override
            public void close()
            {
                hub.close();
            }
        };
    }

    @Override
    FrameTransport openMissing(final String name)
    {
        return hub.nic(name);
    }
}
