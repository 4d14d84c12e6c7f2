#!/usr/bin/env python3
"""check_cli.py - `pecguard scan` as a command: inputs, outputs, exit statuses.

Uses only the project's generated fixtures (pg-mkfixtures OUTDIR), so it
needs no ../shared.  Every run is `--av none --state <private dir>`.
  - unreadable input: a missing file, a FIFO, a path through a file and
    (unless running as root, where chmod 000 does not stop reading) a
    file and a directory with mode 000 each exit 1, name the path on standard error and
    give a JSON object with class null and an error; the other paths of
    the run are still scanned;
  - the providers' index: a malformed --providers file exits 3 naming
    file:line and the attribute; a missing one (given with --providers or
    $PECGUARD_PROVIDERS) exits 3 naming the file; with none given and
    none at the default path, a warning and no valid PEC (exit 0);
  - --at: an impossible date and a word that is not a time exit 2 and
    scan nothing; ISO 8601 is the verification time; signing-time is the
    CMS signingTime (an expired provider's 2016 envelope is valid then),
    or now when the signature has none;
  - `-` (standard input) gives the same verdict as the file;
  - an mbox of several fixtures: one JSON line per message, mbox_index
    1..n, the right classes, the same verdict as each file alone;
  - a Maildir: new/ then cur/, tmp/ and hidden entries skipped; a plain
    directory: read recursively in name order, hidden entries skipped;
  - the JSON fields of every class (path, class, pec_type, claimed,
    provider, reasons, error);
  - the table: one row per message and the count line;
  - progress: none on a pipe; on a terminal none for a short run, and a
    final count when the run lasts longer than the threshold.

usage: check_cli.py --pecguard BIN --fixtures DIR
"""
import argparse
import errno
import json
import os
import pty
import re
import shutil
import subprocess
import sys
import tempfile
import time

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), ".."))
from pgcheck import check, summary  # noqa: E402

# Fixtures of every class, as pg-mkfixtures writes them (expected.tsv).
PICKS = [
    ("env-alfa-text.eml", "pec-envelope", "posta-certificata", "Gestore Alfa"),
    ("rcpt-accettazione.eml", "pec-receipt", "accettazione", "Gestore Alfa"),
    ("anomaly-alfa.eml", "pec-anomaly", "errore", "Gestore Alfa"),
    ("tamper-body-byte.eml", "invalid-pec", None, None),
    ("peo-ham.eml", "peo", None, None),
]
FIELDS = ("path", "class", "pec_type", "claimed", "provider", "reasons", "error")
CLASSES = ("pec-envelope", "pec-receipt", "pec-anomaly", "invalid-pec", "peo")


class Runner:
    def __init__(self, pecguard, state, providers):
        self.pecguard = pecguard
        self.common = ["--av", "none", "--state", state]
        self.providers = providers

    def argv(self, *args, providers=True):
        extra = ["--providers", self.providers] if providers else []
        return [self.pecguard, "scan"] + self.common + extra + list(args)

    def run(self, *args, providers=True, stdin=None, env=None):
        return subprocess.run(self.argv(*args, providers=providers), capture_output=True,
                              input=stdin, env=env, timeout=300)

    def json(self, *args, **kw):
        p = self.run("--json", *args, **kw)
        lines = []
        for line in p.stdout.decode("utf-8", "replace").splitlines():
            try:
                lines.append(json.loads(line))
            except ValueError:
                lines.append({"unparsable": line})
        return p, lines


NOW = re.compile(r"\d{4}-\d\d-\d\dT\d\d:\d\d:\d\dZ \(now")


def same_reasons(a, b):
    """Equal reasons, but for the clock: runs a second apart verify 'now' at
    different times."""
    if not isinstance(a, list) or not isinstance(b, list):
        return False
    return [NOW.sub("NOW (now", x) for x in a] == [NOW.sub("NOW (now", x) for x in b]


def err_text(p):
    return p.stderr.decode("utf-8", "replace").strip()


def unreadable_json(objs, path, what):
    """One object for path, with class null and an error."""
    mine = [o for o in objs if o.get("path") == path]
    check(len(mine) == 1, "%s: one JSON object for the path (got %d)" % (what, len(mine)))
    if not mine:
        return
    o = mine[0]
    check(all(k in o for k in FIELDS), "%s: every field present (%s)" % (what, sorted(o)))
    check(o.get("class", "") is None and isinstance(o.get("error"), str) and o["error"] != "",
          "%s: class null, error %r" % (what, o.get("error")))
    check(o.get("pec_type", "") is None and o.get("claimed", "") is None
          and o.get("provider", "") is None and o.get("reasons") == [],
          "%s: pec_type, claimed, provider null and no reasons" % what)


