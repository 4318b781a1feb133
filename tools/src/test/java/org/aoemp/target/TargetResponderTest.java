package org.aoemp.target;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.nio.ByteBuffer;
import java.nio.charset.StandardCharsets;
import java.nio.file.Path;
import java.util.Arrays;

import org.aoemp.protocol.AoeHeader;
import org.aoemp.protocol.AtaHeader;
import org.aoemp.protocol.ConfigHeader;
import org.aoemp.protocol.Identify;
import org.aoemp.protocol.MacMaskHeader;
import org.aoemp.protocol.ReserveHeader;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;

/**
 * {@link TargetResponder} on its own, without threads, transports or a file: each request frame
 * is handed in and the decision ({@code REPLY}, {@code DISK}, {@code DROP}), the reply's bytes and
 * the counters are checked. The end-to-end view of the same rules is {@link AoeTargetProtocolTest}.
 */
class TargetResponderTest
{
    private static final long TARGET_MAC = 0x02_00_00_00_00_01L;
    private static final long A_MAC = 0x02_00_00_00_00_A0L;
    private static final long B_MAC = 0x02_00_00_00_00_B0L;
    private static final int SHELF = 7;
    private static final int SLOT = 3;
    private static final long SECTORS = 2048;
    private static final int SECTOR = 512;

    private TargetState state;
    private TargetCounters counters;
    private ByteBuffer identifyData;
    private TargetResponder responder;
    private int tag = 0x8000_0100;

    @BeforeEach
    void setUp()
    {
        responder = responder(TargetOptions.of(SHELF, SLOT, Path.of("unused.img")), 1500);
    }

    private TargetResponder responder(final TargetOptions options, final int mtu)
    {
        state = new TargetState(new long[0], options.configString().getBytes(StandardCharsets.ISO_8859_1));
        counters = new TargetCounters();
        identifyData = ByteBuffer.allocate(Identify.LENGTH);
        Identify.write(identifyData, 0, SECTORS, AoeTarget.MODEL, "serial-1", AoeTarget.FIRMWARE);
        return new TargetResponder(options, SECTORS, identifyData, state, counters, TARGET_MAC, mtu);
    }

    // ----------------------------------------------------------------------------------- frames

    private ByteBuffer request(final long src, final int shelf, final int slot, final int command)
    {
        final ByteBuffer f = ByteBuffer.allocate(9216);
        new AoeHeader().wrap(f, 0).request(TARGET_MAC, src, shelf, slot, command, ++tag);
        return f;
    }

    private ByteBuffer ata(final long src, final int aflags, final int command, final int count, final long lba)
    {
        final ByteBuffer f = request(src, SHELF, SLOT, AoeHeader.CMD_ATA);
        final AtaHeader a = new AtaHeader().wrap(f, 0).aflags(aflags).errFeature(0).sectorCount(count).cmdStatus(command).clearReserved();
        if ((aflags & AtaHeader.AFLAG_LBA48) != 0)
        {
            a.lba(lba);
        }
        else
        {
            a.lba28(lba);
        }
        return f;
    }

    private ByteBuffer config(final long src, final int ccmd, final String s)
    {
        final ByteBuffer f = request(src, SHELF, SLOT, AoeHeader.CMD_CONFIG);
        final byte[] b = s.getBytes(StandardCharsets.ISO_8859_1);
        new ConfigHeader().wrap(f, 0).versionCcmd(AoeHeader.VERSION, ccmd).configString(b, b.length);
        return f;
    }

    private int configLength(final String s)
    {
        return Math.max(60, ConfigHeader.lengthFor(s.length()));
    }

    private ByteBuffer mask(final long src, final int mcmd, final int[] dcmds, final long[] macs)
    {
        final ByteBuffer f = request(src, SHELF, SLOT, AoeHeader.CMD_MAC_MASK);
        final MacMaskHeader m = new MacMaskHeader().wrap(f, 0).clearReserved().mcmd(mcmd).merror(0).directiveCount(dcmds.length);
        for (int i = 0; i < dcmds.length; i++)
        {
            m.directive(i, dcmds[i], macs[i]);
        }
        return f;
    }

