package org.aoemp.tools;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.nio.ByteBuffer;
import java.nio.file.Path;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.ExecutionException;
import java.util.concurrent.TimeUnit;

import org.aoemp.block.IoError;
import org.aoemp.initiator.AoeDevice;
import org.aoemp.initiator.DeviceOptions;
import org.aoemp.initiator.Initiator;
import org.aoemp.initiator.TargetAddress;
import org.aoemp.protocol.MacAddress;
import org.aoemp.target.AoeTarget;
import org.aoemp.target.TargetOptions;
import org.aoemp.testing.BulkIo;
import org.aoemp.transport.MemoryHub;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * {@link TargetReservation} against the project's AoE target over in-memory NICs (no root):
 * hosts with MACs of their own take, are refused, name the holder, release; a host whose I/O the
 * target refuses fails at once with "target is reserved by another host"; a target with two
 * MACs (two targets on one file, like one vblade per NIC) is reserved on both or on neither.
 */
class TargetReservationTest
{
    private static final TargetAddress E11 = new TargetAddress(1, 1);
    private static final long HOST_A = 0x02_00_00_00_0A_01L;
    private static final long HOST_A2 = 0x02_00_00_00_0A_02L;
    private static final long HOST_B = 0x02_00_00_00_0B_01L;
    private static final long HOST_C = 0x02_00_00_00_0C_01L;
    private static final Duration WAIT = Duration.ofSeconds(2);

    @TempDir
    Path dir;

    private final List<AutoCloseable> resources = new ArrayList<>();

    @AfterEach
    void closeAll() throws Exception
    {
        for (int i = resources.size() - 1; i >= 0; i--)
        {
            resources.get(i).close();
        }
    }

    private <T extends AutoCloseable> T keep(final T resource)
    {
        resources.add(resource);
        return resource;
    }

    private AoeTarget target(final String name, final MemoryHub hub, final long mac) throws Exception
    {
        final Path disk = dir.resolve("e1.1.img");
        if (!disk.toFile().exists())
        {
            BulkIo.sparseFile(disk, 1 << 20);
        }
        return keep(AoeTarget.start(TargetOptions.of(E11.shelf(), E11.slot(), disk), List.of(hub.attach(name, mac, 1500))));
    }

    private Initiator host(final String name, final MemoryHub hub, final long mac)
    {
        return keep(Initiator.start(List.of(hub.attach(name, mac, 1500)), Duration.ZERO));
    }

    @Test
    void oneHostHoldsTheOtherIsRefusedNamingItAndGetsInAfterTheRelease() throws Exception
    {
        final MemoryHub hub = keep(new MemoryHub());
        final AoeTarget target = target("tgt", hub, 0x02_00_00_00_01_01L);
        final Initiator a = host("host-a", hub, HOST_A);
        final Initiator b = host("host-b", hub, HOST_B);

        final TargetReservation held = TargetReservation.take(a, E11, WAIT);
        assertEquals(List.of(new MacAddress(HOST_A)), target.reservations());
        assertEquals(List.of(new MacAddress(HOST_A)), held.macs());

        final TargetReservation.ReservedElsewhere refused = assertThrows(TargetReservation.ReservedElsewhere.class,
            () -> TargetReservation.take(b, E11, WAIT));
        assertEquals(List.of(new MacAddress(HOST_A)), refused.holders());
        assertTrue(refused.getMessage().contains("e1.1 is reserved by 02:00:00:00:0a:01 (another host)"), refused.getMessage());
        assertTrue(refused.getMessage().contains("aoe reserve 1 1 --force-release"), refused.getMessage());
        assertEquals(List.of(new MacAddress(HOST_A)), target.reservations(), "a refused take leaves the holder's list alone");
        assertEquals(List.of(new MacAddress(HOST_A)), TargetReservation.holders(b, E11, WAIT, 1));

        // B opens (IDENTIFY is exempt), but its write fails at once with EIO, long before dead-after.
        final AoeDevice device = b.open(E11, DeviceOptions.defaults().withDeadAfter(Duration.ofMinutes(10)));
        final long start = System.nanoTime();
        final ExecutionException failed = assertThrows(ExecutionException.class,
            () -> device.writeAsync(0, ByteBuffer.allocateDirect(64 << 10)).get(60, TimeUnit.SECONDS));
        final IoError io = (IoError)failed.getCause();
        assertEquals(IoError.EIO, io.errno());
        assertTrue(io.getMessage().contains("AoE error 6 (target is reserved by another host)"), io.getMessage());
        assertTrue(System.nanoTime() - start < TimeUnit.SECONDS.toNanos(30), "refused without waiting for dead-after");
        assertEquals(0, device.pathStats().get(0).retransmits(), "a refused command is not sent again");

        held.close();
        assertEquals(List.of(), target.reservations(), "released");
        held.close(); // a second close does nothing
        try (TargetReservation mine = TargetReservation.take(b, E11, WAIT))
        {
            assertEquals(List.of(new MacAddress(HOST_B)), target.reservations());
            device.writeAsync(0, ByteBuffer.allocateDirect(64 << 10)).get(60, TimeUnit.SECONDS);
        }
        assertEquals(List.of(), target.reservations());
    }

