package org.aoemp.testing;

import java.io.File;
import java.io.IOException;
import java.io.UncheckedIOException;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.Comparator;
import java.util.HashMap;
import java.util.HashSet;
import java.util.List;
import java.util.Map;
import java.util.Optional;
import java.util.Set;
import java.util.concurrent.ConcurrentHashMap;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicBoolean;
import java.util.concurrent.atomic.AtomicInteger;
import java.util.regex.Matcher;
import java.util.regex.Pattern;
import java.util.stream.Stream;

/**
 * A multipath test rig on one machine: N veth pairs ("cables") between the root network namespace,
 * where the initiator ends stay, and a namespace of its own that holds the target ends (or, with
 * {@link Builder#targetsInRootNamespace}, both ends in the root namespace, for tests that open
 * both ends from this JVM). Processes such as vblade run next to the target ends; faults (link
 * down, rate limit, random loss) are real kernel features.
 *
 * <p>Every name embeds this JVM's pid and a per-JVM rig number, so concurrent test runs never
 * collide: namespace {@code aoet-<pid>-<rig>}, interfaces {@code ai<pid>_<rig>_<pair>} (initiator)
 * and {@code at<pid>_<rig>_<pair>} (target), nftables table {@code netdev aoet_<pid>_<rig>}.
 * {@link #close} kills every process the rig started and deletes all of it, also after failures;
 * a JVM shutdown hook closes rigs a test forgot; and the first rig of a JVM sweeps away leftovers
 * of earlier runs whose pid no longer exists (a JVM that was killed).
 *
 * <p>Needs root and iproute2 (plus vblade, tc and nft for the methods that use them); a missing
 * prerequisite skips the test, or fails it under {@code CI=true} ({@link Prerequisites}).
 *
 * <p>Threading: the methods may be called from any thread; they run commands synchronously.
 * Build and close a rig on the test thread.
 */
public final class VethRig implements AutoCloseable
{
    /** Readiness line vblade prints once its socket is open: {@code pid 123: e1.2, 2048 sectors O_RDWR}. */
    public static final String VBLADE_READY = "pid ";

    private static final long PID = ProcessHandle.current().pid();
    private static final Pattern INTERFACE = Pattern.compile("a[it](\\d+)_([0-9a-z]+)_(\\d+)");
    private static final Pattern NAMESPACE = Pattern.compile("aoet-(\\d+)-([0-9a-z]+)");
    private static final Pattern NFT_TABLE = Pattern.compile("aoet_(\\d+)_([0-9a-z]+)");
    private static final int MAX_IFNAME = 15;
    private static final int RIG_IDS = 36 * 36;
    private static final Duration START_TIMEOUT = Duration.ofSeconds(30);
    private static final Duration OPERSTATE_TIMEOUT = Duration.ofSeconds(10);

    private static final AtomicInteger NEXT_RIG = new AtomicInteger();
    private static final AtomicBoolean SWEPT = new AtomicBoolean();
    private static final Set<VethRig> LIVE = ConcurrentHashMap.newKeySet();

    static
    {
        Runtime.getRuntime().addShutdownHook(new Thread(VethRig::closeAllQuietly, "veth-rig-cleanup"));
    }

    private final String id;
    private final String namespace;
    private final String[] initiators;
    private final String[] targets;
    private final int[] mtus;
    private final String nftTable;
    private final List<Daemon> daemons = new ArrayList<>();
    private final Set<Integer> lossChains = new HashSet<>();
    private Path logDir;
    private boolean nftTableCreated;
    private boolean closed;

    /** Builds rigs. */
    public static final class Builder
    {
        private int pairs = 1;
        private int mtu = 1500;
        private final Map<Integer, Integer> pairMtus = new HashMap<>();
        private boolean targetsInRoot;

        private Builder()
        {
        }

        /** Number of veth pairs (paths), 1 to 10; default 1. */
        public Builder pairs(final int pairs)
        {
            if (pairs < 1 || pairs > 10)
            {
                throw new IllegalArgumentException("pairs must be 1..10: " + pairs);
            }
            this.pairs = pairs;
            return this;
        }

