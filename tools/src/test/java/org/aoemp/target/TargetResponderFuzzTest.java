package org.aoemp.target;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;
import static org.junit.jupiter.api.Assertions.fail;

import java.nio.ByteBuffer;
import java.nio.charset.StandardCharsets;
import java.nio.file.Path;

import com.code_intelligence.jazzer.junit.FuzzTest;
import org.aoemp.protocol.AoeHeader;
import org.aoemp.protocol.AtaHeader;
import org.aoemp.protocol.ConfigHeader;
import org.aoemp.protocol.Identify;
import org.aoemp.protocol.MacMaskHeader;

/**
 * Coverage-guided fuzzing of the target's frame handler: a fresh {@link TargetResponder} is handed
 * a sequence of arbitrary frames (so config string, mask list and reservation change between
 * them). Whatever arrives: {@link TargetResponder#handle} never throws and never writes into the
 * received frame; a reply goes back to the sender from this NIC with the request's tag, the
 * target's own address and the response flag, within the transmit buffer; a disk command stays
 * inside the disk and within what one frame of this MTU carries, and a write copies only bytes
 * the frame holds.
 *
 * <p>Input layout (easy to write seeds for): byte 0 picks the MTU (bit 0: 9000, else 1500) and
 * read-only (bit 1); then frames, each a big-endian u16 length and that many bytes (cut short at
 * the end of the input). {@code mvn verify} replays the committed corpus in
 * {@code src/test/resources/org/aoemp/target/TargetResponderFuzzTestInputs/}; {@code bench/fuzz.sh
 * target-responder DURATION} fuzzes for real.
 */
class TargetResponderFuzzTest
{
    private static final long TARGET_MAC = 0x02_00_00_00_00_01L;
    private static final int SHELF = 7;
    private static final int SLOT = 3;
    private static final long SECTORS = 2048;
    private static final int MAX_FRAMES = 64;

    @FuzzTest
    void handle(final byte[] input)
    {
        if (input.length == 0)
        {
            return;
        }
        final int mtu = (input[0] & 1) != 0 ? 9000 : 1500;
        final boolean readOnly = (input[0] & 2) != 0;
        final TargetOptions options = TargetOptions.of(SHELF, SLOT, Path.of("unused.img")).withReadOnly(readOnly);
        final TargetState state = new TargetState(new long[0], options.configString().getBytes(StandardCharsets.ISO_8859_1));
        final ByteBuffer identifyData = ByteBuffer.allocate(Identify.LENGTH);
        Identify.write(identifyData, 0, SECTORS, AoeTarget.MODEL, "fuzz", AoeTarget.FIRMWARE);
        final TargetResponder responder = new TargetResponder(options, SECTORS, identifyData, state, new TargetCounters(),
            TARGET_MAC, mtu);

        int at = 1;
        for (int frames = 0; frames < MAX_FRAMES && at + 2 <= input.length; frames++)
        {
            final int declared = (input[at] & 0xFF) << 8 | input[at + 1] & 0xFF;
            at += 2;
            final int length = Math.min(declared, input.length - at);
            // A receive buffer as the transports have it: the frame, then stale bytes up to the MTU.
            final ByteBuffer frame = ByteBuffer.allocate(Math.max(length, mtu + 14));
            frame.put(0, input, at, length);
            at += length;
            final byte[] before = new byte[frame.capacity()];
            frame.get(0, before);

            final int verdict = responder.handle(frame, length);

            final byte[] after = new byte[frame.capacity()];
            frame.get(0, after);
            assertArrayEquals(before, after, "the received frame is only read");
            switch (verdict)
            {
                case TargetResponder.DROP -> { }
                case TargetResponder.REPLY -> checkReply(responder, frame);
                case TargetResponder.DISK -> checkDisk(responder, frame, length, mtu, readOnly);
                default -> fail("unknown verdict " + verdict);
            }
            assertTrue(state.configString().length <= ConfigHeader.MAX_CONFIG_STRING, "config string within 1024 bytes");
            assertTrue(state.masks().length <= MacMaskHeader.MAX_MASKS, "at most 32 masks");
        }
    }

    private static void checkReply(final TargetResponder responder, final ByteBuffer request)
    {
        final int n = responder.replyLength();
        final ByteBuffer tx = responder.reply();
        assertTrue(n >= AoeHeader.MIN_ETHERNET_FRAME && n <= tx.capacity(), "reply length " + n);
        final AoeHeader in = new AoeHeader().wrap(request, 0);
        final AoeHeader out = new AoeHeader().wrap(tx, 0);
        assertEquals(AoeHeader.ETHERTYPE, out.etherType());
        assertTrue(out.isResponse(), "response flag");
        assertEquals(AoeHeader.VERSION, out.version());
        assertEquals(in.src(), out.dst(), "back to the sender");
        assertEquals(TARGET_MAC, out.src(), "from this NIC");
        assertEquals(in.tag(), out.tag(), "the request's tag");
        assertEquals(in.command(), out.command(), "the request's command");
        assertEquals(SHELF, out.shelf(), "our own shelf, never the wildcard");
        assertEquals(SLOT, out.slot(), "our own slot, never the wildcard");
    }

    private static void checkDisk(final TargetResponder responder, final ByteBuffer request, final int length, final int mtu,
        final boolean readOnly)
    {
        final int op = responder.diskOp();
        final int copy = responder.diskCopyLength();
        assertTrue(copy >= AtaHeader.DATA_OFFSET && copy <= length, "copies " + copy + " of a " + length + "-byte frame");
        switch (op)
        {
            case TargetResponder.OP_FLUSH -> assertEquals(0, responder.diskCount());
            case TargetResponder.OP_READ, TargetResponder.OP_WRITE ->
            {
                final long lba = responder.diskLba();
                final int count = responder.diskCount();
                assertTrue(count >= 1 && count <= TargetResponder.maxSectors(mtu), "count " + count + " for MTU " + mtu);
                assertTrue(lba >= 0 && lba + count <= SECTORS, "sectors " + lba + "+" + count + " inside the disk");
                if (op == TargetResponder.OP_WRITE)
                {
                    assertTrue(!readOnly, "no write reaches the disk of a read-only target");
                    assertEquals(AtaHeader.DATA_OFFSET + count * AtaHeader.SECTOR_SIZE, copy, "a write copies its data");
                }
            }
            default -> fail("unknown disk op " + op);
        }
    }
}
