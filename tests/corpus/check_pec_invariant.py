#!/usr/bin/env python3
"""check_pec_invariant.py - the legal invariant, on message files.

A valid PEC envelope, receipt or anomaly never gets a spam action,
whatever its content scores: every valid PEC fixture carrying the 2019
lure inside (a fake SdI notice with a look-alike link and a zipped script)
must be delivered as it is -- action none, no subject tag, X-Spam-Flag NO
-- with the findings in X-PECGuard-Warning; while the same lure as
ordinary mail is refused or tagged.  The project's own lure set
(pg-mkfixtures OUTDIR/lures) and, when present, the shared oracle's lure
envelope.

usage: check_pec_invariant.py --pecguard BIN --fixtures DIR [--shared DIR] [--scan-arg ...]
"""
import argparse
import json
import os
import re
import subprocess
import sys

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), ".."))
from pgcheck import check, summary  # noqa: E402


def scan(args, providers, paths):
    p = subprocess.run([args.pecguard, "scan", "--json", "--providers", providers] + args.scan_arg + paths,
                       capture_output=True, text=True)
    if p.returncode != 0:
        check(False, "pecguard exit %d: %s" % (p.returncode, p.stderr[-300:]))
    return {os.path.basename(o["path"]): o for o in map(json.loads, p.stdout.splitlines())}


NAME = r"[A-Z][A-Z0-9_]*"


def folded_after_comma(v):
    """Every line break of a folded value comes after a comma and before a tab."""
    lines = v.split("\n")
    return all(l.endswith(",") for l in lines[:-1]) and all(l.startswith("\t") for l in lines[1:])


def verify_header_shape(name, o):
    """The exact shape of the SpamAssassin-style status and of the warning:
    the list of symbol names follows its label directly (no stray comma
    before the first one), each continuation line starts with a tab after a
    comma, and the names are the verdict's own, in its order."""
    hdr = dict((h[0], h[1]) for h in o["headers"])
    names = [s["name"] for s in o["symbols"]]
    st = hdr.get("X-Spam-Status", "")
    m = re.fullmatch(r"(Yes|No), score=(-?\d+\.\d) required=(\d+\.\d) tests=(%s(?:,%s)*|none)"
                     r" version=pecguard-\S+" % (NAME, NAME), st.replace(",\n\t", ","))
    check(m is not None and m.group(2) == "%.1f" % o["score"]
          and m.group(4).split(",") == (names or ["none"]) and folded_after_comma(st),
          "%s: X-Spam-Status is exactly 'Yes|No, score=S required=R tests=A,B,... version=...': %r"
          % (name, st[:90]))
    w = hdr.get("X-PECGuard-Warning")
    if o["class"].startswith("pec-") and w is not None:
        m = re.fullmatch(r"the certified message scores (\d+\.\d) \(spam threshold \d+\.\d\); PEC from "
                         r"the circuit is never spam-tagged: (%s(?:, %s)*)" % (NAME, NAME),
                         w.replace(",\n\t", ", "))
        check(m is not None and m.group(2).split(", ") == [s["name"] for s in o["symbols"] if s["weight"] > 0]
              and folded_after_comma(w),
              "%s: X-PECGuard-Warning lists the symbols after its colon, no stray comma: %r"
              % (name, w[:110]))


def verify_pec(name, o, want_class):
    hdr = dict((h[0], h[1]) for h in o["headers"])
    check(o["class"] == want_class, "%s: class %s" % (name, o["class"]))
    check(o["action"] == "none" and o["tagged_subject"] is None,
          "%s: no spam action (action %s) though it scores %.1f" % (name, o["action"], o["score"]))
    check(o["score"] >= 5.0, "%s: the certified content was analysed and found bad (score %.1f)"
          % (name, o["score"]))
    check(hdr.get("X-Spam-Flag") == "NO" and "X-PECGuard-Warning" in hdr,
          "%s: X-Spam-Flag NO, X-PECGuard-Warning says why" % name)
    verify_header_shape(name, o)


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--pecguard", required=True)
    ap.add_argument("--fixtures", required=True)
    ap.add_argument("--shared", default=None)
    ap.add_argument("--scan-arg", action="append", default=[])
    args = ap.parse_args()
    lures = os.path.join(args.fixtures, "lures")
    rows = [l.rstrip("\n").split("\t") for l in open(os.path.join(lures, "expected.tsv"))
            if l.strip() and not l.startswith("#")]
    got = scan(args, os.path.join(args.fixtures, "pki", "index.ldif"),
               [os.path.join(lures, r[0]) for r in rows])
    valid = 0
    for r in rows:
        o = got.get(r[0])
        if o is None:
            check(False, "%s: no result" % r[0])
            continue
        if r[1] == "peo":
            check(o["class"] == "peo" and o["action"] in ("tag-subject", "reject"),
                  "%s: the same lure as ordinary mail: %s (score %.1f)" % (r[0], o["action"], o["score"]))
            verify_header_shape(r[0], o)
        else:
            valid += 1
            verify_pec(r[0], o, r[1])
    check(valid >= 4, "lures inside every valid PEC class: %d (envelope, receipt, anomaly)" % valid)
    if args.shared and os.path.exists(os.path.join(args.shared, "messages", "env-uno-lure-fattura-zip-vbs.eml")):
        s = scan(args, os.path.join(args.shared, "pki", "index.ldif"),
                 [os.path.join(args.shared, "messages", "env-uno-lure-fattura-zip-vbs.eml")])
        o = s.get("env-uno-lure-fattura-zip-vbs.eml")
        if o:
            verify_pec("shared env-uno-lure-fattura-zip-vbs.eml", o, "pec-envelope")
    else:
        print("SKIP shared lure fixture: ../shared absent")
    return summary()


if __name__ == "__main__":
    sys.exit(main())