        /** MTU of every pair not given its own; default 1500. */
        public Builder mtu(final int mtu)
        {
            this.mtu = mtu;
            return this;
        }

        /** MTU of one pair (both ends). */
        public Builder mtu(final int pair, final int mtu)
        {
            pairMtus.put(pair, mtu);
            return this;
        }

        /** Keep the target ends in the root namespace too (no namespace is created); default false. */
        public Builder targetsInRootNamespace(final boolean inRoot)
        {
            this.targetsInRoot = inRoot;
            return this;
        }

        /** Creates the namespace and the pairs, all up. Skips (or fails under CI) without root or iproute2. */
        public VethRig build()
        {
            Prerequisites.requireRoot();
            Prerequisites.requireCommand("ip", "iproute2");
            final int[] mtus = new int[pairs];
            for (int i = 0; i < pairs; i++)
            {
                mtus[i] = pairMtus.getOrDefault(i, mtu);
            }
            return new VethRig(mtus, targetsInRoot);
        }
    }

    public static Builder builder()
    {
        return new Builder();
    }

    /** {@code pairs} pairs at MTU 1500, target ends in a namespace of their own. */
    public static VethRig create(final int pairs)
    {
        return builder().pairs(pairs).build();
    }

    private VethRig(final int[] mtus, final boolean targetsInRoot)
    {
        if (SWEPT.compareAndSet(false, true))
        {
            sweepLeftovers();
        }
        this.id = freeId();
        this.namespace = targetsInRoot ? null : "aoet-" + PID + "-" + id;
        this.nftTable = "aoet_" + PID + "_" + id;
        this.mtus = mtus.clone();
        this.initiators = new String[mtus.length];
        this.targets = new String[mtus.length];
        for (int i = 0; i < mtus.length; i++)
        {
            initiators[i] = "ai" + PID + "_" + id + "_" + i;
            targets[i] = "at" + PID + "_" + id + "_" + i;
            if (initiators[i].length() > MAX_IFNAME)
            {
                throw new IllegalStateException("interface name too long for Linux: " + initiators[i]);
            }
        }
        LIVE.add(this);
        try
        {
            logDir = Files.createTempDirectory("aoet-" + PID + "-" + id + "-");
            if (namespace != null)
            {
                ProcessRunner.check("ip", "netns", "add", namespace);
            }
            for (int i = 0; i < mtus.length; i++)
            {
                final List<String> add = new ArrayList<>(List.of("ip", "link", "add", initiators[i], "mtu", String.valueOf(mtus[i]),
                    "type", "veth", "peer", "name", targets[i], "mtu", String.valueOf(mtus[i])));
                if (namespace != null)
                {
                    add.addAll(List.of("netns", namespace));
                }
                ProcessRunner.check(add.toArray(String[]::new));
                ProcessRunner.check("ip", "link", "set", initiators[i], "up");
                exec("ip", "link", "set", targets[i], "up");
            }
            for (int i = 0; i < mtus.length; i++)
            {
                awaitOperstate(initiators[i], "up");
            }
        }
        catch (final IOException e)
        {
            closeAfterFailure(new UncheckedIOException(e));
            throw new UncheckedIOException(e);
        }
        catch (final RuntimeException | Error e)
        {
            closeAfterFailure(e);
            throw e;
        }
    }

    private void closeAfterFailure(final Throwable cause)
    {
        try
        {
            close();
        }
        catch (final RuntimeException e)
        {
            cause.addSuppressed(e);
        }
    }

    private static String freeId()
    {
        for (int attempt = 0; attempt < RIG_IDS; attempt++)
        {
            final String candidate = Integer.toString(Math.floorMod(NEXT_RIG.getAndIncrement(), RIG_IDS), 36);
            if (!Files.exists(Path.of("/sys/class/net", "ai" + PID + "_" + candidate + "_0"))
                && !Files.exists(Path.of("/run/netns", "aoet-" + PID + "-" + candidate)))
            {
                return candidate;
            }
        }
        throw new IllegalStateException("no free rig number left in this JVM (" + RIG_IDS + " rigs alive?)");
    }

    // ---------------------------------------------------------------- names

    /** The namespace that holds the target ends, or null when they are in the root namespace. */
    public String namespace()
    {
        return namespace;
    }

