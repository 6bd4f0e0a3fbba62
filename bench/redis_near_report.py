# SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause)
"""bench/redis_near's report: medians of the rounds, the goal lines.

    python3 redis_near_report.py DIR "REQUEST_PROG REPLY_PROG" ROUNDS

DIR/rounds holds one line per run: "test plain|near round rps p50_ms p99_ms
client_us server_us request_ns reply_ns holder_us hits misses flushes";
DIR/TAG.TEST.ROUND.out the GET client's whole output. Every figure of the
table is the median of its test's rounds on that side; a goal line gives
the median's ratio and the range of the per-round ratios (each round's
plain and near ran back to back), so one outlier round cannot decide it.
"""
import os
import statistics
import sys

COLS = ("rps", "p50", "p99", "cli", "srv", "req", "rep", "hold", "hits", "misses", "flushes")


def load(path):
    runs = {}       # (test, tag) -> {round: {col: value}}
    order = []
    with open(path) as f:
        for line in f:
            w = line.split()
            test, tag, rnd = w[0], w[1], int(w[2])
            if test not in order:
                order.append(test)
            runs.setdefault((test, tag), {})[rnd] = dict(zip(COLS, map(float, w[3:])))
    return order, runs


def med(runs, test, tag, col):
    vals = [r[col] for r in runs.get((test, tag), {}).values()]
    return statistics.median(vals) if vals else None


def ratios(runs, test, col, near_over_plain):
    """Per-round ratios of @col: near/plain, or plain/near."""
    plain, near = runs.get((test, "plain"), {}), runs.get((test, "near"), {})
    out = []
    for rnd in sorted(set(plain) & set(near)):
        a, b = (near[rnd][col], plain[rnd][col]) if near_over_plain else \
               (plain[rnd][col], near[rnd][col])
        if b > 0:
            out.append(a / b)
    return out


def goal(runs, test, col, near_over_plain, fmt="%.2fx"):
    """"Mx [lo-hi]": the medians' ratio and the per-round range."""
    p, n = med(runs, test, "plain", col), med(runs, test, "near", col)
    if p is None or n is None:
        return "(not run)"
    a, b = (n, p) if near_over_plain else (p, n)
    r = ratios(runs, test, col, near_over_plain)
    m = fmt % (a / b) if b > 0 else "-"
    return "%s [%s-%s]" % (m, fmt % min(r), fmt % max(r)) if r else m


def step_p50s(path):
    """redis_sync_get -l's "# p50 us: step v ..." line as a dict."""
    try:
        with open(path) as f:
            for line in f:
                if line.startswith("# p50 us: "):
                    w = line[len("# p50 us: "):].split()
                    return dict(zip(w[0::2], map(float, w[1::2])))
    except OSError:
        pass
    return {}


def loop_steps(d, tag, test, rounds):
    """Each step's median over the rounds of @test on @tag."""
    per = [step_p50s(os.path.join(d, "%s.%s.%d.out" % (tag, test, r))) for r in range(1, rounds + 1)]
    per = [p for p in per if p]
    if not per:
        return {}
    return {k: statistics.median(p[k] for p in per if k in p) for k in per[0]}


def table(order, runs):
    print("\n%-7s %19s %6s %19s %6s %19s %6s %19s %6s %19s %6s" % (
        "test", "rps plain -> near", "ratio", "p50 ms plain->near", "ratio",
        "p99 ms plain->near", "ratio", "client us/GET", "ratio", "server us/GET", "ratio"))
    for t in order:
        m = {(tag, c): med(runs, t, tag, c) or 0 for tag in ("plain", "near") for c in COLS}

        def r(a, b):
            return a / b if b > 0 else 0
        print("%-7s %8.0f -> %8.0f %6.2f %8.3f -> %8.3f %6.2f %8.3f -> %8.3f %6.2f "
              "%8.2f -> %8.2f %6.2f %8.2f -> %8.2f %6.2f" % (
                  t, m["plain", "rps"], m["near", "rps"], r(m["near", "rps"], m["plain", "rps"]),
                  m["plain", "p50"], m["near", "p50"], r(m["plain", "p50"], m["near", "p50"]),
                  m["plain", "p99"], m["near", "p99"], r(m["plain", "p99"], m["near", "p99"]),
                  m["plain", "cli"], m["near", "cli"], r(m["near", "cli"], m["plain", "cli"]),
                  m["plain", "srv"], m["near", "srv"], r(m["near", "srv"], m["plain", "srv"])))
    print("(medians of the rounds; rps ratio near/plain; latency ratio plain/near (>1: near "
          "faster); CPU ratio near/plain)")