    @Test
    void aHostTakesOverItsOwnReservationLeftFromAnEarlierRun() throws Exception
    {
        final MemoryHub hub = keep(new MemoryHub());
        final AoeTarget target = target("tgt", hub, 0x02_00_00_00_01_01L);
        final Initiator earlier = host("host-a", hub, HOST_A);
        TargetReservation.take(earlier, E11, WAIT); // never released: the earlier run crashed
        earlier.close();
        final Initiator again = host("host-a-again", hub, HOST_A);
        try (TargetReservation r = TargetReservation.take(again, E11, WAIT))
        {
            assertEquals(List.of(new MacAddress(HOST_A)), target.reservations());
        }
        assertEquals(List.of(), target.reservations());
    }

    @Test
    void aTargetWithTwoMacsIsReservedOnBothOrOnNeither() throws Exception
    {
        // Two targets on one file, one per cable, as one vblade per NIC: each keeps its own list.
        final MemoryHub cable1 = keep(new MemoryHub());
        final MemoryHub cable2 = keep(new MemoryHub());
        final AoeTarget t1 = target("tgt-1", cable1, 0x02_00_00_00_01_01L);
        final AoeTarget t2 = target("tgt-2", cable2, 0x02_00_00_00_01_02L);
        final Initiator c = host("host-c", cable2, HOST_C);
        final TargetReservation onlyTheSecond = TargetReservation.take(c, E11, WAIT);
        assertEquals(List.of(new MacAddress(HOST_C)), t2.reservations());

        final Initiator a = keep(Initiator.start(List.of(cable1.attach("a-1", HOST_A, 1500), cable2.attach("a-2", HOST_A2, 1500)),
            Duration.ZERO));
        final TargetReservation.ReservedElsewhere refused = assertThrows(TargetReservation.ReservedElsewhere.class,
            () -> TargetReservation.take(a, E11, WAIT));
        assertEquals(List.of(new MacAddress(HOST_C)), refused.holders());
        assertEquals(List.of(), t1.reservations(), "what the first target MAC accepted was given back");
        assertEquals(List.of(new MacAddress(HOST_C)), t2.reservations());

        onlyTheSecond.close();
        try (TargetReservation both = TargetReservation.take(a, E11, WAIT))
        {
            final List<MacAddress> ours = List.of(new MacAddress(HOST_A), new MacAddress(HOST_A2));
            assertEquals(ours, both.macs());
            assertEquals(ours, t1.reservations(), "every port's MAC is on the list: each path may do I/O");
            assertEquals(ours, t2.reservations());
        }
        assertEquals(List.of(), t1.reservations());
        assertEquals(List.of(), t2.reservations());
    }

    @Test
    void noAnswerIsAnErrorNamingTheTarget() throws Exception
    {
        final MemoryHub hub = keep(new MemoryHub());
        final Initiator a = host("host-a", hub, HOST_A);
        final java.io.IOException e = assertThrows(java.io.IOException.class,
            () -> TargetReservation.take(a, E11, Duration.ofMillis(300)));
        assertTrue(e.getMessage().startsWith("e1.1: no answer to the reserve command within 300 ms"), e.getMessage());
    }
}
