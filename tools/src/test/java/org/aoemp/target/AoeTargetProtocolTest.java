package org.aoemp.target;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertNotEquals;
import static org.junit.jupiter.api.Assertions.assertNull;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.io.IOException;
import java.lang.management.ManagementFactory;
import java.nio.ByteBuffer;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.NoSuchFileException;
import java.nio.file.Path;
import java.time.Duration;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.List;
import java.util.Random;

import org.aoemp.protocol.AoeHeader;
import org.aoemp.protocol.AtaHeader;
import org.aoemp.protocol.ConfigHeader;
import org.aoemp.protocol.Identify;
import org.aoemp.protocol.MacAddress;
import org.aoemp.protocol.MacMaskHeader;
import org.aoemp.protocol.ReserveHeader;
import org.aoemp.testing.Await;
import org.aoemp.transport.MemoryHub;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * {@link AoeTarget} frame by frame over the in-memory hub (no root needed): every command and
 * sub-command, vblade's answers to malformed and hostile input, masks, reservations, read-only,
 * the offset/length window, DSYNC, and the steady state allocating nothing.
 */
class AoeTargetProtocolTest
{
    private static final long TARGET_MAC = 0x02_00_00_00_00_01L;
    private static final long A_MAC = 0x02_00_00_00_00_A0L;
    private static final long B_MAC = 0x02_00_00_00_00_B0L;
    private static final int SHELF = 7;
    private static final int SLOT = 3;
    private static final int SECTORS = 2048;
    private static final int SECTOR = 512;

    @TempDir
    Path dir;

    private Path disk;
    private MemoryHub hub;
    private HubPeer a;
    private HubPeer b;
    private AoeTarget target;

    @BeforeEach
    void setUp() throws IOException
    {
        disk = PatternDisk.write(dir.resolve("disk.img"), SECTORS);
        hub = new MemoryHub();
        a = new HubPeer(hub, "a", A_MAC, 1500);
        b = new HubPeer(hub, "b", B_MAC, 1500);
    }

    @AfterEach
    void tearDown()
    {
        if (target != null)
        {
            target.close();
        }
        hub.close();
    }

    private AoeTarget start(final TargetOptions options) throws IOException
    {
        target = AoeTarget.start(options, List.of(hub.attach("tgt", TARGET_MAC, 1500)));
        return target;
    }

    private AoeTarget start() throws IOException
    {
        return start(TargetOptions.of(SHELF, SLOT, disk));
    }

    /** Starts the default target and throws away its announcement. */
    private AoeTarget started() throws Exception
    {
        start();
        awaitAnnouncement(a);
        awaitAnnouncement(b);
        return target;
    }

    private static ByteBuffer awaitAnnouncement(final HubPeer peer) throws InterruptedException
    {
        final ByteBuffer f = peer.next(5000);
        assertTrue(f != null, "an announcement within 5 s");
        final AoeHeader h = new AoeHeader().wrap(f, 0);
        assertEquals(AoeHeader.CMD_CONFIG, h.command());
        assertTrue(h.isResponse());
        assertEquals(0, h.tag());
        return f;
    }

    private ByteBuffer ataCall(final HubPeer peer, final int aflags, final int command, final int count, final long lba, final byte[] data)
        throws InterruptedException
    {
        final int tag = peer.nextTag();
        final ByteBuffer f = peer.ata(TARGET_MAC, SHELF, SLOT, tag, aflags, command, count, lba, data);
        peer.send(f, Math.max(60, AtaHeader.DATA_OFFSET + (data == null ? 0 : data.length)));
        return peer.reply(tag);
    }

    private static void assertAoeError(final ByteBuffer reply, final int code)
    {
        final AoeHeader h = new AoeHeader().wrap(reply, 0);
        assertTrue(h.isResponse(), "R flag");
        assertTrue(h.isError(), "E flag, error " + h.error());
        assertEquals(code, h.error(), "AoE error code");
    }

    private static void assertAtaStatus(final ByteBuffer reply, final int status, final int error)
    {
        final AoeHeader h = new AoeHeader().wrap(reply, 0);
        assertTrue(h.isResponse());
        assertFalse(h.isError(), () -> "no AoE error, got " + h.error());
        final AtaHeader ata = new AtaHeader().wrap(reply, 0);
        assertEquals(status, ata.cmdStatus(), "ATA status");
        assertEquals(error, ata.errFeature(), "ATA error register");
    }

    private ByteBuffer config(final HubPeer peer, final int shelf, final int slot, final int ccmd, final String string, final int flags)
        throws InterruptedException
    {
        final int tag = peer.nextTag();
        final ByteBuffer f = peer.request(TARGET_MAC, shelf, slot, AoeHeader.CMD_CONFIG, tag);
        new AoeHeader().wrap(f, 0).versionFlags(AoeHeader.VERSION, flags);
        final byte[] s = string.getBytes(StandardCharsets.ISO_8859_1);
        new ConfigHeader().wrap(f, 0).versionCcmd(AoeHeader.VERSION, ccmd).configString(s, s.length);
        peer.send(f, Math.max(60, ConfigHeader.lengthFor(s.length)));
        return f.putInt(AoeHeader.TAG_OFFSET, tag);
    }

    private ByteBuffer configCall(final HubPeer peer, final int ccmd, final String string) throws InterruptedException
    {
        final ByteBuffer sent = config(peer, SHELF, SLOT, ccmd, string, 0);
        return peer.reply(sent.getInt(AoeHeader.TAG_OFFSET));
    }

