#!/usr/bin/python3
"""libvirt side of bench/qemu-offline.bench.ts: the same steps on libvirt's qemu driver.

Usage: /usr/bin/python3 bench/qemu-offline-libvirt.py [URI]   (default qemu:///system)

One request per stdin line, one JSON answer per stdout line; one domain at a time:
  {"cmd": "hello"}                         -> {"ok": true, "library": "9.0.0", "hypervisor": "QEMU 7.2.22"}
  {"cmd": "define", "xml": "<domain …>"}   -> {"ok": true}
  {"cmd": "sources"}                       -> {"ok": true, "sources": ["/…/vda.qcow2", …]}
  {"cmd": "step", "step": {…}, "timed": b} -> {"ok": true, "ns": N} | {"ok": false, "error": "…", "code": N}
  {"cmd": "undefine"}                      -> {"ok": true}
Steps mirror the TypeScript side: snapshot (name, diskOnly), revert, delete, checkpoint,
redefineCheckpoint (name, parent), deleteCheckpoint. Lookups happen before the clock starts;
"ns" covers the one libvirt call (time.perf_counter_ns), so interpreter start-up, connecting
and the JSON round trip are excluded.
"""

import json
import sys
import time
import xml.etree.ElementTree as ET

import libvirt

PREFIX = "virtkit-bench-"
UNDEFINE_ALL = (
    libvirt.VIR_DOMAIN_UNDEFINE_SNAPSHOTS_METADATA | libvirt.VIR_DOMAIN_UNDEFINE_CHECKPOINTS_METADATA
)


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
        dom.undefineFlags(UNDEFINE_ALL)

    def define(self, req):
        self.dom = self.conn.defineXML(req["xml"])
        return {}

    def undefine(self, _req):
        if self.dom is not None:
            self.drop(self.dom)
            self.dom = None
        return {}

    def sources(self, _req):
        root = ET.fromstring(self.dom.XMLDesc(libvirt.VIR_DOMAIN_XML_INACTIVE))
        return {"sources": [s.get("file") for s in root.findall("./devices/disk/source")]}

    def call(self, step):
        """The libvirt call for a step, with every lookup done, ready to be timed."""
        dom = self.dom
        kind = step["kind"]
        name = step["name"]
        if kind == "snapshot":
            flags = libvirt.VIR_DOMAIN_SNAPSHOT_CREATE_DISK_ONLY if step.get("diskOnly") else 0
            xml = "<domainsnapshot><name>%s</name></domainsnapshot>" % name
            return lambda: dom.snapshotCreateXML(xml, flags)
        if kind == "revert":
            snap = dom.snapshotLookupByName(name)
            return lambda: dom.revertToSnapshot(snap, 0)
        if kind == "delete":
            snap = dom.snapshotLookupByName(name)
            return lambda: snap.delete(0)
        if kind == "checkpoint":
            xml = "<domaincheckpoint><name>%s</name></domaincheckpoint>" % name
            return lambda: dom.checkpointCreateXML(xml, 0)
        if kind == "redefineCheckpoint":
            xml = self.redefinition(name, step.get("parent"))
            return lambda: dom.checkpointCreateXML(xml, libvirt.VIR_DOMAIN_CHECKPOINT_CREATE_REDEFINE)
        if kind == "deleteCheckpoint":
            ckpt = dom.checkpointLookupByName(name)
            return lambda: ckpt.delete(0)
        raise ValueError("unknown step kind %r" % kind)

    def redefinition(self, name, parent):
        """Checkpoint metadata only (libvirt will not create a checkpoint of an inactive domain)."""
        root = ET.fromstring(self.dom.XMLDesc(libvirt.VIR_DOMAIN_XML_INACTIVE))
        targets = [t.get("dev") for t in root.findall("./devices/disk/target")]
        disks = "".join("<disk name='%s' checkpoint='bitmap'/>" % t for t in targets)
        parent_xml = "<parent><name>%s</name></parent>" % parent if parent else ""
        return "<domaincheckpoint><name>%s</name>%s<creationTime>%d</creationTime><disks>%s</disks>%s</domaincheckpoint>" % (
            name,
            parent_xml,
            int(time.time()),
            disks,
            ET.tostring(root, encoding="unicode"),
        )

    def step(self, req):
        fn = self.call(req["step"])
        start = time.perf_counter_ns()
        fn()
        return {"ns": time.perf_counter_ns() - start}

    def handle(self, req):
        cmd = req["cmd"]
        handler = {
            "hello": self.hello,
            "define": self.define,
            "undefine": self.undefine,
            "sources": self.sources,
            "step": self.step,
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
