#!/usr/bin/python3
"""libvirt side of bench/test-driver.bench.ts: the snapshot workload on libvirt's test driver.

Usage: /usr/bin/python3 bench/test-driver-bench.py SHAPE N   (SHAPE = chain | bushy)
Prints the cumulative result as one JSON line after each phase (the last line is final). Timings are taken in-process with time.perf_counter_ns, so
interpreter start-up is excluded; peak RSS is this process's ru_maxrss. The workload must stay
step for step identical to runWorkload() in test-driver.bench.ts.
"""

import gc
import json
import resource
import sys
import time

import libvirt

FANOUT = 4
SEED = 12345
# Enough untimed calls for V8 to optimise virtkit's hot paths (JIT); same work on both sides.
WARM_UP = 3000
LIST_WARM_UP = 100
ROOTS_REPS = 1000
# Cheap calls are timed in batches (one clock reading per batch, the mean per call recorded), so
# neither side's timing overhead is counted as the call's cost.
BATCH = 50


class Rng:
    """The same 31-bit LCG as the TypeScript side, so both pick the same names."""

    def __init__(self, seed):
        self.state = seed

    def below(self, n):
        self.state = (self.state * 1103515245 + 12345) % 2147483648
        return self.state % n


def list_reps(n):
    return 20 if n <= 1000 else 10 if n <= 10000 else 3


def depth3_nodes(n):
    first = 1 + FANOUT + FANOUT * FANOUT
    return [i for i in range(first, first + FANOUT ** 3) if i < n]


