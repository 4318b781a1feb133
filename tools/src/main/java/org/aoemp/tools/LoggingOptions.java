package org.aoemp.tools;

import java.util.Locale;
import java.util.Set;
import java.util.logging.ConsoleHandler;
import java.util.logging.Handler;
import java.util.logging.Level;
import java.util.logging.Logger;

import picocli.CommandLine.Option;

/**
 * {@code --log-level} and {@code -q}, mixed into every subcommand by {@link AoeCommand}, and the
 * set-up of the log backend (SLF4J → java.util.logging → stderr, one {@link LogLineFormatter}
 * line per record).
 *
 * <p>Defaults: info for the long-running services ({@code nbd}, {@code target}, {@code serve}),
 * whose start, paths and connections an operator wants to see; warn for one-shot commands, whose
 * output is their result. Threading: set up once per command, on the main thread, before it runs.
 */
public final class LoggingOptions
{
    /** Commands that run until stopped and log at info by default. */
    static final Set<String> SERVICES = Set.of("nbd", "target", "serve");
    /** Held so the level set on it survives: java.util.logging keeps loggers only weakly. */
    private static final Logger NETTY = Logger.getLogger("io.netty");

    @Option(names = "--log-level", paramLabel = "LEVEL",
        description = "Log lines (on stderr) at this level and above: error, warn, info, debug, trace "
            + "(default: info for nbd, target and serve, warn for the other commands).")
    String level;

    @Option(names = {"-q", "--quiet"}, description = "Log errors only (the same as --log-level error).")
    boolean quiet;

    /** The level this command logs at. */
    Level effectiveLevel(final String commandName)
    {
        if (quiet)
        {
            return Level.SEVERE;
        }
        if (level == null)
        {
            return SERVICES.contains(commandName) ? Level.INFO : Level.WARNING;
        }
        return parse(level);
    }

    /** error|warn|info|debug|trace (any case) to the JUL level SLF4J maps it to. */
    static Level parse(final String name)
    {
        return switch (name.trim().toLowerCase(Locale.ROOT))
        {
            case "error" -> Level.SEVERE;
            case "warn", "warning" -> Level.WARNING;
            case "info" -> Level.INFO;
            case "debug" -> Level.FINE;
            case "trace" -> Level.FINEST;
            case "off" -> Level.OFF;
            default -> throw new IllegalArgumentException("--log-level: '" + name
                + "' is not one of error, warn, info, debug, trace");
        };
    }

    /** Points the root logger at stderr with our format and {@code level}; replaces earlier set-ups. */
    static void apply(final Level level)
    {
        final Logger root = Logger.getLogger("");
        for (final Handler h : root.getHandlers())
        {
            root.removeHandler(h);
        }
        final ConsoleHandler stderr = new ConsoleHandler();
        stderr.setFormatter(new LogLineFormatter(LogLineFormatter.stderrIsJournal()));
        stderr.setLevel(Level.ALL);
        root.addHandler(stderr);
        root.setLevel(level);
        // Netty's own debug lines (allocator sizes, native transport probing) are noise below trace.
        NETTY.setLevel(level.intValue() < Level.FINE.intValue() ? level
            : Level.INFO.intValue() > level.intValue() ? Level.INFO : level);
    }
}
