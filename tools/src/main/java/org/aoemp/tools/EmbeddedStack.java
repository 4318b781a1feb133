package org.aoemp.tools;

import java.io.IOException;
import java.io.PrintWriter;
import java.io.RandomAccessFile;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.util.List;
import java.util.Map;

import org.aoemp.block.BlockDevice;
import org.aoemp.initiator.AoeDevice;
import org.aoemp.initiator.DeviceOptions;
import org.aoemp.initiator.Initiator;
import org.aoemp.initiator.TargetAddress;
import org.aoemp.target.AoeTarget;
import org.aoemp.target.TargetOptions;
import org.aoemp.transport.MemoryHub;
import org.aoemp.util.Format;

/**
 * The whole stack in one process with no hardware and no root: an AoE target (e0.1) on a sparse
 * file behind two in-memory "cables" (one {@link MemoryHub} each, jumbo MTU), and the multipath
 * initiator over both, so every request really travels as AoE frames over two paths.
 */
final class EmbeddedStack
{
    static final TargetAddress ADDRESS = new TargetAddress(0, 1);
    private static final int MTU = 9000;

    /** Tests only: installed on both in-memory cables when set (to delay, drop or corrupt frames). */
    static volatile MemoryHub.Interceptor testInterceptor;

    private EmbeddedStack()
    {
    }

    /** Starts target and initiator; adds what must be closed to {@code resources}; returns the export. */
    static Map<String, BlockDevice> start(final Path disk, final long size, final Duration deadAfter, final List<AutoCloseable> resources,
        final PrintWriter out) throws IOException, InterruptedException, org.aoemp.block.IoError
    {
        if (!Files.exists(disk))
        {
            if (size <= 0 || size % 512 != 0)
            {
                throw new IllegalArgumentException("--size must be a positive multiple of 512");
            }
            try (RandomAccessFile raf = new RandomAccessFile(disk.toFile(), "rw"))
            {
                raf.setLength(size);
            }
            out.printf("created sparse disk %s (%s)%n", disk, Format.bytes(size));
        }
        else
        {
            out.printf("using existing disk %s (%s)%n", disk, Format.bytes(Files.size(disk)));
        }
        final MemoryHub cableA = new MemoryHub();
        final MemoryHub cableB = new MemoryHub();
        resources.add(cableA);
        resources.add(cableB);
        final MemoryHub.Interceptor intercept = testInterceptor;
        if (intercept != null)
        {
            cableA.interceptor(intercept);
            cableB.interceptor(intercept);
        }
        final AoeTarget target = AoeTarget.start(TargetOptions.of(ADDRESS.shelf(), ADDRESS.slot(), disk),
            List.of(cableA.attach("tgt-a", 0x02_00_00_00_01_01L, MTU), cableB.attach("tgt-b", 0x02_00_00_00_01_02L, MTU)));
        resources.add(target);
        final Initiator initiator = Initiator.start(List.of(cableA.attach("ini-a", 0x02_00_00_00_00_01L, MTU),
            cableB.attach("ini-b", 0x02_00_00_00_00_02L, MTU)), Duration.ofSeconds(60));
        resources.add(initiator);
        final AoeDevice device = initiator.open(ADDRESS, DeviceOptions.defaults().withDeadAfter(deadAfter));
        out.printf("embedded AoE target %s on %s, reached over %d in-memory paths, %d sectors per frame%n", ADDRESS, disk,
            device.pathStats().size(), device.sectorsPerCommand());
        return Map.of(ADDRESS.toString(), device);
    }
}
