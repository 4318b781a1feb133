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
import org.aoemp.protocol.Identify;

/** Discovery followed by IDENTIFY of every target found: what {@code discover} and {@code stat} print. */
final class Survey
{
    /** One target: its directory entry and its IDENTIFY data, or why IDENTIFY failed. */
    record Entry(TargetDirectory.Target target, Identify identify, long sizeBytes, String error, List<PathStats> paths)
    {
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
        m.put("lastAnsweredMillisAgo", p.lastAnsweredMillisAgo());
        m.put("idleProbesSent", p.idleProbesSent());
        m.put("idleProbesLost", p.idleProbesLost());
        return m;
    }

    private Survey()
    {
    }

    static List<Entry> run(final Initiator initiator, final Duration wait) throws InterruptedException
    {
        final List<Entry> out = new ArrayList<>();
        for (final TargetDirectory.Target t : initiator.discover(wait))
        {
            try (AoeDevice d = initiator.open(t.address(), DeviceOptions.defaults().withOpenTimeout(wait).withDeadAfter(wait)))
            {
                out.add(new Entry(t, d.identity(), d.size(), null, d.pathStats()));
            }
            catch (final IoError e)
            {
                out.add(new Entry(t, null, 0, e.getMessage(), List.of()));
            }
        }
        return out;
    }
}