    private ByteBuffer reserve(final long src, final int rcmd, final long... macs)
    {
        final ByteBuffer f = request(src, SHELF, SLOT, AoeHeader.CMD_RESERVE);
        final ReserveHeader r = new ReserveHeader().wrap(f, 0).rcmd(rcmd).macCount(macs.length);
        for (int i = 0; i < macs.length; i++)
        {
            r.mac(i, macs[i]);
        }
        return f;
    }

    /** Handles the frame, expecting a reply; returns a copy of the reply's bytes. */
    private ByteBuffer replyTo(final ByteBuffer f, final int length)
    {
        assertEquals(TargetResponder.REPLY, responder.handle(f, length), "a reply");
        final byte[] out = new byte[responder.replyLength()];
        responder.reply().get(0, out);
        final ByteBuffer reply = ByteBuffer.wrap(out);
        final AoeHeader h = new AoeHeader().wrap(reply, 0);
        assertTrue(A_MAC == h.dst() || B_MAC == h.dst(), "to the requester");
        assertEquals(TARGET_MAC, h.src());
        assertTrue(h.isResponse());
        assertEquals(AoeHeader.VERSION, h.version());
        assertEquals(SHELF, h.shelf(), "our own shelf, never a wildcard");
        assertEquals(SLOT, h.slot());
        assertEquals(new AoeHeader().wrap(f, 0).tag(), h.tag(), "the request's tag");
        assertTrue(out.length >= AoeHeader.MIN_ETHERNET_FRAME, "padded to 60 bytes");
        return reply;
    }

    private void assertAoeError(final ByteBuffer reply, final int code)
    {
        final AoeHeader h = new AoeHeader().wrap(reply, 0);
        assertTrue(h.isError(), "E flag");
        assertEquals(code, h.error());
    }

    private void assertAta(final ByteBuffer reply, final int status, final int error, final int count)
    {
        assertFalse(new AoeHeader().wrap(reply, 0).isError(), "no AoE error");
        final AtaHeader a = new AtaHeader().wrap(reply, 0);
        assertEquals(status, a.cmdStatus(), "status");
        assertEquals(error, a.errFeature(), "error register");
        assertEquals(count, a.sectorCount(), "sector count");
    }

    private static void putMac(final byte[] b, final int at, final long mac)
    {
        for (int i = 0; i < 6; i++)
        {
            b[at + i] = (byte)(mac >>> (8 * (5 - i)));
        }
    }

    // ------------------------------------------------------------------------------- byte exact

    @Test
    void shouldAnswerCheckPowerByteForByte()
    {
        final ByteBuffer f = ata(A_MAC, AtaHeader.AFLAG_LBA48, AtaHeader.ATA_CHECK_POWER, 0, 0x0000_0102_0304_0506L);
        final int requestTag = tag;
        assertEquals(TargetResponder.REPLY, responder.handle(f, 60));
        final byte[] expected = new byte[60];
        putMac(expected, 0, A_MAC);
        putMac(expected, 6, TARGET_MAC);
        expected[12] = (byte)0x88;
        expected[13] = (byte)0xA2;
        expected[14] = 0x18;  // version 1, R
        expected[15] = 0;
        expected[16] = 0;
        expected[17] = SHELF;
        expected[18] = SLOT;
        expected[19] = AoeHeader.CMD_ATA;
        ByteBuffer.wrap(expected).putInt(20, requestTag);
        expected[24] = AtaHeader.AFLAG_LBA48;  // aflags echoed
        expected[25] = 0;                      // error register
        expected[26] = (byte)0xFF;             // active or idle
        expected[27] = 0x40;                   // DRDY
        for (int i = 0; i < 6; i++)
        {
            expected[28 + i] = (byte)(6 - i);  // the LBA echoed, little-endian
        }
        final byte[] actual = new byte[responder.replyLength()];
        responder.reply().get(0, actual);
        assertArrayEquals(expected, actual);
    }

