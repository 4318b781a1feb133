package org.aoemp.tools;

import java.io.InputStream;
import java.io.PrintWriter;
import java.nio.ByteBuffer;
import java.nio.channels.Channels;
import java.nio.channels.FileChannel;
import java.nio.channels.ReadableByteChannel;
import java.nio.channels.WritableByteChannel;
import java.nio.file.Files;
import java.nio.file.NoSuchFileException;
import java.nio.file.Path;
import java.nio.file.StandardOpenOption;
import java.security.MessageDigest;
import java.security.NoSuchAlgorithmException;
import java.util.ArrayDeque;
import java.util.HexFormat;
import java.util.List;
import java.util.Locale;
import java.util.concurrent.Callable;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.ExecutionException;
import java.util.regex.Pattern;

import org.aoemp.block.IoError;
import org.aoemp.initiator.AoeDevice;
import org.aoemp.initiator.DeviceOptions;
import org.aoemp.initiator.Initiator;
import org.aoemp.initiator.TargetAddress;
import org.aoemp.protocol.AoeHeader;
import org.aoemp.protocol.MacAddress;
import org.aoemp.util.Format;
import picocli.CommandLine.Command;
import picocli.CommandLine.Mixin;
import picocli.CommandLine.Option;
import picocli.CommandLine.Parameters;
import picocli.CommandLine.Spec;
import picocli.CommandLine.Model.CommandSpec;

/** {@code aoe copy}: between a target and a file or a pipe, with progress, rate and optional verification. */
@Command(name = "copy", mixinStandardHelpOptions = true,
    description = {"Copy between an AoE target (eSHELF.SLOT) and a file, block device or pipe ('-' is stdin/stdout).",
        "Exactly one side is a target. --offset and --length select the range on the target (multiples of 512; the "
            + "length defaults to the file's size, or to the rest of the target). Progress goes to stderr. --verify reads "
            + "the range back and compares SHA-256 digests."})
final class CopyCommand implements Callable<Integer>
{
    private static final Pattern TARGET = Pattern.compile("e\\d+\\.\\d+");

    @Parameters(index = "0", paramLabel = "SRC")
    String source;

    @Parameters(index = "1", paramLabel = "DST")
    String destination;

    @Mixin
    NetworkOptions net;

    @Option(names = "--offset", paramLabel = "BYTES", converter = Units.SizeConverter.class, defaultValue = "0",
        description = "Byte offset on the target (multiple of 512).")
    long offset;

    @Option(names = "--length", paramLabel = "BYTES", converter = Units.SizeConverter.class,
        description = "Bytes to copy (multiple of 512).")
    Long lengthOption;

    /** Bytes to copy: the option, or -1 until the copy has decided (file size or rest of the target). */
    private long length = -1;

    @Option(names = "--bs", paramLabel = "BYTES", converter = Units.SizeConverter.class, defaultValue = "1M",
        description = "Request size. Default: ${DEFAULT-VALUE}.")
    long blockSize;

    @Option(names = "--qd", paramLabel = "N", defaultValue = "8", description = "Requests in flight. Default: ${DEFAULT-VALUE}.")
    int queueDepth;

    @Option(names = "--verify", description = "Read the range back afterwards and compare digests.")
    boolean verify;

    @Option(names = "--dead-after", paramLabel = "DURATION", converter = Units.DurationConverter.class, defaultValue = "60s",
        description = "Fail when no path answered for this long (0 = never). Default: ${DEFAULT-VALUE}.")
    java.time.Duration deadAfter;

    @Mixin
    TargetMacs macs;

    @Spec
    CommandSpec spec;

    private long done;
    private long startNanos;
    private long lastProgressNanos;

