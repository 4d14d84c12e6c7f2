#!/usr/bin/env python3
"""bench/eval - pecguard's spam and phishing verdicts on labelled corpora,
side by side with rspamd and SpamAssassin on the same split, and the
throughput of the ordinary-mail pipeline beside theirs, in one run.

Writes docs/EVALUATION.md (or --out).  Corpora and splits come from
../shared/corpus (see its README): Bayes is trained on the train half only
(phishing learned as spam, as the peers' numbers in PEERS.md are), every
verdict is measured on the test half.

  bench/eval [--no-peers] [--out FILE]

The spam verdict is pecguard's tag-subject or reject (score >= 5),
rspamd's add header / rewrite subject / reject (score >= 6), SpamAssassin's
score >= 5: each filter at its own default threshold.
"""
import argparse
import collections
import datetime
import json
import math
import os
import platform
import re
import shutil
import subprocess
import sys
import tempfile
import time

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
SETS = [  # label, test list, kind
    ("ham", "test_ham.txt", "ham"),
    ("italian_ham", "test_italian_ham.txt", "ham"),
    ("spam", "test_spam.txt", "spam"),
    ("phish", "test_phish.txt", "phish"),
    ("italian_spam", "test_italian_spam.txt", "spam"),
]
TRAIN_SPAM = ["train_spam.txt", "train_phish.txt", "train_italian_spam.txt"]
TRAIN_HAM = ["train_ham.txt", "train_italian_ham.txt"]


def sh(cmd, **kw):
    return subprocess.run(cmd, check=True, **kw)


def read_list(corpus, name):
    with open(os.path.join(corpus, "splits", name)) as f:
        return [os.path.join(corpus, l.strip()) for l in f if l.strip()]


def italian_kind(path, labels):
    """lure_invoice_* / lure_other classes of the Italian spam set."""
    return labels.get(os.path.basename(path), "")


def pct(n, d):
    return 100.0 * n / d if d else 0.0


FP_BUDGET = 0.001     # ham false positives allowed on every ham set (issue 4)
RECALL_TARGET = 0.97  # spam recall asked for (issue 4)


def fp_allowed(n, budget=FP_BUDGET):
    """False positives a ham set of n messages may have within budget."""
    return int(budget * n + 1e-9)


def fp_bound(scores, budget):
    """The highest score a verdict "score > bound" must exceed so that every
    ham set stays within `budget` (a share) of false positives."""
    bound = float("-inf")
    for label, _, kind in SETS:
        v = sorted(scores.get(label, []), reverse=True)
        if kind == "ham" and v:
            k = fp_allowed(len(v), budget)
            if k < len(v):
                bound = max(bound, v[k])
    return bound


def recall_threshold(scores, label, target):
    """The highest threshold t at which "score >= t" reaches `target` recall."""
    v = sorted(scores.get(label, []), reverse=True)
    need = math.ceil(target * len(v) - 1e-9)  # messages to catch
    return v[need - 1] if v and need >= 1 else float("-inf")