    private static int tagOf(final ByteBuffer frame)
    {
        return new AoeHeader().wrap(frame, 0).tag();
    }

    // ------------------------------------------------------------------------------------ config

    @Test
    void shouldAnnounceItselfWithABroadcastConfigResponseOnStart() throws Exception
    {
        start(TargetOptions.of(SHELF, SLOT, disk).withConfigString("hello"));
        for (final HubPeer peer : List.of(a, b))
        {
            final ByteBuffer f = awaitAnnouncement(peer);
            final AoeHeader h = new AoeHeader().wrap(f, 0);
            assertEquals(MacAddress.BROADCAST_BITS, h.dst());
            assertEquals(TARGET_MAC, h.src());
            assertEquals(SHELF, h.shelf());
            assertEquals(SLOT, h.slot());
            assertEquals(AoeHeader.VERSION, h.version());
            assertFalse(h.isError());
            final ConfigHeader c = new ConfigHeader().wrap(f, 0);
            assertEquals(16, c.bufferCount());
            assertEquals(AoeTarget.FIRMWARE_VERSION, c.firmwareVersion());
            assertEquals(2, c.sectorCount(), "(1500 - 36) / 512");
            assertEquals(AoeHeader.VERSION, c.aoeVersion());
            assertEquals("hello", c.configStringAsString());
            assertTrue(f.capacity() >= 60, "padded to Ethernet's minimum");
        }
    }

    @Test
    void shouldAnnounceOnlyToTheAllowedMacsWhenMasked() throws Exception
    {
        start(TargetOptions.of(SHELF, SLOT, disk).withAllowedMacs(List.of(new MacAddress(A_MAC))));
        final ByteBuffer f = awaitAnnouncement(a);
        assertEquals(A_MAC, new AoeHeader().wrap(f, 0).dst(), "unicast to the allowed MAC");
        assertNull(b.next(300), "nothing for a MAC that is not allowed");
    }

    @Test
    void shouldAnswerConfigQueriesForItsAddressAndTheWildcardsOnly() throws Exception
    {
        started();
        for (final int[] address : new int[][] {{SHELF, SLOT}, {0xFFFF, 0xFF}, {SHELF, 0xFF}, {0xFFFF, SLOT}})
        {
            final ByteBuffer sent = config(a, address[0], address[1], ConfigHeader.CCMD_READ, "", 0);
            final ByteBuffer reply = a.reply(tagOf(sent));
            final AoeHeader h = new AoeHeader().wrap(reply, 0);
            assertEquals(SHELF, h.shelf(), "replies carry the real address, never a wildcard");
            assertEquals(SLOT, h.slot());
            assertEquals(A_MAC, h.dst());
        }
        for (final int[] address : new int[][] {{SHELF, SLOT + 1}, {SHELF + 1, SLOT}, {0xFFFE, 0xFF}})
        {
            a.expectNoReply(tagOf(config(a, address[0], address[1], ConfigHeader.CCMD_READ, "", 0)), 200);
        }
        // A response (R flag) is never answered, even when it is for us.
        a.expectNoReply(tagOf(config(a, SHELF, SLOT, ConfigHeader.CCMD_READ, "", AoeHeader.FLAG_RESPONSE)), 200);
        assertTrue(target.stats().ignored() >= 4, target.stats().toString());
    }

    @Test
    void shouldAnswerABareConfigQueryWithoutArgumentAsARead() throws Exception
    {
        started();
        final int tag = a.nextTag();
        final ByteBuffer f = a.request(TARGET_MAC, 0xFFFF, 0xFF, AoeHeader.CMD_CONFIG, tag);
        a.send(f, AoeHeader.LENGTH);
        final ByteBuffer reply = a.reply(tag);
        assertEquals(16, new ConfigHeader().wrap(reply, 0).bufferCount());
    }

    @Test
    void shouldReadTestPrefixSetAndForceSetTheConfigString() throws Exception
    {
        started();
        assertEquals("", new ConfigHeader().wrap(configCall(a, ConfigHeader.CCMD_READ, ""), 0).configStringAsString());

        final ByteBuffer set = configCall(a, ConfigHeader.CCMD_SET, "rack-4");
        assertFalse(new AoeHeader().wrap(set, 0).isError());
        assertEquals("rack-4", new ConfigHeader().wrap(set, 0).configStringAsString());
        assertEquals(ConfigHeader.CCMD_SET, new ConfigHeader().wrap(set, 0).ccmd(), "ccmd echoed");
        assertEquals("rack-4", target.configString());

        final ByteBuffer again = configCall(a, ConfigHeader.CCMD_SET, "other");
        assertAoeError(again, AoeHeader.ERR_CONFIG_STRING_PRESENT);
        assertEquals("rack-4", target.configString(), "set does not overwrite");

        assertEquals("rack-4", new ConfigHeader().wrap(configCall(a, ConfigHeader.CCMD_TEST, "rack-4"), 0).configStringAsString());
        a.expectNoReply(tagOf(config(a, SHELF, SLOT, ConfigHeader.CCMD_TEST, "rack", 0)), 200);
        a.expectNoReply(tagOf(config(a, SHELF, SLOT, ConfigHeader.CCMD_TEST, "rack-40", 0)), 200);
        configCall(a, ConfigHeader.CCMD_TEST_PREFIX, "rack");
        configCall(a, ConfigHeader.CCMD_TEST_PREFIX, "");
        a.expectNoReply(tagOf(config(a, SHELF, SLOT, ConfigHeader.CCMD_TEST_PREFIX, "rock", 0)), 200);
        a.expectNoReply(tagOf(config(a, SHELF, SLOT, ConfigHeader.CCMD_TEST_PREFIX, "rack-4-5", 0)), 200);

        final ByteBuffer forced = configCall(a, ConfigHeader.CCMD_FORCE_SET, "x".repeat(1024));
        assertFalse(new AoeHeader().wrap(forced, 0).isError());
        assertEquals(1024, target.configString().length());
        assertEquals("", new ConfigHeader().wrap(configCall(a, ConfigHeader.CCMD_FORCE_SET, ""), 0).configStringAsString());
    }