    public int pairs()
    {
        return initiators.length;
    }

    /** Initiator end of pair {@code pair}, in the root namespace. */
    public String initiatorIf(final int pair)
    {
        return initiators[pair];
    }

    /** Target end of pair {@code pair}, in {@link #namespace()} (or the root namespace). */
    public String targetIf(final int pair)
    {
        return targets[pair];
    }

    public int mtu(final int pair)
    {
        return mtus[pair];
    }

    /** Where started processes write their logs; deleted by {@link #close}. */
    public Path logDir()
    {
        return logDir;
    }

    // ---------------------------------------------------------------- commands

    /** Runs a command where the target ends live and returns its stdout; throws with its stderr on failure. */
    public String exec(final String... command)
    {
        return ProcessRunner.check(targetSide(command));
    }

    /** Runs a command where the target ends live and returns its result, whatever the exit code. */
    public ProcessRunner.Result tryExec(final String... command)
    {
        return ProcessRunner.run(targetSide(command));
    }

    private String[] targetSide(final String... command)
    {
        if (namespace == null)
        {
            return command.clone();
        }
        final String[] argv = new String[command.length + 4];
        argv[0] = "ip";
        argv[1] = "netns";
        argv[2] = "exec";
        argv[3] = namespace;
        System.arraycopy(command, 0, argv, 4, command.length);
        return argv;
    }

    /**
     * Starts vblade as target {@code e<shelf>.<slot>} on the target end of {@code pair}, serving
     * {@code file}, and waits until it has opened its socket.
     *
     * @param extraArgs vblade options placed before the positional arguments, e.g. {@code "-b", "16"}
     */
    public Daemon startVblade(final int shelf, final int slot, final int pair, final Path file, final String... extraArgs)
    {
        Prerequisites.requireCommand("vblade", "vblade");
        final List<String> argv = new ArrayList<>();
        argv.add("vblade");
        argv.addAll(Arrays.asList(extraArgs));
        argv.addAll(List.of(String.valueOf(shelf), String.valueOf(slot), targetIf(pair), file.toAbsolutePath().toString()));
        return startDaemon("vblade-e" + shelf + "." + slot + "-p" + pair, VBLADE_READY, argv.toArray(String[]::new));
    }

    /**
     * Starts a long-running process where the target ends live, stdout and stderr appended to
     * {@code <logDir>/<label>.log}, and waits until it prints {@code readyMarker} (null: until it
     * has run for 100 ms). The rig kills it on {@link #close}.
     *
     * @throws IllegalStateException with its log when it exits or stays silent for 30 s
     */
    public Daemon startDaemon(final String label, final String readyMarker, final String... command)
    {
        final Daemon daemon;
        synchronized (this)
        {
            if (closed)
            {
                throw new IllegalStateException("rig is closed");
            }
            daemon = new Daemon(label, readyMarker, List.of(targetSide(command)), logDir.resolve(label + ".log"));
            daemons.add(daemon);
        }
        daemon.launch();
        return daemon;
    }

    /** Takes the initiator end of {@code pair} administratively down (the target end loses carrier). */
    public void linkDown(final int pair)
    {
        ProcessRunner.check("ip", "link", "set", initiatorIf(pair), "down");
    }

    /** Brings the initiator end of {@code pair} back up. */
    public void linkUp(final int pair)
    {
        ProcessRunner.check("ip", "link", "set", initiatorIf(pair), "up");
    }

    /** Deletes the veth pair {@code pair} ({@code ip link del} of its initiator end takes the target end with it). */
    public void deletePair(final int pair)
    {
        ProcessRunner.check("ip", "link", "del", initiatorIf(pair));
    }

    /**
     * Creates pair {@code pair} again after {@link #deletePair}: the same names and MTU, both ends
     * up, so the kernel gives the initiator end a new ifindex (and veth a new MAC).
     */
    public void recreatePair(final int pair)
    {
        final List<String> add = new ArrayList<>(List.of("ip", "link", "add", initiators[pair], "mtu", String.valueOf(mtus[pair]),
            "type", "veth", "peer", "name", targets[pair], "mtu", String.valueOf(mtus[pair])));
        if (namespace != null)
        {
            add.addAll(List.of("netns", namespace));
        }
        ProcessRunner.check(add.toArray(String[]::new));
        ProcessRunner.check("ip", "link", "set", initiators[pair], "up");
        exec("ip", "link", "set", targets[pair], "up");
        awaitOperstate(initiators[pair], "up");
    }