def check_unreadable(r, tmp, fx):
    good = os.path.join(fx, "messages", "peo-ham.eml")
    cases = []
    missing = os.path.join(tmp, "no-such-message.eml")
    cases.append(("missing file", missing))
    fifo = os.path.join(tmp, "a-fifo")
    os.mkfifo(fifo)
    cases.append(("FIFO (not a regular file)", fifo))
    cases.append(("path through a file", os.path.join(good, "x.eml")))
    locked = os.path.join(tmp, "locked.eml")
    shutil.copy(good, locked)
    os.chmod(locked, 0)
    locked_dir = os.path.join(tmp, "locked-dir")
    os.makedirs(locked_dir)
    shutil.copy(good, os.path.join(locked_dir, "m.eml"))
    os.chmod(locked_dir, 0)
    if os.geteuid() == 0:
        print("SKIP unreadable file and directory (mode 000): running as root, which reads "
              "them anyway; the FIFO and the path through a file stand for them", flush=True)
    else:
        cases.append(("file with mode 000", locked))
        cases.append(("directory with mode 000", locked_dir))
    for what, path in cases:
        p, objs = r.json(path, good)
        check(p.returncode == 1, "%s: exit 1 (got %d)" % (what, p.returncode))
        check(path in err_text(p), "%s: named on standard error (%s)" % (what, err_text(p)))
        unreadable_json(objs, path, what)
        others = [o for o in objs if o.get("path") == good]
        check(len(others) == 1 and others[0].get("class") == "peo",
              "%s: the other path of the run is still scanned" % what)
    # The table says it too, and counts it.
    p = r.run(missing)
    out = p.stdout.decode()
    check(p.returncode == 1 and missing in err_text(p) and "1 unreadable" in out
          and any(l.startswith("error") and l.endswith(missing) for l in out.splitlines()),
          "missing file in the table: an error row, '1 unreadable', exit 1")
    os.chmod(locked, 0o600)
    os.chmod(locked_dir, 0o700)


def check_providers(r, tmp, fx):
    msg = os.path.join(fx, "messages", "env-alfa-text.eml")
    index = open(os.path.join(fx, "pki", "index-nocolon.ldif"),
                 encoding="utf-8").read().split("\n")
    # Spoil one hash; its line number is what the error must name.
    line = next(i for i, l in enumerate(index) if l.startswith("providerCertificateHash:"))
    index[line] = "providerCertificateHash: not-a-sha1"
    bad = os.path.join(tmp, "bad-index.ldif")
    with open(bad, "w", encoding="utf-8") as f:
        f.write("\n".join(index))
    p = subprocess.run([r.pecguard, "scan", "--json"] + r.common + ["--providers", bad, msg],
                       capture_output=True, timeout=300)
    e = err_text(p)
    check(p.returncode == 3, "malformed --providers: exit 3 (got %d)" % p.returncode)
    check("%s:%d:" % (bad, line + 1) in e and "providerCertificateHash" in e,
          "malformed --providers: names %s:%d and the attribute (%s)" % (
              os.path.basename(bad), line + 1, e))
    check(p.stdout == b"", "malformed --providers: nothing scanned")

    missing = os.path.join(tmp, "no-such-index.ldif")
    p = subprocess.run([r.pecguard, "scan", "--json"] + r.common + ["--providers", missing, msg],
                       capture_output=True, timeout=300)
    check(p.returncode == 3 and missing in err_text(p) and p.stdout == b"",
          "missing --providers: exit 3 naming the file, nothing scanned (%d: %s)" % (
              p.returncode, err_text(p)))
    env = dict(os.environ, PECGUARD_PROVIDERS=missing)
    p = r.run("--json", msg, providers=False, env=env)
    check(p.returncode == 3 and missing in err_text(p),
          "missing $PECGUARD_PROVIDERS: exit 3 naming the file (%d: %s)" % (
              p.returncode, err_text(p)))
    env = dict(os.environ, PECGUARD_PROVIDERS=os.path.join(fx, "pki", "index.ldif"))
    p, objs = r.json(msg, providers=False, env=env)
    check(p.returncode == 0 and len(objs) == 1 and objs[0].get("class") == "pec-envelope",
          "$PECGUARD_PROVIDERS is the index when --providers is not given")

    # No index at all: the documented fallback, only where the default path
    # is really absent (and no configuration names another).
    if os.path.exists("/etc/pecguard/providers.ldif") or os.path.exists(
            "/etc/pecguard/pecguard.conf"):
        print("SKIP no-index fallback: /etc/pecguard has a configuration or index here",
              flush=True)
        return
    env = {k: v for k, v in os.environ.items() if k != "PECGUARD_PROVIDERS"}
    p, objs = r.json(msg, providers=False, env=env)
    check(p.returncode == 0 and "warning" in err_text(p) and "providers" in err_text(p),
          "no index: a warning, exit 0 (%d: %s)" % (p.returncode, err_text(p)))
    check(len(objs) == 1 and objs[0].get("class") == "invalid-pec"
          and any(x.startswith("signer-not-in-index") for x in objs[0].get("reasons", [])),
          "no index: a valid envelope cannot be valid PEC (signer-not-in-index)")


