package org.aoemp.bench;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.io.IOException;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.TimeUnit;

import org.aoemp.testing.Prerequisites;
import org.aoemp.testing.RealPeer;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * {@code bench/compare}'s rewriting, with fake benchmark scripts in a temporary bench directory
 * and a temporary results file: only the text between a section's markers changes, every other
 * byte stays; failing or missing scripts leave their sections alone; {@code --quick} is passed on.
 */
@RealPeer
class CompareScriptTest
{
    private static final Path SCRIPT = Path.of("..", "bench", "compare").toAbsolutePath().normalize();

    @TempDir
    Path dir;
    Path benchDir;
    Path results;

    /** Text outside the markers with things a careless rewrite would damage: CRLF, no final newline, look-alike markers. */
    private static final String BEFORE = "# Results\r\n\nintro with trailing spaces   \n\n<!-- bench:alpha begin -->\nold alpha\n"
        + "<!-- bench:alpha end -->\n\n`<!-- bench:beta begin -->` quoted, not a marker\n\n## Beta\n<!-- bench:beta begin -->\r\nold beta\r\n"
        + "<!-- bench:beta end -->\r\nmiddle text ünïcödé\n<!-- bench:gamma begin -->\nold gamma\n<!-- bench:gamma end -->\ntail, no newline";

    record Result(int exit, String err)
    {
    }

    @BeforeEach
    void setUp() throws IOException
    {
        Prerequisites.requireCommand("python3", "python3");
        benchDir = Files.createDirectory(dir.resolve("bench"));
        results = dir.resolve("results.md");
        Files.writeString(results, BEFORE, StandardCharsets.UTF_8);
        script("alpha", "echo \"new alpha $*\"; echo '| a | b |'");
        script("beta", "echo new beta");
        script("gamma", "echo 'half a table'; exit 3");
        script("delta", "printf 'delta has no markers yet'");
    }

    private void script(final String name, final String body) throws IOException
    {
        Files.writeString(benchDir.resolve(name + ".sh"), "#!/usr/bin/env bash\nset -euo pipefail\necho progress >&2\n" + body + "\n");
    }

    private Result compare(final String... args) throws Exception
    {
        final List<String> cmd = new ArrayList<>(List.of("python3", SCRIPT.toString(), "--bench-dir", benchDir.toString(), "--results",
            results.toString()));
        cmd.addAll(List.of(args));
        final Process p = new ProcessBuilder(cmd).redirectOutput(ProcessBuilder.Redirect.DISCARD).start();
        final String err = new String(p.getErrorStream().readAllBytes(), StandardCharsets.UTF_8);
        assertTrue(p.waitFor(60, TimeUnit.SECONDS), "compare hung");
        return new Result(p.exitValue(), err);
    }

    private String text() throws IOException
    {
        return Files.readString(results, StandardCharsets.UTF_8);
    }

    @Test
    void rewritesOnlyBetweenTheMarkersAndKeepsEveryOtherByte() throws Exception
    {
        final Result r = compare("--quick", "alpha", "beta");
        assertEquals(0, r.exit(), r.err());
        final String expected = BEFORE.replace("old alpha\n", "new alpha --quick\n| a | b |\n").replace("old beta\r\n", "new beta\n");
        assertArrayEquals(expected.getBytes(StandardCharsets.UTF_8), Files.readAllBytes(results));
        // running again with the same output changes nothing
        assertEquals(0, compare("--quick", "alpha", "beta").exit());
        assertEquals(expected, text());
    }

    @Test
    void aFailingScriptLeavesItsSectionAndFailsTheRun() throws Exception
    {
        final Result r = compare("gamma", "beta");
        assertEquals(1, r.exit(), r.err());
        assertTrue(r.err().contains("gamma: FAILED") && r.err().contains("exit status 3"), r.err());
        assertEquals(BEFORE.replace("old beta\r\n", "new beta\n"), text());
    }

    @Test
    void missingScriptsAreNamedAndTheRestStillRuns() throws Exception
    {
        // no names: the standard set (none of which exist here) plus every marked section
        final Result r = compare();
        assertEquals(1, r.exit(), "gamma fails: " + r.err());
        for (final String name : List.of("nbd-fio", "multipath-scaling", "multipath-failover", "multipath-loss", "transport-rate"))
        {
            assertTrue(r.err().contains(name + ": missing"), r.err());
        }
        assertTrue(r.err().contains("5 missing"), r.err());
        assertTrue(text().contains("new alpha \n") && text().contains("new beta\n") && text().contains("old gamma"), text());
        assertTrue(!text().contains("delta"), "delta has no markers and was not asked for");
    }

    @Test
    void aSectionWithoutMarkersIsAppendedInNewMarkers() throws Exception
    {
        assertEquals(0, compare("delta").exit());
        assertEquals(BEFORE + "\n\n<!-- bench:delta begin -->\ndelta has no markers yet\n<!-- bench:delta end -->\n", text());
        assertEquals(0, compare("delta").exit());
        assertEquals(BEFORE + "\n\n<!-- bench:delta begin -->\ndelta has no markers yet\n<!-- bench:delta end -->\n", text(),
            "the second run rewrites the appended section in place");
    }

    @Test
    void malformedMarkersAndBadNamesAreRefusedBeforeAnythingRuns() throws Exception
    {
        Files.writeString(results, BEFORE + "\n<!-- bench:alpha end -->\n", StandardCharsets.UTF_8);
        final Result r = compare("beta", "alpha");
        assertEquals(2, r.exit());
        assertTrue(r.err().contains("markers for 'alpha' are malformed"), r.err());
        assertTrue(text().contains("old beta"), "nothing ran");
        final Result bad = compare("../evil");
        assertEquals(2, bad.exit());
        assertTrue(bad.err().contains("not a comparison name"), bad.err());
    }
}
