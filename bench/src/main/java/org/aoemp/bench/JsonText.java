package org.aoemp.bench;

import java.util.ArrayList;
import java.util.Collection;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Locale;
import java.util.Map;

/**
 * Just enough JSON for the benchmark's summary: writes maps, lists, strings, numbers, booleans
 * and null (non-finite doubles become null), and reads that back (objects as {@link LinkedHashMap},
 * arrays as {@link List}, numbers as {@link Double} or {@link Long}). {@code <}, {@code >} and
 * {@code &} are written as {@code \\u00XX} so the text can sit inside an HTML {@code <script>}.
 */
public final class JsonText
{
    private JsonText()
    {
    }

    public static String write(final Object value)
    {
        final StringBuilder b = new StringBuilder();
        write(b, value, 0);
        return b.append('\n').toString();
    }

    private static void write(final StringBuilder b, final Object v, final int indent)
    {
        switch (v)
        {
            case null -> b.append("null");
            case String s -> string(b, s);
            case Double d -> b.append(Double.isFinite(d)
                ? java.math.BigDecimal.valueOf(d).setScale(3, java.math.RoundingMode.HALF_EVEN).stripTrailingZeros().toPlainString()
                : "null");
            case Float f -> write(b, f.doubleValue(), indent);
            case Number n -> b.append(n);
            case Boolean x -> b.append(x);
            case Map<?, ?> m ->
            {
                b.append('{');
                boolean first = true;
                for (final Map.Entry<?, ?> e : m.entrySet())
                {
                    b.append(first ? "\n" : ",\n");
                    first = false;
                    b.repeat("  ", indent + 1);
                    string(b, String.valueOf(e.getKey()));
                    b.append(": ");
                    write(b, e.getValue(), indent + 1);
                }
                if (!first)
                {
                    b.append('\n').repeat("  ", indent);
                }
                b.append('}');
            }
            case Collection<?> c ->
            {
                b.append('[');
                boolean first = true;
                final boolean flat = c.stream().allMatch(x -> x == null || x instanceof Number || x instanceof String);
                for (final Object x : c)
                {
                    if (flat)
                    {
                        b.append(first ? "" : ", ");
                    }
                    else
                    {
                        b.append(first ? "\n" : ",\n").repeat("  ", indent + 1);
                    }
                    first = false;
                    write(b, x, indent + 1);
                }
                if (!first && !flat)
                {
                    b.append('\n').repeat("  ", indent);
                }
                b.append(']');
            }
            default -> string(b, v.toString());
        }
    }

    private static void string(final StringBuilder b, final String s)
    {
        b.append('"');
        for (int i = 0; i < s.length(); i++)
        {
            final char c = s.charAt(i);
            switch (c)
            {
                case '"' -> b.append("\\\"");
                case '\\' -> b.append("\\\\");
                case '\n' -> b.append("\\n");
                case '\r' -> b.append("\\r");
                case '\t' -> b.append("\\t");
                default ->
                {
                    if (c < 0x20 || c == '<' || c == '>' || c == '&')
                    {
                        b.append(String.format(Locale.ROOT, "\\u%04x", (int)c));
                    }
                    else
                    {
                        b.append(c);
                    }
                }
            }
        }
        b.append('"');
    }

    /** Parses JSON text; throws {@link IllegalArgumentException} with the position on malformed input. */
    public static Object parse(final String text)
    {
        final Parser p = new Parser(text);
        final Object v = p.value();
        p.space();
        if (p.at < text.length())
        {
            throw p.error("trailing characters");
        }
        return v;
    }

    private static final class Parser
    {
        private final String s;
        private int at;

        Parser(final String s)
        {
            this.s = s;
        }

        IllegalArgumentException error(final String what)
        {
            return new IllegalArgumentException("bad JSON at character " + at + ": " + what);
        }

        void space()
        {
            while (at < s.length() && Character.isWhitespace(s.charAt(at)))
            {
                at++;
            }
        }

        Object value()
        {
            space();
            if (at >= s.length())
            {
                throw error("unexpected end");
            }
            final char c = s.charAt(at);
            switch (c)
            {
                case '{':
                {
                    at++;
                    final Map<String, Object> m = new LinkedHashMap<>();
                    space();
                    if (peek('}'))
                    {
                        return m;
                    }
                    do
                    {
                        space();
                        final String key = string();
                        space();
                        expect(':');
                        m.put(key, value());
                        space();
                    }
                    while (peek(','));
                    expect('}');
                    return m;
                }
                case '[':
                {
                    at++;
                    final List<Object> l = new ArrayList<>();
                    space();
                    if (peek(']'))
                    {
                        return l;
                    }
                    do
                    {
                        l.add(value());
                        space();
                    }
                    while (peek(','));
                    expect(']');
                    return l;
                }
                case '"':
                    return string();
                default:
                    if (s.startsWith("true", at))
                    {
                        at += 4;
                        return Boolean.TRUE;
                    }
                    if (s.startsWith("false", at))
                    {
                        at += 5;
                        return Boolean.FALSE;
                    }
                    if (s.startsWith("null", at))
                    {
                        at += 4;
                        return null;
                    }
                    return number();
            }
        }

        private boolean peek(final char c)
        {
            if (at < s.length() && s.charAt(at) == c)
            {
                at++;
                return true;
            }
            return false;
        }

        private void expect(final char c)
        {
            if (!peek(c))
            {
                throw error("expected '" + c + "'");
            }
        }

        private String string()
        {
            expect('"');
            final StringBuilder b = new StringBuilder();
            while (true)
            {
                if (at >= s.length())
                {
                    throw error("unterminated string");
                }
                final char c = s.charAt(at++);
                if (c == '"')
                {
                    return b.toString();
                }
                if (c != '\\')
                {
                    b.append(c);
                    continue;
                }
                if (at >= s.length())
                {
                    throw error("unterminated escape");
                }
                final char e = s.charAt(at++);
                switch (e)
                {
                    case 'n' -> b.append('\n');
                    case 'r' -> b.append('\r');
                    case 't' -> b.append('\t');
                    case 'b' -> b.append('\b');
                    case 'f' -> b.append('\f');
                    case 'u' ->
                    {
                        if (at + 4 > s.length())
                        {
                            throw error("short \\u escape");
                        }
                        b.append((char)Integer.parseInt(s.substring(at, at + 4), 16));
                        at += 4;
                    }
                    default -> b.append(e);
                }
            }
        }

        private Object number()
        {
            final int start = at;
            while (at < s.length() && "+-0123456789.eE".indexOf(s.charAt(at)) >= 0)
            {
                at++;
            }
            final String n = s.substring(start, at);
            if (n.isEmpty())
            {
                throw error("unexpected character '" + s.charAt(at) + "'");
            }
            try
            {
                return n.matches("-?\\d+") ? (Object)Long.parseLong(n) : (Object)Double.parseDouble(n);
            }
            catch (final NumberFormatException e)
            {
                throw error("bad number '" + n + "'");
            }
        }
    }
}
