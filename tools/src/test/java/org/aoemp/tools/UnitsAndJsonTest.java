package org.aoemp.tools;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;

import java.time.Duration;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;

import org.aoemp.bench.JsonText;
import org.junit.jupiter.api.Test;

class UnitsAndJsonTest
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
    void shouldWriteEscapedJson()
    {
        final Map<String, Object> m = new LinkedHashMap<>();
        m.put("s", "a\"b\\c\n\u0001");
        m.put("n", 42);
        m.put("b", true);
        m.put("l", List.of(1, "x"));
        m.put("e", List.of());
        assertEquals("{\n  \"s\": \"a\\\"b\\\\c\\n\\u0001\",\n  \"n\": 42,\n  \"b\": true,\n  \"l\": [1, \"x\"],\n  \"e\": []\n}",
            JsonText.write(m));
    }

    @Test
    void shouldReadBackWhatItWrites()
    {
        final Map<String, Object> m = new LinkedHashMap<>();
        m.put("s", "a\"b\\c\n\u0001é");
        m.put("n", 42L);
        m.put("big", Long.MAX_VALUE);
        m.put("neg", -7L);
        m.put("d", 1.5e3);
        m.put("b", false);
        m.put("z", null);
        m.put("l", List.of(1L, "x", Map.of()));
        m.put("e", List.of());
        assertEquals(m, JsonText.parse(JsonText.write(m)));
        assertEquals(List.of(), JsonText.parse(" [ ] "));
        assertEquals("/\u00e9", JsonText.parse("\"\\/\\u00E9\""));
    }

    @Test
    void shouldRejectWhatIsNotJson()
    {
        for (final String bad : List.of("", "{", "{\"a\" 1}", "[1,]", "[1 2]", "01", "1.", "-", "tru", "\"abc", "\"\\x\"",
            "{\"a\":1}x", "{1:2}", "[".repeat(100) + "]".repeat(100), "\"\u0001\""))
        {
            final IllegalArgumentException e = assertThrows(IllegalArgumentException.class, () -> JsonText.parse(bad), bad);
            assertEquals(true, e.getMessage().startsWith("bad JSON at character "), e.getMessage());
        }
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
