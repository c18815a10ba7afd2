#!/usr/bin/python3
"""Prints libvirt's snapshot and checkpoint XML for domain definitions (moment-xml.test.ts).

Usage: /usr/bin/python3 test/differential/moment-xml.py CASES.json
CASES.json: [{"name", "domain", "snapshot", "checkpoint"}], XML texts; "checkpoint" may be null.
Each domain is defined on libvirt's test driver and started; the snapshot is taken and its XML
read, then deleted (the test driver refuses checkpoints while snapshots exist), then the same
for the checkpoint. Prints [{"name", "snapshot", "checkpoint"}] (XML or {"error": message}).
"""

import json
import sys

import libvirt


def moment_xml(create, delete):
    try:
        moment = create()
    except libvirt.libvirtError as err:
        return {"error": err.get_error_message()}
    xml = moment.getXMLDesc(0)
    delete(moment)
    return xml


def main(path):
    with open(path, encoding="utf-8") as handle:
        cases = json.load(handle)
    libvirt.registerErrorHandler(lambda *_: None, None)
    conn = libvirt.open("test:///default")
    out = []
    for case in cases:
        dom = conn.defineXML(case["domain"])
        dom.create()
        row = {"name": case["name"]}
        row["snapshot"] = moment_xml(
            lambda: dom.snapshotCreateXML(case["snapshot"], 0), lambda s: s.delete(0)
        )
        row["checkpoint"] = (
            None
            if case["checkpoint"] is None
            else moment_xml(lambda: dom.checkpointCreateXML(case["checkpoint"], 0), lambda c: c.delete(0))
        )
        dom.destroy()
        dom.undefine()
        out.append(row)
    conn.close()
    json.dump(out, sys.stdout)


if __name__ == "__main__":
    main(sys.argv[1])
