#!/usr/bin/env python3
"""`pecguard scan --json` over what cannot be read: every output line is
one JSON object in valid UTF-8 with the documented fields, whatever bytes
the path holds, with class null and the error; the readable messages next
to it are scanned; the exit status is 1.
"""
import argparse
import json
import os
import subprocess
import sys
import tempfile

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), ".."))
from pgcheck import check, summary  # noqa: E402


def scan(args, *paths):
    p = subprocess.run([args.pecguard, "scan", "--json"] + args.scan_arg + [os.fsencode(x) for x in paths],
                       capture_output=True, timeout=120)
    lines = []
    for raw in p.stdout.splitlines():
        try:
            lines.append(json.loads(raw.decode("utf-8")))
        except (UnicodeDecodeError, ValueError) as e:
            check(False, "output line is UTF-8 JSON: %s (%r)" % (e, raw[:200]))
    return p.returncode, lines


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--pecguard", required=True)
    ap.add_argument("--scan-arg", action="append", default=[],
                    help="extra argument for pecguard scan (repeat)")
    args = ap.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        # A missing file whose name is not UTF-8 and holds a control
        # character and a quote (old archives have Latin-1 names).
        odd = os.fsdecode(os.fsencode(tmp) + b"/fattura n\xb0 1\x01\".eml")
        rc, out = scan(args, odd)
        check(rc == 1, "missing file: exit status 1 (got %d)" % rc)
        if check(len(out) == 1, "missing file: one JSON line"):
            o = out[0]
            check(o["path"] == tmp + "/fattura n\ufffd 1\x01\".eml", "path: %r" % o["path"])
            check(o["class"] is None and o["pec_type"] is None and o["claimed"] is None
                  and o["provider"] is None and o["reasons"] == [], "class, pec_type, claimed, provider null")
            check(isinstance(o["error"], str) and "No such file" in o["error"], "error: %r" % o["error"])

        # In a directory: the error for the entry that cannot be read, the
        # others scanned (and an mbox's messages numbered).
        d = os.path.join(tmp, "dir")
        os.mkdir(d)
        with open(os.path.join(d, "a.eml"), "w") as f:
            f.write("From: a@example.test\nSubject: a\n\nhello\n")
        os.symlink("missing\n", os.path.join(d, "b-dangling"))
        with open(os.path.join(d, "c.mbox"), "w") as f:
            f.write("From x\nSubject: 1\n\none\n\nFrom y\nSubject: 2\n\ntwo\n\n")
        rc, out = scan(args, d)
        check(rc == 1, "directory with an unreadable entry: exit status 1 (got %d)" % rc)
        got = [(os.path.basename(o["path"]), o.get("mbox_index"), o["class"], o["error"] is not None)
               for o in out]
        check(got == [("a.eml", None, "peo", False), ("b-dangling", None, None, True),
                      ("c.mbox", 1, "peo", False), ("c.mbox", 2, "peo", False)],
              "directory: %r" % got)
    return summary()


if __name__ == "__main__":
    sys.exit(main())
