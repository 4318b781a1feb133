package org.aoemp.initiator;

import java.util.concurrent.atomic.AtomicLongArray;

/**
 * Requests of one device by kind (read, write, flush, write-zeroes), counted when they complete:
 * how many, how many failed, and the bytes of those that succeeded. IDENTIFY and probes are the
 * engine's own and not counted.
 *
 * <p>Threading: one writer, the engine thread, once per request (not per frame): ordered
 * stores into an {@link AtomicLongArray}; any thread reads a {@link #snapshot}.
 */
final class RequestCounters
{
    private static final int KINDS = RequestStats.KINDS.size();
    private static final int REQUESTS = 0;
    private static final int ERRORS = 1;
    private static final int BYTES = 2;

    private static final long SECTOR = org.aoemp.protocol.AtaHeader.SECTOR_SIZE;

    private final AtomicLongArray values = new AtomicLongArray(KINDS * 3);

    /** Engine thread: {@code r} completed (with its error, if any). */
    void completed(final IoRequest r)
    {
        if (r.op > IoRequest.ZEROES)
        {
            return;
        }
        final int kind = kindOf(r.op);
        add(kind, REQUESTS, 1);
        if (r.error != null)
        {
            add(kind, ERRORS, 1);
        }
        else if (r.hasData())
        {
            add(kind, BYTES, r.sectors * SECTOR);
        }
    }

    private static int kindOf(final int op)
    {
        return switch (op)
        {
            case IoRequest.READ -> 0;
            case IoRequest.WRITE -> 1;
            case IoRequest.FLUSH -> 2;
            default -> 3;  // ZEROES
        };
    }

    private void add(final int kind, final int what, final long n)
    {
        final int i = kind * 3 + what;
        values.lazySet(i, values.get(i) + n);  // single writer
    }

    RequestStats snapshot()
    {
        final long[] requests = new long[KINDS];
        final long[] errors = new long[KINDS];
        final long[] bytes = new long[KINDS];
        for (int k = 0; k < KINDS; k++)
        {
            requests[k] = values.get(k * 3 + REQUESTS);
            errors[k] = values.get(k * 3 + ERRORS);
            bytes[k] = values.get(k * 3 + BYTES);
        }
        return new RequestStats(requests, errors, bytes);
    }
}
