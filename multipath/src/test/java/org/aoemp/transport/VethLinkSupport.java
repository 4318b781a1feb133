package org.aoemp.transport;

import java.util.function.Function;

import org.aoemp.testing.VethRig;

/** A {@link FrameTransportContractTest.Link} over one veth pair with both ends in the root namespace. */
final class VethLinkSupport implements FrameTransportContractTest.Link
{
    private final VethRig rig;
    private final FrameTransport a;
    private final FrameTransport b;

    private VethLinkSupport(final VethRig rig, final FrameTransport a, final FrameTransport b)
    {
        this.rig = rig;
        this.a = a;
        this.b = b;
    }

    /** Builds the rig and opens a transport on each end with {@code open}; cleans up if opening fails. */
    static VethLinkSupport open(final Function<String, FrameTransport> open)
    {
        final VethRig rig = VethRig.builder().mtu(FrameTransportContractTest.MTU).targetsInRootNamespace(true).build();
        FrameTransport a = null;
        try
        {
            a = open.apply(rig.initiatorIf(0));
            return new VethLinkSupport(rig, a, open.apply(rig.targetIf(0)));
        }
        catch (final RuntimeException | Error e)
        {
            if (a != null)
            {
                a.close();
            }
            rig.close();
            throw e;
        }
    }

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
        rig.linkDown(0);
    }

    @Override
    public void bringUpA()
    {
        rig.linkUp(0);
    }

    @Override
    public void close()
    {
        try
        {
            a.close();
            b.close();
        }
        finally
        {
            rig.close();
        }
    }
}
