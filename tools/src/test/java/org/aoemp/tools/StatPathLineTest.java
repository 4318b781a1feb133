package org.aoemp.tools;

import static org.junit.jupiter.api.Assertions.assertEquals;

import java.util.LinkedHashMap;
import java.util.Map;

import org.junit.jupiter.api.Test;

/** {@code aoe stat -v}'s line per path shows what {@code --help} promises: frames and data bytes each way. */
class StatPathLineTest
{
    @Test
    void shouldShowFramesAndBytesEachWay()
    {
        final Map<String, Object> p = new LinkedHashMap<>();
        p.put("interface", "veth1");
        p.put("mac", "5e:17:a5:20:05:ef");
        p.put("state", "UP");
        p.put("window", 16);
        p.put("bufferCount", 16);
        p.put("srttMicros", 338);
        p.put("rtoMicros", 20000);
        p.put("framesSent", 8203L);
        p.put("framesReceived", 8194L);
        p.put("bytesSent", 4L << 20);
        p.put("bytesReceived", 3_670_016L);
        p.put("retransmits", 9);
        p.put("timeouts", 3);
        p.put("lastAnsweredMillisAgo", 1250L);
        assertEquals("  veth1        -> 5e:17:a5:20:05:ef  UP      window 16/16  srtt 338 us  rto 20000 us  frames 8203/8194  "
            + "bytes 4 MiB/3.5 MiB  retransmits 9  timeouts 3  answered 1.3 s ago", StatCommand.pathLine("  ", p));
        p.remove("bytesSent");
        p.remove("bytesReceived");
        assertEquals(true, StatCommand.pathLine("", p).contains("bytes ?/?"), "a session of an older aoe");
        p.remove("lastAnsweredMillisAgo");
        assertEquals(true, StatCommand.pathLine("", p).endsWith("answered ?"), "a session of an older aoe");
    }

    /** Issue 11, part 8: when each path last answered, so a standby path that went silent shows. */
    @Test
    void shouldShowWhenThePathLastAnswered()
    {
        assertEquals("never answered", StatCommand.answered(-1L));
        assertEquals("answered 0.0 s ago", StatCommand.answered(0L));
        assertEquals("answered 2.5 s ago", StatCommand.answered(2500L));
    }

    /** Timeouts whose replies came after all, and the RTO floor they raised, show only when there were some. */
    @Test
    void shouldShowSpuriousTimeoutsAndTheRaisedFloorOnlyWhenThereWereSome()
    {
        final Map<String, Object> p = new LinkedHashMap<>();
        p.put("interface", "veth1");
        p.put("mac", "5e:17:a5:20:05:ef");
        p.put("state", "UP");
        p.put("timeouts", 7);
        p.put("spuriousTimeouts", 0L);
        p.put("rtoFloorMicros", 20000L);
        p.put("lastAnsweredMillisAgo", 0L);
        assertEquals(true, StatCommand.pathLine("", p).contains("timeouts 7  answered"));
        p.put("spuriousTimeouts", 3L);
        p.put("rtoFloorMicros", 45000L);
        assertEquals(true, StatCommand.pathLine("", p).contains("timeouts 7 (3 spurious, rto floor 45000 us)  answered"),
            StatCommand.pathLine("", p));
    }
}
