#!/usr/bin/env python3
"""check_load.py - pecguard-milter under load through a real Postfix.

smtp-source sends, over 20 parallel sessions, 5,000 messages: 4,000 to an
ordinary mailbox and 1,000 to a PEC-only one (refused at end of data:
smtp-source -A goes on).  Every message must be accounted for: delivered
to the Maildir or refused by the milter, none lost, none deferred; the
milter must not crash and its memory must stay bounded.  Prints messages/s
through Postfix + milter and the milter's peak RSS.

usage: check_load.py --milter BIN --avdb DIR [--messages N] [--sessions N]
Exit 0 passed, 1 failed, 77 skipped (not root, no postfix or smtp-source; a
failure under PG_REQUIRE_ALL=1, see tests/pgcheck.py).
"""
import argparse
import os
import re
import shutil
import subprocess
import sys
import tempfile
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import pgtest  # noqa: E402

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), ".."))
from pgcheck import check, failures, missing, summary  # noqa: E402


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--milter", required=True)
    ap.add_argument("--avdb", required=True)
    ap.add_argument("--messages", type=int, default=5000)
    ap.add_argument("--sessions", type=int, default=20)
    ap.add_argument("--size", type=int, default=4096, help="body bytes per message")
    ap.add_argument("--max-rss-mb", type=int, default=300)
    ap.add_argument("--max-growth-mb", type=int, default=100)
    ap.add_argument("--sanitized", action="store_true",
                    help="ASan build: its shadow memory makes absolute RSS meaningless")
    args = ap.parse_args()
    if args.sanitized:
        # ASan keeps freed memory in a quarantine (256 MB by default) that
        # fills under load whatever the milter does: cap it, so that the
        # growth bound still tells a leak from the quarantine filling.
        os.environ["ASAN_OPTIONS"] = (os.environ.get("ASAN_OPTIONS", "") +
                                      ":quarantine_size_mb=32").lstrip(":")
    why = pgtest.postfix_unavailable("the load test runs a private Postfix")
    if why:
        return missing(why)
    if not os.path.exists("/usr/sbin/smtp-source"):
        return missing("/usr/sbin/smtp-source not installed (package postfix)")
    base = tempfile.mkdtemp(prefix="pg-load-")
    os.chmod(base, 0o755)
    pf = milter = None
    try:
        # Postfix first: start() may move its listener off a port that
        # turned out to be taken.
        pf = pgtest.PrivatePostfix(base, pgtest.free_port(),
                                   "unix:" + os.path.join(base, "milter", "milter.sock"))
        pf.start()
        port = pf.port
        for d in ("state", "spool"):
            os.makedirs(os.path.join(base, d))
        shm = tempfile.mkdtemp(prefix="pg-load-", dir="/dev/shm")
        policy = os.path.join(base, "policy.map")
        with open(policy, "w") as f:
            f.write("carol@pec.alfa.test pec-only\n")
        conf = """
providers = "";
state_dir = "%(b)s/state";
antivirus = { backend = "clamav"; database = "%(db)s"; tmp_dir = "%(shm)s"; };
policy = { map = "%(policy)s"; };
milter = { socket = "unix:%(b)s/milter/milter.sock"; socket_mode = "0666"; log = "stderr";
           spool_dir = "%(b)s/spool"; dsn_smtp = "127.0.0.1:%(port)d"; };
""" % {"b": base, "db": args.avdb, "shm": shm, "policy": policy, "port": port}
        milter = pgtest.Milter(base, args.milter, conf)
        milter.start()
        rss0 = milter.rss_kb()
        n_pec_only = args.messages // 5
        n_ok = args.messages - n_pec_only
        sess_pec = max(1, args.sessions // 5)
        t0 = time.monotonic()
        common = ["/usr/sbin/smtp-source", "-4", "-d", "-l", str(args.size),
                  "-M", "client.example.test", "-f", "sender@example.test", "-S", "load test"]
        p1 = subprocess.Popen(common + ["-s", str(args.sessions - sess_pec), "-m", str(n_ok),
                                        "-t", "load@example.test", "127.0.0.1:%d" % port],
                              stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
        p2 = subprocess.Popen(common + ["-A", "-s", str(sess_pec), "-m", str(n_pec_only),
                                        "-t", "carol@pec.alfa.test", "127.0.0.1:%d" % port],
                              stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
        out1, _ = p1.communicate(timeout=1200)
        out2, _ = p2.communicate(timeout=1200)
        t_inject = time.monotonic() - t0
        check(p1.returncode == 0, "smtp-source (ordinary mailbox) finished: %s" % out1.strip()[-200:])
        check(p2.returncode == 0, "smtp-source (PEC-only mailbox, -A) finished: %s" % out2.strip()[-200:])
        try:
            pgtest.wait_for(lambda: pf.count("load@example.test") >= n_ok, 600,
                            "%d deliveries" % n_ok)
        except RuntimeError:
            pass
        t_all = time.monotonic() - t0
        delivered = pf.count("load@example.test")
        log = pf.logtext()
        refused = len(re.findall(r"milter-reject: END-OF-MESSAGE.*to=<carol@pec\.alfa\.test>", log))
        deferred = len(re.findall(r"status=(deferred|bounced)", log))
        check(delivered == n_ok, "delivered %d of %d to the ordinary mailbox" % (delivered, n_ok))
        check(refused == n_pec_only, "refused %d of %d to the PEC-only mailbox (550 5.7.1)"
              % (refused, n_pec_only))
        check(pf.count("carol@pec.alfa.test") == 0, "nothing reached the PEC-only mailbox")
        check(deferred == 0, "nothing deferred or bounced (%d)" % deferred)
        q = pf.queue()
        check(len(q) == 0, "the Postfix queue is empty (%d left)" % len(q))
        check(milter.alive(), "the milter is still running")
        hwm = milter.hwm_kb() or 0
        growth = hwm - (rss0 or 0)
        check(growth < args.max_growth_mb * 1024 and (args.sanitized or hwm < args.max_rss_mb * 1024),
              "milter peak RSS %.1f MB (start %.1f MB, grew %.1f MB; bounds %d MB growth%s)"
              % (hwm / 1024, (rss0 or 0) / 1024, growth / 1024, args.max_growth_mb,
                 "" if args.sanitized else ", %d MB peak" % args.max_rss_mb))
        print("LOAD: %d messages, %d sessions, %d-byte bodies: injected in %.1f s (%.0f msg/s), "
              "all accounted for in %.1f s (%.0f msg/s); milter peak RSS %.1f MB"
              % (args.messages, args.sessions, args.size, t_inject, args.messages / t_inject,
                 t_all, args.messages / t_all, hwm / 1024))
        shutil.rmtree(shm, ignore_errors=True)
    except Exception as e:  # noqa: BLE001
        check(False, "harness: %s" % e)
        if milter:
            print(milter.logtext()[-3000:])
    finally:
        pgtest.teardown(base, pf, milter, keep=bool(failures))
    return summary()


if __name__ == "__main__":
    sys.exit(main())
