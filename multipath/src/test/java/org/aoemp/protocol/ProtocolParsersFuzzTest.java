package org.aoemp.protocol;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.nio.ByteBuffer;

import com.code_intelligence.jazzer.api.FuzzedDataProvider;
import com.code_intelligence.jazzer.junit.FuzzTest;

/**
 * Coverage-guided fuzzing of the frame parsers every received frame goes through (AoE header,
 * Query Config argument and string, MAC mask list, reserve list, ATA header) and of IDENTIFY.
 * Any bytes: the validity checks never throw, and whatever they accept can be read to its end
 * without leaving the frame. IDENTIFY: any 512 bytes parse, and what {@link Identify#write}
 * writes parses back to the same values.
 *
 * <p>{@code mvn verify} runs these over the committed corpus in
 * {@code src/test/resources/org/aoemp/protocol/ProtocolParsersFuzzTestInputs/}; {@code bench/fuzz.sh}
 * fuzzes them for real.
 */
class ProtocolParsersFuzzTest
{
    @FuzzTest
    void frameHeaders(final byte[] bytes)
    {
        final ByteBuffer frame = ByteBuffer.wrap(bytes);
        final int length = bytes.length;

        final AoeHeader aoe = new AoeHeader().wrap(frame, 0);
        if (!aoe.isAoeV1(length))
        {
            return;
        }
        aoe.dst();
        aoe.src();
        aoe.flags();
        aoe.error();
        aoe.shelf();
        aoe.slot();
        aoe.tag();

        switch (aoe.command())
        {
            case AoeHeader.CMD_CONFIG ->
            {
                final ConfigHeader c = new ConfigHeader().wrap(frame, 0);
                if (c.isValid(length))
                {
                    final int n = c.configStringLength();
                    assertTrue(n <= ConfigHeader.MAX_CONFIG_STRING && ConfigHeader.lengthFor(n) <= length, "string inside the frame");
                    assertEquals(n, c.configStringAsString().length());
                    final byte[] dst = new byte[ConfigHeader.MAX_CONFIG_STRING];
                    assertEquals(n, c.configString(dst));
                    assertTrue(c.effectiveSectorCount() >= 1);
                    c.bufferCount();
                    c.firmwareVersion();
                    c.aoeVersion();
                    c.ccmd();
                }
            }
            case AoeHeader.CMD_MAC_MASK ->
            {
                final MacMaskHeader m = new MacMaskHeader().wrap(frame, 0);
                if (m.isValid(length))
                {
                    m.mcmd();
                    m.merror();
                    for (int i = 0; i < m.directiveCount(); i++)
                    {
                        m.dcmd(i);
                        m.mac(i);
                    }
                }
            }
            case AoeHeader.CMD_RESERVE ->
            {
                final ReserveHeader r = new ReserveHeader().wrap(frame, 0);
                if (r.isValid(length))
                {
                    r.rcmd();
                    for (int i = 0; i < r.macCount(); i++)
                    {
                        r.mac(i);
                    }
                }
            }
            case AoeHeader.CMD_ATA ->
            {
                if (length >= AtaHeader.DATA_OFFSET)
                {
                    final AtaHeader a = new AtaHeader().wrap(frame, 0);
                    a.aflags();
                    a.errFeature();
                    a.sectorCount();
                    a.cmdStatus();
                    a.lba();
                    a.lba28();
                    a.failed();
                    if (length >= AtaHeader.DATA_OFFSET + Identify.LENGTH)
                    {
                        Identify.parse(frame, AtaHeader.DATA_OFFSET);
                    }
                }
            }
            default ->
            {
                // Other commands have no argument to parse.
            }
        }
    }

    @FuzzTest
    void identify(final FuzzedDataProvider data)
    {
        final ByteBuffer block = ByteBuffer.allocate(Identify.LENGTH);
        if (data.consumeBoolean())
        {
            // Any 512 bytes a target may send: parses, strings trimmed and no longer than their field.
            block.put(0, data.consumeBytes(Identify.LENGTH));
            final Identify id = Identify.parse(block, 0);
            assertTrue(id.model().length() <= Identify.MODEL_LENGTH);
            assertTrue(id.serial().length() <= Identify.SERIAL_LENGTH);
            assertTrue(id.firmware().length() <= Identify.FIRMWARE_LENGTH);
            assertEquals(id.model().trim(), id.model(), "trimmed");
            return;
        }
        // What our target writes parses back to what it was given.
        final long sectors = data.consumeLong(1, AtaHeader.LBA48_LIMIT);
        final String model = printable(data.consumeString(Identify.MODEL_LENGTH));
        final String serial = printable(data.consumeString(Identify.SERIAL_LENGTH));
        final String firmware = printable(data.consumeString(Identify.FIRMWARE_LENGTH));
        Identify.write(block, 0, sectors, model, serial, firmware);
        final Identify id = Identify.parse(block, 0);
        assertTrue(id.lba48());
        assertEquals(sectors, id.capacitySectors());
        assertEquals(model.trim(), id.model());
        assertEquals(serial.trim(), id.serial());
        assertEquals(firmware.trim(), id.firmware());
    }

    /** Printable ASCII only: {@link Identify#write} turns anything else into '?', by design. */
    private static String printable(final String s)
    {
        final StringBuilder b = new StringBuilder(s.length());
        for (int i = 0; i < s.length(); i++)
        {
            final char c = s.charAt(i);
            b.append(c >= 0x20 && c < 0x7F ? c : ' ');
        }
        return b.toString();
    }
}
