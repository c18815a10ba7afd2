#!/usr/bin/python3
"""Runner A of the differential suite: replays scenarios on libvirt's own test driver.

Usage: /usr/bin/python3 test/differential/run-libvirt.py SCENARIO.json [...]
Prints one JSON array on stdout: per scenario {name, file, steps: [outcome, ...]}, each
outcome {ok: true, result} or {ok: false, code, libvirtCode, message}. Scenario format:
test/differential/README.md. Needs Debian's python3-libvirt (run with /usr/bin/python3).
"""

import gc
import json
import os
import re
import sys
import threading
import time
import xml.etree.ElementTree as ET

import libvirt

HERE = os.path.dirname(os.path.abspath(__file__))

# Option names (virtkit's option objects) -> libvirt flag values, per entry point.
FLAGS = {
    "define": {"validate": "VIR_DOMAIN_DEFINE_VALIDATE"},
    "create": {
        "paused": "VIR_DOMAIN_START_PAUSED",
        "autodestroy": "VIR_DOMAIN_START_AUTODESTROY",
        "bypassCache": "VIR_DOMAIN_START_BYPASS_CACHE",
        "forceBoot": "VIR_DOMAIN_START_FORCE_BOOT",
        "validate": "VIR_DOMAIN_START_VALIDATE",
    },
    "start": {
        "paused": "VIR_DOMAIN_START_PAUSED",
        "autodestroy": "VIR_DOMAIN_START_AUTODESTROY",
        "bypassCache": "VIR_DOMAIN_START_BYPASS_CACHE",
        "forceBoot": "VIR_DOMAIN_START_FORCE_BOOT",
    },
    "destroy": {"graceful": "VIR_DOMAIN_DESTROY_GRACEFUL"},
    "undefine": {
        "managedSave": "VIR_DOMAIN_UNDEFINE_MANAGED_SAVE",
        "snapshotsMetadata": "VIR_DOMAIN_UNDEFINE_SNAPSHOTS_METADATA",
        "nvram": "VIR_DOMAIN_UNDEFINE_NVRAM",
        "keepNvram": "VIR_DOMAIN_UNDEFINE_KEEP_NVRAM",
        "checkpointsMetadata": "VIR_DOMAIN_UNDEFINE_CHECKPOINTS_METADATA",
        "tpm": "VIR_DOMAIN_UNDEFINE_TPM",
        "keepTpm": "VIR_DOMAIN_UNDEFINE_KEEP_TPM",
    },
    "listDomains": {
        "active": "VIR_CONNECT_LIST_DOMAINS_ACTIVE",
        "inactive": "VIR_CONNECT_LIST_DOMAINS_INACTIVE",
        "persistent": "VIR_CONNECT_LIST_DOMAINS_PERSISTENT",
        "transient": "VIR_CONNECT_LIST_DOMAINS_TRANSIENT",
        "running": "VIR_CONNECT_LIST_DOMAINS_RUNNING",
        "paused": "VIR_CONNECT_LIST_DOMAINS_PAUSED",
        "shutoff": "VIR_CONNECT_LIST_DOMAINS_SHUTOFF",
        "other": "VIR_CONNECT_LIST_DOMAINS_OTHER",
        "hasSnapshot": "VIR_CONNECT_LIST_DOMAINS_HAS_SNAPSHOT",
        "noSnapshot": "VIR_CONNECT_LIST_DOMAINS_NO_SNAPSHOT",
        "hasCheckpoint": "VIR_CONNECT_LIST_DOMAINS_HAS_CHECKPOINT",
        "noCheckpoint": "VIR_CONNECT_LIST_DOMAINS_NO_CHECKPOINT",
    },
    "snapshotCreate": {
        "redefine": "VIR_DOMAIN_SNAPSHOT_CREATE_REDEFINE",
        "current": "VIR_DOMAIN_SNAPSHOT_CREATE_CURRENT",
        "noMetadata": "VIR_DOMAIN_SNAPSHOT_CREATE_NO_METADATA",
        "halt": "VIR_DOMAIN_SNAPSHOT_CREATE_HALT",
        "diskOnly": "VIR_DOMAIN_SNAPSHOT_CREATE_DISK_ONLY",
        "reuseExt": "VIR_DOMAIN_SNAPSHOT_CREATE_REUSE_EXT",
        "quiesce": "VIR_DOMAIN_SNAPSHOT_CREATE_QUIESCE",
        "atomic": "VIR_DOMAIN_SNAPSHOT_CREATE_ATOMIC",
        "live": "VIR_DOMAIN_SNAPSHOT_CREATE_LIVE",
        "validate": "VIR_DOMAIN_SNAPSHOT_CREATE_VALIDATE",
    },
    "snapshotList": {
        "roots": "VIR_DOMAIN_SNAPSHOT_LIST_ROOTS",
        "topological": "VIR_DOMAIN_SNAPSHOT_LIST_TOPOLOGICAL",
        "leaves": "VIR_DOMAIN_SNAPSHOT_LIST_LEAVES",
        "noLeaves": "VIR_DOMAIN_SNAPSHOT_LIST_NO_LEAVES",
        "metadata": "VIR_DOMAIN_SNAPSHOT_LIST_METADATA",
        "noMetadata": "VIR_DOMAIN_SNAPSHOT_LIST_NO_METADATA",
        "inactive": "VIR_DOMAIN_SNAPSHOT_LIST_INACTIVE",
        "active": "VIR_DOMAIN_SNAPSHOT_LIST_ACTIVE",
        "diskOnly": "VIR_DOMAIN_SNAPSHOT_LIST_DISK_ONLY",
        "internal": "VIR_DOMAIN_SNAPSHOT_LIST_INTERNAL",
        "external": "VIR_DOMAIN_SNAPSHOT_LIST_EXTERNAL",
    },
    "snapshotGetXml": {"secure": "VIR_DOMAIN_SNAPSHOT_XML_SECURE"},
    "snapshotRevert": {
        "running": "VIR_DOMAIN_SNAPSHOT_REVERT_RUNNING",
        "paused": "VIR_DOMAIN_SNAPSHOT_REVERT_PAUSED",
        "force": "VIR_DOMAIN_SNAPSHOT_REVERT_FORCE",
        "resetNvram": "VIR_DOMAIN_SNAPSHOT_REVERT_RESET_NVRAM",
    },
    "snapshotDelete": {
        "children": "VIR_DOMAIN_SNAPSHOT_DELETE_CHILDREN",
        "metadataOnly": "VIR_DOMAIN_SNAPSHOT_DELETE_METADATA_ONLY",
        "childrenOnly": "VIR_DOMAIN_SNAPSHOT_DELETE_CHILDREN_ONLY",
    },
    "checkpointCreate": {
        "redefine": "VIR_DOMAIN_CHECKPOINT_CREATE_REDEFINE",
        "quiesce": "VIR_DOMAIN_CHECKPOINT_CREATE_QUIESCE",
        "redefineValidate": "VIR_DOMAIN_CHECKPOINT_CREATE_REDEFINE_VALIDATE",
    },
    "checkpointList": {
        "roots": "VIR_DOMAIN_CHECKPOINT_LIST_ROOTS",
        "topological": "VIR_DOMAIN_CHECKPOINT_LIST_TOPOLOGICAL",
        "leaves": "VIR_DOMAIN_CHECKPOINT_LIST_LEAVES",
        "noLeaves": "VIR_DOMAIN_CHECKPOINT_LIST_NO_LEAVES",
    },
    "checkpointGetXml": {
        "secure": "VIR_DOMAIN_CHECKPOINT_XML_SECURE",
        "noDomain": "VIR_DOMAIN_CHECKPOINT_XML_NO_DOMAIN",
        "size": "VIR_DOMAIN_CHECKPOINT_XML_SIZE",
    },
    "checkpointDelete": {
        "children": "VIR_DOMAIN_CHECKPOINT_DELETE_CHILDREN",
        "metadataOnly": "VIR_DOMAIN_CHECKPOINT_DELETE_METADATA_ONLY",
        "childrenOnly": "VIR_DOMAIN_CHECKPOINT_DELETE_CHILDREN_ONLY",
    },
}
FLAGS["snapshotListChildren"] = dict(
    FLAGS["snapshotList"], descendants="VIR_DOMAIN_SNAPSHOT_LIST_DESCENDANTS"
)
del FLAGS["snapshotListChildren"]["roots"]
FLAGS["checkpointListChildren"] = dict(
    FLAGS["checkpointList"], descendants="VIR_DOMAIN_CHECKPOINT_LIST_DESCENDANTS"
)
del FLAGS["checkpointListChildren"]["roots"]

