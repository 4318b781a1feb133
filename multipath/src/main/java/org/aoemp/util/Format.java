package org.aoemp.util;

import java.util.Locale;

/** Short human-readable numbers for progress lines and summaries. */
public final class Format
{
    private Format()
    {
    }

    /** {@code 850ns}, {@code 210us}, {@code 1.20ms}, {@code 2.50s}. */
    public static String latency(final long nanos)
    {
        if (nanos < 1_000)
        {
            return nanos + "ns";
        }
        if (nanos < 1_000_000)
        {
            return String.format(Locale.ROOT, nanos < 10_000 ? "%.1fus" : "%.0fus", nanos / 1e3);
        }
        if (nanos < 1_000_000_000)
        {
            return String.format(Locale.ROOT, nanos < 10_000_000 ? "%.2fms" : nanos < 100_000_000 ? "%.1fms" : "%.0fms", nanos / 1e6);
        }
        return String.format(Locale.ROOT, "%.2fs", nanos / 1e9);
    }

    /** {@code 950}, {@code 12.3k}, {@code 1.25M}. */
    public static String count(final double n)
    {
        if (n < 10_000)
        {
            return String.format(Locale.ROOT, "%.0f", n);
        }
        if (n < 1_000_000)
        {
            return String.format(Locale.ROOT, "%.1fk", n / 1e3);
        }
        return String.format(Locale.ROOT, "%.2fM", n / 1e6);
    }

    /** Bytes with binary units: {@code 4 KiB}, {@code 1.0 GiB}. */
    public static String bytes(final long n)
    {
        if (n < 1024)
        {
            return n + " B";
        }
        final String[] units = {"KiB", "MiB", "GiB", "TiB", "PiB", "EiB"};
        double v = n;
        int u = -1;
        while (v >= 1024 && u < units.length - 1)
        {
            v /= 1024;
            u++;
        }
        return v == Math.rint(v) ? String.format(Locale.ROOT, "%.0f %s", v, units[u]) : String.format(Locale.ROOT, "%.1f %s", v, units[u]);
    }
}