    @Test
    void shouldEchoTheFirst24BytesWithAoeErrorByteForByte()
    {
        final ByteBuffer f = request(A_MAC, SHELF, SLOT, 9);
        f.put(30, (byte)0x5A);  // beyond the AoE header: not echoed
        final byte[] expected = new byte[60];
        f.get(0, expected, 0, AoeHeader.LENGTH);
        putMac(expected, 0, A_MAC);
        putMac(expected, 6, TARGET_MAC);
        expected[14] = 0x1C;  // version 1, R, E
        expected[15] = AoeHeader.ERR_UNRECOGNIZED_COMMAND;
        assertEquals(TargetResponder.REPLY, responder.handle(f, 60));
        final byte[] actual = new byte[responder.replyLength()];
        responder.reply().get(0, actual);
        assertArrayEquals(expected, actual);
        assertEquals(1, counters.aoeErrors.sum());
    }

    // --------------------------------------------------------------------------- addressing

    @Test
    void shouldDropResponsesOtherAddressesOtherEtherTypesAndShortFrames()
    {
        final ByteBuffer response = request(A_MAC, SHELF, SLOT, AoeHeader.CMD_CONFIG);
        new AoeHeader().wrap(response, 0).versionFlags(AoeHeader.VERSION, AoeHeader.FLAG_RESPONSE);
        assertEquals(TargetResponder.DROP, responder.handle(response, 60));
        assertEquals(TargetResponder.DROP, responder.handle(request(A_MAC, SHELF, SLOT + 1, AoeHeader.CMD_CONFIG), 60));
        assertEquals(TargetResponder.DROP, responder.handle(request(A_MAC, SHELF + 1, SLOT, AoeHeader.CMD_CONFIG), 60));
        final ByteBuffer ip = request(A_MAC, SHELF, SLOT, AoeHeader.CMD_CONFIG);
        new AoeHeader().wrap(ip, 0).etherType(0x0800);
        assertEquals(TargetResponder.DROP, responder.handle(ip, 60));
        assertEquals(4, counters.ignored.sum());
        assertEquals(TargetResponder.DROP, responder.handle(request(A_MAC, SHELF, SLOT, AoeHeader.CMD_CONFIG), AoeHeader.LENGTH - 1));
        assertEquals(1, counters.truncated.sum());
        assertEquals(5, counters.framesReceived.sum());
    }

    @Test
    void shouldAnswerTheWildcardsWithItsOwnAddress()
    {
        for (final int[] address : new int[][] {{0xFFFF, 0xFF}, {SHELF, 0xFF}, {0xFFFF, SLOT}})
        {
            final ByteBuffer f = request(A_MAC, address[0], address[1], AoeHeader.CMD_CONFIG);
            replyTo(f, AoeHeader.LENGTH);  // checks shelf and slot
        }
    }

    @Test
    void shouldAnswerAnotherVersionWithError5AndAnUnknownCommandWithError1()
    {
        final ByteBuffer v2 = ata(A_MAC, 0, AtaHeader.ATA_IDENTIFY, 1, 0);
        new AoeHeader().wrap(v2, 0).versionFlags(2, 0);
        final ByteBuffer r = replyTo(v2, 60);
        assertAoeError(r, AoeHeader.ERR_UNSUPPORTED_VERSION);
        assertEquals(AoeHeader.VERSION, new AoeHeader().wrap(r, 0).version(), "replies are version 1");
        assertAoeError(replyTo(request(A_MAC, SHELF, SLOT, 0xF0), 60), AoeHeader.ERR_UNRECOGNIZED_COMMAND);
        assertEquals(2, counters.aoeErrors.sum());
    }

    // ------------------------------------------------------------------------------------- ATA

    @Test
    void shouldAnswerIdentifyWithTheIdentifyData()
    {
        final ByteBuffer r = replyTo(ata(A_MAC, 0, AtaHeader.ATA_IDENTIFY, 1, 0), 60);
        assertAta(r, AoeTarget.STATUS_OK, 0, 0);
        assertEquals(AtaHeader.DATA_OFFSET + Identify.LENGTH, r.capacity());
        final byte[] data = new byte[Identify.LENGTH];
        r.get(AtaHeader.DATA_OFFSET, data);
        final byte[] expected = new byte[Identify.LENGTH];
        identifyData.get(0, expected);
        assertArrayEquals(expected, data);
        assertEquals(SECTORS, Identify.parse(r, AtaHeader.DATA_OFFSET).capacitySectors());
    }

