package org.aoemp.tools;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;

import java.time.Duration;
import java.util.List;

import org.junit.jupiter.api.Test;

class UnitsTest
{
    @Test
    void shouldParseSizesWithBinarySuffixes()
    {
        assertEquals(512, Units.parseSize("512"));
        assertEquals(4096, Units.parseSize("4k"));
        assertEquals(4096, Units.parseSize("4KiB"));
        assertEquals(64L << 20, Units.parseSize("64M"));
        assertEquals(3L << 40, Units.parseSize("3T"));
        assertThrows(IllegalArgumentException.class, () -> Units.parseSize("-1"));
        assertThrows(IllegalArgumentException.class, () -> Units.parseSize("12q"));
        assertThrows(IllegalArgumentException.class, () -> Units.parseSize("99999999999E"));
    }

    @Test
    void shouldParseDurations()
    {
        assertEquals(Duration.ofSeconds(2), Units.parseDuration("2s"));
        assertEquals(Duration.ofSeconds(2), Units.parseDuration("2"));
        assertEquals(Duration.ofMillis(500), Units.parseDuration("500ms"));
        assertEquals(Duration.ofMinutes(1), Units.parseDuration("1m"));
        assertEquals(Duration.ofMillis(1500), Units.parseDuration("1.5s"));
        assertThrows(IllegalArgumentException.class, () -> Units.parseDuration("soon"));
    }

    @Test
    void shouldPrintAoeStatSizes()
    {
        assertEquals("0.034GB", Units.gigabytes(32L << 20));
        assertEquals("3298.535GB", Units.gigabytes(3L << 40));
    }

    @Test
    void everySubcommandShouldHaveHelp()
    {
        for (final String sub : List.of("discover", "stat", "ping", "cfg", "mask", "reserve", "copy"))
        {
            final AoeCommandVbladeTest.Run r = AoeCommandVbladeTest.aoe(sub, "--help");
            assertEquals(0, r.exit(), sub);
            assertEquals(true, r.out().contains("Usage: aoe " + sub), r.out());
        }
        assertEquals(2, AoeCommandVbladeTest.aoe("nosuchcommand").exit(), "usage errors exit 2");
    }
}