    @Test
    void shouldRefuseAConfigStringLongerThan1024AndAnUnknownCcmd() throws Exception
    {
        started();
        final int tag = a.nextTag();
        final ByteBuffer f = a.request(TARGET_MAC, SHELF, SLOT, AoeHeader.CMD_CONFIG, tag);
        new ConfigHeader().wrap(f, 0).versionCcmd(AoeHeader.VERSION, ConfigHeader.CCMD_FORCE_SET).configStringLength(1025);
        a.send(f, ConfigHeader.lengthFor(1025));
        assertAoeError(a.reply(tag), AoeHeader.ERR_BAD_ARGUMENT);
        assertAoeError(configCall(a, 9, ""), AoeHeader.ERR_BAD_ARGUMENT);
        // A string length beyond the frame: truncated, dropped.
        final int tag2 = a.nextTag();
        final ByteBuffer g = a.request(TARGET_MAC, SHELF, SLOT, AoeHeader.CMD_CONFIG, tag2);
        new ConfigHeader().wrap(g, 0).versionCcmd(AoeHeader.VERSION, ConfigHeader.CCMD_FORCE_SET).configStringLength(100);
        a.send(g, 60);
        a.expectNoReply(tag2, 200);
        assertEquals("", target.configString());
    }

    // --------------------------------------------------------------------------------------- ATA

    @Test
    void shouldAnswerIdentifyWithItsSizeModelAndLba48() throws Exception
    {
        started();
        final ByteBuffer reply = ataCall(a, 0, AtaHeader.ATA_IDENTIFY, 1, 0, null);
        assertAtaStatus(reply, AoeTarget.STATUS_OK, 0);
        assertEquals(AtaHeader.DATA_OFFSET + Identify.LENGTH, reply.capacity());
        final Identify id = Identify.parse(reply, AtaHeader.DATA_OFFSET);
        assertTrue(id.lba48());
        assertEquals(SECTORS, id.capacitySectors());
        assertEquals(AoeTarget.MODEL, id.model());
        assertEquals(AoeTarget.FIRMWARE, id.firmware());
        assertTrue(id.serial().startsWith("e7.3:"), id.serial());
        assertEquals(SECTORS, reply.get(AtaHeader.DATA_OFFSET + Identify.LBA28_CAPACITY_OFFSET + 1) * 256
            + (reply.get(AtaHeader.DATA_OFFSET + Identify.LBA28_CAPACITY_OFFSET) & 0xFF), "words 60-61 too");
    }

    @Test
    void shouldWriteWithLba48AndReadBackWithLba28AtTheRightFileOffset() throws Exception
    {
        started();
        final byte[] data = new byte[2 * SECTOR];
        new Random(1).nextBytes(data);
        final ByteBuffer w = ataCall(a, AtaHeader.AFLAG_LBA48 | AtaHeader.AFLAG_WRITE, AtaHeader.ATA_WRITE_EXT, 2, 1000, data);
        assertAtaStatus(w, AoeTarget.STATUS_OK, 0);
        assertEquals(0, new AtaHeader().wrap(w, 0).sectorCount(), "no sectors left to do");
        assertEquals(60, w.capacity(), "a write reply is the header, padded to 60 bytes");
        final ByteBuffer r = ataCall(a, 0, AtaHeader.ATA_READ, 2, 1000, null);
        assertAtaStatus(r, AoeTarget.STATUS_OK, 0);
        final byte[] back = new byte[data.length];
        r.get(AtaHeader.DATA_OFFSET, back);
        assertArrayEquals(data, back);
        try (var ch = java.nio.channels.FileChannel.open(disk))
        {
            final ByteBuffer file = ByteBuffer.allocate(data.length);
            ch.read(file, 1000L * SECTOR);
            assertArrayEquals(data, file.array(), "landed at sector 1000 of the file");
        }
        // LBA28 ignores lba4/lba5 and the high nibble of lba3 (0xE0 on the wire): sector 5 is sector 5.
        final ByteBuffer r28 = ataCall(a, 0, AtaHeader.ATA_READ, 1, 5, null);
        assertEquals(PatternDisk.pattern(5), r28.get(AtaHeader.DATA_OFFSET + 17));
        // Writes with the LBA28 command too, reads with LBA48.
        final byte[] one = new byte[SECTOR];
        Arrays.fill(one, (byte)0x5A);
        assertAtaStatus(ataCall(a, AtaHeader.AFLAG_WRITE, AtaHeader.ATA_WRITE, 1, 2047, one), AoeTarget.STATUS_OK, 0);
        final ByteBuffer last = ataCall(a, AtaHeader.AFLAG_LBA48, AtaHeader.ATA_READ_EXT, 1, 2047, null);
        assertEquals(0x5A, last.get(AtaHeader.DATA_OFFSET + 511));
        assertEquals(3, target.stats().sectorsWritten());
    }