    @Override
    public Integer call() throws Exception
    {
        final boolean toTarget = TARGET.matcher(destination).matches();
        final boolean fromTarget = TARGET.matcher(source).matches();
        if (toTarget == fromTarget)
        {
            throw new IllegalArgumentException("exactly one of SRC and DST must be a target eSHELF.SLOT (got '" + source + "' and '"
                + destination + "')");
        }
        if (lengthOption != null)
        {
            length = lengthOption;
        }
        if (offset % 512 != 0 || length != -1 && length % 512 != 0 || blockSize <= 0 || blockSize % 512 != 0
            || blockSize > 32 << 20)
        {
            throw new IllegalArgumentException("--offset, --length and --bs must be multiples of 512 (bs at most 32M)");
        }
        if (queueDepth < 1 || queueDepth > 256)
        {
            throw new IllegalArgumentException("--qd must be 1..256");
        }
        if (toTarget && !"-".equals(source) && !Files.exists(Path.of(source)))
        {
            throw new NoSuchFileException(source, null, "no such file");
        }
        final TargetAddress address = TargetAddress.parse(toTarget ? destination : source);
        try (Initiator initiator = net.openInitiator();
             AoeDevice device = initiator.open(address, DeviceOptions.defaults().withOpenTimeout(net.timeout).withDeadAfter(deadAfter),
                 macs.parse()))
        {
            final List<String> notice = TargetMacs.conflictNotice(device);
            if (!notice.isEmpty())
            {
                notice.forEach(line -> spec.commandLine().getErr().println("aoe copy: " + line));
                spec.commandLine().getErr().flush();
            }
            if (offset > device.size())
            {
                throw new IllegalArgumentException("--offset " + offset + " is beyond the end of " + address + " (" + device.size() + " bytes)");
            }
            try
            {
                final String digest = toTarget ? fileToTarget(device) : targetToFile(device);
                report();
                if (verify)
                {
                    return verify(device, digest, toTarget) ? 0 : AoeCommand.EXIT_FAILURE;
                }
                return 0;
            }
            catch (final IoError e)
            {
                throw namingTheHolder(e, initiator, address);
            }
        }
    }

    /** An I/O the target refused because another host reserved it: the same error, saying which MACs hold it. */
    private IoError namingTheHolder(final IoError e, final Initiator initiator, final TargetAddress address) throws InterruptedException
    {
        if (e.getMessage() == null || !e.getMessage().contains(AoeHeader.errorName(AoeHeader.ERR_TARGET_RESERVED)))
        {
            return e;
        }
        final List<MacAddress> holders = TargetReservation.holders(initiator, address, net.timeout);
        return new IoError(e.errno(), address + " is reserved by " + (holders.isEmpty() ? "another host" : TargetReservation.describe(holders)
            + " (another host)") + "; this host's I/O is refused until it releases the target: " + e.getMessage());
    }

    private String fileToTarget(final AoeDevice device) throws Exception
    {
        final boolean stdin = "-".equals(source);
        final long fileSize = stdin ? -1 : Files.size(Path.of(source));
        final long max = device.size() - offset;
        final long total = length >= 0 ? length : fileSize >= 0 ? fileSize : max;
        if (total > max)
        {
            throw new IllegalArgumentException(total + " bytes do not fit in " + device.name() + " after offset " + offset + " ("
                + max + " bytes left)");
        }
        final MessageDigest sha = sha256();
        try (InputStream in = stdin ? System.in : Files.newInputStream(Path.of(source));
             ReadableByteChannel ch = Channels.newChannel(in))
        {
            final ArrayDeque<CompletableFuture<Void>> inFlight = new ArrayDeque<>();
            startNanos = System.nanoTime();
            long position = 0;
            while (position < total)
            {
                final int want = (int)Math.min(blockSize, total - position);
                final ByteBuffer buf = ByteBuffer.allocateDirect(want);
                while (buf.hasRemaining() && ch.read(buf) >= 0)
                {
                    // fill the block
                }
                if (buf.position() == 0)
                {
                    break; // end of input
                }
                final int got = buf.position();
                final int padded = (got + 511) & ~511;
                if (padded != got)
                {
                    if (padded > buf.capacity())
                    {
                        throw new IllegalStateException("internal: block not a sector multiple");
                    }
                    buf.limit(padded);
                    while (buf.hasRemaining())
                    {
                        buf.put((byte)0); // a partial last sector is written zero-padded
                    }
                }
                buf.flip();
                sha.update(buf.duplicate());
                if (inFlight.size() >= queueDepth)
                {
                    await(inFlight.poll());
                }
                final long at = offset + position;
                inFlight.add(device.writeAsync(at, buf).thenRun(() -> progress(padded)));
                position += padded;
                if (got < want)
                {
                    break;
                }
            }
            while (!inFlight.isEmpty())
            {
                await(inFlight.poll());
            }
            length = position;
        }
        await(device.flushAsync());
        return HexFormat.of().formatHex(sha.digest());
    }

