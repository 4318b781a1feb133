#!/usr/bin/python3
# Verified mixed I/O for bench/soak.sh, over libnbd (python3-libnbd).
#
#   soak-io.py URI SECONDS WORKERS STATUS_FILE
#
# WORKERS connections, each owning its own slice of the export so that it alone decides what
# every 4 KiB block of the slice must hold. A block's content is its index and its generation
# (bumped by every write), so a read catches a misplaced, lost, stale or torn write. Operations:
# reads of 4 KiB .. 1 MiB (each checked), writes of 4 KiB .. 1 MiB, write-zeroes, flush, and now
# and then a 4 MiB write read straight back. Every few seconds the totals go to STATUS_FILE (one
# line of key=value, replaced atomically); the process exits 0 when the time is up with no
# mismatch and no error, 1 otherwise. Progress and the first problems go to stderr.
import os
import random
import struct
import sys
import threading
import time

import nbd

BLOCK = 4096


def block_bytes(index, generation):
    if generation == 0:
        return bytes(BLOCK)
    return struct.pack("<QQ", index, generation) * (BLOCK // 16)


class Totals:
    def __init__(self):
        self.lock = threading.Lock()
        self.counts = {"reads": 0, "writes": 0, "zeroes": 0, "flushes": 0, "bytes": 0, "mismatches": 0, "errors": 0}
        self.reported = 0

    def add(self, key, n=1):
        with self.lock:
            self.counts[key] += n

    def snapshot(self):
        with self.lock:
            return dict(self.counts)

    def problem(self, text):
        with self.lock:
            self.reported += 1
            if self.reported <= 20:
                print("soak-io: " + text, file=sys.stderr, flush=True)


def worker(uri, number, first_block, blocks, deadline, totals, stop):
    rng = random.Random(1000 + number)
    gens = [0] * blocks
    next_gen = 1
    h = nbd.NBD()
    h.connect_uri(uri)
    try:
        while time.monotonic() < deadline and not stop.is_set():
            op = rng.random()
            try:
                if op < 0.02:
                    h.flush()
                    totals.add("flushes")
                    continue
                n = rng.choice((1, 1, 1, 2, 4, 16, 64, 256))
                start = rng.randrange(0, blocks - n + 1)
                offset = (first_block + start) * BLOCK
                if op < 0.45:
                    data = h.pread(n * BLOCK, offset)
                    totals.add("reads")
                    totals.add("bytes", len(data))
                    check(data, first_block, start, n, gens, totals, number)
                elif op < 0.92:
                    buf = bytearray()
                    for i in range(n):
                        gens[start + i] = next_gen
                        buf += block_bytes(first_block + start + i, next_gen)
                    next_gen += 1
                    h.pwrite(bytes(buf), offset, nbd.CMD_FLAG_FUA if rng.random() < 0.05 else 0)
                    totals.add("writes")
                    totals.add("bytes", len(buf))
                elif op < 0.97:
                    h.zero(n * BLOCK, offset)
                    for i in range(n):
                        gens[start + i] = 0
                    totals.add("zeroes")
                else:
                    # A large write, read straight back.
                    n = min(1024, blocks)
                    start = rng.randrange(0, blocks - n + 1)
                    offset = (first_block + start) * BLOCK
                    buf = bytearray()
                    for i in range(n):
                        gens[start + i] = next_gen
                        buf += block_bytes(first_block + start + i, next_gen)
                    next_gen += 1
                    h.pwrite(bytes(buf), offset)
                    data = h.pread(n * BLOCK, offset)
                    totals.add("writes")
                    totals.add("reads")
                    totals.add("bytes", 2 * len(buf))
                    check(data, first_block, start, n, gens, totals, number)
            except nbd.Error as e:
                # Multipath should hide every fault the soak makes: an error fails the soak. What a
                # failed write left in the slice is unknown, so this worker stops here.
                totals.add("errors")
                totals.problem(f"worker {number}: {e}")
                return
    finally:
        try:
            h.shutdown()
        except nbd.Error:
            pass


def check(data, first_block, start, n, gens, totals, number):
    for i in range(n):
        want = block_bytes(first_block + start + i, gens[start + i])
        got = data[i * BLOCK:(i + 1) * BLOCK]
        if got != want:
            totals.add("mismatches")
            idx, gen = struct.unpack("<QQ", got[:16])
            totals.problem(f"worker {number}: block {first_block + start + i} holds (block {idx}, generation {gen}), "
                           f"expected generation {gens[start + i]}")
            return


def write_status(path, totals, started, done):
    s = totals.snapshot()
    s["seconds"] = int(time.monotonic() - started)
    s["done"] = 1 if done else 0
    tmp = path + ".tmp"
    with open(tmp, "w") as f:
        f.write(" ".join(f"{k}={v}" for k, v in s.items()) + "\n")
    os.replace(tmp, path)


def main():
    uri, seconds, workers, status = sys.argv[1], float(sys.argv[2]), int(sys.argv[3]), sys.argv[4]
    h = nbd.NBD()
    h.connect_uri(uri)
    size = h.get_size()
    h.shutdown()
    per = size // BLOCK // workers
    started = time.monotonic()
    deadline = started + seconds
    totals = Totals()
    stop = threading.Event()
    threads = [threading.Thread(target=worker, args=(uri, w, w * per, per, deadline, totals, stop), daemon=True)
               for w in range(workers)]
    for t in threads:
        t.start()
    while any(t.is_alive() for t in threads):
        write_status(status, totals, started, False)
        for t in threads:
            t.join(timeout=2.0 / workers)
    write_status(status, totals, started, True)
    s = totals.snapshot()
    print("soak-io: " + " ".join(f"{k}={v}" for k, v in s.items()), file=sys.stderr)
    sys.exit(0 if s["mismatches"] == 0 and s["errors"] == 0 else 1)


if __name__ == "__main__":
    main()