def operating_points(filters, budget=FP_BUDGET, target=RECALL_TARGET):
    """Markdown rows: each filter at the lowest threshold that keeps every ham
    set within the false-positive budget, and at the highest threshold that
    reaches the spam-recall target.  filters: [(name, {label: [score]})]."""
    rows = []
    for what in ("fp", "recall"):
        for name, scores in filters:
            if not scores.get("spam"):
                continue
            if what == "fp":
                b = fp_bound(scores, budget)
                hit = lambda x, b=b: x > b
                thr = "> %.2f" % b
            else:
                t = recall_threshold(scores, "spam", target)
                hit = lambda x, t=t: x >= t
                thr = "≥ %.2f" % t
            cells = []
            for label, _, _ in SETS:
                v = scores.get(label, [])
                k = sum(hit(x) for x in v)
                cells.append("%.2f%% (%d)" % (pct(k, len(v)), k) if v else "—")
            rows.append("| %s | %s | %s | %s |" % (
                "ham ≤ %g%% on every ham set" % (100 * budget) if what == "fp"
                else "spam recall ≥ %g%%" % (100 * target), name, thr, " | ".join(cells)))
    return rows


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--shared", default=os.path.join(ROOT, "..", "shared"))
    ap.add_argument("--out", default=os.path.join(ROOT, "docs", "EVALUATION.md"))
    ap.add_argument("--no-peers", action="store_true")
    ap.add_argument("--runs", type=int, default=3)
    args = ap.parse_args()
    corpus = os.path.join(args.shared, "corpus")
    if not os.path.isdir(os.path.join(corpus, "splits")):
        print("bench/eval needs ../shared/corpus")
        return 1
    build = os.path.join(ROOT, "build-bench")
    sh(["cmake", "-S", ROOT, "-B", build, "-DCMAKE_BUILD_TYPE=Release"], stdout=subprocess.DEVNULL)
    sh(["cmake", "--build", build, "-j%d" % os.cpu_count(), "--target", "pecguard_cli", "bench_scan"],
       stdout=subprocess.DEVNULL)
    pg = os.path.join(build, "pecguard")
    bench = os.path.join(build, "bench", "bench_scan")
    tmp = tempfile.mkdtemp(prefix="pg-eval-", dir="/dev/shm" if os.path.isdir("/dev/shm") else None)
    # spamd and rspamd run as their own users: they must reach the lists
    # and SpamAssassin's Bayes database under it.
    os.chmod(tmp, 0o755)
    state = os.path.join(tmp, "state")
    common = ["--state", state, "--av", "none", "--set", "providers="]
    labels = {}
    lp = os.path.join(corpus, "italian", "synthetic-dev", "labels.tsv")
    if os.path.exists(lp):
        for line in open(lp):
            p = line.rstrip("\n").split("\t")
            if len(p) >= 2:
                labels[p[0]] = p[1]
    try:
        # ---- train --------------------------------------------------------------
        t0 = time.monotonic()
        spam_train = sum((read_list(corpus, n) for n in TRAIN_SPAM), [])
        ham_train = sum((read_list(corpus, n) for n in TRAIN_HAM), [])
        for kind, files in (("spam", spam_train), ("ham", ham_train)):
            for i in range(0, len(files), 500):
                sh([pg, "learn", kind] + common + files[i:i + 500], stdout=subprocess.DEVNULL)
        t_train = time.monotonic() - t0
        print("trained on %d spam, %d ham in %.0f s" % (len(spam_train), len(ham_train), t_train))

        # ---- pecguard verdicts ---------------------------------------------------------
        ours = {}
        sym_hits = collections.Counter()
        for label, lst, kind in SETS:
            files = read_list(corpus, lst)
            out = subprocess.run([pg, "scan", "--json"] + common + files, capture_output=True,
                                 text=True)
            res = []
            for line in out.stdout.splitlines():
                o = json.loads(line)
                res.append(o)
                if kind == "ham" and o["action"] in ("tag-subject", "reject"):
                    for s in o["symbols"]:
                        sym_hits[(label, s["name"])] += 1
            ours[label] = res
            print("scanned %s: %d" % (label, len(res)))

        # ---- throughput, first pass (the machine's speed varies: each
        # filter is measured twice, apart in time, and gets its better run) --
        bfiles = read_list(corpus, "bench2000.txt")
        mb = sum(os.path.getsize(f) for f in bfiles) / 1e6

        def bench_run(extra):
            p = subprocess.run([bench, "--runs", str(args.runs)] + extra +
                               ["--set", "state_dir=" + state, "--set", "antivirus.backend=none",
                                "--set", "providers="] + bfiles, capture_output=True, text=True)
            return p.stdout

        two_first = bench_run(["--threads", "2"])

        # ---- peers ------------------------------------------------------------------------
        peers = {}
        peer_tp = {}
        if not args.no_peers:
            tool = os.path.join(args.shared, "tools", "peers", "peers")
            lists = {}
            for name, files in (("spam", spam_train), ("ham", ham_train)):
                lists["train_" + name] = os.path.join(tmp, "train_%s.lst" % name)
                with open(lists["train_" + name], "w") as f:
                    f.write("\n".join(files) + "\n")
            for label, lst, kind in SETS:
                lists[label] = os.path.join(tmp, "test_%s.lst" % label)
                with open(lists[label], "w") as f:
                    f.write("\n".join(read_list(corpus, lst)) + "\n")
            lists["bench"] = os.path.join(tmp, "bench.lst")
            with open(lists["bench"], "w") as f:
                f.write("\n".join(read_list(corpus, "bench2000.txt")) + "\n")
            env = dict(os.environ, PEERS_STATE=os.path.join(tmp, "peers"))
            sh([tool, "up"], env=env)
            try:
                sh([tool, "learn", lists["train_spam"], lists["train_ham"]], env=env)
                for peer, conc in (("rspamd", "8"), ("spamd", "2")):
                    tsv = os.path.join(tmp, "%s.tsv" % peer)
                    sh([tool, "scan", peer] + ["%s=%s" % (l, lists[l]) for l, _, _ in SETS] +
                       ["-o", tsv, "-c", conc], env=env, stdout=subprocess.DEVNULL)
                    rows = collections.defaultdict(list)
                    for line in open(tsv):
                        p = line.rstrip("\n").split("\t")
                        if len(p) >= 6 and p[0] != "label":
                            rows[p[0]].append({"path": p[1], "score": float(p[4] or 0), "action": p[5]})
                    peers[peer] = rows
                    # throughput on bench2000, as PEERS.md measures it
                    tsv2 = os.path.join(tmp, "%s-bench.tsv" % peer)
                    for _ in range(2 if peer == "rspamd" else 1):
                        t0 = time.monotonic()
                        sh([tool, "scan", peer, "bench=%s" % lists["bench"], "-o", tsv2, "-c", conc],
                           env=env, stdout=subprocess.DEVNULL)
                        peer_tp[peer] = max(peer_tp.get(peer, 0), 2000 / (time.monotonic() - t0))
            finally:
                subprocess.run([tool, "down"], env=env)

        # ---- throughput, second pass -------------------------------------------------------
        one = bench_run([])
        two = bench_run(["--threads", "2"])
        m1 = re.search(r"cpu:\s+(\d+) messages/s, ([\d.]+) MB/s, ([\d.]+) us", one)
        stages = re.search(r"stages \(CPU us/message\): (.*)", one)
        m2 = max((re.search(r"wall: (\d+) messages/s, ([\d.]+) MB/s", t) for t in (two_first, two)),
                 key=lambda m: int(m.group(1)) if m else -1)

        # ---- report -----------------------------------------------------------------------
        def spam_verdict_ours(o):
            return o["action"] in ("tag-subject", "reject")

        def spam_verdict_peer(peer, r):
            if peer == "rspamd":
                return r["action"] in ("add header", "rewrite subject", "reject")
            return r["score"] >= 5.0

        lines = []
        w = lines.append
        w("# Evaluation: spam and phishing verdicts, side by side\n")
        w("Regenerated by `bench/eval` on %s (%s, %d cores). Corpora and the train/test split: "
          "`../shared/corpus` (see its README). Bayes (pecguard's and the peers') trained on the "
          "train half only — %d spam and phishing, %d ham messages; every number below is on the "
          "test half. Each filter at its own default threshold: pecguard tag-subject or reject "
          "(score ≥ 5), rspamd add header / rewrite subject / reject (score ≥ 6), SpamAssassin "
          "score ≥ 5. DNS-dependent checks are off in the peers (no network here); SpamAssassin runs "
          "local tests only.\n" % (datetime.date.today().isoformat(), platform.machine(),
                                    os.cpu_count(), len(spam_train), len(ham_train)))
        w("## Verdicts\n")
        w("| set | messages | pecguard | rspamd | SpamAssassin |")
        w("|---|---|---|---|---|")
        for label, lst, kind in SETS:
            res = ours[label]
            n = len(res)
            k = sum(spam_verdict_ours(o) for o in res)
            what = "false positives" if kind == "ham" else "recall"
            cells = ["%.2f%% (%d)" % (pct(k, n), k)]
            for peer in ("rspamd", "spamd"):
                rows = peers.get(peer, {}).get(label)
                if rows:
                    kp = sum(spam_verdict_peer(peer, r) for r in rows)
                    cells.append("%.2f%% (%d)" % (pct(kp, len(rows)), kp))
                else:
                    cells.append("—")
            w("| %s (%s) | %d | %s |" % (label.replace("_", " "), what, n, " | ".join(cells)))
        # Italian lure classes
        it = ours.get("italian_spam", [])
        by = collections.defaultdict(list)
        for o in it:
            by[italian_kind(o["path"], labels)].append(o)
        if by:
            w("\nItalian spam by class (pecguard): " + ", ".join(
                "%s %.1f%% (%d/%d)" % (k, pct(sum(spam_verdict_ours(o) for o in v), len(v)),
                                        sum(spam_verdict_ours(o) for o in v), len(v))
                for k, v in sorted(by.items())) + ".\n")
        w("\n## pecguard's trade-off: false positives and recall by threshold\n")
        w("The same scores with the spam verdict at other thresholds (the shipped one is 5), "
          "to compare at equal false positives or equal recall.\n")
        w("| threshold | " + " | ".join(l.replace("_", " ") for l, _, _ in SETS) + " |")
        w("|---|" + "---|" * len(SETS))
        for thr in (5, 4, 3, 2, 1):
            cells = []
            for label, _, _ in SETS:
                res = ours[label]
                k = sum(o["score"] >= thr for o in res)
                cells.append("%.2f%%" % pct(k, len(res)))
            w("| %s | %s |" % (thr, " | ".join(cells)))
        w("\n## Recall at equal false positives\n")
        w("The verdicts above put each filter at its own default threshold, so each works at a "
          "different false-positive rate. Here every filter's threshold is moved, after the fact "
          "and on these same test scores (the best setting each could have had), to the lowest "
          "one that keeps every ham set within %g%% false positives (at most %s), and to the "
          "highest one that still catches %g%% of the spam.\n" % (
              100 * FP_BUDGET, " and ".join(
                  "%d of %d %s" % (fp_allowed(len(ours[l])), len(ours[l]), l.replace("_", " "))
                  for l, _, k in SETS if k == "ham"), 100 * RECALL_TARGET))
        w("| operating point | filter | threshold | " +
          " | ".join(l.replace("_", " ") for l, _, _ in SETS) + " |")
        w("|---|---|---|" + "---|" * len(SETS))
        filters = [("pecguard", {l: [o["score"] for o in ours[l]] for l, _, _ in SETS})]
        for peer, name in (("rspamd", "rspamd"), ("spamd", "SpamAssassin")):
            if peers.get(peer):
                filters.append((name, {l: [r["score"] for r in peers[peer].get(l, [])]
                                       for l, _, _ in SETS}))
        for row in operating_points(filters):
            w(row)
        w("\n## pecguard's actions per set (confusion table)\n")
        w("| set | none | add-header | tag-subject | reject |")
        w("|---|---|---|---|---|")
        for label, _, _ in SETS:
            c = collections.Counter(o["action"] for o in ours[label])
            w("| %s | %d | %d | %d | %d |" % (label.replace("_", " "), c["none"], c["add-header"],
                                             c["tag-subject"], c["reject"]))
        fps = [(l, s, n) for (l, s), n in sym_hits.items()]
        if fps:
            w("\nSymbols on the ham false positives: " + ", ".join(
                "%s %s ×%d" % (l, s, n) for l, s, n in sorted(fps, key=lambda x: -x[2])[:15]) + ".\n")
        w("\n## Throughput: the ordinary-mail pipeline (antivirus off)\n")
        w("On `splits/bench2000.txt` (2,000 messages, %.1f MB), this machine, same run. pecguard: "
          "`bench_scan` (parse, classify, text, every analyser and Bayes with its trained store), one "
          "thread's CPU time, and two threads on one engine (wall time). Peers: `peers scan` as in "
          "PEERS.md (rspamd with 8 requests in flight, spamd with 2 children), with Bayes. The "
          "machine's speed varies by 15-20%% between runs: pecguard's two-core figure and rspamd's "
          "are each the better of two measurements made apart in time.\n" % mb)
        w("| filter | messages/s | MB/s |")
        w("|---|---|---|")
        if m1:
            w("| pecguard, one core | %s | %s |" % (m1.group(1), m1.group(2)))
        if m2:
            w("| pecguard, two cores | %s | %s |" % (m2.group(1), m2.group(2)))
        for peer, name in (("rspamd", "rspamd (2 workers)"), ("spamd", "SpamAssassin (spamd, 2 children)")):
            if peer in peer_tp:
                w("| %s | %.0f | %.2f |" % (name, peer_tp[peer], peer_tp[peer] * mb / 2000))
        if m2 and "rspamd" in peer_tp:
            w("\npecguard on two cores / rspamd on the same two cores: **%.1f×**.\n" %
              (float(m2.group(1)) / peer_tp["rspamd"]))
        if stages:
            w("\nWhere pecguard's time goes (CPU µs per message, one thread): %s.\n" % stages.group(1))
        w("\nCaveats (from PEERS.md): the SpamAssassin corpus is about 24 years old; 37% of phishing "
          "test messages have a body identical to a training message, which flatters every Bayes "
          "result; the Italian sets are synthetic (see the corpus README); pecguard's rules were "
          "tuned on the train half only.\n")
        with open(args.out, "w") as f:
            f.write("\n".join(lines) + "\n")
        print("\n".join(lines))
        print("\nwritten: %s" % args.out)
    finally:
        shutil.rmtree(tmp, ignore_errors=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
