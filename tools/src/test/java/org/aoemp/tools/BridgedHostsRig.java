package org.aoemp.tools;

import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.Locale;
import java.util.concurrent.ThreadLocalRandom;

import org.aoemp.testing.ProcessRunner;

/**
 * Several hosts on one Ethernet segment, for tests where hosts must tell each other apart: a
 * network namespace per initiator host ({@code aoe0} in each, a MAC of its own), one "storage"
 * namespace with a Linux bridge, and a veth per target there ({@code tgtN}) for vblade or
 * {@code aoe target}. Every namespace has {@code lo} up, so a bridge in a host namespace can
 * listen on 127.0.0.1 without meeting another's.
 *
 * <pre>
 *  host0 ns: aoe0 ──┐                       ┌── tgt0 (target 0)
 *  host1 ns: aoe0 ──┼── br0 (storage ns) ───┤
 *                   ┘                       └── tgt1 (target 1)
 * </pre>
 *
 * Names are unique per run ({@code aoeb-PID-RANDOM-...}); every interface lives inside a
 * namespace the rig made, so nothing touches the root namespace's interfaces. {@link #close}
 * kills what still runs in the namespaces and deletes them, also after a failure half-way.
 */
final class BridgedHostsRig implements AutoCloseable
{
    static final String HOST_IF = "aoe0";

    private final String prefix;
    private final List<String> namespaces = new ArrayList<>();
    private final List<String> hostMacs = new ArrayList<>();
    private final int targets;

    private BridgedHostsRig(final String prefix, final int targets)
    {
        this.prefix = prefix;
        this.targets = targets;
    }

    /** Builds the rig: {@code hosts} initiator namespaces and {@code targets} target interfaces on one bridge. */
    static BridgedHostsRig create(final int hosts, final int targets)
    {
        sweepLeftovers();
        final String id = Long.toString(ProcessHandle.current().pid(), 36) + "-"
            + Integer.toString(ThreadLocalRandom.current().nextInt(36 * 36 * 36), 36);
        final BridgedHostsRig rig = new BridgedHostsRig("aoeb-" + id, targets);
        try
        {
            rig.build(hosts);
            return rig;
        }
        catch (final RuntimeException e)
        {
            rig.close();
            throw e;
        }
    }

    /** Deletes the namespaces of earlier runs whose JVM is gone (killed before its rig closed). */
    private static void sweepLeftovers()
    {
        final ProcessRunner.Result list = ProcessRunner.run("ip", "netns", "list");
        list.stdout().lines().map(l -> l.split(" ")[0]).filter(n -> n.startsWith("aoeb-")).forEach(ns ->
        {
            final String[] parts = ns.split("-");
            try
            {
                final long pid = Long.parseLong(parts[1], 36);
                if (ProcessHandle.of(pid).isEmpty())
                {
                    deleteNamespace(ns);
                }
            }
            catch (final NumberFormatException | ArrayIndexOutOfBoundsException e)
            {
                // not one of ours
            }
            catch (final IllegalStateException e)
            {
                // best effort: a namespace another run is deleting right now
            }
        });
    }

    /** Kills what still runs inside {@code ns}, then deletes it. */
    private static void deleteNamespace(final String ns)
    {
        final ProcessRunner.Result pids = ProcessRunner.run("ip", "netns", "pids", ns);
        pids.stdout().lines().map(String::strip).filter(p -> !p.isEmpty())
            .forEach(pid -> ProcessHandle.of(Long.parseLong(pid)).ifPresent(p ->
            {
                p.destroyForcibly();
                p.onExit().completeOnTimeout(null, 5, java.util.concurrent.TimeUnit.SECONDS).join();
            }));
        ProcessRunner.check("ip", "netns", "del", ns);
    }

    private void build(final int hosts)
    {
        final String storage = newNamespace("s");
        ip(storage, "link", "add", "br0", "type", "bridge");
        ip(storage, "link", "set", "br0", "up");
        for (int h = 0; h < hosts; h++)
        {
            final String ns = newNamespace("h" + h);
            final String mac = String.format(Locale.ROOT, "02:ae:%02x:%02x:00:%02x", ThreadLocalRandom.current().nextInt(256),
                ThreadLocalRandom.current().nextInt(256), h + 1);
            ip(ns, "link", "add", HOST_IF, "address", mac, "type", "veth", "peer", "name", "port" + h, "netns", storage);
            ip(ns, "link", "set", HOST_IF, "up");
            ip(storage, "link", "set", "port" + h, "master", "br0", "up");
            hostMacs.add(mac);
        }
        for (int t = 0; t < targets; t++)
        {
            ip(storage, "link", "add", targetIf(t), "type", "veth", "peer", "name", "tport" + t);
            ip(storage, "link", "set", targetIf(t), "up");
            ip(storage, "link", "set", "tport" + t, "master", "br0", "up");
        }
    }

    private String newNamespace(final String role)
    {
        final String ns = prefix + "-" + role;
        ProcessRunner.check("ip", "netns", "add", ns);
        namespaces.add(ns);
        ip(ns, "link", "set", "lo", "up");
        return ns;
    }

    private static void ip(final String ns, final String... args)
    {
        final List<String> argv = new ArrayList<>(List.of("ip", "-n", ns));
        argv.addAll(List.of(args));
        ProcessRunner.check(argv.toArray(String[]::new));
    }

    /** The namespace of initiator host {@code h}. */
    String hostNamespace(final int h)
    {
        return prefix + "-h" + h;
    }

    /** The MAC of host {@code h}'s {@code aoe0}, as {@code aoe} prints MACs. */
    String hostMac(final int h)
    {
        return hostMacs.get(h);
    }

    /** The namespace where the bridge and the targets' interfaces are. */
    String storageNamespace()
    {
        return prefix + "-s";
    }

    /** The interface (in the storage namespace) target {@code t} serves on. */
    static String targetIf(final int t)
    {
        return "tgt" + t;
    }

    /** {@code ip netns exec NS}: the prefix that runs a command inside namespace {@code ns}. */
    static List<String> in(final String ns)
    {
        return List.of("ip", "netns", "exec", ns);
    }

    /** Packets host {@code h} has sent so far (the bridge port's receive count). */
    long packetsSentBy(final int h)
    {
        final String text = ProcessRunner.check("ip", "netns", "exec", storageNamespace(), "cat", "/sys/class/net/port" + h
            + "/statistics/rx_packets");
        return Long.parseLong(text.strip());
    }

    int targets()
    {
        return targets;
    }

    @Override
    public void close()
    {
        RuntimeException failure = null;
        for (final String ns : namespaces.reversed())
        {
            if (!Files.exists(Path.of("/run/netns", ns)))
            {
                continue;
            }
            try
            {
                deleteNamespace(ns);
            }
            catch (final RuntimeException e)
            {
                if (failure == null)
                {
                    failure = e;
                }
                else
                {
                    failure.addSuppressed(e);
                }
            }
        }
        namespaces.clear();
        if (failure != null)
        {
            throw failure;
        }
    }
}
