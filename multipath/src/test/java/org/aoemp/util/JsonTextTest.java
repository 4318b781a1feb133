package org.aoemp.util;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertThrows;

import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;

import org.junit.jupiter.api.Test;

class JsonTextTest
{
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
    void shouldRoundTripAndStayInsideAnHtmlScript()
    {
        final Object parsed = JsonText.parse(JsonText.write(Map.of("a<b", List.of(1L, 2.5, "x\"y"), "n", Map.of())));
        assertEquals(Map.of("a<b", List.of(1L, 2.5, "x\"y"), "n", Map.of()), parsed);
        assertFalse(JsonText.write(Map.of("k", "</script>")).contains("</script>"));
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
}
