package org.aoemp.tools.metrics;

import java.util.Collection;
import java.util.function.Supplier;

import io.prometheus.metrics.model.registry.MultiCollector;
import io.prometheus.metrics.model.snapshots.Labels;
import io.prometheus.metrics.model.snapshots.MetricSnapshots;
import org.aoemp.nbd.Export;
import org.aoemp.nbd.ExportCounters;

/**
 * The NBD exports' counters (label {@code export}), read at scrape time: connections opened and
 * open now, requests, errors, size.
 */
public final class ExportMetrics implements MultiCollector
{
    private final Supplier<? extends Collection<Export>> exports;

    /** @param exports the exports now, asked at every scrape (exports are added and removed) */
    public ExportMetrics(final Supplier<? extends Collection<Export>> exports)
    {
        this.exports = exports;
    }

    @Override
    public MetricSnapshots collect()
    {
        final Families f = new Families();
        for (final Export e : exports.get())
        {
            final Labels l = Labels.of("export", e.name());
            final ExportCounters c = e.counters();
            f.counter("aoe_nbd_connections", "NBD connections that began transmission on the export.", l, c.connectionsOpened());
            f.gauge("aoe_nbd_connections_open", "NBD connections transmitting on the export now.", l, c.connectionsOpen());
            f.counter("aoe_nbd_requests", "NBD requests received on the export.", l, c.requests());
            f.counter("aoe_nbd_request_errors", "NBD requests answered with an error.", l, c.errors());
            f.gauge("aoe_nbd_export_size_bytes", "The export's size.", l, size(e));
        }
        return f.build();
    }

    private static double size(final Export e)
    {
        try
        {
            return e.size();
        }
        catch (final RuntimeException ex)
        {
            return Double.NaN;  // a device whose size() throws must not cost the whole scrape
        }
    }
}
