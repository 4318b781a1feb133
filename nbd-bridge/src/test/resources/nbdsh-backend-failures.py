# Run by BackendFailureRealClientsTest as: URI=... GOOD_URI=... nbdsh -c "exec(open(THIS_FILE).read())"; nbdsh predefines h.
# The export at URI fails by 1 MiB region as BackendFailureTest.REGIONS says; the test queued four flush faults.
import errno, os
import nbd
h.connect_uri(os.environ["URI"])
R = 1 << 20
EXPECTED = {0: "OK", 1: "EIO", 2: "EIO", 3: "EIO", 4: "ENOSPC", 5: "ENOSPC", 6: "EIO", 7: "EPERM", 8: "OK", 9: "OK", 10: "OK"}

def name(e):
    # libnbd's Python binding gives the errno's name ("EIO"), some versions its number.
    return e.errno if isinstance(e.errno, str) else errno.errorcode.get(e.errno, e.errno)

def err(f):
    try:
        f()
        return "OK"
    except nbd.Error as e:
        return name(e)

def check(what, got, want):
    print(f"{what}: {got}")
    assert got == want, f"{what}: got {got}, want {want}"

for region, want in EXPECTED.items():
    check(f"read in region {region}", err(lambda: h.pread(4096, region * R)), want)
    check(f"write in region {region}", err(lambda: h.pwrite(b"w" * 4096, region * R)), want)
    check(f"zero in region {region}", err(lambda: h.zero(4096, region * R)), want)

for i, want in enumerate(["EIO", "EIO", "ENOSPC", "OK"]):
    check(f"flush {i}", err(lambda: h.flush()), want)

# 330 reads in flight at once over every region: each gets exactly one reply with its own result.
commands = []
for i in range(330):
    region = i % len(EXPECTED)
    commands.append((region, h.aio_pread(nbd.Buffer(4096), region * R + (i // len(EXPECTED)) * 4096)))
while h.aio_in_flight() > 0:
    h.poll(-1)
got = {}
for region, cookie in commands:
    try:
        assert h.aio_command_completed(cookie)
        result = "OK"
    except nbd.Error as e:
        result = name(e)
    got.setdefault(region, set()).add(result)
check("results of the reads in flight", got, {region: {want} for region, want in EXPECTED.items()})

data = os.urandom(4096)
h.pwrite(data, 0)
check("the connection still serves", h.pread(4096, 0) == data, True)

g = nbd.NBD()
g.connect_uri(os.environ["GOOD_URI"])
check("the other export serves", len(g.pread(4096, 0)), 4096)
g.shutdown()
h.shutdown()
print("OK")
