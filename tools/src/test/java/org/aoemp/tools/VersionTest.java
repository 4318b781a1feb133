package org.aoemp.tools;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertNotNull;

import java.io.PrintWriter;
import java.io.StringWriter;

import org.junit.jupiter.api.Test;
import picocli.CommandLine;

/** {@code aoe --version} prints the Maven project version (from classes: the filtered resource). */
class VersionTest
{
    @Test
    void shouldPrintTheProjectVersion()
    {
        final String expected = System.getProperty("project.version");
        assertNotNull(expected, "surefire passes the project version");
        final CommandLine cl = AoeCommand.commandLine();
        final StringWriter out = new StringWriter();
        cl.setOut(new PrintWriter(out));
        assertEquals(0, cl.execute("--version"));
        assertEquals("aoe " + expected, out.toString().strip());
        assertEquals(expected, AoeCommand.Version.projectVersion());
    }
}