    @Test
    void shouldQueueReadsWithLba48AndLba28Addresses()
    {
        assertEquals(TargetResponder.DISK, responder.handle(ata(A_MAC, AtaHeader.AFLAG_LBA48, AtaHeader.ATA_READ_EXT, 2, 2046), 60));
        assertEquals(TargetResponder.OP_READ, responder.diskOp());
        assertEquals(2046, responder.diskLba());
        assertEquals(2, responder.diskCount());
        assertEquals(AtaHeader.DATA_OFFSET, responder.diskCopyLength(), "a read needs only the headers");

        // Without the E flag only lba0-2 and the low nibble of lba3 count: 0xE0 (LBA mode) and lba4/5 are ignored.
        final ByteBuffer f = ata(A_MAC, 0, AtaHeader.ATA_READ, 1, 0x0000_07FFL);
        new AtaHeader().wrap(f, 0).lbaByte(3, 0xE0).lbaByte(4, 0x12).lbaByte(5, 0x34);
        assertEquals(TargetResponder.DISK, responder.handle(f, 60));
        assertEquals(0x7FF, responder.diskLba());
        assertEquals(1, responder.diskCount());

        // The E flag, not the opcode, decides: READ (0x20) with E addresses 48 bits.
        assertAta(replyTo(ata(A_MAC, AtaHeader.AFLAG_LBA48, AtaHeader.ATA_READ, 1, 1L << 40), 60), AoeTarget.STATUS_FAILED,
            AtaHeader.ERROR_IDNF, 1);
    }

    @Test
    void shouldQueueWritesWithTheirDataAndFlushes()
    {
        final ByteBuffer w = ata(A_MAC, AtaHeader.AFLAG_LBA48 | AtaHeader.AFLAG_WRITE, AtaHeader.ATA_WRITE_EXT, 2, 10);
        assertEquals(TargetResponder.DISK, responder.handle(w, AtaHeader.DATA_OFFSET + 2 * SECTOR));
        assertEquals(TargetResponder.OP_WRITE, responder.diskOp());
        assertEquals(10, responder.diskLba());
        assertEquals(AtaHeader.DATA_OFFSET + 2 * SECTOR, responder.diskCopyLength(), "headers and data");

        for (final int flush : new int[] {AtaHeader.ATA_FLUSH, AtaHeader.ATA_FLUSH_EXT})
        {
            assertEquals(TargetResponder.DISK, responder.handle(ata(A_MAC, 0, flush, 0, 0), 60));
            assertEquals(TargetResponder.OP_FLUSH, responder.diskOp());
            assertEquals(0, responder.diskCount());
        }
        assertEquals(3, counters.ataCommands.sum());
    }