    @Test
    void shouldAnswerCheckPowerAndSyncOnBothFlushCommands() throws Exception
    {
        started();
        final ByteBuffer power = ataCall(a, 0, AtaHeader.ATA_CHECK_POWER, 0, 0, null);
        assertAtaStatus(power, AoeTarget.STATUS_OK, 0);
        assertEquals(0xFF, new AtaHeader().wrap(power, 0).sectorCount(), "active or idle");
        assertAtaStatus(ataCall(a, 0, AtaHeader.ATA_FLUSH, 0, 0, null), AoeTarget.STATUS_OK, 0);
        assertAtaStatus(ataCall(a, AtaHeader.AFLAG_LBA48, AtaHeader.ATA_FLUSH_EXT, 0, 0, null), AoeTarget.STATUS_OK, 0);
        assertEquals(2, target.stats().flushes(), "both commands synced the file");
    }

    @Test
    void shouldAnswerAZeroSectorReadWithSuccessAndNoData() throws Exception
    {
        started();
        final ByteBuffer r = ataCall(a, AtaHeader.AFLAG_LBA48, AtaHeader.ATA_READ_EXT, 0, 10, null);
        assertAtaStatus(r, AoeTarget.STATUS_OK, 0);
        assertEquals(60, r.capacity());
    }

    // --------------------------------------------------------------------------------- malformed

    @Test
    void shouldDropATruncatedAtaHeaderAndKeepServing() throws Exception
    {
        started();
        for (final int length : new int[] {14, 23, 24, 30, 35})
        {
            final int tag = a.nextTag();
            a.send(a.ata(TARGET_MAC, SHELF, SLOT, tag, 0, AtaHeader.ATA_READ, 1, 0, null), length);
            a.expectNoReply(tag, 100);
        }
        assertEquals(5, target.stats().truncated());
        assertAtaStatus(ataCall(a, 0, AtaHeader.ATA_READ, 1, 0, null), AoeTarget.STATUS_OK, 0);
    }

    @Test
    void shouldRefuseMoreSectorsThanTheMtuCarriesWithBadArgument() throws Exception
    {
        started();
        assertAoeError(ataCall(a, AtaHeader.AFLAG_LBA48, AtaHeader.ATA_READ_EXT, 255, 0, null), AoeHeader.ERR_BAD_ARGUMENT);
        assertAoeError(ataCall(a, AtaHeader.AFLAG_LBA48, AtaHeader.ATA_READ_EXT, 3, 0, null), AoeHeader.ERR_BAD_ARGUMENT);
        final ByteBuffer error = ataCall(a, AtaHeader.AFLAG_LBA48, AtaHeader.ATA_READ_EXT, 3, 0, null);
        assertEquals(AtaHeader.DATA_OFFSET, Math.min(error.capacity(), AtaHeader.DATA_OFFSET), "header echoed");
        assertEquals(3, new AtaHeader().wrap(error, 0).sectorCount(), "the request's header is echoed");
        assertAtaStatus(ataCall(a, AtaHeader.AFLAG_LBA48, AtaHeader.ATA_READ_EXT, 2, 0, null), AoeTarget.STATUS_OK, 0);
    }

    @Test
    void shouldFailAddressesBeyondTheEndWithIdnf() throws Exception
    {
        started();
        assertAtaStatus(ataCall(a, AtaHeader.AFLAG_LBA48, AtaHeader.ATA_READ_EXT, 2, SECTORS - 1, null), AoeTarget.STATUS_FAILED,
            AtaHeader.ERROR_IDNF);
        assertAtaStatus(ataCall(a, AtaHeader.AFLAG_LBA48, AtaHeader.ATA_READ_EXT, 1, SECTORS, null), AoeTarget.STATUS_FAILED,
            AtaHeader.ERROR_IDNF);
        assertAtaStatus(ataCall(a, AtaHeader.AFLAG_LBA48, AtaHeader.ATA_READ_EXT, 1, (1L << 48) - 1, null), AoeTarget.STATUS_FAILED,
            AtaHeader.ERROR_IDNF);
        assertAtaStatus(ataCall(a, AtaHeader.AFLAG_LBA48 | AtaHeader.AFLAG_WRITE, AtaHeader.ATA_WRITE_EXT, 1, SECTORS,
            new byte[SECTOR]), AoeTarget.STATUS_FAILED, AtaHeader.ERROR_IDNF);
        assertAtaStatus(ataCall(a, AtaHeader.AFLAG_LBA48, AtaHeader.ATA_READ_EXT, 1, SECTORS - 1, null), AoeTarget.STATUS_OK, 0);
        assertEquals(4, target.stats().ataErrors());
    }

    @Test
    void shouldAbortUnknownAtaCommands() throws Exception
    {
        started();
        for (final int command : new int[] {AtaHeader.ATA_SMART, 0x00, 0xC8, 0xFF})
        {
            final ByteBuffer r = ataCall(a, 0, command, 1, 0, null);
            assertAtaStatus(r, 0x41, AtaHeader.ERROR_ABRT);
            assertTrue(new AtaHeader().wrap(r, 0).failed());
        }
    }

    @Test
    void shouldAnswerUnknownAoeCommandsWithError1() throws Exception
    {
        started();
        for (final int command : new int[] {4, 0x10, 0xF0, 0xFF})
        {
            final int tag = a.nextTag();
            a.send(a.request(TARGET_MAC, SHELF, SLOT, command, tag), 60);
            final ByteBuffer r = a.reply(tag);
            assertAoeError(r, AoeHeader.ERR_UNRECOGNIZED_COMMAND);
            assertEquals(command, new AoeHeader().wrap(r, 0).command());
        }
    }

