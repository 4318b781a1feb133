package org.aoemp.initiator;

import java.util.List;

/**
 * A device's completed requests by kind, indexed as {@link #KINDS}: {@code read}, {@code write},
 * {@code flush}, {@code write_zeroes}.
 *
 * @param requests completed requests, failed ones included
 * @param errors   requests that completed with an error
 * @param bytes    data bytes of the requests that succeeded (flush: 0)
 */
public record RequestStats(long[] requests, long[] errors, long[] bytes)
{
    /** The kinds, in index order, as label values. */
    public static final List<String> KINDS = List.of("read", "write", "flush", "write_zeroes");
}
