#!/usr/bin/env python3
"""Runs `pecguard scan --json` over a PEC corpus and compares every message
with the corpus's expected.tsv.

Three layouts of expected.tsv are understood (the header line says which):
  shared fixtures  file class pec_type provider virus detail   (detail "reason=CODE(...)")
  shared real      file class type provider at note            (at: signing-time | now)
  own fixtures     file class pec_type provider reason at note (reason: our code)

`at` is the verification time the line holds at, passed as `--at`: empty or
`now` (the default), `signing-time`, or an ISO 8601 time.  A file may have a
line for each time (an expired provider's message: invalid now, valid at
its signing time); the lines are scanned in one run per time.

Exit status 0 when every line matches, 1 otherwise, 77 (skip) when the
corpus is absent.
"""
import argparse
import json
import os
import re
import subprocess
import sys

# The shared oracle names failed checks in its own words; these are ours.
SHARED_REASON = {
    "signature-digest-mismatch": "signature-digest-mismatch",
    "header-daticert-mismatch": "daticert-type-mismatch",
    "untrusted-signer": "signer-not-in-index",
    "signer-certificate-expired": "certificate-expired",
    "sender-domain-not-managed": "sender-domain-not-managed",
    "not-signed": "not-signed",
    "not-multipart-signed": "not-multipart-signed",
    "malformed-multipart-signed": "malformed-multipart-signed",
}
# Rows of the shared oracle without a reason= (the list-wrapped envelope).
SHARED_REASON_BY_FILE = {
    "edge-mailing-list-wrapped.eml": "signed-not-top-level",
}


def read_expected(path):
    rows, header = [], None
    with open(path, encoding="utf-8") as f:
        for line in f:
            line = line.rstrip("\n")
            if not line:
                continue
            if line.startswith("#"):
                if header is None:
                    header = line.lstrip("# ").split("\t")
                continue
            cols = line.split("\t")
            cols += [""] * (len(header) - len(cols))
            rows.append(dict(zip(header, cols)))
    return header, rows


def expected_reason(row, header):
    if "reason" in header:
        return row["reason"] or None
    if "detail" in header:
        m = re.search(r"reason=([a-z-]+)", row["detail"])
        if m:
            return SHARED_REASON.get(m.group(1), m.group(1))
        return SHARED_REASON_BY_FILE.get(row["file"])
    return None


def scan(pecguard, providers, at, paths, extra):
    cmd = [pecguard, "scan", "--json"] + extra + ["--providers", providers]
    if at:
        cmd += ["--at", at]
    cmd += paths
    p = subprocess.run(cmd, capture_output=True, text=True)
    if p.returncode != 0:
        print("pecguard exited %d: %s" % (p.returncode, p.stderr.strip()))
    out = {}
    for line in p.stdout.splitlines():
        obj = json.loads(line)
        out[os.path.basename(obj["path"])] = obj
    return p.returncode, out


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--pecguard", required=True)
    ap.add_argument("--scan-arg", action="append", default=[],
                    help="extra argument for pecguard scan (repeat)")
    ap.add_argument("--corpus", required=True, help="directory with expected.tsv")
    ap.add_argument("--messages", default=None, help="messages directory (default: corpus/messages or corpus)")
    ap.add_argument("--providers", action="append", required=True,
                    help="providers' index; repeat to check every spelling")
    args = ap.parse_args()

    exp_path = os.path.join(args.corpus, "expected.tsv")
    if not os.path.exists(exp_path):
        print("SKIP: %s not found (the shared corpus is not available here)" % exp_path)
        return 77
    msgdir = args.messages
    if msgdir is None:
        msgdir = os.path.join(args.corpus, "messages")
        if not os.path.isdir(msgdir):
            msgdir = args.corpus
    header, rows = read_expected(exp_path)

    failures = 0
    checked = 0
    for providers in args.providers:
        groups = {}
        for row in rows:
            at = row.get("at") or None
            if at == "now":
                at = None
            groups.setdefault(at, []).append(row)
        for at, grp in groups.items():
            rc, got = scan(args.pecguard, providers, at,
                           [os.path.join(msgdir, r["file"]) for r in grp], args.scan_arg)
            if rc != 0:
                failures += 1
            for row in grp:
                checked += 1
                name = row["file"]
                g = got.get(name)
                problems = []
                if g is None:
                    problems.append("no output")
                else:
                    want_type = row.get("pec_type", row.get("type", "")) or None
                    want_prov = row.get("provider") or None
                    if g["class"] != row["class"]:
                        problems.append("class %s, expected %s" % (g["class"], row["class"]))
                    if g["pec_type"] != want_type:
                        problems.append("pec_type %s, expected %s" % (g["pec_type"], want_type))
                    if row["class"] != "invalid-pec" and g["provider"] != want_prov:
                        problems.append("provider %s, expected %s" % (g["provider"], want_prov))
                    if g["error"] is not None:
                        problems.append("error: %s" % g["error"])
                    if row["class"] == "invalid-pec":
                        if g["claimed"] is None:
                            problems.append("invalid-pec without a claim")
                        want = expected_reason(row, header)
                        codes = [r.split(":", 1)[0] for r in g["reasons"]]
                        if want and want not in codes:
                            problems.append("reason %s missing (got %s)" % (want, ", ".join(codes)))
                    elif row["class"] != "peo":
                        for code in ("signature-valid", "signer-in-index", "certificate-valid-at",
                                     "sender-domain-managed"):
                            if not any(r.startswith(code) for r in g["reasons"]):
                                problems.append("valid class without proof '%s'" % code)
                if problems:
                    failures += 1
                    print("FAIL %s [%s, at %s]: %s" % (name, os.path.basename(providers),
                                                     at or "now", "; ".join(problems)))
    print("%d checks, %d failures" % (checked, failures))
    return 1 if failures else 0


if __name__ == "__main__":
    sys.exit(main())