def check_at(r, fx):
    msg = os.path.join(fx, "messages", "env-alfa-text.eml")
    for bad in ("2014-02-30", "bogus", "2014-08-06T25:00:00Z", ""):
        p = r.run("--json", "--at", bad, msg)
        check(p.returncode == 2 and "--at" in err_text(p) and p.stdout == b"",
              "--at %r: exit 2, says why, scans nothing (%d: %s)" % (bad, p.returncode,
                                                                     err_text(p)))
    p, objs = r.json("--at", "2014-08-06T12:00:00Z", msg)
    o = objs[0] if objs else {}
    check(p.returncode == 0 and o.get("verified_at") == "2014-08-06T12:00:00Z"
          and o.get("class") == "invalid-pec"
          and any(x.startswith("certificate-not-yet-valid") for x in o.get("reasons", [])),
          "--at 2014-08-06T12:00:00Z: checked then, before Alfa's certificate (%s)"
          % o.get("verified_at"))
    p, objs = r.json("--at", "now", msg)
    check(p.returncode == 0 and objs and objs[0].get("class") == "pec-envelope",
          "--at now: accepted, the default")
    # signing-time: the CMS signingTime when there is one, else now.
    old = os.path.join(fx, "messages", "env-gamma-signing-time.eml")
    noattrs = os.path.join(fx, "messages", "env-gamma-no-signing-time.eml")
    p, objs = r.json("--at", "signing-time", old, noattrs)
    o1, o2 = (objs + [{}, {}])[:2]
    st = (o1.get("signer") or {}).get("signing_time")
    check(p.returncode == 0 and o1.get("class") == "pec-envelope" and st
          and st.startswith("2016-") and o1.get("verified_at") == st,
          "--at signing-time: an expired provider's 2016 envelope is checked at its "
          "signing time %s and is valid (%s)" % (st, o1.get("class")))
    check(o2.get("class") == "invalid-pec" and (o2.get("signer") or {}).get("signing_time", 1)
          is None and (o2.get("verified_at") or "") > "2018"
          and any(x.startswith("certificate-expired") and "no signing time" in x
                  for x in o2.get("reasons", [])),
          "--at signing-time without a signingTime: checked now, expired, says why (%s)"
          % o2.get("verified_at"))
    p, objs = r.json(old)
    check(objs and objs[0].get("class") == "invalid-pec"
          and any(x.startswith("certificate-expired") for x in objs[0].get("reasons", [])),
          "the same envelope by default (now): certificate-expired")


def check_fields(o, name, cls, pec_type, provider):
    what = name
    check(all(k in o for k in FIELDS), "%s: every field present" % what)
    check(o.get("class") == cls, "%s: class %s (got %s)" % (what, cls, o.get("class")))
    check(o.get("error", "") is None, "%s: error null (got %r)" % (what, o.get("error")))
    check(isinstance(o.get("reasons"), list) and o["reasons"]
          and all(isinstance(x, str) for x in o["reasons"]),
          "%s: reasons are strings" % what)
    if cls in ("peo", "invalid-pec"):
        check(o.get("pec_type", "") is None and o.get("provider", "") is None,
              "%s: pec_type and provider null" % what)
    else:
        check(o.get("pec_type") == pec_type and o.get("provider") == provider,
              "%s: pec_type %s, provider %s" % (what, pec_type, provider))
    if cls == "invalid-pec":
        c = o.get("claimed")
        check(isinstance(c, dict) and c.get("class") == "pec-envelope"
              and c.get("pec_type") == "posta-certificata",
              "%s: claimed {class, pec_type} names what the markers claim (%s)" % (what, c))
    else:
        check(o.get("claimed", "") is None, "%s: claimed null" % what)