    private String targetToFile(final AoeDevice device) throws Exception
    {
        final long total = length >= 0 ? length : device.size() - offset;
        if (total > device.size() - offset)
        {
            throw new IllegalArgumentException("--length " + total + " goes beyond the end of " + device.name());
        }
        final boolean stdout = "-".equals(destination);
        final MessageDigest sha = sha256();
        final WritableByteChannel ch = stdout ? Channels.newChannel(System.out) : FileChannel.open(Path.of(destination),
            StandardOpenOption.CREATE, StandardOpenOption.WRITE, StandardOpenOption.TRUNCATE_EXISTING);
        try
        {
            final ArrayDeque<Block> inFlight = new ArrayDeque<>();
            startNanos = System.nanoTime();
            long position = 0;
            while (position < total || !inFlight.isEmpty())
            {
                while (position < total && inFlight.size() < queueDepth)
                {
                    final int n = (int)Math.min(blockSize, total - position);
                    final ByteBuffer buf = ByteBuffer.allocateDirect(n);
                    inFlight.add(new Block(buf, device.readAsync(offset + position, buf)));
                    position += n;
                }
                final Block b = inFlight.poll();
                await(b.done());
                sha.update(b.buffer().duplicate());
                while (b.buffer().hasRemaining())
                {
                    ch.write(b.buffer());
                }
                progress(b.buffer().capacity());
            }
            length = total;
        }
        finally
        {
            if (stdout)
            {
                System.out.flush();
            }
            else
            {
                ch.close();
            }
        }
        return HexFormat.of().formatHex(sha.digest());
    }

    private record Block(ByteBuffer buffer, CompletableFuture<Void> done)
    {
    }

    private boolean verify(final AoeDevice device, final String expected, final boolean toTarget) throws Exception
    {
        final MessageDigest sha = sha256();
        if (toTarget || "-".equals(destination))
        {
            // read the range back from the target
            long position = 0;
            final ArrayDeque<Block> inFlight = new ArrayDeque<>();
            while (position < length || !inFlight.isEmpty())
            {
                while (position < length && inFlight.size() < queueDepth)
                {
                    final int n = (int)Math.min(blockSize, length - position);
                    final ByteBuffer buf = ByteBuffer.allocateDirect(n);
                    inFlight.add(new Block(buf, device.readAsync(offset + position, buf)));
                    position += n;
                }
                final Block b = inFlight.poll();
                await(b.done());
                sha.update(b.buffer());
            }
        }
        else
        {
            try (FileChannel ch = FileChannel.open(Path.of(destination)))
            {
                final ByteBuffer buf = ByteBuffer.allocateDirect(1 << 20);
                while (ch.read(buf.clear()) > 0)
                {
                    sha.update(buf.flip());
                }
            }
        }
        final String actual = HexFormat.of().formatHex(sha.digest());
        final PrintWriter err = spec.commandLine().getErr();
        if (actual.equals(expected))
        {
            err.println("verified: " + length + " bytes, sha256 " + actual);
            err.flush();
            return true;
        }
        err.println("aoe copy: VERIFY FAILED: wrote sha256 " + expected + " but read back " + actual);
        err.flush();
        return false;
    }

    private static void await(final CompletableFuture<Void> f) throws IoError, InterruptedException
    {
        try
        {
            f.get();
        }
        catch (final ExecutionException e)
        {
            if (e.getCause() instanceof IoError io)
            {
                throw io;
            }
            throw new IoError(IoError.EIO, String.valueOf(e.getCause()));
        }
    }

    private synchronized void progress(final long bytes)
    {
        done += bytes;
        final long now = System.nanoTime();
        if (System.console() != null && now - lastProgressNanos > 250_000_000L)
        {
            lastProgressNanos = now;
            final PrintWriter err = spec.commandLine().getErr();
            final double pct = length > 0 ? 100.0 * done / length : 0;
            final int bar = (int)(pct / 5);
            err.printf(Locale.ROOT, "\r[%-20s] %5.1f%% %s  %s/s   ", "#".repeat(Math.max(0, Math.min(20, bar))), pct, Format.bytes(done),
                Format.bytes((long)(done / Math.max(1e-9, (now - startNanos) / 1e9))));
            err.flush();
        }
    }

    private void report()
    {
        final double seconds = Math.max(1e-9, (System.nanoTime() - startNanos) / 1e9);
        final PrintWriter err = spec.commandLine().getErr();
        err.printf(Locale.ROOT, "%scopied %d bytes (%s) in %.2f s: %s/s%n", System.console() != null ? "\r" : "", done,
            Format.bytes(done), seconds, Format.bytes((long)(done / seconds)));
        err.flush();
    }

    private static MessageDigest sha256()
    {
        try
        {
            return MessageDigest.getInstance("SHA-256");
        }
        catch (final NoSuchAlgorithmException e)
        {
            throw new IllegalStateException(e);
        }
    }
}
