package org.aoemp.testing;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertNotEquals;
import static org.junit.jupiter.api.Assertions.assertNotNull;
import static org.junit.jupiter.api.Assertions.assertNull;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.io.IOException;
import java.nio.ByteBuffer;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.util.List;
import java.util.concurrent.BlockingQueue;
import java.util.concurrent.LinkedBlockingQueue;
import java.util.concurrent.TimeUnit;

import org.aoemp.protocol.AoeHeader;
import org.aoemp.protocol.MacAddress;
import org.aoemp.transport.FrameTransport;
import org.aoemp.transport.Transports;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * The rig against real vblade: a config query broadcast from the root namespace is answered from
 * the namespace; faults work; close leaves nothing behind; leftovers of dead runs are swept.
 */
@RealPeer
final class VethRigTest
{
    private static final int SHELF = 7;
    private static final int SLOT = 3;

    @TempDir
    Path dir;

    private Path disk;

    @BeforeEach
    void requirePrerequisites() throws IOException
    {
        Prerequisites.requireRoot();
        Prerequisites.requireCommand("ip", "iproute2");
        Prerequisites.requireCommand("vblade", "vblade");
        disk = dir.resolve("disk.img");
        BulkIo.sparseFile(disk, 1 << 20);
    }

    /** Sends AoE config queries on one transport and hands back the replies to its tags. */
    private static final class ConfigProbe implements AutoCloseable
    {
        private final FrameTransport transport;
        private final BlockingQueue<byte[]> replies = new LinkedBlockingQueue<>();
        private final ByteBuffer query = ByteBuffer.allocateDirect(AoeHeader.LENGTH + 8);
        private final AoeHeader header = new AoeHeader();
        private int tag = AoeHeader.USERLAND_TAG_BIT | 0x100;

        ConfigProbe(final String ifName)
        {
            transport = Transports.open(Transports.defaultKind(), ifName);
            final AoeHeader reply = new AoeHeader();
            transport.start((frame, length) ->
            {
                reply.wrap(frame, 0);
                if (reply.isAoeV1(length) && reply.isResponse() && reply.command() == AoeHeader.CMD_CONFIG
                    && (reply.tag() & AoeHeader.USERLAND_TAG_BIT) != 0)
                {
                    final byte[] copy = new byte[length];
                    frame.get(0, copy, 0, length);
                    replies.add(copy);
                }
            });
        }

        /** Broadcasts a config query (shelf 0xffff, slot 0xff, 8 zero argument bytes) and waits for a reply to it. */
        AoeHeader ask(final long waitMillis) throws InterruptedException
        {
            tag++;
            header.wrap(query, 0).request(MacAddress.BROADCAST_BITS, transport.mac(), AoeHeader.SHELF_ANY, AoeHeader.SLOT_ANY,
                AoeHeader.CMD_CONFIG, tag);
            for (int i = AoeHeader.LENGTH; i < query.capacity(); i++)
            {
                query.put(i, (byte)0);
            }
            replies.clear();
            assertTrue(transport.send(query, query.capacity()), "config query refused");
            final long deadline = System.nanoTime() + TimeUnit.MILLISECONDS.toNanos(waitMillis);
            while (true)
            {
                final byte[] reply = replies.poll(Math.max(0, deadline - System.nanoTime()), TimeUnit.NANOSECONDS);
                if (reply == null)
                {
                    return null;
                }
                final AoeHeader h = new AoeHeader().wrap(ByteBuffer.wrap(reply), 0);
                if (h.tag() == tag)
                {
                    return h;
                }
            }
        }

        /** Asks up to 10 times, as vblade may still be settling right after start. */
        AoeHeader askPatiently() throws InterruptedException
        {
            for (int i = 0; i < 10; i++)
            {
                final AoeHeader reply = ask(300);
                if (reply != null)
                {
                    return reply;
                }
            }
            return null;
        }

