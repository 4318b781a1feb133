package org.aoemp.tools;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.io.PrintWriter;
import java.io.RandomAccessFile;
import java.io.StringWriter;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.List;
import java.util.Map;

import org.aoemp.testing.BulkIo;
import org.aoemp.testing.Prerequisites;
import org.aoemp.testing.RealPeer;
import org.aoemp.testing.VethRig;
import org.aoemp.util.JsonText;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;
import picocli.CommandLine;

/** {@code aoe bench eX.Y -i IF} against a real vblade over a veth pair (root). */
@RealPeer
class BenchVbladeTest
{
    @TempDir
    Path dir;

    @SuppressWarnings("unchecked")
    @Test
    void benchesVbladeOverVethWithVerify() throws Exception
    {
        Prerequisites.requireRoot();
        Prerequisites.requireCommand("vblade", "vblade");
        final Path disk = dir.resolve("disk.img");
        BulkIo.sparseFile(disk, 16 << 20);
        try (VethRig rig = VethRig.builder().pairs(1).build())
        {
            rig.startVblade(4, 2, 0, disk);
            final StringWriter out = new StringWriter();
            final StringWriter err = new StringWriter();
            final CommandLine cl = AoeCommand.commandLine();
            cl.setOut(new PrintWriter(out, true));
            cl.setErr(new PrintWriter(err, true));
            final int exit = cl.execute("bench", "e4.2", "-i", rig.initiatorIf(0), "--rw", "randrw", "--verify", "--size", "1M", "--qd", "4",
                "--duration", "1500ms", "--warmup", "200ms", "--json");
            assertEquals(0, exit, err.toString());
            final Map<String, Object> j = (Map<String, Object>)JsonText.parse(out.toString());
            assertEquals("e4.2", j.get("device"));
            assertTrue(((Number)j.get("ops")).longValue() > 50, out.toString());
            final Map<String, Object> verify = (Map<String, Object>)j.get("verify");
            assertEquals(0L, verify.get("bad_sectors"));
            assertTrue(((Number)verify.get("sectors_checked")).longValue() > 0, verify.toString());
            final List<Map<String, Object>> paths = (List<Map<String, Object>>)j.get("paths");
            assertEquals(1, paths.size(), paths.toString());
            assertEquals(rig.initiatorIf(0), paths.getFirst().get("interface"));
            // 4 KiB at MTU 1500 is 4 frames of 2 sectors. The path counters are deltas sampled at
            // the window's edges, the ops those that started in it; at 20k+ ops/s a sampling skew
            // of a millisecond is dozens of frames, so the check is on the ratio: 4, not 8 (one
            // sector per frame) or 1 or 2 (more sectors than the MTU carries).
            final double framesPerOp = ((Number)paths.getFirst().get("frames_sent")).doubleValue()
                / ((Number)j.get("ops")).doubleValue();
            assertTrue(framesPerOp > 3.5 && framesPerOp < 4.5, framesPerOp + " frames per op: " + paths);
            // what --verify wrote is really in vblade's file, where it says it is
            final byte[] sector = new byte[512];
            boolean found = false;
            try (RandomAccessFile raf = new RandomAccessFile(disk.toFile(), "r"))
            {
                for (long off = 0; off < (1 << 20) && !found; off += 4096)
                {
                    raf.seek(off);
                    raf.readFully(sector);
                    final long stamped = java.nio.ByteBuffer.wrap(sector).order(java.nio.ByteOrder.LITTLE_ENDIAN).getLong(0);
                    found = stamped == off;
                }
            }
            assertTrue(found, "a verify pattern carrying its own offset in the backing file");
            assertTrue(Files.size(disk) == 16 << 20);
        }
    }
}
