package org.aoemp.tools.serve;

import java.net.InetSocketAddress;
import java.nio.file.Path;
import java.time.Duration;
import java.util.List;

import org.aoemp.initiator.TargetAddress;

/**
 * What one {@code aoe serve} config file asks for, checked ({@link ConfigLoader}). Immutable;
 * records compare by value, which is how a reload tells an unchanged export or target from a
 * changed one.
 *
 * @param file    the file it was read from
 * @param nbd     the {@code [nbd]} table
 * @param service the {@code [service]} table
 * @param exports the {@code [[export]]} entries, in file order (the order NBD LIST reports)
 * @param targets the {@code [[target]]} entries, in file order
 */
public record ServeConfig(Path file, Nbd nbd, Service service, List<ExportSpec> exports, List<TargetSpec> targets)
{
    public static final String DEFAULT_LISTEN = "127.0.0.1:10809";
    public static final Duration DEFAULT_STOP_TIMEOUT = Duration.ofSeconds(30);
    public static final Duration DEFAULT_DEAD_AFTER = Duration.ofSeconds(60);
    public static final Duration DEFAULT_OPEN_TIMEOUT = Duration.ofSeconds(30);

    public ServeConfig
    {
        exports = List.copyOf(exports);
        targets = List.copyOf(targets);
    }

    /**
     * {@code [nbd]}; the access keys are checked ({@link org.aoemp.tools.NbdAccess#of}) and kept as written.
     *
     * @param listen          where the NBD server listens (unless systemd passed a socket): HOST:PORT or unix:PATH, at least one
     * @param defaultExport   the export the name {@code ""} selects; null: the first
     * @param allow           CIDR blocks of the TCP clients let in; empty: everyone
     * @param tls             off, on or require
     * @param tlsCertificates the certificates directory (absolute), or null
     */
    public record Nbd(List<String> listen, String defaultExport, List<String> allow, String tls, Path tlsCertificates)
    {
        public Nbd
        {
            listen = List.copyOf(listen);
            allow = List.copyOf(allow);
        }

        /** The checked access settings; reads the TLS certificates. */
        public org.aoemp.tools.NbdAccess access()
        {
            return org.aoemp.tools.NbdAccess.of(listen, allow, tls, tlsCertificates, "nbd.");
        }

        /** Whether the listen addresses, allow-list or TLS differ (they take effect at a restart). */
        boolean accessDiffers(final Nbd other)
        {
            return !listen.equals(other.listen) || !allow.equals(other.allow) || !tls.equals(other.tls)
                || !java.util.Objects.equals(tlsCertificates, other.tlsCertificates);
        }
    }

    /**
     * {@code [service]}.
     *
     * @param stopTimeout how long a clean stop may take before the process exits regardless
     * @param transport   how raw frames are sent: afpacket or pcap
     * @param metrics     where to serve Prometheus metrics ({@code metrics = "HOST:PORT"}, unresolved), or null for nowhere
     */
    public record Service(Duration stopTimeout, String transport, InetSocketAddress metrics)
    {
        public Service(final Duration stopTimeout, final String transport)
        {
            this(stopTimeout, transport, null);
        }
    }

    /**
     * {@code [[export]]}: an AoE target opened by the initiator and served over NBD as {@code eX.Y}.
     *
     * @param target      the AoE target
     * @param interfaces  local interfaces to reach it on; empty: every interface that is up
     * @param readOnly    clients may not write
     * @param deadAfter   I/O fails with EIO when no path answered for this long (0: never)
     * @param openTimeout how long to wait for the target to answer when the export starts
     * @param exclusive   reserve the target for this host's MACs while it is served (one writer)
     */
    public record ExportSpec(TargetAddress target, List<String> interfaces, boolean readOnly, Duration deadAfter, Duration openTimeout,
        boolean exclusive)
    {
        public ExportSpec
        {
            interfaces = List.copyOf(interfaces);
        }

        /** The NBD export name. */
        public String name()
        {
            return target.toString();
        }
    }

    /**
     * {@code [[target]]}: a file or block device served as an AoE target (vblade's job).
     *
     * @param shelf        0..65534
     * @param slot         0..254
     * @param file         the backing file or block device
     * @param interfaces   the interfaces it answers on
     * @param readOnly     writes are aborted
     * @param macMask      when not empty, only these initiator MACs are answered
     * @param buffers      the advertised buffer count
     * @param sync         every write is durable before it is acknowledged (O_DSYNC)
     * @param offset       sectors of the file skipped
     * @param length       sectors exported, -1 for the rest of the file
     * @param configString the initial AoE config string
     */
    public record TargetSpec(int shelf, int slot, Path file, List<String> interfaces, boolean readOnly, List<String> macMask, int buffers,
        boolean sync, long offset, long length, String configString)
    {
        public TargetSpec
        {
            interfaces = List.copyOf(interfaces);
            macMask = List.copyOf(macMask);
        }

        public String name()
        {
            return "e" + shelf + "." + slot;
        }
    }
}
