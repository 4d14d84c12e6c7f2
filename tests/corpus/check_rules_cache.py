#!/usr/bin/env python3
"""check_rules_cache.py - the compiled rule databases cached in state_dir.

The cache only saves time: every verdict must be the one a fresh
compilation gives.  Checked through the CLI on the project's own messages:
  - the first run writes state_dir/rules-cache/, the next ones read it and
    give the same verdicts;
  - damaged files (a flipped byte, a truncation, garbage) are misses: the
    verdicts stay, and the files are written again whole;
  - a changed rule is another database: a new local rule fires at once;
  - rules_cache = false writes nothing.

usage: check_rules_cache.py --pecguard BIN --data DIR
"""
import argparse
import glob
import json
import os
import shutil
import subprocess
import sys
import tempfile

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), ".."))
from pgcheck import check, summary  # noqa: E402


LOCAL = """local_rules = (
  { name = "LOCAL_CACHE_PROBE"; type = "body"; pattern = "%s"; weight = 0.25; }
);
"""


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--pecguard", required=True)
    ap.add_argument("--data", required=True, help="tests/data: message files with rule hits")
    args = ap.parse_args()
    msgs = sorted(glob.glob(os.path.join(args.data, "rules", "*.eml")) +
                  glob.glob(os.path.join(args.data, "invoice", "*.eml")))
    if not msgs:
        print("no messages under %s" % args.data)
        return 1
    tmp = tempfile.mkdtemp(prefix="pg-rcache-")
    try:
        state = os.path.join(tmp, "state")
        os.makedirs(state)
        cache = os.path.join(state, "rules-cache")

        def verdicts(*extra, state_dir=state):
            p = subprocess.run([args.pecguard, "scan", "--json", "--av", "none", "--set", "providers=",
                                "--state", state_dir] + list(extra) + msgs,
                               capture_output=True, text=True)
            if p.returncode != 0:
                check(False, "scan: exit %d %s" % (p.returncode, p.stderr.strip()[-300:]))
                return None
            out = {}
            for line in p.stdout.splitlines():
                o = json.loads(line)
                out[os.path.basename(o["path"])] = (o["score"], o["action"],
                                                    sorted(s["name"] for s in o["symbols"]))
            return out

        # The reference: no cache at all.
        ref = verdicts("--set", "rules_cache=false")
        check(ref is not None and not os.path.exists(cache),
              "rules_cache = false: verdicts, and nothing written")
        check(ref is not None and sum(1 for v in ref.values() if v[2]) >= len(msgs) // 2,
              "the messages fire rules (%d of %d have symbols)" %
              (sum(1 for v in (ref or {}).values() if v[2]), len(msgs)))
        first = verdicts()
        files = sorted(glob.glob(os.path.join(cache, "*")))
        check(first == ref and len(files) >= 3,
              "first run: same verdicts, %d compiled databases written" % len(files))
        second = verdicts()
        check(second == ref and sorted(glob.glob(os.path.join(cache, "*"))) == files,
              "second run: read from the cache, same verdicts, no new file")

        # Damage: a flipped byte, a truncation, garbage.
        sizes = {f: os.path.getsize(f) for f in files}
        original = {f: open(f, "rb").read() for f in files[:3]}
        with open(files[0], "r+b") as f:
            f.seek(sizes[files[0]] // 2)
            b = f.read(1)
            f.seek(sizes[files[0]] // 2)
            f.write(bytes([b[0] ^ 0x40]))
        with open(files[1], "r+b") as f:
            f.truncate(sizes[files[1]] // 3)
        with open(files[2], "wb") as f:
            f.write(b"pecguard-hs-1\n" + os.urandom(200))
        third = verdicts()
        check(third == ref, "damaged cache files: same verdicts")
        check(all(open(f, "rb").read() == original[f] for f in files[:3]),
              "damaged files detected and written again as they were")
        check(not glob.glob(os.path.join(cache, "*.tmp")), "no temporary file left")

        # A changed rule: another key, the new rule fires.
        conf = os.path.join(tmp, "local.conf")
        with open(conf, "w") as f:
            f.write(LOCAL % "\\\\b[a-z]{3}\\\\b")
        withlocal = verdicts("--config", conf)
        fired = sum(1 for v in (withlocal or {}).values() if "LOCAL_CACHE_PROBE" in v[2])
        check(withlocal is not None and fired >= len(msgs) // 2,
              "a new local rule fires at once (%d of %d messages)" % (fired, len(msgs)))
        check(len(glob.glob(os.path.join(cache, "*"))) > len(files),
              "the changed rule set is compiled and cached apart")
        again = verdicts()
        check(again == ref, "back to the shipped rules: their own cache, same verdicts")

    finally:
        shutil.rmtree(tmp, ignore_errors=True)
    return summary()


if __name__ == "__main__":
    sys.exit(main())