# libvirt's names (prefix removed) in libvirt's numeric order, as in src/events.ts.
DOMAIN_STATES = ["nostate", "running", "blocked", "paused", "shutdown", "shutoff", "crashed", "pmsuspended"]
STATE_REASONS = {
    "nostate": ["UNKNOWN"],
    "running": ["UNKNOWN", "BOOTED", "MIGRATED", "RESTORED", "FROM_SNAPSHOT", "UNPAUSED",
                "MIGRATION_CANCELED", "SAVE_CANCELED", "WAKEUP", "CRASHED", "POSTCOPY", "POSTCOPY_FAILED"],
    "blocked": ["UNKNOWN"],
    "paused": ["UNKNOWN", "USER", "MIGRATION", "SAVE", "DUMP", "IOERROR", "WATCHDOG", "FROM_SNAPSHOT",
               "SHUTTING_DOWN", "SNAPSHOT", "CRASHED", "STARTING_UP", "POSTCOPY", "POSTCOPY_FAILED",
               "API_ERROR"],
    "shutdown": ["UNKNOWN", "USER"],
    "shutoff": ["UNKNOWN", "SHUTDOWN", "DESTROYED", "CRASHED", "MIGRATED", "SAVED", "FAILED",
                "FROM_SNAPSHOT", "DAEMON"],
    "crashed": ["UNKNOWN", "PANICKED"],
    "pmsuspended": ["UNKNOWN"],
}
DOMAIN_EVENTS = [
    ("DEFINED", ["ADDED", "UPDATED", "RENAMED", "FROM_SNAPSHOT"]),
    ("UNDEFINED", ["REMOVED", "RENAMED"]),
    ("STARTED", ["BOOTED", "MIGRATED", "RESTORED", "FROM_SNAPSHOT", "WAKEUP"]),
    ("SUSPENDED", ["PAUSED", "MIGRATED", "IOERROR", "WATCHDOG", "RESTORED", "FROM_SNAPSHOT",
                   "API_ERROR", "POSTCOPY", "POSTCOPY_FAILED", "GUEST_SHUTDOWN"]),
    ("RESUMED", ["UNPAUSED", "MIGRATED", "FROM_SNAPSHOT", "POSTCOPY", "POSTCOPY_FAILED"]),
    ("STOPPED", ["SHUTDOWN", "DESTROYED", "CRASHED", "MIGRATED", "SAVED", "FAILED", "FROM_SNAPSHOT"]),
    ("SHUTDOWN", ["FINISHED", "GUEST", "HOST"]),
    ("PMSUSPENDED", ["MEMORY", "DISK"]),
    ("CRASHED", ["PANICKED", "CRASHLOADED"]),
]
ERROR_NAMES = {
    value: key[len("VIR_ERR_"):]
    for key, value in vars(libvirt).items()
    if key.startswith("VIR_ERR_") and key not in ("VIR_ERR_NONE", "VIR_ERR_WARNING", "VIR_ERR_ERROR")
}