    /** Sets the MTU of both ends of {@code pair}, the initiator end first (as a switch port reconfigured would). */
    public void setMtu(final int pair, final int mtu)
    {
        ProcessRunner.check("ip", "link", "set", initiatorIf(pair), "mtu", String.valueOf(mtu));
        exec("ip", "link", "set", targetIf(pair), "mtu", String.valueOf(mtu));
        mtus[pair] = mtu;
    }

    /** Takes the target end of {@code pair} down: the initiator end stays up but loses carrier. */
    public void targetLinkDown(final int pair)
    {
        exec("ip", "link", "set", targetIf(pair), "down");
    }

    /** Brings the target end of {@code pair} back up. */
    public void targetLinkUp(final int pair)
    {
        exec("ip", "link", "set", targetIf(pair), "up");
    }

    /**
     * Gives the target end of {@code pair} a packet queue ({@code tc pfifo}) instead of veth's
     * default {@code noqueue}, so that a target survives {@link #linkDown} of the initiator end.
     *
     * <p>Why: when the initiator end goes down, the target end loses carrier, but until the kernel's
     * linkwatch work swaps in the noop qdisc, a {@code noqueue} device hands frames straight to
     * {@code veth_xmit}, which drops them and returns {@code NET_XMIT_DROP}; the target's
     * {@code write} on its packet socket then fails with ENOBUFS. vblade treats that as fatal
     * ("write to network: No buffer space available") and exits, so the path never answers again.
     * With a qdisc the frame is queued and dropped later, and the write succeeds, as on a real NIC
     * whose cable is pulled. A later {@link #rateLimit} replaces this queue (tbf queues too).
     */
    public void queueOnTargetEnd(final int pair)
    {
        Prerequisites.requireCommand("tc", "iproute2");
        exec("tc", "qdisc", "replace", "dev", targetIf(pair), "root", "pfifo", "limit", "1000");
    }

    /**
     * Limits what the target end of {@code pair} sends (target to initiator) to {@code rate}, e.g.
     * {@code "200mbit"}, with a token bucket ({@code tc tbf}; this kernel has no netem).
     */
    public void rateLimit(final int pair, final String rate)
    {
        Prerequisites.requireCommand("tc", "iproute2");
        final int burst = Math.max(32 * 1024, 4 * (mtu(pair) + 14));
        exec("tc", "qdisc", "replace", "dev", targetIf(pair), "root", "tbf", "rate", rate, "burst", String.valueOf(burst),
            "latency", "50ms");
    }

    /** Removes a {@link #rateLimit}. */
    public void clearRateLimit(final int pair)
    {
        tryExec("tc", "qdisc", "del", "dev", targetIf(pair), "root");
    }

    /**
     * Drops {@code percent} % of the AoE frames arriving at the initiator end of {@code pair}, at
     * random (nftables netdev ingress, {@code numgen random}); 0 stops dropping.
     */
    public synchronized void loss(final int pair, final int percent)
    {
        if (percent < 0 || percent > 100)
        {
            throw new IllegalArgumentException("percent must be 0..100: " + percent);
        }
        Prerequisites.requireCommand("nft", "nftables");
        if (!nftTableCreated)
        {
            ProcessRunner.check("nft", "add", "table", "netdev", nftTable);
            nftTableCreated = true;
        }
        final String chain = "in" + pair;
        if (lossChains.add(pair))
        {
            ProcessRunner.check("nft", "add", "chain", "netdev", nftTable, chain,
                "{ type filter hook ingress device " + initiatorIf(pair) + " priority 0 ; }");
        }
        ProcessRunner.check("nft", "flush", "chain", "netdev", nftTable, chain);
        if (percent == 100)
        {
            ProcessRunner.check("nft", "add", "rule", "netdev", nftTable, chain, "ether", "type", "0x88a2", "drop");
        }
        else if (percent > 0)
        {
            ProcessRunner.check("nft", "add", "rule", "netdev", nftTable, chain, "ether", "type", "0x88a2",
                "numgen", "random", "mod", "100", "<", String.valueOf(percent), "drop");
        }
    }

