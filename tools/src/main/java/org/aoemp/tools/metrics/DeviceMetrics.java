package org.aoemp.tools.metrics;

import java.util.Collection;
import java.util.function.Supplier;

import io.prometheus.metrics.model.registry.MultiCollector;
import io.prometheus.metrics.model.snapshots.Labels;
import io.prometheus.metrics.model.snapshots.MetricSnapshots;
import org.aoemp.initiator.AoeDevice;
import org.aoemp.initiator.DeviceStats;
import org.aoemp.initiator.PathState;
import org.aoemp.initiator.PathStats;
import org.aoemp.initiator.RequestStats;
import org.aoemp.initiator.RttHistogram;

/**
 * The AoE devices' and their paths' counters as Prometheus metrics, read at scrape time from the
 * snapshots the engine keeps anyway ({@link AoeDevice#stats}, {@link AoeDevice#requestStats}):
 * nothing is added to the I/O path but the per-reply RTT bucket and the per-request count.
 *
 * <p>Per path (labels {@code device}, {@code interface}, {@code target_mac}): {@code aoe_path_state}
 * (one sample per state, 1 for the current one), the RTT as a histogram
 * ({@code aoe_path_rtt_seconds}) next to the estimator's SRTT and RTO, window, commands in flight,
 * the target's buffer count, frames and bytes each way, retransmits, timeouts, state changes.
 * Per device (label {@code device}): requests, errors and bytes by {@code kind}, commands in
 * flight, requests queued, dead, given up, size, refused replies and engine errors.
 */
public final class DeviceMetrics implements MultiCollector
{
    private final Supplier<? extends Collection<AoeDevice>> devices;

    /** @param devices the devices to report, asked at every scrape (devices come and go) */
    public DeviceMetrics(final Supplier<? extends Collection<AoeDevice>> devices)
    {
        this.devices = devices;
    }

    @Override
    public MetricSnapshots collect()
    {
        final Families f = new Families();
        for (final AoeDevice d : devices.get())
        {
            device(f, d);
        }
        return f.build();
    }

    private static void device(final Families f, final AoeDevice d)
    {
        final DeviceStats s = d.stats();
        final Labels dev = Labels.of("device", s.device());
        final RequestStats r = d.requestStats();
        for (int k = 0; k < RequestStats.KINDS.size(); k++)
        {
            final Labels kind = Labels.of("device", s.device(), "kind", RequestStats.KINDS.get(k));
            f.counter("aoe_device_requests", "Requests completed, by kind (failed ones included).", kind, r.requests()[k]);
            f.counter("aoe_device_request_errors", "Requests completed with an error, by kind.", kind, r.errors()[k]);
            f.counter("aoe_device_request_bytes", "Data bytes of the requests that succeeded, by kind.", kind, r.bytes()[k]);
        }
        int commandsInFlight = 0;
        for (final PathStats p : s.paths())
        {
            commandsInFlight += p.inFlight();
        }
        f.gauge("aoe_device_commands_in_flight", "ATA commands sent and not yet answered, over every path.", dev, commandsInFlight);
        f.gauge("aoe_device_requests_queued", "Requests submitted and not yet taken by the device's engine.", dev, d.queuedRequests());
        f.gauge("aoe_device_dead", "1 while no path has answered for dead-after (requests fail with EIO).", dev, s.dead() ? 1 : 0);
        f.gauge("aoe_device_given_up", "1 once the engine gave up after repeated errors.", dev, s.givenUp() ? 1 : 0);
        f.gauge("aoe_device_size_bytes", "The device's capacity.", dev, s.sizeBytes());
        f.gauge("aoe_device_sectors_per_command", "Sectors per ATA command over the paths that carry traffic.", dev,
            s.sectorsPerCommand());
        f.counter("aoe_device_stale_replies", "Replies to commands no longer in flight (late, duplicate).", dev, s.staleReplies());
        f.counter("aoe_device_foreign_replies", "Replies from a MAC that is not their command's path.", dev, s.foreignReplies());
        f.counter("aoe_device_truncated_replies", "Replies shorter than their command's data.", dev, s.truncatedReplies());
        f.counter("aoe_device_engine_errors", "Duty cycles of the device's engine that threw.", dev, s.engineErrors());
        f.counter("aoe_device_callback_failures", "Request callbacks that threw.", dev, s.callbackFailures());
        for (final PathStats p : s.paths())
        {
            path(f, s.device(), p);
        }
    }

    private static void path(final Families f, final String device, final PathStats p)
    {
        final Labels path = Labels.of("device", device, "interface", p.localInterface(), "target_mac", p.remoteMac());
        for (final PathState st : PathState.values())
        {
            f.gauge("aoe_path_state", "1 for the path's current state (up, suspect, down, probing), 0 for the others.",
                Labels.of("device", device, "interface", p.localInterface(), "target_mac", p.remoteMac(),
                    "state", st.name().toLowerCase(java.util.Locale.ROOT)),
                p.state() == st ? 1 : 0);
        }
        final RttHistogram.Snapshot h = p.rttHistogram();
        f.histogram("aoe_path_rtt_seconds", "Round-trip time of every reply on the path.", path, h.upperBoundsSeconds(),
            h.counts(), h.sumSeconds());
        f.gauge("aoe_path_srtt_seconds", "Smoothed RTT (RFC 6298) the scheduler uses.", path, p.srttMicros() / 1e6);
        f.gauge("aoe_path_rto_seconds", "Retransmission timeout now.", path, p.rtoMicros() / 1e6);
        f.gauge("aoe_path_window", "Congestion window: commands the path may have in flight.", path, p.window());
        f.gauge("aoe_path_in_flight", "Commands in flight on the path.", path, p.inFlight());
        f.gauge("aoe_path_buffer_count", "The target's buffer count (the window's ceiling).", path, p.bufferCount());
        f.counter("aoe_path_frames_sent", "Command frames sent, retransmissions included.", path, p.framesSent());
        f.counter("aoe_path_frames_received", "Replies accepted.", path, p.framesReceived());
        f.counter("aoe_path_sent_bytes", "Data bytes sent (write payloads).", path, p.bytesSent());
        f.counter("aoe_path_received_bytes", "Data bytes received (read payloads).", path, p.bytesReceived());
        f.counter("aoe_path_retransmits", "Commands sent again after a timeout.", path, p.retransmits());
        f.counter("aoe_path_timeouts", "Commands that timed out on the path.", path, p.timeouts());
        f.counter("aoe_path_spurious_timeouts", "Timeouts whose reply came after all (a busy host or target); each raises the "
            + "path's RTO floor.", path, p.spuriousTimeouts());
        f.gauge("aoe_path_rto_floor_seconds", "The RTO floor in force (raised after spurious timeouts).", path,
            p.rtoFloorMicros() / 1e6);
        f.counter("aoe_path_state_changes", "Changes of the path's state.", path, p.stateChanges());
    }
}
