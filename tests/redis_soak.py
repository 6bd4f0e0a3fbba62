#!/usr/bin/python3
# SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause)
"""Stale-read soak with real clients (python3-redis): reader threads, each on
its own connection, and one writer, against redis-server on 127.0.0.1:PORT,
until STOP exists; clients reconnect through restarts of the server.

The writer gives every SET a new sequence number and records a key's number
once Redis acknowledged it. A reader notes that number before its GET; a
reply older than it (or no value at all: the keys exist from the start, and
the server's AOF, fsynced before every reply, keeps them across SIGKILL) is
a stale read: a GET that reached the server side after a client had seen a
newer write acknowledged. Progress goes to STATUS (JSON) every 0.2 s and at
the end. When STOP.recycle appears, every reader opens a new connection
once (as a pool does when it retires connections) and the file goes. The
contents of STOP.phase (what the test is doing) label stale reads.

usage: redis_soak.py PORT STATUS STOP [READERS]
"""
import json
import os
import random
import sys
import threading
import time

import redis

PORT, STATUS, STOP = int(sys.argv[1]), sys.argv[2], sys.argv[3]
READERS = int(sys.argv[4]) if len(sys.argv) > 4 else 6
KEYS = ["soak:%d" % i for i in range(40)]
# Small and large size classes both (values up to 128 and 4096 bytes).
PAD = {k: b"x" * (8 if i % 4 else 300) for i, k in enumerate(KEYS)}

committed = {}          # key -> last acknowledged sequence number
totals = {"reads": 0, "stale": 0, "writes": 0, "errors": 0, "nil": 0,
          "first_stale": None, "last_stale": None}   # seconds since start
START = time.monotonic()
examples = []
lock = threading.Lock()
done = threading.Event()
recycle = [0]           # readers reconnect when this changes
phase = [""]            # STOP.phase, read by the main loop


def client():
    return redis.Redis(host="127.0.0.1", port=PORT, socket_timeout=5, socket_connect_timeout=2)


def value(seq, key):
    return b"%d:" % seq + PAD[key]


def count(what, n=1):
    with lock:
        totals[what] += n


def writer():
    r, seq = client(), 0
    while not done.is_set():
        key = random.choice(KEYS)
        seq += 1
        try:
            r.set(key, value(seq, key))
        except redis.RedisError:
            count("errors")
            time.sleep(0.01)
            continue
        committed[key] = seq
        count("writes")
        time.sleep(0.002)


def reader():
    r, reads, gen = client(), 0, recycle[0]
    while not done.is_set():
        if gen != recycle[0]:
            r.close()
            r, gen = client(), recycle[0]
        key = random.choice(KEYS)
        want = committed[key]
        try:
            got = r.get(key)
        except redis.RedisError:
            count("errors")
            time.sleep(0.01)
            continue
        reads += 1
        seq = int(got.split(b":", 1)[0]) if got else -1
        if seq < want or (got and got != value(seq, key)):
            # what Redis itself holds: a new connection's first GET is never
            # answered by the kernel
            try:
                fresh = client()
                now = fresh.get(key)
                fresh.close()
            except redis.RedisError as e:
                now = repr(e).encode()
            with lock:
                totals["stale"] += 1
                totals["nil"] += got is None
                totals["last_stale"] = round(time.monotonic() - START, 2)
                totals["first_stale"] = totals["first_stale"] or totals["last_stale"]
                if len(examples) < 5:
                    examples.append("%.2f s (%s): %s: got %r, %d acknowledged, Redis has %r" %
                                    (time.monotonic() - START, phase[0], key, got and got[:20], want,
                                     now and now[:20]))
        if reads == 100:
            count("reads", reads)
            reads = 0
    count("reads", reads)


def report():
    with lock:
        out = dict(totals, examples=list(examples))
    with open(STATUS + ".tmp", "w") as f:
        json.dump(out, f)
    os.rename(STATUS + ".tmp", STATUS)


def main():
    r = client()
    for key in KEYS:        # every key exists, acknowledged, before reads start
        r.set(key, value(0, key))
        committed[key] = 0
    threads = [threading.Thread(target=writer)]
    threads += [threading.Thread(target=reader) for _ in range(READERS)]
    for t in threads:
        t.start()
    while not os.path.exists(STOP):
        try:
            with open(STOP + ".phase") as f:
                phase[0] = f.read().strip()
        except OSError:
            pass
        if os.path.exists(STOP + ".recycle"):
            recycle[0] += 1
            os.unlink(STOP + ".recycle")
        report()
        time.sleep(0.2)
    done.set()
    for t in threads:
        t.join()
    report()


main()
