package org.aoemp.tools.serve;

import java.util.ArrayList;
import java.util.List;

import org.aoemp.protocol.MacAddress;
import org.aoemp.target.TargetOptions;

/** A {@code [[target]]} entry as the target's own options. */
final class Targets
{
    private Targets()
    {
    }

    /** @throws IllegalArgumentException what {@link TargetOptions} refuses (too many masks, a long config string) */
    static TargetOptions options(final ServeConfig.TargetSpec spec)
    {
        final List<MacAddress> macs = new ArrayList<>();
        spec.macMask().forEach(m -> macs.add(MacAddress.parse(m)));
        return new TargetOptions(spec.shelf(), spec.slot(), spec.file(), spec.readOnly(), spec.buffers(), macs, spec.offset(),
            spec.length(), spec.sync(), spec.configString());
    }
}
