package org.aoemp.nbd;

import static org.aoemp.nbd.NbdErrors.EINVAL;
import static org.aoemp.nbd.NbdErrors.ENOSPC;
import static org.aoemp.nbd.NbdErrors.EPERM;
import static org.aoemp.nbd.NbdErrors.OK;
import static org.aoemp.nbd.TransmissionCodec.CMD_DISC;
import static org.aoemp.nbd.TransmissionCodec.CMD_FLAG_FUA;
import static org.aoemp.nbd.TransmissionCodec.CMD_FLAG_NO_HOLE;
import static org.aoemp.nbd.TransmissionCodec.CMD_FLUSH;
import static org.aoemp.nbd.TransmissionCodec.CMD_READ;
import static org.aoemp.nbd.TransmissionCodec.CMD_WRITE;
import static org.aoemp.nbd.TransmissionCodec.CMD_WRITE_ZEROES;

/**
 * Decides, from the header alone, whether a request may run and which error it gets otherwise.
 * A pure function, so the decoder can decide before the payload arrives whether to keep it or to
 * discard it.
 *
 * <ul>
 * <li>Unknown command (TRIM, CACHE, BLOCK_STATUS and RESIZE are not advertised), a flag not valid
 *     for the command or not negotiated (DF, FAST_ZERO), READ/WRITE over
 *     {@link #MAX_PAYLOAD}, offset or length not a multiple of the block size, READ beyond the
 *     end, FLUSH with an offset or length: EINVAL.</li>
 * <li>WRITE or WRITE_ZEROES on a read-only export: EPERM; beyond the end: ENOSPC.</li>
 * <li>Zero-length requests are valid (and answered without touching the device).</li>
 * </ul>
 */
public final class RequestCheck
{
    /** Largest READ or WRITE payload: 32 MiB, the size every portable client stays within. */
    public static final int MAX_PAYLOAD = 32 * 1024 * 1024;

    private RequestCheck()
    {
    }

    /**
     * @param offset as decoded (a wire value with bit 63 set is negative and out of range)
     * @param length unsigned 32-bit length
     * @return {@link NbdErrors#OK} or the error to reply with
     */
    public static int check(
        final int type, final int flags, final long offset, final long length,
        final long exportSize, final int blockSize, final boolean readOnly)
    {
        return switch (type)
        {
            case CMD_READ ->
            {
                if ((flags & ~CMD_FLAG_FUA) != 0 || length > MAX_PAYLOAD || !inRange(offset, length, exportSize))
                {
                    yield EINVAL;
                }
                yield aligned(offset, length, blockSize);
            }
            case CMD_WRITE, CMD_WRITE_ZEROES ->
            {
                final int allowed = type == CMD_WRITE ? CMD_FLAG_FUA : CMD_FLAG_FUA | CMD_FLAG_NO_HOLE;
                if ((flags & ~allowed) != 0)
                {
                    yield EINVAL;
                }
                if (readOnly)
                {
                    yield EPERM;
                }
                if (type == CMD_WRITE && length > MAX_PAYLOAD)
                {
                    yield EINVAL;
                }
                if (!inRange(offset, length, exportSize))
                {
                    yield ENOSPC;
                }
                yield aligned(offset, length, blockSize);
            }
            case CMD_FLUSH -> (flags & ~CMD_FLAG_FUA) != 0 || offset != 0 || length != 0 ? EINVAL : OK;
            case CMD_DISC -> OK;
            default -> EINVAL;
        };
    }

    static boolean inRange(final long offset, final long length, final long size)
    {
        return offset >= 0 && offset <= size && length <= size - offset;
    }

    private static int aligned(final long offset, final long length, final int blockSize)
    {
        return offset % blockSize == 0 && length % blockSize == 0 ? OK : EINVAL;
    }
}