    @Test
    void shouldRefuseAWriteFrameShorterThanItsSectorCount() throws Exception
    {
        started();
        final int tag = a.nextTag();
        final ByteBuffer f = a.ata(TARGET_MAC, SHELF, SLOT, tag, AtaHeader.AFLAG_LBA48 | AtaHeader.AFLAG_WRITE, AtaHeader.ATA_WRITE_EXT,
            2, 0, new byte[2 * SECTOR]);
        a.send(f, AtaHeader.DATA_OFFSET + 2 * SECTOR - 1);
        assertAoeError(a.reply(tag), AoeHeader.ERR_BAD_ARGUMENT);
        assertEquals(0, target.stats().sectorsWritten(), "nothing written");
        final ByteBuffer r = ataCall(a, AtaHeader.AFLAG_LBA48, AtaHeader.ATA_READ_EXT, 1, 0, null);
        assertEquals(PatternDisk.pattern(0), r.get(AtaHeader.DATA_OFFSET), "sector 0 untouched");
    }

    @Test
    void shouldAnswerAnotherAoeVersionWithError5() throws Exception
    {
        started();
        for (final int version : new int[] {0, 2, 15})
        {
            final int tag = a.nextTag();
            final ByteBuffer f = a.ata(TARGET_MAC, SHELF, SLOT, tag, 0, AtaHeader.ATA_READ, 1, 0, null);
            new AoeHeader().wrap(f, 0).versionFlags(version, 0);
            a.send(f, 60);
            final ByteBuffer r = a.reply(tag);
            assertAoeError(r, AoeHeader.ERR_UNSUPPORTED_VERSION);
            assertEquals(AoeHeader.VERSION, new AoeHeader().wrap(r, 0).version(), "we answer in version 1");
        }
    }

    @Test
    void shouldDropTruncatedMaskAndReserveFrames() throws Exception
    {
        started();
        final int tag = a.nextTag();
        final ByteBuffer mask = a.request(TARGET_MAC, SHELF, SLOT, AoeHeader.CMD_MAC_MASK, tag);
        new MacMaskHeader().wrap(mask, 0).mcmd(MacMaskHeader.MCMD_EDIT).directiveCount(3).directive(0, MacMaskHeader.DCMD_ADD, B_MAC);
        a.send(mask, MacMaskHeader.lengthFor(2));
        a.expectNoReply(tag, 150);
        final int tag2 = a.nextTag();
        final ByteBuffer reserve = a.request(TARGET_MAC, SHELF, SLOT, AoeHeader.CMD_RESERVE, tag2);
        new ReserveHeader().wrap(reserve, 0).rcmd(ReserveHeader.RCMD_SET).macCount(4).mac(0, B_MAC);
        a.send(reserve, ReserveHeader.lengthFor(3));
        a.expectNoReply(tag2, 150);
        assertEquals(List.of(), target.masks());
        assertEquals(List.of(), target.reservations());
    }

    @Test
    void shouldSurviveThousandsOfRandomFramesAndKeepServing() throws Exception
    {
        started();
        final MemoryHub.Nic tgt = hub.nic("tgt");
        final long before = target.stats().framesReceived() + tgt.rxDropped();
        final Random random = new Random(42);
        for (int i = 0; i < 5000; i++)
        {
            final int length = random.nextInt(1515);
            final ByteBuffer f = ByteBuffer.allocate(Math.max(length, 64));
            for (int j = 0; j < f.capacity(); j++)
            {
                f.put(j, (byte)random.nextInt());
            }
            // Aimed at the target, so the garbage gets past the address filter; reserve/mask edits
            // may change state, so keep those out (they are tested on their own).
            int command = random.nextInt(6) == 0 ? random.nextInt(256) : random.nextInt(2);
            if (command == AoeHeader.CMD_MAC_MASK || command == AoeHeader.CMD_RESERVE)
            {
                command = 0x42;
            }
            new AoeHeader().wrap(f, 0).request(TARGET_MAC, A_MAC, SHELF, SLOT, command, random.nextInt())
                .versionFlags(random.nextInt(8) == 0 ? random.nextInt(16) : AoeHeader.VERSION, random.nextInt(4) == 0 ? 8 : 0);
            if (command == 1 && (f.get(ConfigHeader.VERSION_CCMD_OFFSET) & 0x0F) >= ConfigHeader.CCMD_SET)
            {
                f.put(ConfigHeader.VERSION_CCMD_OFFSET, (byte)0x10);
            }
            a.send(f, Math.max(length, 14));
        }
        // until the target has taken each frame off its NIC's queue, or the full queue dropped it (sends are synchronous)
        Await.until(Duration.ofSeconds(30), () -> target.stats().framesReceived() + tgt.rxDropped() >= before + 5000,
            () -> "the target did not get through the garbage: " + target.stats() + ", dropped " + tgt.rxDropped());
        a.drain();
        final ByteBuffer id = ataCall(a, 0, AtaHeader.ATA_IDENTIFY, 1, 0, null);
        assertEquals(SECTORS, Identify.parse(id, AtaHeader.DATA_OFFSET).capacitySectors());
        // Random writes may have landed: compare with the file, whatever it holds now.
        final ByteBuffer r = ataCall(a, AtaHeader.AFLAG_LBA48, AtaHeader.ATA_READ_EXT, 2, 77, null);
        final byte[] got = new byte[2 * SECTOR];
        r.get(AtaHeader.DATA_OFFSET, got);
        assertArrayEquals(Arrays.copyOfRange(Files.readAllBytes(disk), 77 * SECTOR, 79 * SECTOR), got);
        assertEquals(0, target.stats().ioErrors());
        assertEquals(List.of(), target.masks());
    }