EVENT_POLL_SECONDS = 0.002
EVENT_MAX_WAIT_SECONDS = 10.0
FLUSH_PREFIX = "__differential_flush_"


class ScenarioError(Exception):
    """The scenario itself is malformed (not a libvirt outcome)."""


def pick(items, index):
    return items[index] if 0 <= index < len(items) else "UNKNOWN_%d" % index


def event_name(event, detail):
    if 0 <= event < len(DOMAIN_EVENTS):
        name, details = DOMAIN_EVENTS[event]
        return name, pick(details, detail)
    return "UNKNOWN_%d" % event, str(detail)


def flags_of(op, options):
    table = FLAGS.get(op, {})
    value = 0
    for key, on in (options or {}).items():
        if key not in table:
            raise ScenarioError("option '%s' is not known for step '%s'" % (key, op))
        if on is True:
            value |= getattr(libvirt, table[key])
        elif on is not False:
            raise ScenarioError("option '%s' must be a boolean" % key)
    return value


def snapshot_xml(name, description=None):
    desc = "" if description is None else "<description>%s</description>" % xml_escape(description)
    return "<domainsnapshot><name>%s</name>%s</domainsnapshot>" % (xml_escape(name), desc)


def checkpoint_xml(name, description=None):
    desc = "" if description is None else "<description>%s</description>" % xml_escape(description)
    return "<domaincheckpoint><name>%s</name>%s</domaincheckpoint>" % (xml_escape(name), desc)


def xml_escape(text):
    return text.replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;").replace("'", "&apos;")