    @Test
    void shouldCheckBoundsSectorCountsAndWriteLengths()
    {
        assertAta(replyTo(ata(A_MAC, AtaHeader.AFLAG_LBA48, AtaHeader.ATA_READ_EXT, 2, SECTORS - 1), 60), AoeTarget.STATUS_FAILED,
            AtaHeader.ERROR_IDNF, 2);
        assertAta(replyTo(ata(A_MAC, AtaHeader.AFLAG_LBA48, AtaHeader.ATA_READ_EXT, 1, SECTORS), 60), AoeTarget.STATUS_FAILED,
            AtaHeader.ERROR_IDNF, 1);
        assertAta(replyTo(ata(A_MAC, AtaHeader.AFLAG_LBA48, AtaHeader.ATA_READ_EXT, 1, (1L << 48) - 1), 60),
            AoeTarget.STATUS_FAILED, AtaHeader.ERROR_IDNF, 1);
        assertEquals(TargetResponder.DISK, responder.handle(ata(A_MAC, AtaHeader.AFLAG_LBA48, AtaHeader.ATA_READ_EXT, 1, SECTORS - 1), 60));
        assertEquals(3, counters.ataErrors.sum());

        // (1500 - 36) / 512 = 2 sectors per frame: 3 is a bad argument, the 36 header bytes echoed.
        final ByteBuffer three = replyTo(ata(A_MAC, AtaHeader.AFLAG_LBA48, AtaHeader.ATA_READ_EXT, 3, 0), 60);
        assertAoeError(three, AoeHeader.ERR_BAD_ARGUMENT);
        assertEquals(3, new AtaHeader().wrap(three, 0).sectorCount());
        assertEquals(60, three.capacity());
        // A write frame shorter than its sector count.
        assertAoeError(replyTo(ata(A_MAC, AtaHeader.AFLAG_LBA48 | AtaHeader.AFLAG_WRITE, AtaHeader.ATA_WRITE_EXT, 2, 0),
            AtaHeader.DATA_OFFSET + SECTOR), AoeHeader.ERR_BAD_ARGUMENT);
        // A zero-sector read or write succeeds at once.
        assertAta(replyTo(ata(A_MAC, AtaHeader.AFLAG_LBA48, AtaHeader.ATA_READ_EXT, 0, 5), 60), AoeTarget.STATUS_OK, 0, 0);
        assertEquals(60, responder.replyLength(), "no data");
        // An ATA header cut short is dropped.
        assertEquals(TargetResponder.DROP, responder.handle(ata(A_MAC, 0, AtaHeader.ATA_READ, 1, 0), AtaHeader.DATA_OFFSET - 1));
        assertEquals(1, counters.truncated.sum());
    }

    @Test
    void shouldCarryMoreSectorsOnAJumboNic()
    {
        responder = responder(TargetOptions.of(SHELF, SLOT, Path.of("unused.img")), 9000);
        assertEquals(17, TargetResponder.maxSectors(9000), "(9000 - 36) / 512");
        assertEquals(255, TargetResponder.maxSectors(200_000), "at most 255");
        assertEquals(TargetResponder.DISK, responder.handle(ata(A_MAC, AtaHeader.AFLAG_LBA48, AtaHeader.ATA_READ_EXT, 17, 0), 60));
        assertAoeError(replyTo(ata(A_MAC, AtaHeader.AFLAG_LBA48, AtaHeader.ATA_READ_EXT, 18, 0), 60), AoeHeader.ERR_BAD_ARGUMENT);
        final ByteBuffer c = replyTo(config(A_MAC, ConfigHeader.CCMD_READ, ""), 60);
        assertEquals(17, new ConfigHeader().wrap(c, 0).sectorCount());
    }

    @Test
    void shouldAbortUnknownCommandsAndWritesWhenReadOnly()
    {
        assertAta(replyTo(ata(A_MAC, 0, AtaHeader.ATA_SMART, 7, 0), 60), AoeTarget.STATUS_FAILED, AtaHeader.ERROR_ABRT, 7);

        responder = responder(TargetOptions.of(SHELF, SLOT, Path.of("unused.img")).withReadOnly(true), 1500);
        assertAta(replyTo(ata(A_MAC, AtaHeader.AFLAG_LBA48 | AtaHeader.AFLAG_WRITE, AtaHeader.ATA_WRITE_EXT, 1, 0),
            AtaHeader.DATA_OFFSET + SECTOR), AoeTarget.STATUS_FAILED, AtaHeader.ERROR_ABRT, 1);
        // Nothing was written that could need a sync: flushes succeed without the disk.
        assertAta(replyTo(ata(A_MAC, 0, AtaHeader.ATA_FLUSH, 0, 0), 60), AoeTarget.STATUS_OK, 0, 0);
        assertEquals(TargetResponder.DISK, responder.handle(ata(A_MAC, 0, AtaHeader.ATA_READ, 1, 0), 60), "reads still go to the disk");
    }

    // ---------------------------------------------------------------------------------- config

