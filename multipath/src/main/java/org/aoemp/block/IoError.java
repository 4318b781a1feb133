package org.aoemp.block;

/**
 * Why a block request failed, with the errno an NBD server sends for it and a message for
 * people. Only failed requests create one, so the success path allocates nothing for errors.
 */
public final class IoError extends Exception
{
    public static final int EPERM = 1;
    public static final int EIO = 5;
    public static final int ENOMEM = 12;
    public static final int EINVAL = 22;
    public static final int ENOSPC = 28;
    public static final int EOVERFLOW = 75;
    public static final int ENOTSUP = 95;
    public static final int ESHUTDOWN = 108;

    private final int errno;

    public IoError(final int errno, final String message)
    {
        super(message, null, false, false);
        this.errno = errno;
    }

    public int errno()
    {
        return errno;
    }

    @Override
    public String toString()
    {
        return errnoName(errno) + ": " + getMessage();
    }

    public static String errnoName(final int errno)
    {
        return switch (errno)
        {
            case EPERM -> "EPERM";
            case EIO -> "EIO";
            case ENOMEM -> "ENOMEM";
            case EINVAL -> "EINVAL";
            case ENOSPC -> "ENOSPC";
            case EOVERFLOW -> "EOVERFLOW";
            case ENOTSUP -> "ENOTSUP";
            case ESHUTDOWN -> "ESHUTDOWN";
            default -> "errno " + errno;
        };
    }
}
