package org.aoemp.tools;

import java.io.PrintWriter;

import org.aoemp.block.IoError;
import org.aoemp.transport.TransportException;
import picocli.CommandLine;
import picocli.CommandLine.Command;

/** The {@code aoe} command: AoE initiator, target and tools. */
@Command(name = "aoe", mixinStandardHelpOptions = true, versionProvider = AoeCommand.Version.class,
    description = "Userspace ATA-over-Ethernet initiator with multipath, NBD bridge, target and tools.",
    subcommands = {
        DiscoverCommand.class,
        StatCommand.class,
        PingCommand.class,
        CfgCommand.class,
        MaskCommand.class,
        ReserveCommand.class,
        CopyCommand.class,
        TargetCommand.class,
        NbdCommand.class,
        org.aoemp.tools.serve.ServeCommand.class,
        BenchCommand.class,
        CommandLine.HelpCommand.class
    })
public final class AoeCommand implements Runnable
{
    /** Exit status for a failure that is not a usage error (target absent, I/O error, permission). */
    public static final int EXIT_FAILURE = 1;
    private static final String LOGGING = "logging";

    @CommandLine.Spec
    CommandLine.Model.CommandSpec spec;

    @Override
    public void run()
    {
        spec.commandLine().usage(spec.commandLine().getOut());
    }

    /**
     * {@code aoe VERSION}, the Maven project version: the jar manifest's Implementation-Version,
     * else (run from classes, e.g. tests) the filtered resource {@code aoe-version.properties}, else
     * "unknown".
     */
    public static final class Version implements CommandLine.IVersionProvider
    {
        static final String RESOURCE = "aoe-version.properties";

        @Override
        public String[] getVersion()
        {
            return new String[] {"aoe " + projectVersion()};
        }

        /** The project version, e.g. 0.1.0-SNAPSHOT. */
        public static String projectVersion()
        {
            final String manifest = AoeCommand.class.getPackage().getImplementationVersion();
            if (manifest != null && !manifest.isBlank())
            {
                return manifest;
            }
            try (java.io.InputStream in = AoeCommand.class.getResourceAsStream(RESOURCE))
            {
                if (in != null)
                {
                    final java.util.Properties p = new java.util.Properties();
                    p.load(in);
                    final String v = p.getProperty("version", "");
                    if (!v.isBlank() && !v.startsWith("${"))
                    {
                        return v.strip();
                    }
                }
            }
            catch (final java.io.IOException e)
            {
                // fall through: the version is unknown
            }
            return "(version unknown)";
        }
    }

    public static void main(final String[] args)
    {
        System.exit(execute(args));
    }

    /** Runs the command line and returns the exit code (tests call this directly). */
    public static int execute(final String... args)
    {
        return commandLine().execute(args);
    }

    public static CommandLine commandLine()
    {
        final CommandLine cl = new CommandLine(new AoeCommand());
        for (final CommandLine sub : cl.getSubcommands().values())
        {
            if (!"help".equals(sub.getCommandName()))
            {
                sub.addMixin(LOGGING, new LoggingOptions());
            }
        }
        cl.setExecutionStrategy(AoeCommand::runWithLogging);
        cl.setExecutionExceptionHandler(AoeCommand::handle);
        cl.setCaseInsensitiveEnumValuesAllowed(true);
        return cl;
    }

    /** Sets up the log backend from the executed subcommand's {@code --log-level}/{@code -q}, then runs it. */
    private static int runWithLogging(final CommandLine.ParseResult parsed)
    {
        CommandLine.ParseResult last = parsed;
        while (last.hasSubcommand())
        {
            last = last.subcommand();
        }
        final Object mixin = last.commandSpec().mixins().containsKey(LOGGING)
            ? last.commandSpec().mixins().get(LOGGING).userObject() : null;
        if (mixin instanceof LoggingOptions options)
        {
            final java.util.logging.Level level;
            try
            {
                level = options.effectiveLevel(last.commandSpec().name());
            }
            catch (final IllegalArgumentException e)
            {
                throw new CommandLine.ParameterException(last.commandSpec().commandLine(), e.getMessage());
            }
            LoggingOptions.apply(level);
        }
        else
        {
            LoggingOptions.apply(java.util.logging.Level.WARNING);
        }
        return new CommandLine.RunLast().execute(parsed);
    }

    private static int handle(final Exception e, final CommandLine cl, final CommandLine.ParseResult parsed)
    {
        final PrintWriter err = cl.getErr();
        final String message = switch (e)
        {
            case IoError io -> io.getMessage();
            case TransportException te -> te.getMessage();
            case IllegalArgumentException iae -> iae.getMessage();
            case java.io.IOException ioe -> ioe.getMessage();
            case InterruptedException ie -> "interrupted";
            default -> null;
        };
        if (message == null)
        {
            err.println("aoe " + cl.getCommandName() + ": unexpected error: " + e);
            e.printStackTrace(err);
        }
        else
        {
            err.println("aoe " + cl.getCommandName() + ": " + message);
        }
        err.flush();
        return EXIT_FAILURE;
    }
}
