package org.aoemp.initiator;

import static org.junit.jupiter.api.Assertions.assertTrue;

import java.nio.ByteBuffer;
import java.time.Duration;
import java.util.List;
import java.util.concurrent.TimeUnit;

import org.aoemp.testing.ScriptedTarget;
import org.aoemp.testing.ScriptedTarget.Fate;
import org.aoemp.transport.MemoryHub;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.Test;

/** A path that went DOWN comes back even when its target now answers slower than the RTO it had then. */
class ProbeBackoffTest
{
    private MemoryHub hub;
    private ScriptedTarget target;
    private Initiator initiator;

    @AfterEach
    void tearDown()
    {
        if (initiator != null)
        {
            initiator.close();
        }
        if (target != null)
        {
            target.close();
        }
        if (hub != null)
        {
            hub.close();
        }
    }

    @Test
    void shouldBackOffTheRtoOfLostProbesUntilASlowTargetAnswersInTime() throws Exception
    {
        hub = new MemoryHub();
        target = new ScriptedTarget(hub.attach("tgt0", 0x02_00_00_00_00_02L, 1500), 7, 3, 1 << 20, 16);
        initiator = Initiator.start(List.of(hub.attach("ini0", 0x02_00_00_00_00_01L, 1500)), Duration.ZERO);
        // RTO 20 ms .. 2 s; after IDENTIFY on the hub it is at the floor
        final AoeDevice device = initiator.open(new TargetAddress(7, 3), DeviceOptions.defaults());
        target.script((n, cmd, lba, sectors) -> Fate.delay(400));
        // the reads time out at 20, 40, 80 ms: the path goes DOWN with an RTO of 160 ms, well under 400 ms
        device.readAsync(0, ByteBuffer.allocate(4096)).get(30, TimeUnit.SECONDS);
        final long deadline = System.nanoTime() + TimeUnit.SECONDS.toNanos(30);
        while (device.pathStats().get(0).state() != PathState.UP)
        {
            assertTrue(System.nanoTime() - deadline < 0, "the path came back: " + device.pathStats());
            Thread.sleep(5);
        }
        assertTrue(device.pathStats().get(0).timeouts() >= 3, "it went down first: " + device.pathStats());
    }
}
