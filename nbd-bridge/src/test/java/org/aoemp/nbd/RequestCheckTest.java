package org.aoemp.nbd;

import static org.aoemp.nbd.NbdErrors.EINVAL;
import static org.aoemp.nbd.NbdErrors.EIO;
import static org.aoemp.nbd.NbdErrors.ENOSPC;
import static org.aoemp.nbd.NbdErrors.EPERM;
import static org.aoemp.nbd.NbdErrors.OK;
import static org.aoemp.nbd.RequestCheck.MAX_PAYLOAD;
import static org.aoemp.nbd.TransmissionCodec.*;
import static org.junit.jupiter.api.Assertions.assertEquals;

import org.junit.jupiter.api.Test;

class RequestCheckTest
{
    private static final long SIZE = 1L << 30;

    private static int rw(final int type, final int flags, final long offset, final long length)
    {
        return RequestCheck.check(type, flags, offset, length, SIZE, 512, false);
    }

    private static int ro(final int type, final int flags, final long offset, final long length)
    {
        return RequestCheck.check(type, flags, offset, length, SIZE, 512, true);
    }

    @Test
    void shouldAcceptWellFormedRequestsUpTo32MiB()
    {
        assertEquals(OK, rw(CMD_READ, 0, 0, 4096));
        assertEquals(OK, rw(CMD_READ, CMD_FLAG_FUA, SIZE - MAX_PAYLOAD, MAX_PAYLOAD));
        assertEquals(OK, rw(CMD_WRITE, CMD_FLAG_FUA, 512, MAX_PAYLOAD));
        assertEquals(OK, rw(CMD_WRITE_ZEROES, CMD_FLAG_FUA | CMD_FLAG_NO_HOLE, 0, SIZE));
        assertEquals(OK, rw(CMD_FLUSH, 0, 0, 0));
        assertEquals(OK, rw(CMD_DISC, 0xffff, 123, 456));
    }

    @Test
    void shouldAcceptZeroLengthRequestsUpToTheEnd()
    {
        assertEquals(OK, rw(CMD_READ, 0, SIZE, 0));
        assertEquals(OK, rw(CMD_WRITE, 0, SIZE, 0));
        assertEquals(EINVAL, rw(CMD_READ, 0, SIZE + 512, 0));
    }

    @Test
    void shouldRejectReadsBeyondTheEndWithEinvalAndWritesWithEnospc()
    {
        assertEquals(EINVAL, rw(CMD_READ, 0, SIZE, 512));
        assertEquals(EINVAL, rw(CMD_READ, 0, SIZE - 512, 1024));
        assertEquals(ENOSPC, rw(CMD_WRITE, 0, SIZE - 512, 1024));
        assertEquals(ENOSPC, rw(CMD_WRITE_ZEROES, 0, SIZE, 512));
        assertEquals(ENOSPC, rw(CMD_WRITE_ZEROES, 0, 512, 0xffffffffL & ~511L), "zeroes may exceed 32 MiB, not the end");
        assertEquals(EINVAL, rw(CMD_READ, 0, Long.MIN_VALUE, 512), "offset 2^63 on the wire");
        assertEquals(ENOSPC, rw(CMD_WRITE, 0, Long.MAX_VALUE - 511, 512), "no overflow in offset + length");
    }

    @Test
    void shouldRejectMisalignedAndOversizedRequestsWithEinval()
    {
        assertEquals(EINVAL, rw(CMD_READ, 0, 100, 512));
        assertEquals(EINVAL, rw(CMD_READ, 0, 0, 100));
        assertEquals(EINVAL, rw(CMD_WRITE, 0, 0, 513));
        assertEquals(EINVAL, rw(CMD_WRITE_ZEROES, 0, 256, 512));
        assertEquals(EINVAL, rw(CMD_READ, 0, 0, MAX_PAYLOAD + 512));
        assertEquals(EINVAL, rw(CMD_WRITE, 0, 0, MAX_PAYLOAD + 512));
        assertEquals(EINVAL, rw(CMD_WRITE, 0, 0, 0xffffffffL));
    }

    @Test
    void shouldRejectFlagsNotValidForTheCommand()
    {
        assertEquals(EINVAL, rw(CMD_READ, CMD_FLAG_DF, 0, 512), "DF needs structured replies");
        assertEquals(EINVAL, rw(CMD_READ, CMD_FLAG_NO_HOLE, 0, 512));
        assertEquals(EINVAL, rw(CMD_WRITE, CMD_FLAG_NO_HOLE, 0, 512));
        assertEquals(EINVAL, rw(CMD_WRITE_ZEROES, CMD_FLAG_FAST_ZERO, 0, 512), "FAST_ZERO not advertised");
        assertEquals(EINVAL, rw(CMD_WRITE, 0x8000, 0, 512));
        assertEquals(EINVAL, rw(CMD_FLUSH, CMD_FLAG_NO_HOLE, 0, 0));
        assertEquals(OK, rw(CMD_FLUSH, CMD_FLAG_FUA, 0, 0));
    }

    @Test
    void shouldRejectFlushWithARangeAndCommandsNotAdvertised()
    {
        assertEquals(EINVAL, rw(CMD_FLUSH, 0, 512, 0));
        assertEquals(EINVAL, rw(CMD_FLUSH, 0, 0, 512));
        for (final int type : new int[] {CMD_TRIM, CMD_CACHE, CMD_BLOCK_STATUS, CMD_RESIZE, 9, 0xffff})
        {
            assertEquals(EINVAL, rw(type, 0, 0, 512), TransmissionCodec.commandName(type));
        }
    }

    @Test
    void shouldRejectWritesOnAReadOnlyExportWithEpermButStillServeReads()
    {
        assertEquals(EPERM, ro(CMD_WRITE, 0, 0, 512));
        assertEquals(EPERM, ro(CMD_WRITE, 0, SIZE, 512), "EPERM before ENOSPC");
        assertEquals(EPERM, ro(CMD_WRITE_ZEROES, 0, 0, 512));
        assertEquals(OK, ro(CMD_READ, 0, 0, 512));
        assertEquals(OK, ro(CMD_FLUSH, 0, 0, 0));
    }

    @Test
    void shouldMapDeviceErrnosToNbdErrors()
    {
        assertEquals(EIO, NbdErrors.fromDeviceErrno(EIO));
        assertEquals(EPERM, NbdErrors.fromDeviceErrno(EPERM));
        assertEquals(NbdErrors.ESHUTDOWN, NbdErrors.fromDeviceErrno(NbdErrors.ESHUTDOWN));
        assertEquals(ENOSPC, NbdErrors.fromDeviceErrno(NbdErrors.EDQUOT));
        assertEquals(ENOSPC, NbdErrors.fromDeviceErrno(NbdErrors.EFBIG));
        assertEquals(EIO, NbdErrors.fromDeviceErrno(NbdErrors.ENOTSUP), "ENOTSUP is only for FAST_ZERO");
        assertEquals(EIO, NbdErrors.fromDeviceErrno(110), "ETIMEDOUT is not an NBD error");
        assertEquals(OK, NbdErrors.from(null));
    }
}
