package org.aoemp.tools;

import java.io.IOException;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;

import picocli.AutoComplete;

/**
 * Writes the bash completion script of {@code aoe} with {@link AutoComplete#bash}, from
 * {@link AoeCommand#commandLine()} rather than from the annotated class: that instance carries
 * what is added programmatically (the logging options mixed into every subcommand), so the script
 * completes exactly what the command accepts.
 *
 * <p>Run at package build time ({@code packaging/build-deb}):
 * {@code java -cp aoe.jar org.aoemp.tools.BashCompletion [OUT]} (stdout without OUT).
 */
public final class BashCompletion
{
    private BashCompletion()
    {
    }

    public static void main(final String[] args) throws IOException
    {
        final String script = script();
        if (args.length == 0)
        {
            System.out.print(script);
            System.out.flush();
        }
        else
        {
            Files.writeString(Path.of(args[0]), script, StandardCharsets.UTF_8);
        }
    }

    /** The script: defines {@code _complete_aoe} and registers it with {@code complete -F ... aoe}. */
    public static String script()
    {
        return AutoComplete.bash("aoe", AoeCommand.commandLine());
    }
}
