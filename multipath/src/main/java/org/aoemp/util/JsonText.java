package org.aoemp.util;

import java.util.ArrayList;
import java.util.Collection;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Locale;
import java.util.Map;

/**
 * The project's one JSON codec (no library needed for this little): writes maps, lists, strings,
 * numbers, booleans and null for {@code --json} output, the benchmark summary and the documents
 * running {@code aoe} processes publish, and reads them back: objects become {@link LinkedHashMap}s,
 * arrays {@link ArrayList}s, integral numbers {@link Long}s and other numbers {@link Double}s.
 * Doubles are written with at most 3 decimals (non-finite ones as null); arrays of scalars on one
 * line. Non-ASCII characters and {@code <}, {@code >}, {@code &} are written as {@code \\u00XX}, so
 * the text is plain ASCII and can sit inside an HTML {@code <script>}. The reader refuses nesting
 * deeper than 64, as its input may come from another process.
 */
public final class JsonText
{
    private JsonText()
    {
    }

    /** {@code value} as indented JSON, without a final newline. */
    public static String write(final Object value)
    {
        final StringBuilder b = new StringBuilder();
        write(b, value, 0);
        return b.toString();
    }

    private static void write(final StringBuilder b, final Object v, final int indent)
    {
        switch (v)
        {
            case null -> b.append("null");
            case String s -> string(b, s);
            case Double d -> number(b, d);
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

    /** At most 3 decimals, and always with a fraction, so that a double reads back as a double. */
    private static void number(final StringBuilder b, final double d)
    {
        if (!Double.isFinite(d))
        {
            b.append("null");
            return;
        }
        final String text = java.math.BigDecimal.valueOf(d).setScale(3, java.math.RoundingMode.HALF_EVEN).stripTrailingZeros().toPlainString();
        b.append(text);
        if (text.indexOf('.') < 0)
        {
            b.append(".0");
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
                    if (c < 0x20 || c > 0x7E || c == '<' || c == '>' || c == '&')
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

    /**
     * Parses one JSON value (RFC 8259) that fills {@code text} but for white space.
     *
     * @throws IllegalArgumentException with the position, when it is not JSON
     */
    public static Object parse(final String text)
    {
        final Reader r = new Reader(text);
        final Object v = r.value(0);
        r.space();
        if (r.pos != text.length())
        {
            throw r.error("trailing characters");
        }
        return v;
    }

    private static final class Reader
    {
        private static final int MAX_DEPTH = 64;
        private final String s;
        private int pos;

        Reader(final String s)
        {
            this.s = s;
        }

        IllegalArgumentException error(final String what)
        {
            return new IllegalArgumentException("bad JSON at character " + pos + ": " + what);
        }

        void space()
        {
            while (pos < s.length() && " \t\r\n".indexOf(s.charAt(pos)) >= 0)
            {
                pos++;
            }
        }

        char peek()
        {
            space();
            if (pos >= s.length())
            {
                throw error("unexpected end");
            }
            return s.charAt(pos);
        }

        void expect(final char c)
        {
            if (peek() != c)
            {
                throw error("expected '" + c + "'");
            }
            pos++;
        }

        Object value(final int depth)
        {
            if (depth > MAX_DEPTH)
            {
                throw error("nested too deeply");
            }
            final char c = peek();
            return switch (c)
            {
                case '{' -> object(depth);
                case '[' -> array(depth);
                case '"' -> string();
                case 't' -> literal("true", Boolean.TRUE);
                case 'f' -> literal("false", Boolean.FALSE);
                case 'n' -> literal("null", null);
                default -> number();
            };
        }

        Map<String, Object> object(final int depth)
        {
            final Map<String, Object> m = new LinkedHashMap<>();
            expect('{');
            if (peek() == '}')
            {
                pos++;
                return m;
            }
            do
            {
                if (peek() != '"')
                {
                    throw error("expected a member name");
                }
                final String key = string();
                expect(':');
                m.put(key, value(depth + 1));
            }
            while (more('}'));
            return m;
        }

        List<Object> array(final int depth)
        {
            final List<Object> l = new ArrayList<>();
            expect('[');
            if (peek() == ']')
            {
                pos++;
                return l;
            }
            do
            {
                l.add(value(depth + 1));
            }
            while (more(']'));
            return l;
        }

        /** After an element: true on ',', false (and consumed) on {@code close}. */
        boolean more(final char close)
        {
            final char c = peek();
            pos++;
            if (c == ',')
            {
                return true;
            }
            if (c != close)
            {
                pos--;
                throw error("expected ',' or '" + close + "'");
            }
            return false;
        }

        Object literal(final String word, final Object v)
        {
            if (!s.startsWith(word, pos))
            {
                throw error("unknown literal");
            }
            pos += word.length();
            return v;
        }

        String string()
        {
            pos++; // the opening quote
            final StringBuilder b = new StringBuilder();
            while (true)
            {
                if (pos >= s.length())
                {
                    throw error("unterminated string");
                }
                final char c = s.charAt(pos++);
                if (c == '"')
                {
                    return b.toString();
                }
                if (c < 0x20)
                {
                    throw error("control character in string");
                }
                if (c != '\\')
                {
                    b.append(c);
                    continue;
                }
                if (pos >= s.length())
                {
                    throw error("unterminated escape");
                }
                final char e = s.charAt(pos++);
                switch (e)
                {
                    case '"', '\\', '/' -> b.append(e);
                    case 'b' -> b.append('\b');
                    case 'f' -> b.append('\f');
                    case 'n' -> b.append('\n');
                    case 'r' -> b.append('\r');
                    case 't' -> b.append('\t');
                    case 'u' ->
                    {
                        if (pos + 4 > s.length())
                        {
                            throw error("short \\u escape");
                        }
                        try
                        {
                            b.append((char)Integer.parseInt(s.substring(pos, pos + 4), 16));
                        }
                        catch (final NumberFormatException x)
                        {
                            throw error("bad \\u escape");
                        }
                        pos += 4;
                    }
                    default -> throw error("bad escape");
                }
            }
        }

        Number number()
        {
            final int start = pos;
            while (pos < s.length() && "+-0123456789.eE".indexOf(s.charAt(pos)) >= 0)
            {
                pos++;
            }
            final String t = s.substring(start, pos);
            if (!t.matches("-?(0|[1-9][0-9]*)(\\.[0-9]+)?([eE][+-]?[0-9]+)?"))
            {
                pos = start;
                throw error("not a value");
            }
            if (t.matches("-?[0-9]+"))
            {
                try
                {
                    return Long.parseLong(t);
                }
                catch (final NumberFormatException x)
                {
                    // beyond a long: fall through to double
                }
            }
            return Double.parseDouble(t);
        }
    }
}
