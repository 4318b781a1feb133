package org.aoemp.transport;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertInstanceOf;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.nio.ByteBuffer;
import java.util.concurrent.LinkedBlockingQueue;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.locks.LockSupport;

import org.aoemp.agent.AgentRunner;
import org.aoemp.agent.Wakeup;
import org.junit.jupiter.api.Test;

/** {@link ReceiveAgentContractTest} for {@link MemoryHub.Nic}, plus how its idle agent waits. */
final class MemoryHubReceiveAgentTest extends ReceiveAgentContractTest
{
    private final MemoryHub hub = new MemoryHub();

    @Override
    FrameTransportContractTest.Link openLink()
    {
        return new MemoryHubTransportTest().openLink();
    }

    @Override
    AgentRunner runnerOf(final FrameTransport transport)
    {
        return ((MemoryHub.Nic)transport).receiver();
    }

    /** Idle, the agent parks on its Wakeup (not a spin, not a fixed sleep), and the next frame wakes it. */
    @Test
    void anIdleNicShouldParkOnItsWakeupAndTheNextFrameShouldWakeIt() throws Exception
    {
        final MemoryHub.Nic a = hub.attach("wk-a", 0x02_00_00_00_01_0AL, 1500);
        final MemoryHub.Nic b = hub.attach("wk-b", 0x02_00_00_00_01_0BL, 1500);
        try
        {
            final LinkedBlockingQueue<Integer> got = new LinkedBlockingQueue<>();
            b.start((frame, length) -> got.add(length));
            final Thread rx = receiveThread(b);
            await(() -> LockSupport.getBlocker(rx) instanceof Wakeup, "the idle receive agent to park on its Wakeup");
            assertInstanceOf(Wakeup.class, LockSupport.getBlocker(rx));

            assertTrue(a.send(ByteBuffer.wrap(FrameTransportContractTest.frame(b.mac(), a.mac(), 60, 1)), 60));
            assertEquals(60, got.poll(DEADLINE_SECONDS, TimeUnit.SECONDS));
        }
        finally
        {
            hub.close();
        }
    }
}
