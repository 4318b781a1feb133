package org.aoemp.nbd;

import static org.aoemp.nbd.HandshakeCodec.CLIENT_FLAG_FIXED_NEWSTYLE;
import static org.aoemp.nbd.HandshakeCodec.CLIENT_FLAG_NO_ZEROES;
import static org.aoemp.nbd.HandshakeCodec.IHAVEOPT;
import static org.aoemp.nbd.HandshakeCodec.OPT_GO;
import static org.aoemp.nbd.TransmissionCodec.CMD_READ;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.util.List;
import java.util.concurrent.TimeUnit;

import io.netty.buffer.Unpooled;
import io.netty.channel.embedded.EmbeddedChannel;
import io.netty.util.ReferenceCountUtil;
import org.aoemp.block.MemoryBlockDevice;
import org.junit.jupiter.api.Test;

/**
 * The request-timeout sweep of a connection runs only while requests or replies are outstanding,
 * so an idle connection schedules nothing on its event loop (no wake-up a second at rest).
 */
class RequestSweepTest
{
    @Test
    void shouldScheduleTheSweepOnlyWhileRequestsAreOutstanding() throws Exception
    {
        final MemoryBlockDevice device = new MemoryBlockDevice("sweep", 1 << 20, false, Runnable::run);
        final ServerConfig config = new ServerConfig(List.of(new Export("sweep", device, false)), null, 16, 60_000,
            1 << 20, 64, 64L << 20, 2_000);
        final EmbeddedChannel ch = new EmbeddedChannel(false, false);
        try
        {
            ch.pipeline().addLast("nbd-handshake", new HandshakeHandler(config, TlsSettings.OFF));
            ch.register();
            ch.freezeTime();
            ch.writeInbound(Unpooled.buffer().writeInt(CLIENT_FLAG_FIXED_NEWSTYLE | CLIENT_FLAG_NO_ZEROES)
                .writeLong(IHAVEOPT).writeInt(OPT_GO).writeInt(6).writeInt(0).writeShort(0));
            ch.runPendingTasks();
            drain(ch);
            assertTrue(ch.isOpen(), "GO for the default export");
            assertEquals(-1, ch.runScheduledPendingTasks(), "a connection without requests schedules nothing");

            ch.writeInbound(TransmissionCodec.writeRequestHeader(Unpooled.buffer(), 0, CMD_READ, 1, 0, 4096));
            ch.runPendingTasks();
            assertTrue(drain(ch) > 0, "the read was answered");
            assertEquals(TimeUnit.MILLISECONDS.toNanos(500), ch.runScheduledPendingTasks(),
                "the first request started the sweep (timeout/4)");

            ch.advanceTimeBy(500, TimeUnit.MILLISECONDS);
            assertEquals(-1, ch.runScheduledPendingTasks(), "the tick that found nothing outstanding stopped it");

            ch.writeInbound(TransmissionCodec.writeRequestHeader(Unpooled.buffer(), 0, CMD_READ, 2, 4096, 4096));
            ch.runPendingTasks();
            assertTrue(drain(ch) > 0);
            assertEquals(TimeUnit.MILLISECONDS.toNanos(500), ch.runScheduledPendingTasks(), "the next request starts it again");
        }
        finally
        {
            ch.close();
            ch.runPendingTasks();
            ch.finishAndReleaseAll();
            device.close();
        }
    }

    private static int drain(final EmbeddedChannel ch)
    {
        int n = 0;
        for (Object o; (o = ch.readOutbound()) != null; n++)
        {
            ReferenceCountUtil.release(o);
        }
        return n;
    }
}