def check_files_and_stdin(r, fx):
    paths = [os.path.join(fx, "messages", n) for n, *_ in PICKS]
    p, objs = r.json(*paths)
    check(p.returncode == 0, "files of every class: exit 0 (%d: %s)" % (p.returncode, err_text(p)))
    check(len(objs) == len(PICKS), "one JSON line per file (%d)" % len(objs))
    byfile = {}
    for (name, cls, pt, prov), path, o in zip(PICKS, paths, objs):
        check(o.get("path") == path, "%s: path is the file" % name)
        check("mbox_index" not in o, "%s: no mbox_index for a plain file" % name)
        check_fields(o, name, cls, pt, prov)
        byfile[name] = o
    # standard input
    for name, cls, pt, prov in PICKS:
        with open(os.path.join(fx, "messages", name), "rb") as f:
            data = f.read()
        p, objs = r.json("-", stdin=data)
        o = objs[0] if len(objs) == 1 else {}
        ref = byfile.get(name, {})
        check(p.returncode == 0 and o.get("path") == "-"
              and o.get("class") == ref.get("class") == cls
              and o.get("pec_type") == ref.get("pec_type")
              and o.get("provider") == ref.get("provider")
              and same_reasons(o.get("reasons"), ref.get("reasons")),
              "stdin '-': %s gives the same verdict and reasons as the file (%s)" % (
                  name, o.get("class")))
    return byfile


def write_mbox(path, fx, names):
    with open(path, "wb") as f:
        for i, n in enumerate(names):
            with open(os.path.join(fx, "messages", n), "rb") as g:
                data = g.read()
            # The fixtures need no From_ quoting; quoting would alter signed bytes.
            if data.startswith(b"From ") or b"\nFrom " in data:
                raise SystemExit("fixture %s has a line starting 'From '" % n)
            f.write(b"From posta-certificata@pec.alfa.test  Mon Jan 19 08:%02d:00 2026\n" % i)
            f.write(data)
            if not data.endswith(b"\n"):
                f.write(b"\n")
            f.write(b"\n")


def table_rows(out):
    """Message rows of the table: lines that begin with a class (or error)."""
    return [l for l in out.splitlines()
            if l.split(" ", 1)[0] in CLASSES + ("error",)]


def check_mbox(r, tmp, fx, byfile):
    names = [n for n, *_ in PICKS]
    mbox = os.path.join(tmp, "several.mbox")
    write_mbox(mbox, fx, names)
    p, objs = r.json(mbox)
    check(p.returncode == 0, "mbox: exit 0 (%d: %s)" % (p.returncode, err_text(p)))
    check(len(objs) == len(PICKS), "mbox: one JSON line per message (%d of %d)" % (
        len(objs), len(PICKS)))
    for i, ((name, cls, pt, prov), o) in enumerate(zip(PICKS, objs)):
        check(o.get("path") == mbox and o.get("mbox_index") == i + 1,
              "mbox #%d: path is the mbox, mbox_index %d (%s)" % (i + 1, i + 1,
                                                                 o.get("mbox_index")))
        check_fields(o, "mbox #%d (%s)" % (i + 1, name), cls, pt, prov)
        check(same_reasons(o.get("reasons"), byfile.get(name, {}).get("reasons")),
              "mbox #%d: the same reasons as %s alone" % (i + 1, name))
    # the same mbox on standard input
    with open(mbox, "rb") as f:
        p, objs = r.json("-", stdin=f.read())
    check(p.returncode == 0 and [o.get("class") for o in objs] == [c for _, c, *_ in PICKS]
          and [o.get("mbox_index") for o in objs] == list(range(1, len(PICKS) + 1)),
          "mbox on standard input: the same classes, in order")
    # the table: one row per message, each naming mbox#i
    p = r.run(mbox)
    out = p.stdout.decode("utf-8", "replace")
    rows = table_rows(out)
    check(p.returncode == 0 and len(rows) == len(PICKS),
          "mbox table: one row per message (%d)" % len(rows))
    check(all(row.split(" ", 1)[0] == cls and row.endswith("%s#%d" % (mbox, i + 1))
              for i, (row, (_, cls, *_)) in enumerate(zip(rows, PICKS))),
          "mbox table: rows in order, class first, MESSAGE mbox#i")
    check("%d messages: 1 peo, 1 pec-envelope, 1 pec-receipt, 1 pec-anomaly, 1 invalid-pec,"
          " 0 unreadable" % len(PICKS) in out,
          "mbox table: the count line (%s)" % out.strip().splitlines()[-1])


