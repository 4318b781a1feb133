package org.aoemp.tools;

import java.time.Duration;
import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Locale;
import java.util.Map;

import org.aoemp.block.IoError;
import org.aoemp.initiator.AoeDevice;
import org.aoemp.initiator.DeviceOptions;
import org.aoemp.initiator.Initiator;
import org.aoemp.initiator.PathStats;
import org.aoemp.initiator.TargetDirectory;
import org.aoemp.initiator.TargetIdentities;
import org.aoemp.protocol.Identify;

/** Discovery followed by IDENTIFY of every target found: what {@code discover} and {@code stat} print. */
final class Survey
{
    /** One target: its directory entry and its IDENTIFY data, or why IDENTIFY failed. */
    record Entry(TargetDirectory.Target target, Identify identify, long sizeBytes, String error, List<PathStats> paths,
                 TargetIdentities identities)
    {
        /** True when more than one disk answers as this shelf.slot. */
        boolean conflict()
        {
            return identities != null && identities.hasConflict();
        }

        Map<String, Object> toJson()
        {
            final Map<String, Object> m = new LinkedHashMap<>();
            m.put("target", target.address().toString());
            m.put("shelf", target.address().shelf());
            m.put("slot", target.address().slot());
            m.put("sizeBytes", sizeBytes);
            if (identify != null)
            {
                m.put("model", identify.model());
                m.put("serial", identify.serial());
                m.put("firmwareRevision", identify.firmware());
                m.put("lba48", identify.lba48());
            }
            if (error != null)
            {
                m.put("error", error);
            }
            m.put("firmwareVersion", String.format(Locale.ROOT, "0x%04x", target.firmwareVersion()));
            m.put("bufferCount", target.bufferCount());
            m.put("payloadBytes", target.payloadBytes());
            m.put("configString", target.configString());
            final List<Object> paths = new ArrayList<>();
            for (final TargetDirectory.Endpoint e : target.endpoints())
            {
                final Map<String, Object> p = new LinkedHashMap<>();
                p.put("interface", e.port().name());
                p.put("mac", e.macString());
                p.put("bufferCount", e.bufferCount());
                p.put("payloadBytes", e.payloadBytes());
                p.put("firmwareVersion", String.format(Locale.ROOT, "0x%04x", e.firmwareVersion()));
                paths.add(p);
            }
            m.put("paths", paths);
            m.put("conflict", conflict());
            m.put("identities", TargetMacs.identitiesJson(identities));
            return m;
        }
    }

    /** The counters of one path as a JSON object. */
    static Map<String, Object> pathJson(final PathStats p)
    {
        final Map<String, Object> m = new LinkedHashMap<>();
        m.put("interface", p.localInterface());
        m.put("mac", p.remoteMac());
        m.put("state", p.state().name());
        m.put("window", p.window());
        m.put("inFlight", p.inFlight());
        m.put("bufferCount", p.bufferCount());
        m.put("srttMicros", p.srttMicros());
        m.put("rtoMicros", p.rtoMicros());
        m.put("framesSent", p.framesSent());
        m.put("framesReceived", p.framesReceived());
        m.put("bytesSent", p.bytesSent());
        m.put("bytesReceived", p.bytesReceived());
        m.put("retransmits", p.retransmits());
        m.put("timeouts", p.timeouts());
        m.put("spuriousTimeouts", p.spuriousTimeouts());
        m.put("rtoFloorMicros", p.rtoFloorMicros());
        m.put("lastAnsweredMillisAgo", p.lastAnsweredMillisAgo());
        m.put("idleProbesSent", p.idleProbesSent());
        m.put("idleProbesLost", p.idleProbesLost());
        return m;
    }

    private Survey()
    {
    }

    /** Waits (up to {@code wait}) until every MAC the directory has for {@code t} has answered IDENTIFY for {@code d}. */
    private static void awaitChecked(final AoeDevice d, final TargetDirectory.Target t, final Duration wait) throws InterruptedException
    {
        final long deadline = System.nanoTime() + wait.toNanos();
        while (System.nanoTime() - deadline < 0)
        {
            boolean all = true;
            for (final TargetDirectory.Endpoint e : t.endpoints())
            {
                final TargetIdentities.Verdict v = d.identities().verdict(e.mac());
                all &= v != null && v != TargetIdentities.Verdict.UNVERIFIED;
            }
            if (all)
            {
                return;
            }
            Thread.sleep(10);
        }
    }

    static List<Entry> run(final Initiator initiator, final Duration wait) throws InterruptedException
    {
        final List<Entry> out = new ArrayList<>();
        for (final TargetDirectory.Target t : initiator.discover(wait))
        {
            try (AoeDevice d = initiator.open(t.address(), DeviceOptions.defaults().withOpenTimeout(wait).withDeadAfter(wait)))
            {
                // MACs that answered discovery after the open are being checked: give them the same time
                awaitChecked(d, t, wait);
                out.add(new Entry(t, d.identity(), d.size(), null, d.pathStats(), d.identities()));
            }
            catch (final IoError e)
            {
                out.add(new Entry(t, null, 0, e.getMessage(), List.of(), null));
            }
        }
        return out;
    }
}