    // ------------------------------------------------------------------------------- mask list

    private ByteBuffer maskCall(final HubPeer peer, final int mcmd, final long[][] directives) throws InterruptedException
    {
        final int tag = peer.nextTag();
        final ByteBuffer f = peer.request(TARGET_MAC, SHELF, SLOT, AoeHeader.CMD_MAC_MASK, tag);
        final MacMaskHeader m = new MacMaskHeader().wrap(f, 0).mcmd(mcmd).directiveCount(directives.length);
        for (int i = 0; i < directives.length; i++)
        {
            m.directive(i, (int)directives[i][0], directives[i][1]);
        }
        peer.send(f, Math.max(60, MacMaskHeader.lengthFor(directives.length)));
        return peer.reply(tag);
    }

    private static List<Long> maskList(final ByteBuffer reply)
    {
        final MacMaskHeader m = new MacMaskHeader().wrap(reply, 0);
        assertTrue(m.isValid(reply.capacity()));
        final List<Long> out = new ArrayList<>();
        for (int i = 0; i < m.directiveCount(); i++)
        {
            out.add(m.mac(i));
        }
        return out;
    }

    @Test
    void shouldEditTheMaskListAndIgnoreEveryOtherMacWhileItIsNotEmpty() throws Exception
    {
        started();
        assertEquals(List.of(), maskList(maskCall(a, MacMaskHeader.MCMD_READ, new long[0][])));
        final long c = 0x02_00_00_00_00_C0L;
        final ByteBuffer added = maskCall(a, MacMaskHeader.MCMD_EDIT,
            new long[][] {{MacMaskHeader.DCMD_ADD, c}, {MacMaskHeader.DCMD_ADD, A_MAC}, {MacMaskHeader.DCMD_ADD, c}});
        assertEquals(0, new MacMaskHeader().wrap(added, 0).merror());
        assertEquals(List.of(c, A_MAC), maskList(added), "in order, without duplicates");

        // b is not on the list: silently ignored, whatever it asks.
        final int tag = b.nextTag();
        b.send(b.ata(TARGET_MAC, SHELF, SLOT, tag, 0, AtaHeader.ATA_IDENTIFY, 1, 0, null), 60);
        b.expectNoReply(tag, 200);
        b.expectNoReply(tagOf(config(b, 0xFFFF, 0xFF, ConfigHeader.CCMD_READ, "", 0)), 200);
        assertTrue(target.stats().masked() >= 2);
        assertAtaStatus(ataCall(a, 0, AtaHeader.ATA_IDENTIFY, 1, 0, null), AoeTarget.STATUS_OK, 0);

        final ByteBuffer deleted = maskCall(a, MacMaskHeader.MCMD_EDIT,
            new long[][] {{MacMaskHeader.DCMD_DELETE, c}, {MacMaskHeader.DCMD_NONE, 0}, {MacMaskHeader.DCMD_DELETE, B_MAC}});
        assertEquals(List.of(A_MAC), maskList(deleted));
        maskCall(a, MacMaskHeader.MCMD_EDIT, new long[][] {{MacMaskHeader.DCMD_DELETE, A_MAC}});
        assertEquals(List.of(), target.masks());
        assertAtaStatus(ataCall(b, 0, AtaHeader.ATA_IDENTIFY, 1, 0, null), AoeTarget.STATUS_OK, 0);
    }

    @Test
    void shouldReportBadDirectivesAndAFullListInMerror() throws Exception
    {
        started();
        final ByteBuffer bad = maskCall(a, MacMaskHeader.MCMD_EDIT,
            new long[][] {{MacMaskHeader.DCMD_ADD, A_MAC}, {7, B_MAC}, {MacMaskHeader.DCMD_ADD, B_MAC}});
        assertEquals(MacMaskHeader.MERROR_BAD_DCMD, new MacMaskHeader().wrap(bad, 0).merror());
        assertEquals(List.of(A_MAC), maskList(bad), "directives before the bad one stay applied, later ones are not");

        final long[][] many = new long[40][];
        for (int i = 0; i < many.length; i++)
        {
            many[i] = new long[] {MacMaskHeader.DCMD_ADD, 0x02_00_00_00_10_00L + i};
        }
        final ByteBuffer full = maskCall(a, MacMaskHeader.MCMD_EDIT, many);
        assertEquals(MacMaskHeader.MERROR_LIST_FULL, new MacMaskHeader().wrap(full, 0).merror());
        assertEquals(MacMaskHeader.MAX_MASKS, maskList(full).size());
        assertAoeError(maskCall(a, 5, new long[0][]), AoeHeader.ERR_BAD_ARGUMENT);
    }

    // ---------------------------------------------------------------------------- reservations

    private ByteBuffer reserveCall(final HubPeer peer, final int rcmd, final long... macs) throws InterruptedException
    {
        final int tag = peer.nextTag();
        final ByteBuffer f = peer.request(TARGET_MAC, SHELF, SLOT, AoeHeader.CMD_RESERVE, tag);
        final ReserveHeader r = new ReserveHeader().wrap(f, 0).rcmd(rcmd).macCount(macs.length);
        for (int i = 0; i < macs.length; i++)
        {
            r.mac(i, macs[i]);
        }
        peer.send(f, Math.max(60, ReserveHeader.lengthFor(macs.length)));
        return peer.reply(tag);
    }