def domain_xml(step):
    uuid = "<uuid>%s</uuid>" % step["uuid"] if "uuid" in step else ""
    return (
        "<domain type='test'><name>%s</name>%s<memory>1048576</memory><vcpu>1</vcpu>"
        "<os><type arch='x86_64'>hvm</type></os><devices>"
        "<disk type='file' device='disk'><source file='/guest/%s.img'/><target dev='vda' bus='virtio'/></disk>"
        "</devices></domain>" % (xml_escape(step["name"]), uuid, xml_escape(step["name"]))
    )


def text_of(root, path):
    node = root.find(path)
    return None if node is None else (node.text or "")


def snapshot_fields(text, fields):
    root = ET.fromstring(text)
    out = {}
    for field in fields:
        if field in ("name", "description", "state", "creationTime"):
            out[field] = text_of(root, field)
        elif field == "parent":
            out[field] = text_of(root, "parent/name")
        elif field == "memory":
            node = root.find("memory")
            out[field] = None if node is None else node.get("snapshot")
        elif field == "disks":
            out[field] = [[d.get("name"), d.get("snapshot")] for d in root.findall("disks/disk")]
        elif field == "domain":
            node = root.find("domain")
            out[field] = None if node is None else [text_of(node, "name"), text_of(node, "uuid")]
        else:
            raise ScenarioError("unknown snapshot xml field '%s'" % field)
    return out


def checkpoint_fields(text, fields):
    root = ET.fromstring(text)
    out = {}
    for field in fields:
        if field in ("name", "description", "creationTime"):
            out[field] = text_of(root, field)
        elif field == "parent":
            out[field] = text_of(root, "parent/name")
        elif field == "disks":
            out[field] = [
                [d.get("name"), d.get("checkpoint"), d.get("bitmap")] for d in root.findall("disks/disk")
            ]
        elif field == "sizes":
            out[field] = [[d.get("name"), d.get("size")] for d in root.findall("disks/disk")]
        elif field == "domain":
            node = root.find("domain")
            out[field] = None if node is None else [text_of(node, "name"), text_of(node, "uuid")]
        else:
            raise ScenarioError("unknown checkpoint xml field '%s'" % field)
    return out


SNAPSHOT_XML_FIELDS = ["name", "description", "state", "parent", "memory", "disks", "domain"]
CHECKPOINT_XML_FIELDS = ["name", "description", "parent", "disks", "domain"]


class EventLoop:
    """libvirt's default event loop on a daemon thread (needed for lifecycle events)."""

    started = False

    @classmethod
    def ensure(cls):
        if cls.started:
            return
        libvirt.virEventRegisterDefaultImpl()
        thread = threading.Thread(target=cls.run, name="libvirt-events", daemon=True)
        thread.start()
        cls.started = True

    @staticmethod
    def run():
        while True:
            libvirt.virEventRunDefaultImpl()