    // ---------------------------------------------------------------- teardown

    /**
     * Kills every process the rig started, deletes the nftables table, the veth pairs and the
     * namespace, and the log directory. Tries every step even when one fails, then throws one
     * exception naming what could not be removed. Idempotent.
     */
    @Override
    public void close()
    {
        final List<Daemon> started;
        final boolean tableCreated;
        synchronized (this)
        {
            if (closed)
            {
                return;
            }
            closed = true;
            started = new ArrayList<>(daemons);
            tableCreated = nftTableCreated;
        }
        final List<RuntimeException> failures = new ArrayList<>();
        for (final Daemon daemon : started)
        {
            attempt(failures, daemon::kill);
        }
        if (tableCreated)
        {
            attempt(failures, () -> ProcessRunner.check("nft", "delete", "table", "netdev", nftTable));
        }
        for (final String initiator : initiators)
        {
            if (initiator != null && Files.exists(Path.of("/sys/class/net", initiator)))
            {
                attempt(failures, () -> ProcessRunner.check("ip", "link", "del", initiator));
            }
        }
        if (namespace != null && Files.exists(Path.of("/run/netns", namespace)))
        {
            attempt(failures, () -> deleteNamespace(namespace));
        }
        if (logDir != null)
        {
            attempt(failures, () -> deleteTree(logDir));
        }
        LIVE.remove(this);
        if (!failures.isEmpty())
        {
            final IllegalStateException e = new IllegalStateException("rig " + id + " was not cleaned up completely: "
                + failures.getFirst().getMessage());
            failures.forEach(e::addSuppressed);
            throw e;
        }
    }

    private static void attempt(final List<RuntimeException> failures, final Runnable step)
    {
        try
        {
            step.run();
        }
        catch (final RuntimeException e)
        {
            failures.add(e);
        }
    }

    /** Kills whatever still runs inside the namespace, then deletes it. */
    private static void deleteNamespace(final String name)
    {
        final ProcessRunner.Result pids = ProcessRunner.run("ip", "netns", "pids", name);
        if (pids.ok())
        {
            pids.stdout().lines().map(String::strip).filter(s -> !s.isEmpty()).forEach(pid -> killPid(Long.parseLong(pid)));
        }
        ProcessRunner.check("ip", "netns", "del", name);
    }

    private static void killPid(final long pid)
    {
        final Optional<ProcessHandle> handle = ProcessHandle.of(pid);
        if (handle.isPresent())
        {
            handle.get().destroyForcibly();
            handle.get().onExit().completeOnTimeout(null, 2, TimeUnit.SECONDS).join();
        }
    }

    private static void deleteTree(final Path root)
    {
        if (!Files.exists(root))
        {
            return;
        }
        try (Stream<Path> paths = Files.walk(root))
        {
            for (final Path path : paths.sorted(Comparator.reverseOrder()).toList())
            {
                Files.deleteIfExists(path);
            }
        }
        catch (final IOException e)
        {
            throw new UncheckedIOException("cannot delete " + root, e);
        }
    }

    private static void closeAllQuietly()
    {
        for (final VethRig rig : LIVE)
        {
            try
            {
                rig.close();
            }
            catch (final RuntimeException e)
            {
                System.err.println("veth rig cleanup at exit: " + e.getMessage());
            }
        }
    }

    private static void awaitOperstate(final String ifName, final String wanted)
    {
        final Path operstate = Path.of("/sys/class/net", ifName, "operstate");
        final String[] state = {""};
        if (!Await.reached(OPERSTATE_TIMEOUT, () ->
        {
            try
            {
                state[0] = readProcFile(operstate);
            }
            catch (final IOException e)
            {
                state[0] = e.toString();
            }
            return state[0].equals(wanted);
        }))
        {
            throw new IllegalStateException(ifName + " did not become " + wanted + " within " + OPERSTATE_TIMEOUT
                + " (operstate " + state[0] + ")");
        }
    }