        @Override
        public void close()
        {
            transport.close();
        }
    }

    @Test
    void shouldGetAConfigReplyFromVbladeInTheNamespace() throws Exception
    {
        try (VethRig rig = VethRig.create(1))
        {
            assertNotNull(rig.namespace());
            final VethRig.Daemon vblade = rig.startVblade(SHELF, SLOT, 0, disk);
            assertTrue(vblade.isAlive());
            try (ConfigProbe probe = new ConfigProbe(rig.initiatorIf(0)))
            {
                final AoeHeader reply = probe.askPatiently();

                assertNotNull(reply, "no config reply from vblade; its log:\n" + vblade.logText());
                assertTrue(reply.isResponse());
                assertFalse(reply.isError(), AoeHeader.errorName(reply.error()));
                assertEquals(SHELF, reply.shelf());
                assertEquals(SLOT, reply.slot());
                assertEquals(probe.transport.mac(), reply.dst());
                assertNotEquals(0L, reply.src());
            }
        }
    }

    @Test
    void shouldKillAndRestartVblade() throws Exception
    {
        try (VethRig rig = VethRig.create(1); ConfigProbe probe = new ConfigProbe(rig.initiatorIf(0)))
        {
            final VethRig.Daemon vblade = rig.startVblade(SHELF, SLOT, 0, disk);
            assertNotNull(probe.askPatiently());
            final long firstPid = vblade.pid();

            vblade.kill();
            assertFalse(vblade.isAlive());
            assertNull(probe.ask(300), "a killed vblade answered");

            vblade.restart();
            assertTrue(vblade.isAlive());
            assertNotEquals(firstPid, vblade.pid());
            assertNotNull(probe.askPatiently(), "restarted vblade is silent; log:\n" + vblade.logText());
        }
    }

    @Test
    void shouldDropRepliesAtFullLossAndPassThemAgainAtZero() throws Exception
    {
        Prerequisites.requireCommand("nft", "nftables");
        try (VethRig rig = VethRig.create(1); ConfigProbe probe = new ConfigProbe(rig.initiatorIf(0)))
        {
            rig.startVblade(SHELF, SLOT, 0, disk);
            assertNotNull(probe.askPatiently());

            rig.loss(0, 100);
            assertNull(probe.ask(300), "reply passed a 100 % loss rule");

            rig.loss(0, 0);
            assertNotNull(probe.ask(1000), "reply dropped after loss was set back to 0 %");
        }
    }

    @Test
    void shouldTakeLinksDownAndUpAndRateLimitTheTargetEnd() throws Exception
    {
        Prerequisites.requireCommand("tc", "iproute2");
        try (VethRig rig = VethRig.builder().pairs(2).mtu(1, 9000).build();
            FrameTransport path1 = Transports.open(Transports.defaultKind(), rig.initiatorIf(1)))
        {
            assertEquals(1500, rig.mtu(0));
            assertEquals(9000, path1.mtu());
            assertTrue(path1.isUp());

            rig.linkDown(1);
            assertFalse(path1.isUp());
            rig.linkUp(1);
            awaitUp(path1, true);

            rig.targetLinkDown(1);
            awaitUp(path1, false);  // carrier lost although the initiator end is administratively up
            rig.targetLinkUp(1);
            awaitUp(path1, true);

            rig.rateLimit(0, "200mbit");
            assertTrue(rig.exec("tc", "qdisc", "show", "dev", rig.targetIf(0)).contains("tbf"));
            rig.clearRateLimit(0);
            assertFalse(rig.exec("tc", "qdisc", "show", "dev", rig.targetIf(0)).contains("tbf"));
        }
    }

    private static void awaitUp(final FrameTransport transport, final boolean up) throws InterruptedException
    {
        Await.until(Duration.ofSeconds(10), () -> transport.isUp() == up, transport.name() + " did not become " + (up ? "up" : "down"));
    }

