package org.aoemp.tools;

import java.io.PrintWriter;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import java.util.Locale;
import java.util.concurrent.Callable;

import org.aoemp.bench.BenchConfig;
import org.aoemp.bench.BenchResult;
import org.aoemp.bench.BenchRunner;
import org.aoemp.bench.HlogWriter;
import org.aoemp.bench.HtmlReport;
import org.aoemp.bench.JsonSummary;
import org.aoemp.bench.ProgressPrinter;
import org.aoemp.bench.TextSummary;
import org.aoemp.block.BlockDevice;
import org.aoemp.initiator.DeviceOptions;
import org.aoemp.initiator.Initiator;
import org.aoemp.initiator.TargetAddress;
import org.aoemp.util.Format;
import picocli.CommandLine;
import picocli.CommandLine.Command;
import picocli.CommandLine.Mixin;
import picocli.CommandLine.Option;
import picocli.CommandLine.Parameters;
import picocli.CommandLine.Spec;
import picocli.CommandLine.Model.CommandSpec;

/** {@code aoe bench}: latency and throughput of one AoE target, or of the embedded stack. */
@Command(name = "bench", mixinStandardHelpOptions = true, sortOptions = false,
    description = {"Measure IOPS, throughput and latency percentiles of an AoE target (eX.Y over -i IF...), or, with no target "
        + "and no -i, of the embedded stack (an AoE target on a sparse file behind two in-memory NICs, the multipath "
        + "initiator over both: no hardware, no root).",
        "Closed loop by default (--qd requests always in flight); with --rate, open loop: requests are issued on schedule and "
            + "latency counts from each request's intended start, so stalls are not hidden (no coordinated omission).",
        "Prints a progress line a second and a summary; exits 1 on an I/O error or a --verify mismatch."})
final class BenchCommand implements Callable<Integer>
{
    @Parameters(paramLabel = "eX.Y", arity = "0..1", description = "Target to measure (default: the embedded stack, if no -i).")
    String target;

    @Mixin
    NetworkOptions net;

    @Option(names = "--rw", paramLabel = "MODE", defaultValue = "randread", converter = ModeConverter.class,
        description = "read, write, randread, randwrite or randrw. Default: ${DEFAULT-VALUE}.")
    BenchConfig.Mode mode;

    @Option(names = "--mix", paramLabel = "PERCENT", defaultValue = "70",
        description = "randrw: percentage of reads. Default: ${DEFAULT-VALUE}.")
    int mix;

    @Option(names = "--bs", paramLabel = "BYTES", defaultValue = "4k", converter = Units.SizeConverter.class,
        description = "Request size, a multiple of 512. Default: ${DEFAULT-VALUE}.")
    long blockSize;

    @Option(names = "--qd", paramLabel = "N", defaultValue = "32",
        description = "Queue depth: requests in flight (open loop: at most). Default: ${DEFAULT-VALUE}.")
    int queueDepth;

    @Option(names = "--duration", paramLabel = "DURATION", defaultValue = "30s", converter = Units.DurationConverter.class,
        description = "Measured time. Default: ${DEFAULT-VALUE}.")
    Duration duration;

    @Option(names = "--warmup", paramLabel = "DURATION", defaultValue = "5s", converter = Units.DurationConverter.class,
        description = "Run this long first without counting. Default: ${DEFAULT-VALUE}.")
    Duration warmup;

    @Option(names = "--offset", paramLabel = "BYTES", defaultValue = "0", converter = Units.SizeConverter.class,
        description = "Start of the region the requests fall in. Default: ${DEFAULT-VALUE}.")
    long offset;

    @Option(names = "--size", paramLabel = "BYTES", defaultValue = "0", converter = Units.SizeConverter.class,
        description = "Length of that region; 0 = to the end of the device. Default: ${DEFAULT-VALUE}.")
    long size;

    @Option(names = "--rate", paramLabel = "IOPS", defaultValue = "0",
        description = "Open loop at this many requests per second (0 = closed loop). Default: ${DEFAULT-VALUE}.")
    long rate;

    @Option(names = "--verify", description = "Writes carry a checksummed pattern per sector (offset, generation, CRC32C); "
        + "reads check every sector. Each queue slot owns every --qd-th block, so requests never overlap.")
    boolean verify;

    @Option(names = "--seed", paramLabel = "N", defaultValue = "1", description = "Seed of the offset generator. Default: ${DEFAULT-VALUE}.")
    long seed;

    @Option(names = "--json", description = "Print the summary as JSON on stdout (progress and messages go to stderr).")
    boolean json;

    @Option(names = "--hlog", paramLabel = "FILE", description = "Write per-second latency histograms (HdrHistogram log format, ns).")
    Path hlog;

    @Option(names = "--report", paramLabel = "FILE.html", description = "Write a self-contained HTML report with plots.")
    Path report;

    @Option(names = "--dead-after", paramLabel = "DURATION", converter = Units.DurationConverter.class, defaultValue = "60s",
        description = "Fail I/O with EIO when no path answered for this long. Default: ${DEFAULT-VALUE}.")
    Duration deadAfter;

    @Option(names = "--disk", paramLabel = "FILE",
        description = "Embedded stack: backing file (kept; created sparse if absent). Default: a temporary file, deleted afterwards.")
    Path disk;

    @Option(names = "--disk-size", paramLabel = "BYTES", defaultValue = "1G", converter = Units.SizeConverter.class,
        description = "Embedded stack: size of a new backing file. Default: ${DEFAULT-VALUE}.")
    long diskSize;

