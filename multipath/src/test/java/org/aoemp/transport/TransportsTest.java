package org.aoemp.transport;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.nio.ByteBuffer;
import java.util.List;

import org.aoemp.protocol.Bytes;
import org.aoemp.protocol.MacAddress;
import org.junit.jupiter.api.Test;

/** The factory and interface lookup: clear messages for the mistakes users make. No root needed. */
final class TransportsTest
{
    @Test
    void shouldDefaultToAfPacketOnLinux()
    {
        final boolean linux = System.getProperty("os.name").toLowerCase().startsWith("linux");
        assertEquals(linux ? Transports.AFPACKET : Transports.PCAP, Transports.defaultKind());
        assertEquals(List.of("afpacket", "pcap"), Transports.kinds());
    }

    @Test
    void shouldNameTheMissingInterfaceAndListTheOnesThatExist()
    {
        for (final String kind : Transports.kinds())
        {
            final TransportException e = assertThrows(TransportException.class, () -> Transports.open(kind, "xyz0"));
            assertTrue(e.getMessage().startsWith("interface 'xyz0' does not exist"), e.getMessage());
            assertTrue(e.getMessage().contains("lo"), "lists available interfaces: " + e.getMessage());
        }
    }

    @Test
    void shouldRejectAnUnknownKind()
    {
        final TransportException e = assertThrows(TransportException.class, () -> Transports.open("dpdk", "lo"));
        assertTrue(e.getMessage().contains("'dpdk'") && e.getMessage().contains("afpacket, pcap"), e.getMessage());
    }

    @Test
    void shouldLookUpLoopback()
    {
        final NetInterfaces.Info lo = NetInterfaces.lookup("lo");
        assertEquals("lo", lo.name());
        assertTrue(lo.index() > 0);
        assertTrue(lo.mtu() >= 1500);
        assertTrue(lo.up());
        assertTrue(NetInterfaces.names().contains("lo"));
        assertTrue(NetInterfaces.exists("lo"));
        assertFalse(NetInterfaces.exists("xyz0"));
        final NetInterfaces.LinkState state = new NetInterfaces.LinkState("lo");
        assertTrue(state.isUp(), "operstate 'unknown' counts as up");
        assertTrue(state.isUp(), "re-reading the open operstate file");
        state.close();
        assertFalse(state.isUp());
    }

    @Test
    void shouldPassFramesForThisStationOrAGroupOnly()
    {
        final long mine = 0x02_00_00_00_00_01L;
        final ByteBuffer frame = ByteBuffer.allocate(60);

        Bytes.mac(frame, 0, mine);
        assertTrue(Transports.isForStation(frame, 60, mine));
        assertFalse(Transports.isForStation(frame, 13, mine), "runt");
        Bytes.mac(frame, 0, MacAddress.BROADCAST_BITS);
        assertTrue(Transports.isForStation(frame, 60, mine));
        Bytes.mac(frame, 0, 0x01_00_5E_00_00_01L);
        assertTrue(Transports.isForStation(frame, 60, mine), "multicast");
        Bytes.mac(frame, 0, 0x02_00_00_00_00_02L);
        assertFalse(Transports.isForStation(frame, 60, mine), "another station");
    }
}