    @Test
    void shouldAnswerAConfigReadWithItsValues()
    {
        responder = responder(TargetOptions.of(SHELF, SLOT, Path.of("unused.img")).withBufferCount(5).withConfigString("abc"), 1500);
        final ByteBuffer r = replyTo(config(A_MAC, ConfigHeader.CCMD_READ, ""), 60);
        final ConfigHeader c = new ConfigHeader().wrap(r, 0);
        assertEquals(5, c.bufferCount());
        assertEquals(AoeTarget.FIRMWARE_VERSION, c.firmwareVersion());
        assertEquals(2, c.sectorCount());
        assertEquals(AoeHeader.VERSION, c.aoeVersion());
        assertEquals(ConfigHeader.CCMD_READ, c.ccmd());
        assertEquals("abc", c.configStringAsString());
        // A bare query, too short to hold the argument, is a read.
        assertEquals("abc", new ConfigHeader().wrap(replyTo(request(A_MAC, 0xFFFF, 0xFF, AoeHeader.CMD_CONFIG), AoeHeader.LENGTH), 0)
            .configStringAsString());
    }

    @Test
    void shouldTestPrefixSetAndForceSetTheConfigString()
    {
        final ByteBuffer set = replyTo(config(A_MAC, ConfigHeader.CCMD_SET, "rack-4"), configLength("rack-4"));
        assertFalse(new AoeHeader().wrap(set, 0).isError());
        assertEquals(ConfigHeader.CCMD_SET, new ConfigHeader().wrap(set, 0).ccmd(), "ccmd echoed");
        assertEquals("rack-4", new String(state.configString(), StandardCharsets.ISO_8859_1));

        final ByteBuffer again = replyTo(config(B_MAC, ConfigHeader.CCMD_SET, "other"), configLength("other"));
        assertAoeError(again, AoeHeader.ERR_CONFIG_STRING_PRESENT);
        assertEquals("rack-4", new ConfigHeader().wrap(again, 0).configStringAsString(), "the reply carries the string that stays");

        replyTo(config(A_MAC, ConfigHeader.CCMD_TEST, "rack-4"), configLength("rack-4"));
        assertEquals(TargetResponder.DROP, responder.handle(config(A_MAC, ConfigHeader.CCMD_TEST, "rack"), configLength("rack")));
        assertEquals(TargetResponder.DROP, responder.handle(config(A_MAC, ConfigHeader.CCMD_TEST, "rack-40"), configLength("rack-40")));
        replyTo(config(A_MAC, ConfigHeader.CCMD_TEST_PREFIX, "rack"), configLength("rack"));
        replyTo(config(A_MAC, ConfigHeader.CCMD_TEST_PREFIX, ""), configLength(""));
        assertEquals(TargetResponder.DROP, responder.handle(config(A_MAC, ConfigHeader.CCMD_TEST_PREFIX, "rock"), configLength("rock")));
        assertEquals(TargetResponder.DROP,
            responder.handle(config(A_MAC, ConfigHeader.CCMD_TEST_PREFIX, "rack-4-5"), configLength("rack-4-5")));

        final String max = "x".repeat(ConfigHeader.MAX_CONFIG_STRING);
        replyTo(config(A_MAC, ConfigHeader.CCMD_FORCE_SET, max), configLength(max));
        assertEquals(ConfigHeader.MAX_CONFIG_STRING, state.configString().length);
        assertEquals("", new ConfigHeader().wrap(replyTo(config(A_MAC, ConfigHeader.CCMD_FORCE_SET, ""), 60), 0).configStringAsString());
        assertEquals(0, state.configString().length);
    }

    @Test
    void shouldRefuseLongStringsUnknownCcmdsAndDropStringsBeyondTheFrame()
    {
        final ByteBuffer tooLong = config(A_MAC, ConfigHeader.CCMD_FORCE_SET, "");
        new ConfigHeader().wrap(tooLong, 0).configStringLength(ConfigHeader.MAX_CONFIG_STRING + 1);
        assertAoeError(replyTo(tooLong, ConfigHeader.lengthFor(ConfigHeader.MAX_CONFIG_STRING + 1)), AoeHeader.ERR_BAD_ARGUMENT);
        assertAoeError(replyTo(config(A_MAC, 9, ""), 60), AoeHeader.ERR_BAD_ARGUMENT);
        final ByteBuffer beyond = config(A_MAC, ConfigHeader.CCMD_FORCE_SET, "");
        new ConfigHeader().wrap(beyond, 0).configStringLength(100);
        assertEquals(TargetResponder.DROP, responder.handle(beyond, 60));
        assertEquals(1, counters.truncated.sum());
        assertEquals(0, state.configString().length);
    }