    @Test
    void shouldLeaveNoNamespaceInterfaceProcessOrTableBehind() throws Exception
    {
        final VethRig rig = VethRig.create(2);
        final String namespace = rig.namespace();
        final VethRig.Daemon vblade0 = rig.startVblade(SHELF, SLOT, 0, disk);
        final VethRig.Daemon vblade1 = rig.startVblade(SHELF, SLOT, 1, disk);
        final long pid0 = vblade0.pid();
        final long pid1 = vblade1.pid();
        if (Prerequisites.which("nft") != null)
        {
            rig.loss(1, 5);
        }
        final Path logs = rig.logDir();
        assertTrue(ProcessRunner.check("ip", "netns", "list").contains(namespace));
        assertTrue(ProcessRunner.check("ip", "-o", "link", "show").contains(rig.initiatorIf(1)));

        rig.close();
        rig.close();

        assertFalse(ProcessRunner.check("ip", "netns", "list").contains(namespace), "namespace left behind");
        final String links = ProcessRunner.check("ip", "-o", "link", "show");
        for (int i = 0; i < 2; i++)
        {
            assertFalse(links.contains(rig.initiatorIf(i)), rig.initiatorIf(i) + " left behind");
            assertFalse(links.contains(rig.targetIf(i)), rig.targetIf(i) + " left behind");
        }
        assertTrue(ProcessHandle.of(pid0).isEmpty(), "vblade " + pid0 + " still running");
        assertTrue(ProcessHandle.of(pid1).isEmpty(), "vblade " + pid1 + " still running");
        assertFalse(Files.exists(logs), "log directory left behind");
        if (Prerequisites.which("nft") != null)
        {
            assertFalse(ProcessRunner.check("nft", "list", "tables").contains("aoet_" + ProcessHandle.current().pid() + "_"),
                "nftables table left behind");
        }
        assertThrows(IllegalStateException.class, () -> rig.startVblade(SHELF, SLOT, 0, disk));
    }

    @Test
    void shouldSweepLeftoversOfDeadRunsButNotLiveRigs() throws Exception
    {
        final long dead = deadPid();
        final String namespace = "aoet-" + dead + "-z0";
        final String initiator = "ai" + dead + "_z0_0";
        final String target = "at" + dead + "_z0_0";
        try (VethRig live = VethRig.create(1))
        {
            ProcessRunner.check("ip", "netns", "add", namespace);
            ProcessRunner.check("ip", "link", "add", initiator, "type", "veth", "peer", "name", target);

            final List<String> removed = VethRig.sweepLeftovers();

            assertTrue(removed.contains("netns " + namespace), removed.toString());
            // Deleting either end of a veth pair deletes both; which one the sweep meets first is up to ip.
            assertTrue(removed.contains("link " + initiator) || removed.contains("link " + target), removed.toString());
            assertFalse(ProcessRunner.check("ip", "netns", "list").contains(namespace));
            final String links = ProcessRunner.check("ip", "-o", "link", "show");
            assertFalse(links.contains(initiator) || links.contains(target), links);
            assertTrue(ProcessRunner.check("ip", "netns", "list").contains(live.namespace()), "swept a live rig");
            assertTrue(Files.exists(Path.of("/sys/class/net", live.initiatorIf(0))), "swept a live rig's link");
        }
        finally
        {
            ProcessRunner.run("ip", "netns", "del", namespace);
            ProcessRunner.run("ip", "link", "del", initiator);
        }
    }

    /** A pid no process has now (counting down from the top of the pid space). */
    private static long deadPid() throws IOException
    {
        final long max = Long.parseLong(VethRig.readProcFile(Path.of("/proc/sys/kernel/pid_max")));
        for (long pid = max - 1; pid > 1000; pid--)
        {
            if (ProcessHandle.of(pid).isEmpty())
            {
                return pid;
            }
        }
        throw new IllegalStateException("no free pid found");
    }
}
