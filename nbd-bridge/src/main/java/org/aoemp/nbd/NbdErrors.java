package org.aoemp.nbd;

import org.aoemp.block.IoError;

/**
 * The error numbers NBD puts in a reply, and how a device's errno maps onto them. The values are
 * Linux's; clients treat a number they do not know as EINVAL, so anything outside this set is
 * reported as EIO instead.
 */
public final class NbdErrors
{
    public static final int OK = 0;
    public static final int EPERM = 1;
    public static final int EIO = 5;
    public static final int ENOMEM = 12;
    public static final int EINVAL = 22;
    public static final int EFBIG = 27;
    public static final int ENOSPC = 28;
    public static final int EOVERFLOW = 75;
    public static final int ENOTSUP = 95;
    public static final int ESHUTDOWN = 108;
    public static final int EDQUOT = 122;

    private NbdErrors()
    {
    }

    /**
     * The NBD error for a failed device request: EPERM, EIO, ENOMEM, EINVAL, ENOSPC and ESHUTDOWN
     * pass through; EFBIG and EDQUOT become ENOSPC (as the spec asks); EOVERFLOW and ENOTSUP are
     * reserved for features this server does not offer (DF, FAST_ZERO), so they and every other
     * errno become EIO.
     */
    public static int fromDeviceErrno(final int errno)
    {
        return switch (errno)
        {
            case EPERM, EIO, ENOMEM, EINVAL, ENOSPC, ESHUTDOWN -> errno;
            case EFBIG, EDQUOT -> ENOSPC;
            default -> EIO;
        };
    }

    /** {@link #OK} for null, else {@link #fromDeviceErrno} of the error's errno. */
    public static int from(final IoError error)
    {
        return error == null ? OK : fromDeviceErrno(error.errno());
    }
}