    @Test
    void shouldWriteTheAnnouncementAsAConfigResponseWithTagZero()
    {
        responder = responder(TargetOptions.of(SHELF, SLOT, Path.of("unused.img")).withConfigString("hello"), 1500);
        final ByteBuffer f = ByteBuffer.allocate(2000);
        final int length = responder.writeAnnouncement(f, A_MAC);
        assertEquals(Math.max(60, ConfigHeader.lengthFor(5)), length);
        final AoeHeader h = new AoeHeader().wrap(f, 0);
        assertEquals(A_MAC, h.dst());
        assertEquals(TARGET_MAC, h.src());
        assertTrue(h.isResponse());
        assertEquals(0, h.tag());
        assertEquals(AoeHeader.CMD_CONFIG, h.command());
        assertEquals("hello", new ConfigHeader().wrap(f, 0).configStringAsString());
        assertEquals(0, counters.framesReceived.sum(), "announcing is not handling a frame");
    }

    // ------------------------------------------------------------------------------------ masks

    @Test
    void shouldEditTheMaskListAndIgnoreOtherMacsWhileItIsNotEmpty()
    {
        final ByteBuffer add = mask(A_MAC, MacMaskHeader.MCMD_EDIT, new int[] {MacMaskHeader.DCMD_ADD, MacMaskHeader.DCMD_ADD},
            new long[] {A_MAC, A_MAC});
        final ByteBuffer r = replyTo(add, Math.max(60, MacMaskHeader.lengthFor(2)));
        final MacMaskHeader m = new MacMaskHeader().wrap(r, 0);
        assertEquals(0, m.merror());
        assertEquals(1, m.directiveCount(), "added once");
        assertEquals(A_MAC, m.mac(0));
        assertEquals(MacMaskHeader.DCMD_NONE, m.dcmd(0));
        assertArrayEquals(new long[] {A_MAC}, state.masks());

        assertEquals(TargetResponder.DROP, responder.handle(ata(B_MAC, 0, AtaHeader.ATA_IDENTIFY, 1, 0), 60), "B is masked");
        assertEquals(TargetResponder.DROP, responder.handle(config(B_MAC, ConfigHeader.CCMD_READ, ""), 60));
        assertEquals(2, counters.masked.sum());
        replyTo(ata(A_MAC, 0, AtaHeader.ATA_IDENTIFY, 1, 0), 60);

        final ByteBuffer read = replyTo(mask(A_MAC, MacMaskHeader.MCMD_READ, new int[0], new long[0]), 60);
        assertEquals(1, new MacMaskHeader().wrap(read, 0).directiveCount());

        replyTo(mask(A_MAC, MacMaskHeader.MCMD_EDIT, new int[] {MacMaskHeader.DCMD_DELETE}, new long[] {A_MAC}), 60);
        assertEquals(0, state.masks().length);
        replyTo(ata(B_MAC, 0, AtaHeader.ATA_IDENTIFY, 1, 0), 60);
    }

