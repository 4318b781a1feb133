package org.aoemp.tools;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertNull;

import java.util.List;
import java.util.Map;

import org.aoemp.util.JsonText;
import org.aoemp.initiator.DeviceStats;
import org.junit.jupiter.api.Test;

/** A running session's engine errors reach {@code aoe stat -v}, as JSON and as text. */
class StatEngineErrorsTest
{
    private static DeviceStats stats(final long engineErrors, final String lastEngineError, final long callbackFailures,
        final boolean givenUp)
    {
        return new DeviceStats("e7.3", 1 << 20, 2, false, 0, 0, 0, 3, 0, 0, 0, engineErrors, lastEngineError, callbackFailures,
            givenUp, List.of());
    }

    /** The device's object as a reader of the published document sees it. */
    private static Map<?, ?> published(final DeviceStats d)
    {
        return (Map<?, ?>)JsonText.parse(JsonText.write(StatsPublisher.deviceJson(d)));
    }

    private static final LiveSessions.Session SESSION = new LiveSessions.Session(4242, "aoe nbd e7.3 -i eth1",
        "2026-01-01T00:00:00Z", List.of());

    @Test
    void shouldPublishTheEngineErrorsTheLastOneCallbackFailuresAndGivingUp()
    {
        final Map<?, ?> m = published(stats(2, "java.lang.IllegalStateException: boom", 1, true));
        assertEquals(2L, m.get("engineErrors"));
        assertEquals("java.lang.IllegalStateException: boom", m.get("lastEngineError"));
        assertEquals(1L, m.get("callbackFailures"));
        assertEquals(true, m.get("givenUp"));
        final Map<?, ?> clean = published(stats(0, null, 0, false));
        assertEquals(0L, clean.get("engineErrors"));
        assertNull(clean.get("lastEngineError"));
        assertEquals(false, clean.get("givenUp"));
    }

    @Test
    void shouldPrintWhatWentWrongOnTheSessionsLine()
    {
        final String line = StatCommand.sessionLine("    ", SESSION,
            published(stats(2, "java.lang.IllegalStateException: boom", 1, true)));
        assertEquals("    pid 4242: aoe nbd e7.3 -i eth1 (since 2026-01-01T00:00:00Z)  GIVEN UP  requests failed 3"
            + "  engine errors 2 (last: java.lang.IllegalStateException: boom)  callbacks failed 1", line);
    }

    @Test
    void shouldPrintOnlyTheFailedRequestsWhenTheEngineHadNoError()
    {
        assertEquals("    pid 4242: aoe nbd e7.3 -i eth1 (since 2026-01-01T00:00:00Z)  requests failed 3",
            StatCommand.sessionLine("    ", SESSION, published(stats(0, null, 0, false))));
    }
}
