package org.aoemp.target;

import java.util.Arrays;

import org.aoemp.protocol.AoeHeader;
import org.aoemp.protocol.MacMaskHeader;

/**
 * What initiators may change in a target while it runs: the config string, the MAC mask list and
 * the reservation list.
 *
 * <p>Meaning. The config string (at most 1024 bytes, ISO-8859-1) is what Query Config reads,
 * tests and sets. The mask list (at most 32 MACs): while it is not empty, frames from any other
 * MAC are ignored without a word. The reservation list: while it is not empty, ATA commands from
 * other MACs except IDENTIFY get AoE error 6 (target reserved).
 *
 * <p>Threading: each value is an immutable array behind a volatile field, so the per-frame checks
 * of every receive thread read them without a lock and without allocating. The (rare) edits, from
 * any receive thread, build a new array and swap it in under one lock, so two edits arriving on
 * two NICs at once never lose one another. Arrays returned by the getters must not be modified.
 */
final class TargetState
{
    /** An edit's result: the list as it is after the edit, and the error the reply carries (0: none). */
    record Edit(long[] list, int error)
    {
    }

    private final Object edits = new Object();
    private volatile long[] masks;
    private volatile long[] reservations = new long[0];
    private volatile byte[] configString;

    /**
     * @param masks        the initial mask list (distinct MACs, at most 32)
     * @param configString the initial config string
     */
    TargetState(final long[] masks, final byte[] configString)
    {
        this.masks = masks.clone();
        this.configString = configString.clone();
    }

    /** The config string now. Any thread; do not modify. */
    byte[] configString()
    {
        return configString;
    }

    /** The MAC mask list now (empty: every MAC is answered). Any thread; do not modify. */
    long[] masks()
    {
        return masks;
    }

    /** The reservation list now (empty: not reserved). Any thread; do not modify. */
    long[] reservations()
    {
        return reservations;
    }

    /** Query Config set: sets {@code s} only while no string is set; true if it did. */
    boolean setConfigStringIfEmpty(final byte[] s)
    {
        synchronized (edits)
        {
            if (configString.length != 0)
            {
                return false;
            }
            configString = s;
            return true;
        }
    }

    /** Query Config force set. */
    void forceConfigString(final byte[] s)
    {
        synchronized (edits)
        {
            configString = s;
        }
    }

    /**
     * MAC Mask List edit: applies the request's directives in order (add: appended unless listed;
     * delete: removed if listed; none: nothing). The first one that fails (the list is full, an
     * unknown directive) stops the edit, and the ones before it stay applied; the result carries
     * the list as it now is and that merror.
     */
    Edit editMasks(final MacMaskHeader m)
    {
        synchronized (edits)
        {
            final long[] current = masks;
            final long[] edited = Arrays.copyOf(current, MacMaskHeader.MAX_MASKS);
            int n = current.length;
            int merror = 0;
            for (int i = 0; i < m.directiveCount() && merror == 0; i++)
            {
                final long mac = m.mac(i);
                switch (m.dcmd(i))
                {
                    case MacMaskHeader.DCMD_NONE ->
                    {
                    }
                    case MacMaskHeader.DCMD_ADD ->
                    {
                        if (indexOf(edited, n, mac) < 0)
                        {
                            if (n == MacMaskHeader.MAX_MASKS)
                            {
                                merror = MacMaskHeader.MERROR_LIST_FULL;
                            }
                            else
                            {
                                edited[n++] = mac;
                            }
                        }
                    }
                    case MacMaskHeader.DCMD_DELETE ->
                    {
                        final int j = indexOf(edited, n, mac);
                        if (j >= 0)
                        {
                            System.arraycopy(edited, j + 1, edited, j, n - j - 1);
                            n--;
                        }
                    }
                    default -> merror = MacMaskHeader.MERROR_BAD_DCMD;
                }
            }
            final long[] list = Arrays.copyOf(edited, n);
            masks = list;
            return new Edit(list, merror);
        }
    }

    /**
     * Reserve/Release set ({@code force} false) or force set: replaces the list with the distinct
     * MACs of {@code wanted} (none releases). A plain set while the target is reserved for others
     * (the list is not empty and does not hold {@code source}) changes nothing and fails with
     * AoE error 6.
     */
    Edit reserve(final boolean force, final long source, final long[] wanted)
    {
        synchronized (edits)
        {
            final long[] current = reservations;
            if (!force && current.length > 0 && !contains(current, source))
            {
                return new Edit(current, AoeHeader.ERR_TARGET_RESERVED);
            }
            final long[] list = Arrays.stream(wanted).distinct().toArray();
            reservations = list;
            return new Edit(list, 0);
        }
    }

    static boolean contains(final long[] macs, final long mac)
    {
        return indexOf(macs, macs.length, mac) >= 0;
    }

    private static int indexOf(final long[] macs, final int n, final long mac)
    {
        for (int i = 0; i < n; i++)
        {
            if (macs[i] == mac)
            {
                return i;
            }
        }
        return -1;
    }
}
