package org.aoemp.initiator;

import java.util.ArrayList;
import java.util.Collection;
import java.util.Comparator;
import java.util.List;
import java.util.Map;
import java.util.concurrent.ConcurrentHashMap;
import java.util.concurrent.CopyOnWriteArrayList;

import org.aoemp.protocol.MacAddress;

/**
 * Every target seen by discovery: shelf.slot → the remote MACs that answered, per local port,
 * with what each advertised in its config response. Written by port receive threads (config
 * responses, including unsolicited announcements), read by anyone.
 */
public final class TargetDirectory
{
    /** One (local port, remote MAC) that answered for a target: a potential path. */
    public record Endpoint(Port port, long mac, int bufferCount, int firmwareVersion, int sectorCount, String configString,
                           long lastSeenNanos)
    {
        public String macString()
        {
            return new MacAddress(mac).toString();
        }

        /** Payload bytes per frame this endpoint allows: the smaller of the port's MTU and the target's sector count. */
        public int payloadBytes()
        {
            final int target = sectorCount == 0 ? 2 : sectorCount;
            return Math.min(port.maxSectors(), target) * 512;
        }
    }

    /** A discovered target and its endpoints. */
    public static final class Target
    {
        private final TargetAddress address;
        private final Map<String, Endpoint> endpoints = new ConcurrentHashMap<>();
        /** When each endpoint was first heard, as a sequence number of the directory. */
        private final Map<String, Long> firstHeard = new ConcurrentHashMap<>();

        Target(final TargetAddress address)
        {
            this.address = address;
        }

        public TargetAddress address()
        {
            return address;
        }

        public List<Endpoint> endpoints()
        {
            final List<Endpoint> out = new ArrayList<>(endpoints.values());
            out.sort(Comparator.comparing((Endpoint e) -> e.port().name()).thenComparingLong(Endpoint::mac));
            return out;
        }

        /** The endpoints in the order they were first heard. */
        public List<Endpoint> endpointsInOrderHeard()
        {
            final List<Endpoint> out = new ArrayList<>(endpoints.values());
            out.sort(Comparator.comparingLong((Endpoint e) -> firstHeard.getOrDefault(key(e), Long.MAX_VALUE)));
            return out;
        }

        /** Config string of the most recently heard endpoint. */
        public String configString()
        {
            return newest().configString();
        }

        public int firmwareVersion()
        {
            return newest().firmwareVersion();
        }

        public int bufferCount()
        {
            return newest().bufferCount();
        }

        /** Payload per frame over all endpoints: the minimum, as the device will use it. */
        public int payloadBytes()
        {
            int min = Integer.MAX_VALUE;
            for (final Endpoint e : endpoints.values())
            {
                min = Math.min(min, e.payloadBytes());
            }
            return min == Integer.MAX_VALUE ? 1024 : min;
        }

        private Endpoint newest()
        {
            Endpoint best = null;
            for (final Endpoint e : endpoints.values())
            {
                if (best == null || e.lastSeenNanos() - best.lastSeenNanos() > 0)
                {
                    best = e;
                }
            }
            return best;
        }

        @Override
        public String toString()
        {
            return address + " " + endpoints();
        }
    }

    /** Told about every endpoint heard, new or refreshed. Called on a receive thread: be quick. */
    @FunctionalInterface
    public interface Listener
    {
        void onEndpoint(TargetAddress address, Endpoint endpoint);
    }

    private static final org.slf4j.Logger LOG = org.slf4j.LoggerFactory.getLogger(TargetDirectory.class);
    private final Map<TargetAddress, Target> targets = new ConcurrentHashMap<>();
    private final List<Listener> listeners = new CopyOnWriteArrayList<>();
    private final java.util.concurrent.atomic.AtomicLong heard = new java.util.concurrent.atomic.AtomicLong();

    private static String key(final Endpoint e)
    {
        return e.port().name() + "/" + e.mac();
    }

    void update(final TargetAddress address, final Endpoint endpoint)
    {
        final Target t = targets.computeIfAbsent(address, Target::new);
        t.firstHeard.putIfAbsent(key(endpoint), heard.incrementAndGet());
        if (t.endpoints.put(key(endpoint), endpoint) == null && LOG.isDebugEnabled())
        {
            LOG.debug("discovered {} on {} from {}: buffers {}, {} bytes per frame, config string \"{}\"", address,
                endpoint.port().name(), endpoint.macString(), endpoint.bufferCount(), endpoint.payloadBytes(), endpoint.configString());
        }
        synchronized (this)
        {
            notifyAll();
        }
        for (final Listener l : listeners)
        {
            l.onEndpoint(address, endpoint);
        }
    }

    public void addListener(final Listener l)
    {
        listeners.add(l);
    }

    public void removeListener(final Listener l)
    {
        listeners.remove(l);
    }

    /** The target, once an endpoint of it has been recorded (a receive thread may be between creating and filling it). */
    public Target get(final TargetAddress address)
    {
        final Target t = targets.get(address);
        return t == null || t.endpoints.isEmpty() ? null : t;
    }

    public Collection<Target> targets()
    {
        final List<Target> out = new ArrayList<>();
        for (final Target t : targets.values())
        {
            if (!t.endpoints.isEmpty())
            {
                out.add(t);
            }
        }
        out.sort(Comparator.comparing(Target::address));
        return out;
    }

    /** Waits until {@code address} has been heard, or the deadline passes. Returns the target or null. */
    public Target await(final TargetAddress address, final long deadlineNanos) throws InterruptedException
    {
        synchronized (this)
        {
            while (true)
            {
                final Target t = get(address);
                if (t != null)
                {
                    return t;
                }
                final long left = deadlineNanos - System.nanoTime();
                if (left <= 0)
                {
                    return null;
                }
                wait(Math.max(1, left / 1_000_000));
            }
        }
    }
}
