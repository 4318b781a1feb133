package org.aoemp.tools;

import java.time.Duration;
import java.util.Locale;
import java.util.regex.Matcher;
import java.util.regex.Pattern;

import picocli.CommandLine;

/** Parsing and printing of sizes ({@code 4k}, {@code 64M}, {@code 3T}) and durations ({@code 2s}, {@code 500ms}). */
public final class Units
{
    private static final Pattern SIZE = Pattern.compile("(\\d+)\\s*([kmgtpe]?)(i?b?)", Pattern.CASE_INSENSITIVE);
    private static final Pattern DURATION = Pattern.compile("(\\d+(?:\\.\\d+)?)\\s*(ms|us|s|m|h)?", Pattern.CASE_INSENSITIVE);

    private Units()
    {
    }

    /** Bytes from {@code 512}, {@code 4k}, {@code 4KiB}, {@code 64M}, {@code 1G}: binary multiples. */
    public static long parseSize(final String text)
    {
        final Matcher m = SIZE.matcher(text.trim());
        if (!m.matches())
        {
            throw new IllegalArgumentException("not a size (examples: 4096, 4k, 64M, 1G): '" + text + "'");
        }
        final long n = Long.parseLong(m.group(1));
        final int shift = switch (m.group(2).toLowerCase(Locale.ROOT))
        {
            case "k" -> 10;
            case "m" -> 20;
            case "g" -> 30;
            case "t" -> 40;
            case "p" -> 50;
            case "e" -> 60;
            default -> 0;
        };
        if (shift > 0 && n > (Long.MAX_VALUE >> shift))
        {
            throw new IllegalArgumentException("size too large: '" + text + "'");
        }
        return n << shift;
    }

    public static Duration parseDuration(final String text)
    {
        final Matcher m = DURATION.matcher(text.trim());
        if (!m.matches())
        {
            throw new IllegalArgumentException("not a duration (examples: 2s, 500ms, 1m): '" + text + "'");
        }
        final double v = Double.parseDouble(m.group(1));
        final String unit = m.group(2) == null ? "s" : m.group(2).toLowerCase(Locale.ROOT);
        final double nanos = switch (unit)
        {
            case "us" -> v * 1e3;
            case "ms" -> v * 1e6;
            case "m" -> v * 60e9;
            case "h" -> v * 3600e9;
            default -> v * 1e9;
        };
        return Duration.ofNanos((long)nanos);
    }

    /** Decimal gigabytes with three decimals, as aoe-stat prints sizes. */
    public static String gigabytes(final long n)
    {
        return String.format(Locale.ROOT, "%.3fGB", n / 1e9);
    }

    /** picocli converter for sizes. */
    public static final class SizeConverter implements CommandLine.ITypeConverter<Long>
    {
        @Override
        public Long convert(final String value)
        {
            return parseSize(value);
        }
    }

    /** picocli converter for durations. */
    public static final class DurationConverter implements CommandLine.ITypeConverter<Duration>
    {
        @Override
        public Duration convert(final String value)
        {
            return parseDuration(value);
        }
    }
}
