package org.aoemp.initiator;

/**
 * Where the next command goes and how big it is; pure functions of the paths' state.
 *
 * <ul>
 * <li>A new command goes to the path with room (carrying traffic, fewer commands in flight than
 *     its window) whose next command is expected to complete first: (in flight + 1) × SRTT.</li>
 * <li>A retransmission prefers another path with room; else its previous path if that still
 *     carries traffic, room or not (it is the one that timed out, and the window only bounds new
 *     work); else whichever path carries traffic and is expected to complete first. Only paths
 *     whose frames can carry the command now count: an MTU may have been lowered since it was
 *     made; when none can, the {@link CommandIssuer} sends it again in pieces that fit.</li>
 * <li>A command carries at most the smallest sector limit of the paths that carry traffic (MTU
 *     and target limits), so that it can be retransmitted on any of them; with no such path, of
 *     every path; with no path at all, 2 (a 1500-byte MTU). Capped by the device option.</li>
 * </ul>
 *
 * <p>Threading: none of its own; the engine calls it with the paths it owns, and monitoring may
 * call {@link #sectorsPerCommand} from any thread.
 */
final class PathScheduler
{
    /** Sectors per command when no path is known yet: what a 1500-byte MTU carries. */
    static final int DEFAULT_SECTORS = 2;
    /** The most sectors an AoE ATA command can carry (its sector count is one byte). */
    static final int MAX_SECTORS = 255;

    private PathScheduler()
    {
    }

    /** The path for a new command, or null when no path has room. */
    static Path forCommand(final Path[] paths)
    {
        Path best = null;
        long bestCost = Long.MAX_VALUE;
        for (final Path p : paths)
        {
            if (p.hasRoom())
            {
                final long cost = p.expectedCompletionNanos();
                if (cost < bestCost)
                {
                    best = p;
                    bestCost = cost;
                }
            }
        }
        return best;
    }

    /** The path for a retransmission of a command last sent on {@code previous} (null if never sent), or null. */
    static Path forRetry(final Path[] paths, final Path previous)
    {
        return forRetry(paths, previous, 0);
    }

    /**
     * The path for a retransmission of a command of {@code sectors} last sent on {@code previous}
     * (null if never sent), among the paths whose frames can carry it now; null if none can (then
     * the caller splits it, see {@link #fitsNone}) or none carries traffic.
     */
    static Path forRetry(final Path[] paths, final Path previous, final int sectors)
    {
        Path best = null;
        long bestCost = Long.MAX_VALUE;
        for (final Path p : paths)
        {
            if (p != previous && p.hasRoom() && p.carries(sectors) && p.expectedCompletionNanos() < bestCost)
            {
                best = p;
                bestCost = p.expectedCompletionNanos();
            }
        }
        if (best != null)
        {
            return best;
        }
        if (previous != null && previous.state().carriesTraffic() && previous.carries(sectors))
        {
            return previous;
        }
        for (final Path p : paths)
        {
            if (p.state().carriesTraffic() && p.carries(sectors) && p.expectedCompletionNanos() < bestCost)
            {
                best = p;
                bestCost = p.expectedCompletionNanos();
            }
        }
        return best;
    }

    /**
     * Whether no path that carries traffic can carry a command of {@code sectors} in one frame now
     * (an MTU was lowered after the command was made): it must be sent again in smaller pieces.
     */
    static boolean fitsNone(final Path[] paths, final int sectors)
    {
        boolean carrying = false;
        for (final Path p : paths)
        {
            if (p.state().carriesTraffic())
            {
                carrying = true;
                if (p.carries(sectors))
                {
                    return false;
                }
            }
        }
        return carrying;
    }

    /**
     * Sectors per ATA command.
     *
     * @param maxSectorsOption the device option: a cap, 0 for none
     */
    static int sectorsPerCommand(final Path[] paths, final int maxSectorsOption)
    {
        final int cap = maxSectorsOption == 0 ? MAX_SECTORS : maxSectorsOption;
        int carrying = Integer.MAX_VALUE;
        int all = Integer.MAX_VALUE;
        for (final Path p : paths)
        {
            all = Math.min(all, p.maxSectors());
            if (p.state().carriesTraffic())
            {
                carrying = Math.min(carrying, p.maxSectors());
            }
        }
        final int n = carrying != Integer.MAX_VALUE ? carrying : all;
        return n == Integer.MAX_VALUE ? Math.min(cap, DEFAULT_SECTORS) : Math.min(cap, n);
    }
}