    private static List<Long> reserveList(final ByteBuffer reply)
    {
        final ReserveHeader r = new ReserveHeader().wrap(reply, 0);
        final List<Long> out = new ArrayList<>();
        for (int i = 0; i < r.macCount(); i++)
        {
            out.add(r.mac(i));
        }
        return out;
    }

    @Test
    void shouldRefuseAtaFromOthersWhileReservedExceptIdentify() throws Exception
    {
        started();
        assertEquals(List.of(), reserveList(reserveCall(a, ReserveHeader.RCMD_READ)));
        assertEquals(List.of(A_MAC), reserveList(reserveCall(a, ReserveHeader.RCMD_SET, A_MAC)));

        assertAoeError(ataCall(b, AtaHeader.AFLAG_LBA48, AtaHeader.ATA_READ_EXT, 1, 0, null), AoeHeader.ERR_TARGET_RESERVED);
        assertAoeError(ataCall(b, AtaHeader.AFLAG_LBA48 | AtaHeader.AFLAG_WRITE, AtaHeader.ATA_WRITE_EXT, 1, 0, new byte[SECTOR]),
            AoeHeader.ERR_TARGET_RESERVED);
        assertAoeError(ataCall(b, 0, AtaHeader.ATA_FLUSH, 0, 0, null), AoeHeader.ERR_TARGET_RESERVED);
        assertAtaStatus(ataCall(b, 0, AtaHeader.ATA_IDENTIFY, 1, 0, null), AoeTarget.STATUS_OK, 0);
        assertAtaStatus(ataCall(a, AtaHeader.AFLAG_LBA48, AtaHeader.ATA_READ_EXT, 1, 0, null), AoeTarget.STATUS_OK, 0);
        assertEquals(PatternDisk.pattern(0), ataCall(a, AtaHeader.AFLAG_LBA48, AtaHeader.ATA_READ_EXT, 1, 0, null).get(AtaHeader.DATA_OFFSET));

        // b may not take it over with set, only with force.
        final ByteBuffer refused = reserveCall(b, ReserveHeader.RCMD_SET, B_MAC);
        assertAoeError(refused, AoeHeader.ERR_TARGET_RESERVED);
        assertEquals(List.of(A_MAC), target.reservations().stream().map(MacAddress::bits).toList());
        // a, being on the list, may change it.
        assertEquals(List.of(A_MAC, B_MAC), reserveList(reserveCall(a, ReserveHeader.RCMD_SET, A_MAC, B_MAC)));
        assertAtaStatus(ataCall(b, AtaHeader.AFLAG_LBA48, AtaHeader.ATA_READ_EXT, 1, 0, null), AoeTarget.STATUS_OK, 0);
        assertEquals(List.of(B_MAC), reserveList(reserveCall(b, ReserveHeader.RCMD_FORCE_SET, B_MAC)));
        assertAoeError(ataCall(a, AtaHeader.AFLAG_LBA48, AtaHeader.ATA_READ_EXT, 1, 0, null), AoeHeader.ERR_TARGET_RESERVED);
        // release: an empty set by a listed MAC.
        assertEquals(List.of(), reserveList(reserveCall(b, ReserveHeader.RCMD_SET)));
        assertAtaStatus(ataCall(a, AtaHeader.AFLAG_LBA48, AtaHeader.ATA_READ_EXT, 1, 0, null), AoeTarget.STATUS_OK, 0);
        assertAoeError(reserveCall(a, 3), AoeHeader.ERR_BAD_ARGUMENT);
    }

    // -------------------------------------------------------------------------- vblade options

    @Test
    void shouldAbortWritesWhenReadOnlyButServeReadsAndFlushes() throws Exception
    {
        start(TargetOptions.of(SHELF, SLOT, disk).withReadOnly(true));
        final ByteBuffer w = ataCall(a, AtaHeader.AFLAG_LBA48 | AtaHeader.AFLAG_WRITE, AtaHeader.ATA_WRITE_EXT, 1, 3, new byte[SECTOR]);
        assertAtaStatus(w, AoeTarget.STATUS_FAILED, AtaHeader.ERROR_ABRT);
        assertEquals(PatternDisk.pattern(3), ataCall(a, AtaHeader.AFLAG_LBA48, AtaHeader.ATA_READ_EXT, 1, 3, null).get(AtaHeader.DATA_OFFSET));
        assertAtaStatus(ataCall(a, 0, AtaHeader.ATA_FLUSH, 0, 0, null), AoeTarget.STATUS_OK, 0);
        assertEquals(PatternDisk.pattern(3), Files.readAllBytes(disk)[3 * SECTOR], "file untouched");
    }

    @Test
    void shouldExposeExactlyTheOffsetLengthWindow() throws Exception
    {
        start(TargetOptions.of(SHELF, SLOT, disk).withWindow(100, 50));
        assertEquals(50, Identify.parse(ataCall(a, 0, AtaHeader.ATA_IDENTIFY, 1, 0, null), AtaHeader.DATA_OFFSET).capacitySectors());
        assertEquals(PatternDisk.pattern(100), ataCall(a, AtaHeader.AFLAG_LBA48, AtaHeader.ATA_READ_EXT, 1, 0, null).get(AtaHeader.DATA_OFFSET));
        assertEquals(PatternDisk.pattern(149), ataCall(a, AtaHeader.AFLAG_LBA48, AtaHeader.ATA_READ_EXT, 1, 49, null).get(AtaHeader.DATA_OFFSET));
        assertAtaStatus(ataCall(a, AtaHeader.AFLAG_LBA48, AtaHeader.ATA_READ_EXT, 1, 50, null), AoeTarget.STATUS_FAILED,
            AtaHeader.ERROR_IDNF);
        final byte[] data = new byte[SECTOR];
        Arrays.fill(data, (byte)0xEE);
        assertAtaStatus(ataCall(a, AtaHeader.AFLAG_LBA48 | AtaHeader.AFLAG_WRITE, AtaHeader.ATA_WRITE_EXT, 1, 49, data),
            AoeTarget.STATUS_OK, 0);
        final byte[] file = Files.readAllBytes(disk);
        assertEquals((byte)0xEE, file[149 * SECTOR]);
        assertEquals(PatternDisk.pattern(150), file[150 * SECTOR], "nothing past the window");
    }

