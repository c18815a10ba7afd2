#!/usr/bin/python3
"""libvirt side of bench/qemu-live.bench.ts: start and destroy one domain on libvirt's qemu driver.

Usage: /usr/bin/python3 bench/qemu-live-libvirt.py [URI]   (default qemu:///system)

One request per stdin line, one JSON answer per stdout line; one domain at a time:
  {"cmd": "hello"}                         -> {"ok": true, "library": "9.0.0", "hypervisor": "QEMU 7.2.22"}
  {"cmd": "define", "xml": "<domain …>"}   -> {"ok": true}
  {"cmd": "start", "paused": b}            -> {"ok": true, "ns": N, "pid": P} | {"ok": false, "error": "…"}
  {"cmd": "destroy"}                       -> {"ok": true, "ns": N}
  {"cmd": "undefine"}                      -> {"ok": true}
"ns" covers the one libvirt call (virDomainCreateWithFlags, virDomainDestroy) measured with
time.perf_counter_ns, so interpreter start-up, connecting and the JSON round trip are excluded.
"pid" is QEMU's (read from libvirt's pid file after the call), so the benchmark can kill it.
"""

import json
import sys
import time

import libvirt

PREFIX = "virtkit-bench-"
PID_DIR = "/run/libvirt/qemu"


def version(v):
    return "%d.%d.%d" % (v // 1000000, v // 1000 % 1000, v % 1000)


class Worker:
    def __init__(self, uri):
        self.conn = libvirt.open(uri)
        self.dom = None

    def hello(self, _req):
        self.remove_stale()
        return {"library": version(self.conn.getLibVersion()), "hypervisor": "QEMU " + version(self.conn.getVersion())}

    def remove_stale(self):
        """Domains a crashed earlier run left behind."""
        for dom in self.conn.listAllDomains(0):
            if dom.name().startswith(PREFIX):
                self.drop(dom)

    @staticmethod
    def drop(dom):
        if dom.isActive():
            dom.destroy()
        dom.undefine()

    def define(self, req):
        self.dom = self.conn.defineXML(req["xml"])
        return {}

    def undefine(self, _req):
        if self.dom is not None:
            self.drop(self.dom)
            self.dom = None
        return {}

    def start(self, req):
        flags = libvirt.VIR_DOMAIN_START_PAUSED if req.get("paused") else 0
        dom = self.dom
        start = time.perf_counter_ns()
        dom.createWithFlags(flags)
        ns = time.perf_counter_ns() - start
        return {"ns": ns, "pid": self.pid()}

    def pid(self):
        try:
            with open("%s/%s.pid" % (PID_DIR, self.dom.name())) as f:
                return int(f.read().strip())
        except (OSError, ValueError):
            return None

    def destroy(self, _req):
        dom = self.dom
        start = time.perf_counter_ns()
        dom.destroy()
        return {"ns": time.perf_counter_ns() - start}

    def handle(self, req):
        cmd = req["cmd"]
        handler = {
            "hello": self.hello,
            "define": self.define,
            "undefine": self.undefine,
            "start": self.start,
            "destroy": self.destroy,
        }.get(cmd)
        if handler is None:
            raise ValueError("unknown command %r" % cmd)
        return handler(req)


def main(argv):
    libvirt.registerErrorHandler(lambda _ctx, _err: None, None)
    uri = argv[1] if len(argv) > 1 else "qemu:///system"
    try:
        worker = Worker(uri)
    except libvirt.libvirtError as e:
        sys.stdout.write(json.dumps({"ok": False, "error": str(e), "code": e.get_error_code()}) + "\n")
        return 1
    for line in sys.stdin:
        if not line.strip():
            continue
        try:
            answer = dict(ok=True, **worker.handle(json.loads(line)))
        except libvirt.libvirtError as e:
            answer = {"ok": False, "error": str(e), "code": e.get_error_code()}
        except Exception as e:  # noqa: BLE001 - reported to the TypeScript side, which prints it
            answer = {"ok": False, "error": "%s: %s" % (type(e).__name__, e)}
        sys.stdout.write(json.dumps(answer) + "\n")
        sys.stdout.flush()
    if worker.dom is not None:
        worker.undefine({})
    worker.conn.close()
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv))