    /**
     * Reads a small /proc or /sys file in one read. {@code Files.readString} must not be used there:
     * these files report size 0, the JDK then reads a byte at a time, and sysctl files return EOF
     * to any read that does not start at offset 0 ({@code pid_max} reads as "3").
     */
    public static String readProcFile(final Path file) throws IOException
    {
        try (var in = Files.newInputStream(file))
        {
            return new String(in.readNBytes(4096), StandardCharsets.US_ASCII).strip();
        }
    }

    // ---------------------------------------------------------------- leftovers

    /**
     * Removes what rigs of earlier, dead JVMs left behind: their processes, namespaces, nftables
     * tables and interfaces, recognised by their names and the pid embedded in them. Touches nothing
     * whose pid is still alive, and nothing not named like a rig's. The first rig of each JVM calls
     * it; tests may call it directly.
     *
     * @return a line per thing removed, for logs and tests
     */
    public static List<String> sweepLeftovers()
    {
        final List<String> removed = new ArrayList<>();
        sweepProcesses(removed);
        final ProcessRunner.Result namespaces = ProcessRunner.run("ip", "netns", "list");
        for (final String line : namespaces.stdout().lines().toList())
        {
            final String name = line.strip().split("\\s+")[0];
            if (isLeftover(NAMESPACE.matcher(name)))
            {
                try
                {
                    deleteNamespace(name);
                    removed.add("netns " + name);
                }
                catch (final RuntimeException e)
                {
                    System.err.println("cannot sweep netns " + name + ": " + e.getMessage());
                }
            }
        }
        if (Prerequisites.which("nft") != null)
        {
            for (final String line : ProcessRunner.run("nft", "list", "tables").stdout().lines().toList())
            {
                final String[] words = line.strip().split("\\s+");
                if (words.length == 3 && words[1].equals("netdev") && isLeftover(NFT_TABLE.matcher(words[2])))
                {
                    if (ProcessRunner.run("nft", "delete", "table", "netdev", words[2]).ok())
                    {
                        removed.add("nft table netdev " + words[2]);
                    }
                }
            }
        }
        for (final String line : ProcessRunner.run("ip", "-o", "link", "show").stdout().lines().toList())
        {
            final String[] fields = line.split(": ", 3);
            if (fields.length < 2)
            {
                continue;
            }
            final String name = fields[1].split("@", 2)[0];
            if (isLeftover(INTERFACE.matcher(name)) && ProcessRunner.run("ip", "link", "del", name).ok())
            {
                removed.add("link " + name);
            }
        }
        return removed;
    }

    /** Processes (vblade, ...) whose command line names a dead rig's interface or namespace. */
    private static void sweepProcesses(final List<String> removed)
    {
        final File[] entries = new File("/proc").listFiles((dir, name) -> name.chars().allMatch(Character::isDigit));
        if (entries == null)
        {
            return;
        }
        for (final File entry : entries)
        {
            final String cmdline;
            try
            {
                cmdline = Files.readString(entry.toPath().resolve("cmdline"), StandardCharsets.UTF_8);
            }
            catch (final IOException | UncheckedIOException e)
            {
                continue;  // gone meanwhile, or not ours to read
            }
            for (final String arg : cmdline.split("\0"))
            {
                if (isLeftover(INTERFACE.matcher(arg)) || isLeftover(NAMESPACE.matcher(arg)))
                {
                    final long pid = Long.parseLong(entry.getName());
                    killPid(pid);
                    removed.add("process " + pid + " (" + cmdline.replace('\0', ' ').strip() + ")");
                    break;
                }
            }
        }
    }

    /** Whether a rig name matched and the JVM whose pid it embeds is gone. */
    private static boolean isLeftover(final Matcher name)
    {
        if (!name.matches())
        {
            return false;
        }
        final long owner = Long.parseLong(name.group(1));
        return owner != PID && ProcessHandle.of(owner).isEmpty();
    }

    @Override
    public String toString()
    {
        return "VethRig[" + (namespace == null ? "root" : namespace) + ", " + String.join(",", initiators) + "]";
    }

