package org.aoemp.tools.serve;

import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertNotNull;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.io.IOException;
import java.io.UncheckedIOException;
import java.nio.file.Files;
import java.nio.file.Path;

import com.code_intelligence.jazzer.junit.FuzzTest;
import org.aoemp.initiator.TargetAddress;

/**
 * Coverage-guided fuzzing of {@code aoe serve}'s config file parser: any bytes as the file either
 * load or are refused with {@link ConfigLoader.InvalidConfig}, every problem naming a line (0 when
 * the file as a whole is wrong) and saying something; nothing else is thrown. Also the
 * {@code eX.Y} target names the file and the command line use: parsed, or refused with
 * {@link IllegalArgumentException}, and what parses prints back to itself.
 *
 * <p>Interfaces whose names start with "eth" exist, others do not. {@code mvn verify} replays the
 * committed corpus in {@code src/test/resources/org/aoemp/tools/serve/ServeConfigFuzzTestInputs/}
 * (plain TOML files); {@code bench/fuzz.sh serve-config DURATION} fuzzes for real.
 */
class ServeConfigFuzzTest
{
    private static final Path FILE;

    static
    {
        try
        {
            FILE = Files.createTempFile("aoe-serve-fuzz", ".toml");
            FILE.toFile().deleteOnExit();
        }
        catch (final IOException e)
        {
            throw new UncheckedIOException(e);
        }
    }

    @FuzzTest
    void load(final byte[] input) throws IOException
    {
        Files.write(FILE, input);
        try
        {
            assertNotNull(ConfigLoader.load(FILE, name -> name.startsWith("eth")));
        }
        catch (final ConfigLoader.InvalidConfig e)
        {
            assertFalse(e.problems().isEmpty(), "a refusal says why");
            for (final ConfigLoader.Problem p : e.problems())
            {
                assertTrue(p.line() >= 0, "line " + p.line());
                assertTrue(p.message() != null && !p.message().isBlank(), "a problem with no message");
            }
            assertNotNull(e.getMessage());
        }
        final String text = new String(input, java.nio.charset.StandardCharsets.UTF_8);
        try
        {
            final TargetAddress a = TargetAddress.parse(text);
            assertTrue(TargetAddress.parse(a.toString()).equals(a), "prints back to itself: " + a);
        }
        catch (final IllegalArgumentException expected)
        {
            // refused with a message: fine
        }
    }
}
