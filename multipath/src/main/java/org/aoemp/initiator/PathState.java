package org.aoemp.initiator;

/**
 * Health of a path. UP carries traffic; SUSPECT had a timeout and keeps a collapsed window until
 * a reply restores it; DOWN had too many consecutive timeouts or its link went down, carries
 * nothing, and its commands moved to other paths; PROBING is DOWN with a probe in flight.
 */
public enum PathState
{
    UP, SUSPECT, DOWN, PROBING;

    public boolean carriesTraffic()
    {
        return this == UP || this == SUSPECT;
    }
}