    @Test
    void shouldStopAMaskEditAtABadDirectiveOrAFullListKeepingTheEarlierOnes()
    {
        final ByteBuffer bad = mask(A_MAC, MacMaskHeader.MCMD_EDIT, new int[] {MacMaskHeader.DCMD_ADD, 7, MacMaskHeader.DCMD_ADD},
            new long[] {A_MAC, B_MAC, B_MAC});
        final MacMaskHeader m = new MacMaskHeader().wrap(replyTo(bad, 60), 0);
        assertEquals(MacMaskHeader.MERROR_BAD_DCMD, m.merror());
        assertArrayEquals(new long[] {A_MAC}, state.masks(), "the add before the bad directive stays, the one after is not applied");

        final int[] adds = new int[MacMaskHeader.MAX_MASKS];
        final long[] macs = new long[MacMaskHeader.MAX_MASKS];
        Arrays.fill(adds, MacMaskHeader.DCMD_ADD);
        for (int i = 0; i < macs.length; i++)
        {
            macs[i] = 0x02_00_00_00_10_00L + i;
        }
        final ByteBuffer full = replyTo(mask(A_MAC, MacMaskHeader.MCMD_EDIT, adds, macs), MacMaskHeader.lengthFor(adds.length));
        final MacMaskHeader f = new MacMaskHeader().wrap(full, 0);
        assertEquals(MacMaskHeader.MERROR_LIST_FULL, f.merror());
        assertEquals(MacMaskHeader.MAX_MASKS, f.directiveCount());
        assertEquals(MacMaskHeader.MAX_MASKS, state.masks().length);

        assertAoeError(replyTo(mask(A_MAC, 5, new int[0], new long[0]), 60), AoeHeader.ERR_BAD_ARGUMENT);
        final ByteBuffer cut = mask(A_MAC, MacMaskHeader.MCMD_EDIT, new int[] {MacMaskHeader.DCMD_ADD}, new long[] {B_MAC});
        assertEquals(TargetResponder.DROP, responder.handle(cut, MacMaskHeader.LENGTH + 4), "a directive cut short");
    }

    // ------------------------------------------------------------------------------ reservations

    @Test
    void shouldReserveReleaseAndRefuseOthersExceptIdentify()
    {
        final ByteBuffer set = replyTo(reserve(A_MAC, ReserveHeader.RCMD_SET, A_MAC, A_MAC), 60);
        assertFalse(new AoeHeader().wrap(set, 0).isError());
        assertEquals(1, new ReserveHeader().wrap(set, 0).macCount(), "listed once");
        assertArrayEquals(new long[] {A_MAC}, state.reservations());

        final ByteBuffer other = ata(B_MAC, AtaHeader.AFLAG_LBA48, AtaHeader.ATA_READ_EXT, 1, 0);
        final ByteBuffer refused = replyTo(other, 60);
        assertAoeError(refused, AoeHeader.ERR_TARGET_RESERVED);
        assertEquals(AtaHeader.ATA_READ_EXT, new AtaHeader().wrap(refused, 0).cmdStatus(), "the ATA header is echoed");
        assertAta(replyTo(ata(B_MAC, 0, AtaHeader.ATA_IDENTIFY, 1, 0), 60), AoeTarget.STATUS_OK, 0, 0);
        assertEquals(TargetResponder.DISK, responder.handle(ata(A_MAC, AtaHeader.AFLAG_LBA48, AtaHeader.ATA_READ_EXT, 1, 0), 60));

        final ByteBuffer steal = replyTo(reserve(B_MAC, ReserveHeader.RCMD_SET, B_MAC), 60);
        assertAoeError(steal, AoeHeader.ERR_TARGET_RESERVED);
        assertEquals(A_MAC, new ReserveHeader().wrap(steal, 0).mac(0), "the reply lists who holds it");
        assertArrayEquals(new long[] {A_MAC}, state.reservations());

        replyTo(reserve(B_MAC, ReserveHeader.RCMD_FORCE_SET, B_MAC), 60);
        assertArrayEquals(new long[] {B_MAC}, state.reservations());
        assertEquals(B_MAC, new ReserveHeader().wrap(replyTo(reserve(A_MAC, ReserveHeader.RCMD_READ), 60), 0).mac(0));

        replyTo(reserve(B_MAC, ReserveHeader.RCMD_SET), 60);  // released by its holder
        assertEquals(0, state.reservations().length);
        assertEquals(TargetResponder.DISK, responder.handle(ata(A_MAC, AtaHeader.AFLAG_LBA48, AtaHeader.ATA_READ_EXT, 1, 0), 60));

        assertAoeError(replyTo(reserve(A_MAC, 9), 60), AoeHeader.ERR_BAD_ARGUMENT);
        assertEquals(TargetResponder.DROP, responder.handle(reserve(A_MAC, ReserveHeader.RCMD_SET, A_MAC, B_MAC), ReserveHeader.LENGTH + 6),
            "a list cut short");
    }
}
