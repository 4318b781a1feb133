package org.aoemp.tools;

import java.io.PrintWriter;
import java.io.StringWriter;
import java.time.ZoneId;
import java.time.format.DateTimeFormatter;
import java.util.logging.Formatter;
import java.util.logging.Level;
import java.util.logging.LogRecord;

/**
 * One log line per record, for an operator reading stderr or the journal:
 * {@code 2026-12-02 07:15:02.123 WARN  [aoe-e7.3] RetransmitTimer: message}, and the stack trace
 * of a throwable on the lines below.
 *
 * <p>Under systemd ({@code JOURNAL_STREAM} set: stderr is the journal) there is no timestamp,
 * the journal adds its own, and every line starts with the syslog priority ({@code <3>} error,
 * {@code <4>} warning, {@code <6>} info, {@code <7>} debug and trace), so that journald keeps the
 * level ({@code journalctl -p warning} works) even for the lines of a stack trace.
 *
 * <p>Threading: stateless apart from the immutable settings; any thread (the JUL handler calls
 * it on the logging thread, so the thread name is the one that logged).
 */
final class LogLineFormatter extends Formatter
{
    private static final DateTimeFormatter TIME = DateTimeFormatter.ofPattern("yyyy-MM-dd HH:mm:ss.SSS")
        .withZone(ZoneId.systemDefault());

    private final boolean journal;

    LogLineFormatter(final boolean journal)
    {
        this.journal = journal;
    }

    /** Whether stderr of this process is connected to the systemd journal. */
    static boolean stderrIsJournal()
    {
        final String stream = System.getenv("JOURNAL_STREAM");
        return stream != null && !stream.isBlank();
    }

    @Override
    public String format(final LogRecord r)
    {
        final StringBuilder b = new StringBuilder(160);
        final String prefix = journal ? "<" + priority(r.getLevel()) + ">" : "";
        b.append(prefix);
        if (!journal)
        {
            b.append(TIME.format(r.getInstant())).append(' ');
        }
        final String level = levelName(r.getLevel());
        b.append(level);
        for (int i = level.length(); i < 5; i++)
        {
            b.append(' ');
        }
        b.append(" [").append(Thread.currentThread().getName()).append("] ").append(shortName(r.getLoggerName()))
            .append(": ").append(formatMessage(r)).append('\n');
        if (r.getThrown() != null)
        {
            final StringWriter trace = new StringWriter();
            r.getThrown().printStackTrace(new PrintWriter(trace));
            for (final String line : trace.toString().split("\\R"))
            {
                b.append(prefix).append(line).append('\n');
            }
        }
        return b.toString();
    }

    /** syslog priority of a JUL level (as SLF4J maps onto JUL: error SEVERE, warn WARNING, info INFO, debug FINE, trace FINEST). */
    static int priority(final Level level)
    {
        final int v = level.intValue();
        if (v >= Level.SEVERE.intValue())
        {
            return 3;
        }
        if (v >= Level.WARNING.intValue())
        {
            return 4;
        }
        if (v >= Level.INFO.intValue())
        {
            return 6;
        }
        return 7;
    }

    /** The SLF4J name of a JUL level. */
    static String levelName(final Level level)
    {
        final int v = level.intValue();
        if (v >= Level.SEVERE.intValue())
        {
            return "ERROR";
        }
        if (v >= Level.WARNING.intValue())
        {
            return "WARN";
        }
        if (v >= Level.INFO.intValue())
        {
            return "INFO";
        }
        if (v >= Level.FINE.intValue())
        {
            return "DEBUG";
        }
        return "TRACE";
    }

    private static String shortName(final String logger)
    {
        if (logger == null)
        {
            return "";
        }
        final int dot = logger.lastIndexOf('.');
        return dot < 0 ? logger : logger.substring(dot + 1);
    }
}
