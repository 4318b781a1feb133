package org.aoemp.tools;

import org.aoemp.protocol.AoeHeader;
import picocli.CommandLine.Parameters;

/** Positional SHELF SLOT, both optional (wildcards when absent), as aoecfg takes them. */
final class TargetArgs
{
    @Parameters(index = "0", arity = "0..1", paramLabel = "SHELF", description = "Shelf (major) number; default: every shelf.")
    Integer shelf;

    @Parameters(index = "1", arity = "0..1", paramLabel = "SLOT", description = "Slot (minor) number; default: every slot.")
    Integer slot;

    int shelfOrAny()
    {
        if (shelf == null)
        {
            return AoeHeader.SHELF_ANY;
        }
        if (shelf < 0 || shelf > 0xFFFF)
        {
            throw new IllegalArgumentException("shelf must be 0..65535: " + shelf);
        }
        return shelf;
    }

    int slotOrAny()
    {
        if (slot == null)
        {
            return AoeHeader.SLOT_ANY;
        }
        if (slot < 0 || slot > 0xFF)
        {
            throw new IllegalArgumentException("slot must be 0..255: " + slot);
        }
        return slot;
    }

    String describe()
    {
        return "e" + (shelf == null ? "*" : shelf) + "." + (slot == null ? "*" : slot);
    }
}