class Session:
    """One scenario on one fresh connection (the default world is rebuilt per connection)."""

    def __init__(self, scenario, path):
        self.scenario = scenario
        self.path = path
        self.uri = world_uri(scenario, path)
        self.saved = {}
        self.aliases = {}
        self.events = []
        self.lock = threading.Lock()
        self.conn = None
        self.callback = None
        self.flushes = 0

    def open(self):
        self.conn = libvirt.open(self.uri)
        self.callback = self.conn.domainEventRegisterAny(
            None, libvirt.VIR_DOMAIN_EVENT_ID_LIFECYCLE, self.on_event, None
        )

    def close(self):
        if self.conn is None:
            return
        self.wait_events()
        self.conn.domainEventDeregisterAny(self.callback)
        gc.collect()
        refs = self.conn.close()
        self.conn = None
        if refs != 0:
            raise ScenarioError("connection still referenced after close (%d refs): world would leak" % refs)

    def on_event(self, _conn, dom, event, detail, _opaque):
        name, detail_name = event_name(event, detail)
        with self.lock:
            self.events.append("%s:%s:%s" % (dom.name(), name, detail_name))

    def wait_events(self):
        # libvirt queues events in order and dispatches them from its loop thread. Defining and
        # undefining a throw-away domain queues a marker behind everything the scenario caused;
        # once the marker arrives, every earlier event has been delivered.
        self.flushes += 1
        marker = "%s%d" % (FLUSH_PREFIX, self.flushes)
        self.conn.defineXML(domain_xml({"name": marker})).undefine()
        deadline = time.monotonic() + EVENT_MAX_WAIT_SECONDS
        while time.monotonic() < deadline:
            with self.lock:
                if "%s:UNDEFINED:REMOVED" % marker in self.events:
                    self.events = [e for e in self.events if not e.startswith(FLUSH_PREFIX)]
                    return
            time.sleep(EVENT_POLL_SECONDS)
        raise ScenarioError("lifecycle events did not arrive within %s s" % EVENT_MAX_WAIT_SECONDS)

    def take_events(self):
        self.wait_events()
        with self.lock:
            out, self.events = self.events, []
        return out

    # -- name normalisation (generated names become their alias) --

    def real(self, name):
        return self.aliases.get(name, name)

    def alias(self, name):
        for alias, real in self.aliases.items():
            if real == name:
                return alias
        return name

    def aliased_message(self, message):
        """An error message with every generated (all-digit) name replaced by its alias."""
        for alias, real in self.aliases.items():
            if real.isdigit():
                message = re.sub(r"\b%s\b" % real, alias, message)
        return message

    def aliased(self, fields):
        for key in ("name", "parent"):
            if fields.get(key) is not None:
                fields[key] = self.alias(fields[key])
        return fields

    def names(self, handles, options):
        names = [self.alias(h.getName()) for h in handles]
        return names if (options or {}).get("topological") else sorted(names)

    # -- handle lookups --

    def domain(self, step):
        return self.conn.lookupByName(step.get("domain", "test"))

    def snapshot(self, step, key="snapshot"):
        return self.domain(step).snapshotLookupByName(self.real(step[key]))

    def checkpoint(self, step, key="checkpoint"):
        return self.domain(step).checkpointLookupByName(self.real(step[key]))

    def moment_xml(self, step, kind):
        if "xml" in step:
            text = step["xml"]
        elif "xmlRef" in step:
            if step["xmlRef"] not in self.saved:
                raise ScenarioError("no saved xml named '%s'" % step["xmlRef"])
            text = self.saved[step["xmlRef"]]
        elif kind == "snapshot" and "name" in step:
            text = snapshot_xml(step["name"], step.get("description"))
        elif kind == "checkpoint" and "name" in step:
            text = checkpoint_xml(step["name"], step.get("description"))
        else:
            text = "<domainsnapshot/>" if kind == "snapshot" else "<domaincheckpoint/>"
        if "{{domain}}" in text:
            dom = self.domain(step)
            text = text.replace("{{domain}}", dom.XMLDesc(libvirt.VIR_DOMAIN_XML_INACTIVE))
        return text

    def created(self, step, name):
        if "alias" in step:
            self.aliases[step["alias"]] = name
            return step["alias"] if name.isdigit() else name
        return name

    # -- steps --

    def run_step(self, step):
        op = step["op"]
        handler = getattr(self, "op_" + op, None)
        if handler is None:
            raise ScenarioError("unknown step op '%s'" % op)
        options = step.get("options", {})
        if op not in ("reconnect", "events") and op in FLAGS:
            flags = flags_of(op, options)
        else:
            if options:
                raise ScenarioError("step '%s' takes no options" % op)
            flags = 0
        return handler(step, flags)

    def op_reconnect(self, _step, _flags):
        self.close()
        self.open()
        return None

    def op_events(self, _step, _flags):
        return self.take_events()

    def op_define(self, step, flags):
        text = step["xml"] if "xml" in step else domain_xml(step)
        return self.conn.defineXMLFlags(text, flags).name()

    def op_create(self, step, flags):
        text = step["xml"] if "xml" in step else domain_xml(step)
        return self.conn.createXML(text, flags).name()

    def op_lookupDomain(self, step, _flags):
        return self.domain(step).name()

    def op_listDomains(self, step, flags):
        return sorted(d.name() for d in self.conn.listAllDomains(flags))

    def op_start(self, step, flags):
        self.domain(step).createWithFlags(flags)

    def op_shutdown(self, step, _flags):
        self.domain(step).shutdown()

    def op_destroy(self, step, flags):
        self.domain(step).destroyFlags(flags)

    def op_suspend(self, step, _flags):
        self.domain(step).suspend()

    def op_resume(self, step, _flags):
        self.domain(step).resume()

    def op_undefine(self, step, flags):
        self.domain(step).undefineFlags(flags)

    def op_getState(self, step, _flags):
        state, reason = self.domain(step).state()
        name = pick(DOMAIN_STATES, state)
        return {"state": name, "reason": pick(STATE_REASONS.get(name, []), reason)}

    def op_isActive(self, step, _flags):
        return bool(self.domain(step).isActive())

    def op_isPersistent(self, step, _flags):
        return bool(self.domain(step).isPersistent())

    def op_snapshotCreate(self, step, flags):
        dom = self.domain(step)
        snap = dom.snapshotCreateXML(self.moment_xml(step, "snapshot"), flags)
        return self.created(step, snap.getName())

    def op_snapshotList(self, step, flags):
        return self.names(self.domain(step).listAllSnapshots(flags), step.get("options"))

    def op_snapshotListChildren(self, step, flags):
        return self.names(self.snapshot(step).listAllChildren(flags), step.get("options"))

    def op_snapshotLookup(self, step, _flags):
        return self.alias(self.snapshot(step).getName())

    def op_snapshotCurrent(self, step, _flags):
        return self.alias(self.domain(step).snapshotCurrent().getName())

    def op_snapshotHasCurrent(self, step, _flags):
        return bool(self.domain(step).hasCurrentSnapshot())

    def op_snapshotIsCurrent(self, step, _flags):
        return bool(self.snapshot(step).isCurrent())

    def op_snapshotHasMetadata(self, step, _flags):
        return bool(self.snapshot(step).hasMetadata())

    def op_snapshotGetParent(self, step, _flags):
        return self.alias(self.snapshot(step).getParent().getName())

    def op_snapshotGetXml(self, step, flags):
        text = self.snapshot(step).getXMLDesc(flags)
        if "save" in step:
            self.saved[step["save"]] = text
        return self.aliased(snapshot_fields(text, step.get("fields", SNAPSHOT_XML_FIELDS)))

    def op_snapshotRevert(self, step, flags):
        snap = self.snapshot(step)
        self.domain(step).revertToSnapshot(snap, flags)

    def op_snapshotDelete(self, step, flags):
        self.snapshot(step).delete(flags)

    def op_checkpointCreate(self, step, flags):
        dom = self.domain(step)
        chk = dom.checkpointCreateXML(self.moment_xml(step, "checkpoint"), flags)
        return self.created(step, chk.getName())

    def op_checkpointList(self, step, flags):
        return self.names(self.domain(step).listAllCheckpoints(flags), step.get("options"))

    def op_checkpointListChildren(self, step, flags):
        return self.names(self.checkpoint(step).listAllChildren(flags), step.get("options"))

    def op_checkpointLookup(self, step, _flags):
        return self.alias(self.checkpoint(step).getName())

    def op_checkpointGetParent(self, step, _flags):
        return self.alias(self.checkpoint(step).getParent().getName())

    def op_checkpointGetXml(self, step, flags):
        text = self.checkpoint(step).getXMLDesc(flags)
        if "save" in step:
            self.saved[step["save"]] = text
        return self.aliased(checkpoint_fields(text, step.get("fields", CHECKPOINT_XML_FIELDS)))

    def op_checkpointDelete(self, step, flags):
        self.checkpoint(step).delete(flags)