def check_maildir(r, tmp, fx):
    md = os.path.join(tmp, "Maildir")
    for d in ("cur", "new", "tmp"):
        os.makedirs(os.path.join(md, d))
    src = lambda n: os.path.join(fx, "messages", n)  # noqa: E731
    # new/ is read before cur/, each in name order.
    layout = [
        ("new", "1768800000.M1P1.host", "tamper-body-byte.eml", "invalid-pec"),
        ("new", "1768800001.M2P1.host", "env-alfa-text.eml", "pec-envelope"),
        ("cur", "1768700000.M1P1.host:2,S", "peo-ham.eml", "peo"),
        ("cur", "1768700001.M2P1.host:2,RS", "rcpt-accettazione.eml", "pec-receipt"),
    ]
    for d, fn, n, _ in layout:
        shutil.copy(src(n), os.path.join(md, d, fn))
    # Not messages: a delivery in progress, hidden files, a Maildir++ folder.
    shutil.copy(src("anomaly-alfa.eml"), os.path.join(md, "tmp", "1768800002.M3P1.host"))
    shutil.copy(src("anomaly-alfa.eml"), os.path.join(md, "cur", ".hidden:2,S"))
    shutil.copy(src("anomaly-alfa.eml"), os.path.join(md, "new", ".1768800003.M4P1.host"))
    os.makedirs(os.path.join(md, ".Archivio", "cur"))
    shutil.copy(src("anomaly-alfa.eml"), os.path.join(md, ".Archivio", "cur", "1.host:2,S"))
    p, objs = r.json(md)
    check(p.returncode == 0, "Maildir: exit 0 (%d: %s)" % (p.returncode, err_text(p)))
    want = [(os.path.join(md, d, fn), cls) for d, fn, _, cls in layout]
    got = [(o.get("path"), o.get("class")) for o in objs]
    check(got == want, "Maildir: new/ then cur/ in name order, tmp/ and hidden entries "
          "skipped, right classes (got %s)" % [(os.path.relpath(p_, md), c) for p_, c in got])
    check(all(o.get("error", "") is None and "mbox_index" not in o for o in objs),
          "Maildir: no errors, no mbox_index")
    p = r.run(md)
    rows = table_rows(p.stdout.decode("utf-8", "replace"))
    check(p.returncode == 0 and [row.split(" ", 1)[0] for row in rows] == [c for _, c in want]
          and all(row.endswith(path) for row, (path, _) in zip(rows, want)),
          "Maildir table: one row per message (%d)" % len(rows))

    # A plain directory: recursive, name order, hidden files and directories skipped.
    d = os.path.join(tmp, "plain")
    os.makedirs(os.path.join(d, "b-sub"))
    os.makedirs(os.path.join(d, ".hidden-dir"))
    shutil.copy(src("peo-ham.eml"), os.path.join(d, "c.eml"))
    shutil.copy(src("env-alfa-text.eml"), os.path.join(d, "a.eml"))
    shutil.copy(src("tamper-body-byte.eml"), os.path.join(d, "b-sub", "x.eml"))
    shutil.copy(src("anomaly-alfa.eml"), os.path.join(d, ".hidden.eml"))
    shutil.copy(src("anomaly-alfa.eml"), os.path.join(d, ".hidden-dir", "y.eml"))
    p, objs = r.json(d)
    want = [(os.path.join(d, "a.eml"), "pec-envelope"),
            (os.path.join(d, "b-sub", "x.eml"), "invalid-pec"),
            (os.path.join(d, "c.eml"), "peo")]
    got = [(o.get("path"), o.get("class")) for o in objs]
    check(p.returncode == 0 and got == want,
          "directory: recursive, in name order, hidden entries skipped (got %s)"
          % [(os.path.relpath(p_, d), c) for p_, c in got])


