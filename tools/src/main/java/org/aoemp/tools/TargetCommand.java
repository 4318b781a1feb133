package org.aoemp.tools;

import java.io.PrintWriter;
import java.nio.file.AccessDeniedException;
import java.nio.file.Files;
import java.nio.file.NoSuchFileException;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.Callable;
import java.util.concurrent.CountDownLatch;

import org.aoemp.protocol.MacAddress;
import org.aoemp.target.AoeTarget;
import org.aoemp.target.TargetOptions;
import org.aoemp.transport.Transports;
import picocli.CommandLine.Command;
import picocli.CommandLine.Option;
import picocli.CommandLine.Parameters;
import picocli.CommandLine.Spec;
import picocli.CommandLine.Model.CommandSpec;

/**
 * {@code aoe target}: serves a file or block device as an AoE target, like vblade, but on several
 * NICs from one process and with many commands in flight. Runs in the foreground until SIGINT or
 * SIGTERM (or, when run in-process, until its thread is interrupted).
 */
@Command(name = "target", mixinStandardHelpOptions = true,
    description = {"Serve FILE (a file or block device) as AoE target eSHELF.SLOT on every -i interface until SIGINT/SIGTERM.",
        "vblade-compatible: same options, same answers; one process serves all interfaces (a multipath target).",
        "Prints one line saying what it serves once it is ready. Exits 1 when the file or an interface cannot be opened."})
final class TargetCommand implements Callable<Integer>
{
    @Parameters(index = "0", paramLabel = "SHELF", description = "Shelf (major) address, 0..65534.")
    int shelf;

    @Parameters(index = "1", paramLabel = "SLOT", description = "Slot (minor) address, 0..254.")
    int slot;

    @Parameters(index = "2", paramLabel = "FILE", description = "The file or block device to export.")
    Path file;

    @Option(names = {"-i", "--interface"}, paramLabel = "IF", required = true,
        description = "Interface to serve on; repeat for several (one target MAC per interface: paths for a multipath initiator).")
    List<String> interfaces = new ArrayList<>();

    @Option(names = {"-r", "--read-only"}, description = "Export read-only: writes are aborted (the initiator gets an I/O error).")
    boolean readOnly;

    @Option(names = {"-b", "--buffers"}, paramLabel = "BUFCNT", defaultValue = "" + TargetOptions.DEFAULT_BUFFER_COUNT,
        description = "Buffer count advertised to initiators: commands each interface holds at once, each with its own I/O thread. "
            + "Default: ${DEFAULT-VALUE}.")
    int bufferCount;

    @Option(names = {"-m", "--mac"}, paramLabel = "MAC", split = ",",
        description = "Answer only these initiator MACs (comma separated or repeated; at most 32); others are ignored.")
    List<String> macs = new ArrayList<>();

    @Option(names = {"-o", "--offset"}, paramLabel = "SECTORS", defaultValue = "0",
        description = "Sectors of FILE to skip: sector 0 of the target is this sector of the file. Default: ${DEFAULT-VALUE}.")
    long offsetSectors;

    @Option(names = {"-l", "--length"}, paramLabel = "SECTORS", defaultValue = "-1",
        description = "Sectors to export after the offset. Default: the rest of the file.")
    long lengthSectors;

    @Option(names = {"-s", "--sync"}, description = "Open FILE with O_DSYNC: each write is on stable storage before it is acknowledged.")
    boolean sync;

    @Option(names = "--config", paramLabel = "STRING", defaultValue = "",
        description = "Initial config string (at most 1024 bytes); initiators may change it with 'aoe cfg'.")
    String configString;

    @Option(names = "--transport", paramLabel = "KIND",
        description = "How raw frames are sent: afpacket (Linux, java.lang.foreign) or pcap (libpcap via pcap4j). "
            + "Default: ${DEFAULT-VALUE}.")
    String transport = Transports.defaultKind();

    @Spec
    CommandSpec spec;

    @Override
    public Integer call() throws Exception
    {
        final List<MacAddress> allowed = new ArrayList<>();
        for (final String m : macs)
        {
            allowed.add(MacAddress.parse(m));
        }
        final TargetOptions options = new TargetOptions(shelf, slot, file, readOnly, bufferCount, allowed, offsetSectors, lengthSectors,
            sync, configString);
        if (!Files.exists(file))
        {
            throw new IllegalArgumentException(file + ": no such file or block device");
        }
        final AoeTarget target;
        try
        {
            target = AoeTarget.open(options, transport, interfaces);
        }
        catch (final NoSuchFileException e)
        {
            throw new IllegalArgumentException(file + ": no such file or block device", e);
        }
        catch (final AccessDeniedException e)
        {
            throw new IllegalArgumentException("cannot open " + file + (readOnly ? "" : " for writing") + ": permission denied"
                + (readOnly ? "" : " (use -r to export it read-only)"), e);
        }
        final PrintWriter out = spec.commandLine().getOut();
        final CountDownLatch stopped = new CountDownLatch(1);
        final Thread hook = new Thread(() ->
        {
            target.close();
            out.println("aoe target: stopped " + options.address() + ": " + target.stats());
            out.flush();
            stopped.countDown();
        }, "aoe-target-shutdown");
        Runtime.getRuntime().addShutdownHook(hook);
        out.println("aoe target: serving " + target.describe());
        out.flush();
        try
        {
            stopped.await();
        }
        catch (final InterruptedException e)
        {
            // in-process callers stop the target by interrupting the thread that runs it
        }
        finally
        {
            try
            {
                Runtime.getRuntime().removeShutdownHook(hook);
                target.close();
                out.println("aoe target: stopped " + options.address() + ": " + target.stats());
                out.flush();
            }
            catch (final IllegalStateException e)
            {
                // the JVM is shutting down: the hook closes the target and says so
            }
        }
        return 0;
    }
}
