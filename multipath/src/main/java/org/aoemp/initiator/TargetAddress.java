package org.aoemp.initiator;

import java.util.regex.Matcher;
import java.util.regex.Pattern;

/** An AoE target address, shelf (major, 16 bit) and slot (minor, 8 bit), written {@code eX.Y}. */
public record TargetAddress(int shelf, int slot) implements Comparable<TargetAddress>
{
    private static final Pattern FORM = Pattern.compile("e?(\\d+)\\.(\\d+)");

    public TargetAddress
    {
        if (shelf < 0 || shelf >= 0xFFFF)
        {
            throw new IllegalArgumentException("shelf must be 0..65534 (65535 is the broadcast shelf): " + shelf);
        }
        if (slot < 0 || slot >= 0xFF)
        {
            throw new IllegalArgumentException("slot must be 0..254 (255 is the broadcast slot): " + slot);
        }
    }

    /** Parses {@code e7.3} or {@code 7.3}. */
    public static TargetAddress parse(final String text)
    {
        final Matcher m = FORM.matcher(text.trim());
        if (!m.matches())
        {
            throw new IllegalArgumentException("not a target address (expected eSHELF.SLOT, e.g. e7.3): '" + text + "'");
        }
        try
        {
            return new TargetAddress(Integer.parseInt(m.group(1)), Integer.parseInt(m.group(2)));
        }
        catch (final NumberFormatException e)
        {
            throw new IllegalArgumentException("not a target address: '" + text + "'", e);
        }
    }

    /** The two address fields as one int, for allocation-free lookups on the receive path. */
    public int key()
    {
        return key(shelf, slot);
    }

    public static int key(final int shelf, final int slot)
    {
        return (shelf << 8) | slot;
    }

    @Override
    public int compareTo(final TargetAddress o)
    {
        return Integer.compare(key(), o.key());
    }

    @Override
    public String toString()
    {
        return "e" + shelf + "." + slot;
    }
}
