# Run by RealClientsTest as: URI=nbd://... nbdsh -c "exec(open(THIS_FILE).read())"; nbdsh predefines h.
import errno, os
import nbd
h.set_strict_mode(0)
h.connect_uri(os.environ["URI"])
size = h.get_size()

def err(f):
    try:
        f()
        return "OK"
    except nbd.Error as e:
        # libnbd's Python binding gives the errno's name ("EINVAL"), some versions its number.
        return e.errno if isinstance(e.errno, str) else errno.errorcode.get(e.errno, e.errno)

def check(what, got, want):
    print(f"{what}: {got}")
    assert got == want, f"{what}: got {got}, want {want}"

check("read past end", err(lambda: h.pread(4096, size)), "EINVAL")
check("read across end", err(lambda: h.pread(8192, size - 4096)), "EINVAL")
check("write past end", err(lambda: h.pwrite(b"x" * 4096, size)), "ENOSPC")
check("write across end", err(lambda: h.pwrite(b"x" * 8192, size - 4096)), "ENOSPC")
check("zero past end", err(lambda: h.zero(4096, size)), "ENOSPC")
check("unaligned read", err(lambda: h.pread(512, 100)), "EINVAL")
check("zero-length read", h.pread(0, 0), b"")
check("zero-length write", err(lambda: h.pwrite(b"", 0)), "OK")
check("trim (not advertised)", err(lambda: h.trim(4096, 0)), "EINVAL")
check("cache (not advertised)", err(lambda: h.cache(4096, 0)), "EINVAL")
check("read with DF (no structured replies)", err(lambda: h.pread(4096, 0, nbd.CMD_FLAG_DF)), "EINVAL")
check("read with REQ_ONE", err(lambda: h.pread(4096, 0, nbd.CMD_FLAG_REQ_ONE)), "EINVAL")
check("zero with FAST_ZERO (not advertised)", err(lambda: h.zero(4096, 0, nbd.CMD_FLAG_FAST_ZERO)), "EINVAL")
big = os.urandom(32 << 20)
h.pwrite(big, 0)
check("32 MiB read back", h.pread(32 << 20, 0) == big, True)
check("32 MiB + 512 write", err(lambda: h.pwrite(b"\0" * ((32 << 20) + 512), 0)), "EINVAL")
check("still in sync after it", h.pread(4096, 0) == big[:4096], True)
h.pwrite(b"\1" * 4096, 8192, nbd.CMD_FLAG_FUA)
h.zero(1 << 20, 1 << 20, nbd.CMD_FLAG_NO_HOLE)
check("zeroed", h.pread(1 << 20, 1 << 20) == bytes(1 << 20), True)
h.flush()
check("can_multi_conn", h.can_multi_conn(), True)
h.shutdown()
print("OK")