def world_uri(scenario, path):
    world = scenario.get("world", "default")
    if world == "default":
        return "test:///default"
    return "test://" + os.path.abspath(os.path.join(HERE, world))


def outcome_of(session, step):
    try:
        return {"ok": True, "result": session.run_step(step)}
    except libvirt.libvirtError as err:
        outcome = error_outcome(err)
        outcome["message"] = session.aliased_message(outcome["message"])
        return outcome


def error_outcome(err):
    number = err.get_error_code()
    return {
        "ok": False,
        "code": ERROR_NAMES.get(number, "UNKNOWN_%d" % number),
        "libvirtCode": number,
        "message": err.get_error_message(),
    }


def run_scenario(path):
    with open(path, encoding="utf-8") as handle:
        scenario = json.load(handle)
    session = Session(scenario, path)
    try:
        session.open()
    except libvirt.libvirtError as err:
        failed = error_outcome(err)
        steps = [failed for _ in scenario["steps"]]
        return {"name": scenario["name"], "file": os.path.relpath(path, HERE), "steps": steps}
    try:
        steps = [outcome_of(session, step) for step in scenario["steps"]]
    finally:
        session.close()
    return {"name": scenario["name"], "file": os.path.relpath(path, HERE), "steps": steps}


def main(argv):
    if len(argv) < 2:
        sys.stderr.write("usage: run-libvirt.py SCENARIO.json [...]\n")
        return 2
    libvirt.registerErrorHandler(lambda _ctx, _err: None, None)
    EventLoop.ensure()
    runs = []
    for path in argv[1:]:
        try:
            runs.append(run_scenario(path))
        except ScenarioError as err:
            sys.stderr.write("%s: %s\n" % (path, err))
            return 3
    json.dump(runs, sys.stdout, indent=1)
    sys.stdout.write("\n")
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv))