class Bench:
    def __init__(self):
        self.samples = {}
        self.counts = {}

    def timed(self, op, fn, *args):
        start = time.perf_counter_ns()
        value = fn(*args)
        self.samples.setdefault(op, []).append(time.perf_counter_ns() - start)
        return value

    def timed_batch(self, op, fn, args_list):
        value = None
        start = time.perf_counter_ns()
        for args in args_list:
            value = fn(*args)
        self.samples.setdefault(op, []).append((time.perf_counter_ns() - start) // len(args_list))
        return value


def stats(values):
    ordered = sorted(values)
    return {"count": len(ordered), "medianNs": ordered[len(ordered) // 2], "totalNs": sum(ordered)}


def name(i):
    return "s%d" % i


def xml(i):
    return "<domainsnapshot><name>%s</name></domainsnapshot>" % name(i)


def warm_up():
    """An untimed round of every call on a throwaway world (mirrors warmUp())."""
    conn = libvirt.open("test:///default")
    dom = conn.lookupByName("test")
    for i in range(WARM_UP):
        dom.snapshotCreateXML(xml(i), 0)
    for flags in (0, libvirt.VIR_DOMAIN_SNAPSHOT_LIST_ROOTS, libvirt.VIR_DOMAIN_SNAPSHOT_LIST_LEAVES,
                  libvirt.VIR_DOMAIN_SNAPSHOT_LIST_TOPOLOGICAL):
        for _ in range(LIST_WARM_UP):
            dom.listAllSnapshots(flags)
    for i in range(WARM_UP):
        dom.snapshotLookupByName(name(i))
        dom.snapshotCurrent()
    for i in range(0, WARM_UP, 10):
        dom.revertToSnapshot(dom.snapshotLookupByName(name(i)), 0)
        dom.snapshotLookupByName(name(i + 1)).delete(0)
    dom.snapshotLookupByName(name(0)).delete(libvirt.VIR_DOMAIN_SNAPSHOT_DELETE_CHILDREN)
    del dom
    gc.collect()
    if conn.close() != 0:
        raise RuntimeError("warm-up connection still referenced: the measured world would not be fresh")


def run(shape, n):
    """Runs the workload phase by phase, printing the cumulative result after each phase, so a
    crash (libvirt overflows its stack listing a 100 000-deep chain topologically) still leaves
    the phases before it."""
    warm_up()
    bench = Bench()
    conn = libvirt.open("test:///default")
    dom = conn.lookupByName("test")
    baseline_kb = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    wall = time.perf_counter_ns()
    rng = Rng(SEED)

    def emit(phase):
        result = {
            "side": "libvirt",
            "shape": shape,
            "n": n,
            "phase": phase,
            "ops": {op: stats(values) for op, values in bench.samples.items()},
            "counts": bench.counts,
            "baselineKb": baseline_kb,
            "peakKb": resource.getrusage(resource.RUSAGE_SELF).ru_maxrss,
            "wallNs": time.perf_counter_ns() - wall,
        }
        sys.stdout.write(json.dumps(result) + "\n")
        sys.stdout.flush()

    def next_phase(phase):
        sys.stderr.write("phase: %s\n" % phase)
        sys.stderr.flush()

    next_phase("create")
    bench.timed("create", dom.snapshotCreateXML, xml(0), 0)
    for i in range(1, n):
        if shape == "bushy":
            parent = dom.snapshotLookupByName(name((i - 1) // FANOUT))
            bench.timed("revert", dom.revertToSnapshot, parent, 0)
        bench.timed("create", dom.snapshotCreateXML, xml(i), 0)
    emit("create")

    next_phase("list all, roots, leaves")
    lists = {
        "list all": 0,
        "list roots": libvirt.VIR_DOMAIN_SNAPSHOT_LIST_ROOTS,
        "list leaves": libvirt.VIR_DOMAIN_SNAPSHOT_LIST_LEAVES,
    }
    # Each list kind in its own loop: a cheap call measured right after a big allocation would
    # time the collector, not the call. Listing only the roots is cheap, so it gets more samples.
    for op, flags in lists.items():
        if op == "list roots":
            for _ in range(0, ROOTS_REPS, BATCH):
                bench.counts[op] = len(bench.timed_batch(op, dom.listAllSnapshots, [(flags,)] * BATCH))
            continue
        for _ in range(list_reps(n)):
            bench.counts[op] = len(bench.timed(op, dom.listAllSnapshots, flags))
    emit("list")

    next_phase("lookup, current, revert")
    lookups = min(n, 2000)
    wanted = [(name(rng.below(n)),) for _ in range(lookups)]
    for k in range(0, lookups, BATCH):
        bench.timed_batch("lookup", dom.snapshotLookupByName, wanted[k:k + BATCH])
    for _ in range(0, lookups, BATCH):
        bench.timed_batch("current", dom.snapshotCurrent, [()] * BATCH)
    if shape == "chain":
        for _ in range(min(n, 500)):
            snap = dom.snapshotLookupByName(name(rng.below(n)))
            bench.timed("revert", dom.revertToSnapshot, snap, 0)
    emit("lookup")

    next_phase("list topological")
    topological = libvirt.VIR_DOMAIN_SNAPSHOT_LIST_TOPOLOGICAL
    for _ in range(list_reps(n)):
        bench.counts["list topological"] = len(bench.timed("list topological", dom.listAllSnapshots, topological))
    emit("topological")

    next_phase("delete")
    deleted = set()
    order = []
    while len(deleted) < min(n // 10, 200):
        i = 1 + rng.below(n - 1)
        if i in deleted:
            continue
        deleted.add(i)
        order.append(i)
    for k in range(0, len(order), BATCH // 5):
        snaps = [(dom.snapshotLookupByName(name(i)), 0) for i in order[k:k + BATCH // 5]]
        bench.timed_batch("delete", libvirt.virDomainSnapshot.delete, snaps)

    next_phase("delete children")
    children = libvirt.VIR_DOMAIN_SNAPSHOT_DELETE_CHILDREN
    if shape == "chain":
        alive = [i for i in range(n) if i not in deleted]
        step = max(1, n // 100)
        for _ in range(10):
            snap = dom.snapshotLookupByName(name(alive[len(alive) - step]))
            bench.timed("delete children", snap.delete, children)
            alive = alive[: len(alive) - step]
    else:
        for i in [i for i in depth3_nodes(n) if i not in deleted][:10]:
            snap = dom.snapshotLookupByName(name(i))
            bench.timed("delete children", snap.delete, children)
    bench.counts["left"] = dom.snapshotNum(0)
    emit("done")
    del dom
    conn.close()


def main(argv):
    if len(argv) != 3 or argv[1] not in ("chain", "bushy"):
        sys.stderr.write("usage: test-driver-bench.py chain|bushy N\n")
        return 2
    libvirt.registerErrorHandler(lambda _ctx, _err: None, None)
    run(argv[1], int(argv[2]))
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv))
