#!/usr/bin/env python3
"""Runs `pecguard scan --json` over a directory of hostile or ordinary mail
and checks that every file got exactly one class, that the run ended
normally (no crash: the sanitizer build aborts on any memory error or
leak), and, outside sanitizer builds, that peak memory stayed bounded.

  --all-class CLASS   every message must get this class (SpamAssassin: peo)
  --max-rss-mb N      peak resident memory of pecguard (skipped under ASan,
                      whose shadow memory makes RSS meaningless)
Exit 77 (skip) when the directory is absent.
"""
import argparse
import collections
import json
import os
import resource
import subprocess
import sys


def count_files(root):
    n = 0
    for d, dirs, files in os.walk(root):
        dirs[:] = [x for x in dirs if not x.startswith(".")]
        n += sum(1 for f in files if not f.startswith("."))
    return n


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--pecguard", required=True)
    ap.add_argument("--scan-arg", action="append", default=[],
                    help="extra argument for pecguard scan (repeat)")
    ap.add_argument("--dir", required=True)
    ap.add_argument("--all-class", default=None)
    ap.add_argument("--max-rss-mb", type=int, default=0)
    ap.add_argument("--sanitized", action="store_true")
    args = ap.parse_args()
    if not os.path.isdir(args.dir):
        print("SKIP: %s not found (the shared corpus is not available here)" % args.dir)
        return 77

    p = subprocess.run([args.pecguard, "scan", "--json"] + args.scan_arg + [args.dir],
                       capture_output=True, text=True)
    rss_mb = resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss / 1024
    fails = []
    if p.returncode != 0:
        fails.append("pecguard exited %d: %s" % (p.returncode, p.stderr[-2000:]))
    seen = collections.Counter()
    statuses = collections.Counter()
    paths = set()
    for line in p.stdout.splitlines():
        o = json.loads(line)
        key = (o["path"], o.get("mbox_index"))
        if key in paths:
            fails.append("two results for %s" % (key,))
        paths.add(key)
        if o["class"] not in ("peo", "pec-envelope", "pec-receipt", "pec-anomaly", "invalid-pec"):
            fails.append("%s: no class (%s)" % (o["path"], o.get("error")))
        seen[o["class"]] += 1
        statuses[o.get("status")] += 1
        if args.all_class and o["class"] != args.all_class:
            fails.append("%s: %s, expected %s" % (o["path"], o["class"], args.all_class))
    files = count_files(args.dir)
    files_seen = len({k[0] for k in paths})
    if files_seen != files:
        fails.append("%d files, %d got a result" % (files, files_seen))
    if args.max_rss_mb and not args.sanitized and rss_mb > args.max_rss_mb:
        fails.append("peak RSS %.0f MB over %d MB" % (rss_mb, args.max_rss_mb))
    print("%d messages from %d files: %s; status %s; peak RSS %.0f MB"
          % (sum(seen.values()), files, dict(seen), dict(statuses), rss_mb))
    for f in fails[:50]:
        print("FAIL", f)
    return 1 if fails else 0


if __name__ == "__main__":
    sys.exit(main())