    @Test
    void shouldExportTheRestOfTheFileAfterAnOffsetWithoutLength() throws Exception
    {
        start(TargetOptions.of(SHELF, SLOT, disk).withWindow(2000, -1));
        assertEquals(48, target.sizeSectors());
    }

    @Test
    void shouldOpenTheFileWithDsyncOnlyWhenAsked() throws Exception
    {
        start(TargetOptions.of(SHELF, SLOT, disk).withSync(true));
        assertNotEquals(0, openFlags(disk) & 010000, "O_DSYNC");
        target.close();
        target = null;
        start();
        assertEquals(0, openFlags(disk) & 010000, "no O_DSYNC by default");
    }

    /** The open(2) flags of this process's descriptor for {@code file} (Linux /proc). */
    private static int openFlags(final Path file) throws IOException
    {
        try (var fds = Files.list(Path.of("/proc/self/fd")))
        {
            for (final Path fd : fds.toList())
            {
                try
                {
                    if (Files.readSymbolicLink(fd).equals(file.toRealPath()))
                    {
                        for (final String line : Files.readAllLines(Path.of("/proc/self/fdinfo", fd.getFileName().toString())))
                        {
                            if (line.startsWith("flags:"))
                            {
                                return Integer.parseInt(line.substring(6).strip(), 8);
                            }
                        }
                    }
                }
                catch (final IOException e)
                {
                    // the descriptor of the listing itself, or one closed meanwhile
                }
            }
        }
        throw new AssertionError("no descriptor open on " + file);
    }

    @Test
    void shouldRefuseAMissingFileAndAWindowBeyondTheFile() throws Exception
    {
        assertThrows(NoSuchFileException.class,
            () -> AoeTarget.start(TargetOptions.of(SHELF, SLOT, dir.resolve("nope")),
                List.of(hub.attach("t1", 0x02_00_00_00_01_01L, 1500))));
        final IllegalArgumentException beyond = assertThrows(IllegalArgumentException.class,
            () -> AoeTarget.start(TargetOptions.of(SHELF, SLOT, disk).withWindow(2000, 49),
                List.of(hub.attach("t2", 0x02_00_00_00_01_02L, 1500))));
        assertTrue(beyond.getMessage().contains("beyond the end"), beyond.getMessage());
        assertThrows(IllegalArgumentException.class,
            () -> AoeTarget.start(TargetOptions.of(SHELF, SLOT, disk).withWindow(2048, -1),
                List.of(hub.attach("t3", 0x02_00_00_00_01_03L, 1500))));
        assertThrows(IllegalArgumentException.class, () -> TargetOptions.of(0xFFFF, 1, disk));
        assertThrows(IllegalArgumentException.class, () -> TargetOptions.of(1, 0xFF, disk));
        assertEquals(List.of("a", "b"), hub.nics().stream().map(n -> n.name()).toList(), "the transports of failed starts are closed");
    }

    // --------------------------------------------------------------------------- steady state

    @Test
    void shouldAllocateNothingPerFrameInSteadyState() throws Exception
    {
        started();
        final var threads = (com.sun.management.ThreadMXBean)ManagementFactory.getThreadMXBean();
        final int frames = 20_000;
        runReads(frames);  // warm up: JIT (the receive thread now reads cached data itself: its downcall needs C2), worker thread locals, hub pools
        runReads(frames);
        runReads(frames);
        final long[] ids = Thread.getAllStackTraces().keySet().stream()
            .filter(t -> t.getName().startsWith("aoe-target-io-") || t.getName().equals("aoe-rx-tgt"))
            .mapToLong(Thread::threadId).toArray();
        assertEquals(17, ids.length, "16 workers and the receive thread");
        final long before = Arrays.stream(threads.getThreadAllocatedBytes(ids)).sum();
        runReads(frames);
        final long after = Arrays.stream(threads.getThreadAllocatedBytes(ids)).sum();
        final double perFrame = (after - before) / (double)frames;
        System.out.printf("[AoeTargetProtocolTest] target threads allocated %.2f bytes per read frame%n", perFrame);
        assertTrue(perFrame < 8, "allocated " + perFrame + " bytes per frame");
    }

    /** {@code n} two-sector reads, eight in flight. */
    private void runReads(final int n) throws InterruptedException
    {
        final int depth = 8;
        final ByteBuffer[] frames = new ByteBuffer[depth];
        final int[] tags = new int[depth];
        for (int i = 0; i < n; i += depth)
        {
            for (int k = 0; k < depth; k++)
            {
                tags[k] = a.nextTag();
                frames[k] = a.ata(TARGET_MAC, SHELF, SLOT, tags[k], AtaHeader.AFLAG_LBA48, AtaHeader.ATA_READ_EXT, 2, (i + k) % 2000, null);
                a.send(frames[k], 60);
            }
            for (int k = 0; k < depth; k++)
            {
                a.reply(tags[k]);
            }
        }
    }
}
