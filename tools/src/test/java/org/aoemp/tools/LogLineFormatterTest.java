package org.aoemp.tools;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.util.logging.Level;
import java.util.logging.LogRecord;

import org.junit.jupiter.api.Test;

class LogLineFormatterTest
{
    private static LogRecord record(final Level level, final String message, final Object... params)
    {
        final LogRecord r = new LogRecord(level, message);
        r.setLoggerName("org.aoemp.initiator.RetransmitTimer");
        r.setParameters(params);
        return r;
    }

    @Test
    void shouldWriteOneTimestampedLineWithLevelThreadAndShortLoggerName()
    {
        final String line = new LogLineFormatter(false).format(record(Level.WARNING, "path {0} down", "eth1"));
        assertTrue(line.matches("\\d{4}-\\d\\d-\\d\\d \\d\\d:\\d\\d:\\d\\d\\.\\d{3} WARN  \\[[^]]+\\] RetransmitTimer: path eth1 down\\n"),
            line);
    }

    @Test
    void shouldPrefixEveryLineWithTheSyslogPriorityAndNoTimestampForTheJournal()
    {
        final LogRecord r = record(Level.SEVERE, "engine failed");
        r.setThrown(new IllegalStateException("boom"));
        final String text = new LogLineFormatter(true).format(r);
        final String[] lines = text.split("\n");
        assertTrue(lines.length > 2, text);
        assertTrue(lines[0].startsWith("<3>ERROR ["), lines[0]);
        for (final String line : lines)
        {
            assertTrue(line.startsWith("<3>"), "every line of a stack trace keeps the priority: " + line);
        }
        assertTrue(text.contains("java.lang.IllegalStateException: boom"));
    }

    @Test
    void shouldMapLevelsAsSlf4jDoesOntoJulAndSyslog()
    {
        assertEquals(3, LogLineFormatter.priority(Level.SEVERE));
        assertEquals(4, LogLineFormatter.priority(Level.WARNING));
        assertEquals(6, LogLineFormatter.priority(Level.INFO));
        assertEquals(7, LogLineFormatter.priority(Level.FINE));
        assertEquals(7, LogLineFormatter.priority(Level.FINEST));
        assertEquals("DEBUG", LogLineFormatter.levelName(Level.FINE));
        assertEquals("TRACE", LogLineFormatter.levelName(Level.FINEST));
    }

    @Test
    void shouldDefaultToInfoForServicesAndWarnForOneShotCommands()
    {
        final LoggingOptions o = new LoggingOptions();
        assertEquals(Level.INFO, o.effectiveLevel("nbd"));
        assertEquals(Level.INFO, o.effectiveLevel("target"));
        assertEquals(Level.WARNING, o.effectiveLevel("discover"));
        o.level = "DEBUG";
        assertEquals(Level.FINE, o.effectiveLevel("discover"));
        o.quiet = true;
        assertEquals(Level.SEVERE, o.effectiveLevel("nbd"), "-q wins");
        assertThrows(IllegalArgumentException.class, () -> LoggingOptions.parse("loud"));
    }

    @Test
    void shouldRefuseAnUnknownLevelAsAUsageError()
    {
        assertEquals(2, AoeCommand.execute("discover", "--log-level", "loud", "-i", "lo"));
    }
}