def programs(order, runs, names):
    p = names.split()
    print("near programs' run time per GET (bpf_stats), the holder's CPU per GET (its share of the\n"
          "near client CPU) and what the near cache did in the near runs (medians of the rounds):")
    for t in order:
        m = {c: med(runs, t, "near", c) or 0 for c in COLS}
        print("  %-7s %s %5d ns  %s %5d ns  holder %.2f us  (client CPU/GET plain %.2f us, near %.2f us)"
              "  hits %d, to Redis %d, flushes %d" % (
                  t, p[0], m["req"], p[1], m["rep"], m["hold"], med(runs, t, "plain", "cli") or 0,
                  m["cli"], m["hits"], m["misses"], m["flushes"]))


def goals(order, runs, d, rounds):
    have = set(order)
    print("goals (median of the rounds' figures, [range of the per-round ratios]):")
    kinds = (("redis-benchmark -c 1 (its event loop)", "hit1", "miss1"),
             ("redis-benchmark -c 50", "hit50", "miss50"),
             ("one blocking hiredis client (bench/redis_sync_get)", "shit1", "smiss1"),
             ("one hiredis client in redis-benchmark's event loop (bench/redis_sync_get -l)",
              "lhit1", "lmiss1"))
    for title, hit, miss in kinds:
        if hit not in have and miss not in have:
            continue
        print("  %s:" % title)
        if hit in have:
            lat = "hit p50 %s lower (goal >= 4x)" % goal(runs, hit, "p50", False, "%.1fx")
            if hit == "hit50":
                lat = "hit p50 %s lower (the goal is for 1 client)" % goal(runs, hit, "p50", False, "%.1fx")
            print("    %s; server CPU per hit %s (goal <= 0.1x)" % (lat, goal(runs, hit, "srv", True)))
            print("    client CPU per GET %s (goal <= 0.7x)" % goal(runs, hit, "cli", True))
        if miss in have:
            print("    miss p50 %s of plain (goal within 1.1x); miss rps %s of plain" % (
                goal(runs, miss, "p50", True), goal(runs, miss, "rps", True)))
        if hit == "hit1":
            print("    (its p50 is the top of an 8 us bucket: any p50 from 8 to 15 us reads 0.015; the\n"
                  "    event-loop client times the same system calls per GET with the clock's resolution)")
        if hit == "lhit1" and "lfloor" in have:
            floor_limits(runs, d, rounds)


def floor_limits(runs, d, rounds):
    """What the loop's floor (lfloor: its system calls, no TCP, cache or
    server) allows the event-loop client."""
    f = [loop_steps(d, tag, "lfloor", rounds).get("GET") for tag in ("plain", "near")]
    h = loop_steps(d, "near", "lhit1", rounds).get("GET")
    p = loop_steps(d, "plain", "lhit1", rounds).get("GET")
    fc = med(runs, "lfloor", "near", "cli")
    pc = med(runs, "lhit1", "plain", "cli")
    if None in f or h is None or p is None:
        return
    print("    the loop's floor (its system calls, each reply readable when write() returns, no TCP,\n"
          "    cache or server): p50 %.2f / %.2f us (with the plain / near runs); near hit p50 %.2f us"
          " = floor %+.2f us;" % (f[0], f[1], h, h - f[1]))
    print("    a hit 4x below plain's %.2f us needs <= %.2f us: %.2fx the floor (> 1.00x: a free cache"
          " could meet it)" % (p, p / 4, p / 4 / f[1]))
    if fc and pc:
        print("    client CPU: <= 0.7x of plain's %.2f us/GET is <= %.2f us; the floor spends %.2f us/GET"
              " (%.2fx of plain)" % (pc, 0.7 * pc, fc, fc / pc))


def steps(order, d, rounds):
    first = True
    for t in ("lhit1", "lmiss1", "lfloor"):
        if t not in order:
            continue
        for tag in ("plain", "near"):
            s = loop_steps(d, tag, t, rounds)
            if not s:
                continue
            if first:
                print("event loop, p50 us of each system call in the timed window (medians of the rounds):")
                first = False
            print("  %-7s %-5s %s" % (t, tag, " ".join("%s %.2f" % kv for kv in s.items())))


def main():
    d, names, rounds = sys.argv[1], sys.argv[2], int(sys.argv[3])
    order, runs = load(os.path.join(d, "rounds"))
    print("\nper round (test side round: rps p50 p99 client_us server_us req_ns rep_ns holder_us"
          " hits to_redis flushes):")
    with open(os.path.join(d, "rounds")) as f:
        for line in f:
            print("  " + line.rstrip())
    table(order, runs)
    programs(order, runs, names)
    goals(order, runs, d, rounds)
    steps(order, d, rounds)


if __name__ == "__main__":
    main()
