package org.aoemp.tools;

import java.util.Collection;
import java.util.Map;

/** A minimal JSON writer for the command line's {@code --json} output (maps, lists, strings, numbers, booleans). */
public final class Json
{
    private Json()
    {
    }

    public static String write(final Object value)
    {
        final StringBuilder b = new StringBuilder();
        write(b, value, 0);
        return b.toString();
    }

    private static void write(final StringBuilder b, final Object v, final int indent)
    {
        if (v == null)
        {
            b.append("null");
        }
        else if (v instanceof String s)
        {
            string(b, s);
        }
        else if (v instanceof Number || v instanceof Boolean)
        {
            b.append(v);
        }
        else if (v instanceof Enum<?> e)
        {
            string(b, e.name());
        }
        else if (v instanceof Map<?, ?> m)
        {
            b.append('{');
            boolean first = true;
            for (final Map.Entry<?, ?> e : m.entrySet())
            {
                b.append(first ? "\n" : ",\n");
                first = false;
                pad(b, indent + 1);
                string(b, String.valueOf(e.getKey()));
                b.append(": ");
                write(b, e.getValue(), indent + 1);
            }
            if (!first)
            {
                b.append('\n');
                pad(b, indent);
            }
            b.append('}');
        }
        else if (v instanceof Collection<?> c)
        {
            b.append('[');
            boolean first = true;
            for (final Object o : c)
            {
                b.append(first ? "\n" : ",\n");
                first = false;
                pad(b, indent + 1);
                write(b, o, indent + 1);
            }
            if (!first)
            {
                b.append('\n');
                pad(b, indent);
            }
            b.append(']');
        }
        else
        {
            string(b, v.toString());
        }
    }

    private static void pad(final StringBuilder b, final int indent)
    {
        b.append("  ".repeat(indent));
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
                    if (c < 0x20 || c > 0x7E)
                    {
                        b.append(String.format("\\u%04x", (int)c));
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
}