def run_on_pty(argv, stdin_data, hold):
    """Runs argv with standard error on a terminal; writes stdin_data and
    keeps standard input open `hold` seconds.  Returns (rc, stderr text)."""
    master, slave = pty.openpty()
    p = subprocess.Popen(argv, stdin=subprocess.PIPE, stdout=subprocess.DEVNULL, stderr=slave)
    os.close(slave)
    p.stdin.write(stdin_data)
    p.stdin.flush()
    time.sleep(hold)
    p.stdin.close()
    out = b""
    while True:
        try:
            chunk = os.read(master, 4096)
        except OSError as e:  # EIO: the terminal's other side is closed
            if e.errno != errno.EIO:
                raise
            break
        if not chunk:
            break
        out += chunk
    rc = p.wait(timeout=300)
    os.close(master)
    return rc, out.decode("utf-8", "replace")


def check_progress(r, fx):
    with open(os.path.join(fx, "messages", "peo-ham.eml"), "rb") as f:
        data = f.read()
    argv = r.argv("--json", "-")
    rc, err = run_on_pty(argv, data, 0)
    check(rc == 0 and "messages," not in err,
          "progress: none on a terminal for a one-message run (%r)" % err)
    # A run kept longer than the threshold (1 s) by holding standard input.
    rc, err = run_on_pty(argv, data, 1.5)
    check(rc == 0 and "pecguard: 1 messages," in err,
          "progress: a final count on a terminal when the run is long (%r)" % err)
    # Not a terminal: never, however long.
    p = subprocess.Popen(argv, stdin=subprocess.PIPE, stdout=subprocess.DEVNULL,
                         stderr=subprocess.PIPE)
    p.stdin.write(data)
    p.stdin.flush()
    time.sleep(1.5)
    _, err = p.communicate(timeout=300)
    check(p.returncode == 0 and b"messages," not in err,
          "progress: none when standard error is not a terminal (%r)" % err)


def check_rcpt(r, tmp, fx):
    """--rcpt: each recipient's policy in JSON, the address escaped (a quoted
    local part is an address too), the extension and quoting leading to
    the same mailbox; control characters refused."""
    pm = os.path.join(tmp, "policy.map")
    with open(pm, "w") as f:
        f.write("carol@pec.alfa.test pec-only\n")
    ham = os.path.join(fx, "messages", "peo-ham.eml")
    p, out = r.json("--set", "policy.map=" + pm, "--rcpt", '"carol"@pec.alfa.test',
                    "--rcpt", "carol+x@pec.alfa.test", "--rcpt", "bob@example.test", ham)
    rc = out[0].get("recipients") if out else None
    check(p.returncode == 0 and rc == [
        {"address": '"carol"@pec.alfa.test', "policy": "pec-only", "delivered": False},
        {"address": "carol+x@pec.alfa.test", "policy": "pec-only", "delivered": False},
        {"address": "bob@example.test", "policy": "accept", "delivered": True}],
          "--rcpt: quoted and extended spellings of a PEC-only mailbox, valid JSON (%s)" % rc)
    p = r.run("--rcpt", "a\tb@example.test", ham)
    check(p.returncode == 2 and b"--rcpt" in p.stderr,
          "--rcpt with a control character: exit 2 (%d)" % p.returncode)


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--pecguard", required=True)
    ap.add_argument("--fixtures", required=True, help="pg-mkfixtures output directory")
    args = ap.parse_args()
    fx = args.fixtures
    if not os.path.exists(os.path.join(fx, "pki", "index.ldif")):
        print("FAIL: %s has no pki/index.ldif (run pg-mkfixtures first)" % fx)
        return 1
    tmp = tempfile.mkdtemp(prefix="pg-cli-")
    try:
        r = Runner(args.pecguard, os.path.join(tmp, "state"),
                   os.path.join(fx, "pki", "index.ldif"))
        check_unreadable(r, tmp, fx)
        check_providers(r, tmp, fx)
        check_at(r, fx)
        byfile = check_files_and_stdin(r, fx)
        check_mbox(r, tmp, fx, byfile)
        check_maildir(r, tmp, fx)
        check_progress(r, fx)
        check_rcpt(r, tmp, fx)
    finally:
        shutil.rmtree(tmp, ignore_errors=True)
    return summary()


if __name__ == "__main__":
    sys.exit(main())