    @Spec
    CommandSpec spec;

    @Override
    public Integer call() throws Exception
    {
        final PrintWriter out = spec.commandLine().getOut();
        final PrintWriter human = json ? spec.commandLine().getErr() : out;
        if (blockSize > Integer.MAX_VALUE / 2)
        {
            throw new IllegalArgumentException("--bs is too large: " + blockSize);
        }
        final BenchConfig config = new BenchConfig(mode, mix, (int)blockSize, queueDepth, duration, warmup, offset, size, rate, verify,
            seed);
        final List<AutoCloseable> resources = new ArrayList<>();
        // Ctrl-C / SIGTERM: stop the run, and let the summary and files of the time measured so far
        // be written and everything be closed (the temporary disk deleted) before the JVM goes
        final java.util.concurrent.CountDownLatch finished = new java.util.concurrent.CountDownLatch(1);
        final java.util.concurrent.atomic.AtomicReference<BenchRunner> running = new java.util.concurrent.atomic.AtomicReference<>();
        final Thread hook = Thread.ofPlatform().unstarted(() ->
        {
            final BenchRunner r = running.get();
            if (r != null)
            {
                r.stop();
            }
            try
            {
                finished.await(15, java.util.concurrent.TimeUnit.SECONDS);
            }
            catch (final InterruptedException e)
            {
                Thread.currentThread().interrupt();
            }
        });
        Runtime.getRuntime().addShutdownHook(hook);
        try
        {
            final BlockDevice device = open(config, resources, human);
            final BenchRunner runner = new BenchRunner(device, config).sink(new ProgressPrinter(human));
            if (hlog != null)
            {
                final HlogWriter writer = new HlogWriter(hlog, config, device.name());
                resources.add(writer);
                runner.sink(writer);
            }
            human.printf(Locale.ROOT, "%s on %s: %s, queue depth %d, %s, %s measured after %s warm-up%n", mode.name().toLowerCase(Locale.ROOT),
                device.name(), Format.bytes(blockSize), queueDepth, rate > 0 ? "open loop at " + rate + " IOPS" : "closed loop",
                seconds(duration), seconds(warmup));
            human.flush();
            running.set(runner);
            return report(runner.run(), out, human);
        }
        finally
        {
            for (int i = resources.size() - 1; i >= 0; i--)
            {
                try
                {
                    resources.get(i).close();
                }
                catch (final Exception e)
                {
                    // closing on the way out: the run's outcome is already decided
                }
            }
            finished.countDown();
            try
            {
                Runtime.getRuntime().removeShutdownHook(hook);
            }
            catch (final IllegalStateException e)
            {
                // already shutting down: the hook is running and has just been released
            }
        }
    }

    private int report(final BenchResult result, final PrintWriter out, final PrintWriter human) throws java.io.IOException
    {
        human.print(TextSummary.text(result));
        human.flush();
        if (json)
        {
            out.print(JsonSummary.json(result));
            out.flush();
        }
        if (report != null)
        {
            HtmlReport.write(result, report);
            human.println("report: " + report);
        }
        if (hlog != null)
        {
            human.println("histogram log: " + hlog);
        }
        human.flush();
        if (!result.ok())
        {
            final PrintWriter err = spec.commandLine().getErr();
            err.println("aoe bench: " + (result.badSectors() > 0 ? "verify found " + result.badSectors() + " bad sector(s) in "
                + result.distinctBadBlocks() + " block(s)" : result.firstError() != null ? result.firstError()
                : result.incomplete() > 0 ? result.incomplete() + " request(s) never completed"
                : result.unissued() + " request(s) were never issued (the target could not keep up with --rate)"));
            err.flush();
            return AoeCommand.EXIT_FAILURE;
        }
        return 0;
    }

    private BlockDevice open(final BenchConfig config, final List<AutoCloseable> resources, final PrintWriter human) throws Exception
    {
        if (target == null && net.interfaces.isEmpty())
        {
            final Path file;
            if (disk != null)
            {
                file = disk;
            }
            else
            {
                file = Files.createTempFile("aoe-bench-", ".img");
                Files.delete(file);
                resources.add(() -> Files.deleteIfExists(file));
            }
            return EmbeddedStack.start(file, diskSize, deadAfter, resources, human).values().iterator().next();
        }
        if (target == null)
        {
            throw new IllegalArgumentException("name the target to measure (eX.Y) with -i");
        }
        final TargetAddress address = TargetAddress.parse(target);
        final Initiator initiator = net.openInitiator();
        resources.add(initiator);
        return initiator.open(address, DeviceOptions.defaults().withOpenTimeout(net.timeout).withDeadAfter(deadAfter)
            .withReadOnly(!config.mode().writes()));
    }

    private static String seconds(final Duration d)
    {
        return d.toMillis() % 1000 == 0 ? d.toSeconds() + " s" : d.toMillis() + " ms";
    }

    /** fio's names for the modes, any case. */
    static final class ModeConverter implements CommandLine.ITypeConverter<BenchConfig.Mode>
    {
        @Override
        public BenchConfig.Mode convert(final String value)
        {
            try
            {
                return BenchConfig.Mode.valueOf(value.trim().toUpperCase(Locale.ROOT));
            }
            catch (final IllegalArgumentException e)
            {
                throw new CommandLine.TypeConversionException("--rw takes read, write, randread, randwrite or randrw (got '" + value + "')");
            }
        }
    }
}
