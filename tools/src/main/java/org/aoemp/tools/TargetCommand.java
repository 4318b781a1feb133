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
import java.util.function.Predicate;

import org.aoemp.protocol.MacAddress;
import org.aoemp.target.AoeTarget;
import org.aoemp.target.TargetOptions;
import org.aoemp.transport.NetInterfaces;
import org.aoemp.transport.Transports;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;
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
        "vblade's options and answers; one process serves all interfaces (a multipath target). vblade's own argument order, "
            + "SHELF SLOT NETIF FILE, works too (the third argument is then an existing interface).",
        "Prints one line saying what it serves once it is ready. Exits 1 when the file or an interface cannot be opened."})
final class TargetCommand implements Callable<Integer>
{
    private static final Logger LOG = LoggerFactory.getLogger(TargetCommand.class);

    @Parameters(index = "0", paramLabel = "SHELF", description = "Shelf (major) address, 0..65534.")
    int shelf;

    @Parameters(index = "1", paramLabel = "SLOT", description = "Slot (minor) address, 0..254.")
    int slot;

    @Parameters(index = "2..3", arity = "1..2", paramLabel = "[NETIF] FILE",
        description = "The file or block device to export; vblade's order, NETIF FILE, names an interface first.")
    List<String> rest = new ArrayList<>();

    @Option(names = {"-i", "--interface"}, paramLabel = "IF",
        description = "Interface to serve on; repeat for several (one target MAC per interface: paths for a multipath initiator).")
    List<String> interfaces = new ArrayList<>();

    @Option(names = {"-d", "--direct"}, description = "Open FILE with O_DIRECT (vblade -d). The JDK does direct I/O only in units of "
        + "the file system's block size, so this is refused (with the reason) unless that is 512 bytes.")
    boolean direct;

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

    /** FILE and the interfaces, from either order: {@code SHELF SLOT FILE -i IF...} or vblade's {@code SHELF SLOT NETIF FILE}. */
    record Placement(Path file, List<String> interfaces)
    {
    }

    /**
     * Reads the arguments after SHELF and SLOT: one (FILE, with {@code -i}) or two (vblade's NETIF
     * FILE, where NETIF must be an existing interface).
     */
    static Placement place(final List<String> rest, final List<String> interfaces, final Predicate<String> isInterface)
    {
        final List<String> ifs = new ArrayList<>(interfaces);
        final Path file;
        if (rest.size() == 2)
        {
            if (!isInterface.test(rest.get(0)))
            {
                throw new IllegalArgumentException("'" + rest.get(0) + "' is not a network interface: with four arguments the order is "
                    + "vblade's, SHELF SLOT NETIF FILE" + (Files.exists(Path.of(rest.get(0))) ? " (or give SHELF SLOT FILE -i NETIF)" : ""));
            }
            ifs.add(0, rest.get(0));
            file = Path.of(rest.get(1));
        }
        else
        {
            file = Path.of(rest.get(0));
            if (ifs.isEmpty())
            {
                throw new IllegalArgumentException(isInterface.test(rest.get(0)) && !Files.exists(file)
                    ? "FILE is missing: vblade's order is SHELF SLOT NETIF FILE"
                    : "no interface: give -i IF / --interface IF (repeat for several), or vblade's order SHELF SLOT NETIF FILE");
            }
        }
        return new Placement(file, List.copyOf(ifs));
    }

    @Override
    public Integer call() throws Exception
    {
        final Placement placed = place(rest, interfaces, NetInterfaces::exists);
        final Path file = placed.file();
        final List<String> interfaces = placed.interfaces();
        final List<MacAddress> allowed = new ArrayList<>();
        for (final String m : macs)
        {
            allowed.add(MacAddress.parse(m));
        }
        final TargetOptions options = new TargetOptions(shelf, slot, file, readOnly, bufferCount, allowed, offsetSectors, lengthSectors,
            sync, configString, direct);
        if (!Files.exists(file))
        {
            throw new IllegalArgumentException(file + ": no such file or block device");
        }
        if (direct && Files.exists(file))
        {
            org.aoemp.target.DirectIo.openOption(file);  // refused here, with the reason, before any socket is opened
        }
        final String version = spec.root().version().length > 0 ? spec.root().version()[0] : "aoe";
        LOG.info("{} target starting: pid {}, {} from {} on {} ({}), {}{}{}, {} buffers, java {}", version, ProcessHandle.current().pid(),
            options.address(), file, String.join(", ", interfaces), transport, readOnly ? "read-only" : "read-write", sync ? ", sync" : "",
            direct ? ", O_DIRECT" : "", bufferCount, Runtime.version());
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
            LOG.info("{} target stopped: {}", version, target.stats());
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
                LOG.info("{} target stopped: {}", version, target.stats());
            }
            catch (final IllegalStateException e)
            {
                // the JVM is shutting down: the hook closes the target and says so
            }
        }
        return 0;
    }
}