    // ---------------------------------------------------------------- processes

    /**
     * A process the rig started (vblade, or anything via {@link #startDaemon}); it can be killed
     * and started again with the same command line, and the rig kills it on close.
     *
     * <p>Threading: any thread; start and kill are serialised on this object.
     */
    public static final class Daemon implements AutoCloseable
    {
        private final String label;
        private final String readyMarker;
        private final List<String> command;
        private final Path log;
        private Process process;

        private Daemon(final String label, final String readyMarker, final List<String> command, final Path log)
        {
            this.label = label;
            this.readyMarker = readyMarker;
            this.command = command;
            this.log = log;
        }

        private synchronized void launch()
        {
            final long logStart;
            try
            {
                logStart = Files.exists(log) ? Files.size(log) : 0;
                process = new ProcessBuilder(command)
                    .redirectErrorStream(true)
                    .redirectOutput(ProcessBuilder.Redirect.appendTo(log.toFile()))
                    .redirectInput(ProcessBuilder.Redirect.from(new File("/dev/null")))
                    .start();
            }
            catch (final IOException e)
            {
                throw new IllegalStateException("cannot start " + label + " (" + String.join(" ", command) + "): " + e.getMessage(), e);
            }
            // Without a ready marker, having stayed alive for 100 ms is all there is to wait for.
            final long quiet = System.nanoTime() + TimeUnit.MILLISECONDS.toNanos(100);
            final boolean ready = Await.reached(START_TIMEOUT, () -> !process.isAlive()
                || (readyMarker == null ? System.nanoTime() >= quiet : logSince(logStart).contains(readyMarker)));
            if (!process.isAlive())
            {
                throw new IllegalStateException(label + " exited with code " + process.exitValue() + " right after start ("
                    + String.join(" ", command) + "); log:\n" + logSince(logStart));
            }
            if (!ready)
            {
                kill();
                throw new IllegalStateException(label + " did not print '" + readyMarker + "' within " + START_TIMEOUT
                    + " (" + String.join(" ", command) + "); log:\n" + logSince(logStart));
            }
        }

        private String logSince(final long offset)
        {
            final String text = logText();
            final byte[] bytes = text.getBytes(StandardCharsets.UTF_8);
            return offset >= bytes.length ? "" : new String(bytes, (int)offset, bytes.length - (int)offset, StandardCharsets.UTF_8);
        }

        public String label()
        {
            return label;
        }

        /** The command line, including the {@code ip netns exec} prefix. */
        public List<String> command()
        {
            return command;
        }

        /** Pid of the current run ({@code ip netns exec} execs the command, so it is the command's own pid). */
        public synchronized long pid()
        {
            return process.pid();
        }

        public synchronized boolean isAlive()
        {
            return process != null && process.isAlive();
        }

        /** Kills the process (SIGKILL) and waits for it to be gone. */
        public synchronized void kill()
        {
            if (process == null)
            {
                return;
            }
            process.descendants().forEach(ProcessHandle::destroyForcibly);
            process.destroyForcibly();
            try
            {
                if (!process.waitFor(5, TimeUnit.SECONDS))
                {
                    throw new IllegalStateException(label + " (pid " + process.pid() + ") survived SIGKILL for 5 s");
                }
            }
            catch (final InterruptedException e)
            {
                Thread.currentThread().interrupt();
                throw new IllegalStateException("interrupted while killing " + label, e);
            }
        }

        /** Kills the process if it runs, starts it again with the same command line and waits until it is ready. */
        public synchronized Daemon restart()
        {
            kill();
            launch();
            return this;
        }

        /** Path of the log (stdout and stderr of every run, appended). */
        public Path log()
        {
            return log;
        }

        /** The whole log so far, or an empty string. */
        public String logText()
        {
            try
            {
                return Files.exists(log) ? Files.readString(log, StandardCharsets.UTF_8) : "";
            }
            catch (final IOException e)
            {
                return "(cannot read " + log + ": " + e.getMessage() + ")";
            }
        }

        @Override
        public void close()
        {
            kill();
        }

        @Override
        public String toString()
        {
            return label + "[" + String.join(" ", command) + "]";
        }
    }
}
