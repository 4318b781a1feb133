package org.aoemp.tools.metrics;

import java.util.LinkedHashMap;
import java.util.Map;

import io.prometheus.metrics.model.snapshots.ClassicHistogramBuckets;
import io.prometheus.metrics.model.snapshots.CounterSnapshot;
import io.prometheus.metrics.model.snapshots.GaugeSnapshot;
import io.prometheus.metrics.model.snapshots.HistogramSnapshot;
import io.prometheus.metrics.model.snapshots.Labels;
import io.prometheus.metrics.model.snapshots.MetricSnapshot;
import io.prometheus.metrics.model.snapshots.MetricSnapshots;
import io.prometheus.metrics.model.snapshots.Unit;

/**
 * The metric families of one scrape, filled sample by sample: one family per name however many
 * devices, paths or exports contribute to it. Names are given without the {@code _total} a counter
 * gets in the text format; a name ending in {@code _seconds} or {@code _bytes} carries that unit.
 * Scrape thread only.
 */
final class Families
{
    private final Map<String, CounterSnapshot.Builder> counters = new LinkedHashMap<>();
    private final Map<String, GaugeSnapshot.Builder> gauges = new LinkedHashMap<>();
    private final Map<String, HistogramSnapshot.Builder> histograms = new LinkedHashMap<>();

    void counter(final String name, final String help, final Labels labels, final double value)
    {
        counters.computeIfAbsent(name, n -> withUnit(CounterSnapshot.builder().name(n).help(help), n))
            .dataPoint(CounterSnapshot.CounterDataPointSnapshot.builder().labels(labels).value(value).build());
    }

    void gauge(final String name, final String help, final Labels labels, final double value)
    {
        gauges.computeIfAbsent(name, n -> withUnit(GaugeSnapshot.builder().name(n).help(help), n))
            .dataPoint(GaugeSnapshot.GaugeDataPointSnapshot.builder().labels(labels).value(value).build());
    }

    /** A classic histogram: per-bucket (not cumulative) counts, the last bound +Inf. */
    void histogram(final String name, final String help, final Labels labels, final double[] upperBounds, final long[] counts,
        final double sum)
    {
        histograms.computeIfAbsent(name, n -> withUnit(HistogramSnapshot.builder().name(n).help(help), n))
            .dataPoint(HistogramSnapshot.HistogramDataPointSnapshot.builder().labels(labels)
                .classicHistogramBuckets(ClassicHistogramBuckets.of(upperBounds, counts)).sum(sum).build());
    }

    private static <T extends MetricSnapshot.Builder<T>> T withUnit(final T b, final String name)
    {
        if (name.endsWith("_seconds"))
        {
            b.unit(Unit.SECONDS);
        }
        else if (name.endsWith("_bytes"))
        {
            b.unit(Unit.BYTES);
        }
        return b;
    }

    MetricSnapshots build()
    {
        final MetricSnapshots.Builder out = MetricSnapshots.builder();
        counters.values().forEach(b -> out.metricSnapshot(b.build()));
        gauges.values().forEach(b -> out.metricSnapshot(b.build()));
        histograms.values().forEach(b -> out.metricSnapshot(b.build()));
        return out.build();
    }
}
