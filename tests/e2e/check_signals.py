#!/usr/bin/env python3
"""check_signals.py - pecguard-milter's signals, through a real Postfix.

  - a burst of SIGHUPs (as a configuration tool or a careless script may
    send): every one is a reload request, none stops the milter (libmilter's
    own signal thread takes SIGHUP as "stop" if it ever gets one), and mail
    still flows afterwards;
  - a reload under an open SMTP session: the session goes on, and its next
    messages get the new configuration (policy map, scoring threshold);
  - SIGTERM while a message is in the middle of DATA: the milter stops
    taking new connections but lets that message finish, so the SMTP client
    is told 250 and the message is delivered, then the process exits 0.

usage: check_signals.py --milter BIN --fixtures DIR --avdb DIR
Exit 0 all passed, 1 a check failed, 77 skipped (not root, no postfix;
a failure under PG_REQUIRE_ALL=1, see tests/pgcheck.py).
"""
import argparse
import os
import shutil
import signal
import smtplib
import subprocess
import sys
import tempfile
import time
from email.message import EmailMessage
import email.utils

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import pgtest  # noqa: E402

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), ".."))
from pgcheck import check, missing, summary  # noqa: E402


def ham(subject):
    m = EmailMessage()
    m["From"] = "Mario Bianchi <mario.bianchi@example.test>"
    m["To"] = "alice@example.test"
    m["Subject"] = subject
    m["Date"] = email.utils.formatdate(localtime=True)
    m["Message-ID"] = email.utils.make_msgid(domain="example.test")
    m.set_content("Buongiorno,\nle confermo la riunione di domani alle 10.\nMario\n")
    return m.as_bytes()


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--milter", required=True)
    ap.add_argument("--fixtures", required=True)
    ap.add_argument("--avdb", required=True)
    args = ap.parse_args()
    why = pgtest.postfix_unavailable()
    if why:
        return missing(why)
    base = tempfile.mkdtemp(prefix="pg-sig-")
    os.chmod(base, 0o755)
    pf = milter = None
    try:
        port = pgtest.free_port()
        os.makedirs(os.path.join(base, "state"))
        policy = os.path.join(base, "policy.map")
        with open(policy, "w") as f:
            f.write("# nobody is PEC-only yet\n")
        conf = """
providers = "%(fx)s/pki/index.ldif";
state_dir = "%(b)s/state";
antivirus = { backend = "clamav"; database = "%(avdb)s"; };
policy = { map = "%(policy)s"; };
milter = {
  socket = "unix:%(b)s/milter/milter.sock";
  socket_mode = "0666";
  log = "stderr";
  spool_dir = "%(b)s";
};
""" % {"fx": args.fixtures, "b": base, "avdb": args.avdb, "policy": policy}
        milter = pgtest.Milter(base, args.milter, conf)
        milter.start()
        pf = pgtest.PrivatePostfix(base, port, milter.spec)
        pf.start()
        rcpt = "alice@example.test"

        # ---- the macros Postfix sends, at the protocol level (miltertest) ----
        # The client address, the queue id and the SMTP AUTH user are logged
        # with the verdict (the e2e Postfix has no SASL to send the last).
        mt = shutil.which("miltertest")
        if mt is None:
            if missing("miltertest not installed") != 77:
                return summary()
        else:
            p = subprocess.run([mt, "-s", os.path.join(os.path.dirname(os.path.abspath(__file__)),
                                                       "auth.lua")],
                               env=dict(os.environ, SOCK=milter.spec), capture_output=True,
                               text=True, timeout=60)
            line = [l for l in milter.logtext().splitlines() if "MTAUTH0001:" in l]
            check(p.returncode == 0 and line and "client=192.0.2.7" in line[0]
                  and "auth=mario.bianchi" in line[0] and "class=peo" in line[0],
                  "miltertest: accepted with our headers; logged with queue id, client and AUTH "
                  "user (%s%s)" % ((p.stdout + p.stderr).strip()[-200:], line[:1]))

        # ---- a burst of SIGHUPs -----------------------------------------------
        for _ in range(60):
            milter.signal(signal.SIGHUP)
            time.sleep(0.002)
        time.sleep(1.0)
        # let the last reload finish before reading the log
        pgtest.wait_for(lambda: not milter.alive() or "reloaded" in milter.logtext(), 30,
                        "a reload")
        log = milter.logtext()
        check(milter.alive(), "60 SIGHUPs 2 ms apart: the milter is still running")
        check("stopping" not in log and "reloaded" in log,
              "they were reloads (%d logged, coalesced), none a stop" % log.count("reloaded"))
        m1 = ham("dopo la raffica di SIGHUP")
        try:
            with smtplib.SMTP("127.0.0.1", port, timeout=60) as s:
                s.sendmail("mario.bianchi@example.test", [rcpt], m1)
            sent = True
        except smtplib.SMTPException as e:
            sent = False
            print("send after the burst: %s" % e)
        check(sent and pgtest_wait(lambda: pf.find(rcpt, b"dopo la raffica")),
              "after the burst a message is scanned and delivered")

        # ---- a reload under an open SMTP session ------------------------------
        # Postfix keeps one milter connection per SMTP session: the session
        # goes on across the reload, and its next messages get the new
        # configuration (a scoring threshold, the policy map).
        s = smtplib.SMTP("127.0.0.1", port, timeout=120)
        s.ehlo("client.example.test")
        s.sendmail("mario.bianchi@example.test", [rcpt], ham("prima del reload"))
        reloads = milter.logtext().count("reloaded")
        with open(policy, "w") as f:
            f.write("alice@example.test pec-only\n")
        with open(milter.conf, "a") as f:
            f.write("scoring = { add_header = 0.0; };\n")
        milter.signal(signal.SIGHUP)
        pgtest.wait_for(lambda: milter.logtext().count("reloaded") > reloads, 30, "the reload")
        try:
            s.sendmail("mario.bianchi@example.test", [rcpt], ham("dopo il reload"))
            refused = None
        except smtplib.SMTPDataError as e:
            refused = (e.smtp_code, e.smtp_error.decode(errors="replace"))
        check(refused is not None and refused[0] == 550 and "PEC" in refused[1],
              "same session after the reload: the new policy map refuses ordinary mail to alice (%s)"
              % (refused,))
        bob = "bob@example.test"
        s.sendmail("mario.bianchi@example.test", [bob], ham("soglia nuova"))
        s.quit()
        before = pgtest_wait(lambda: pf.find(rcpt, b"prima del reload"))
        after = pgtest_wait(lambda: pf.find(bob, b"soglia nuova"))
        check(before and b"X-Spam-Flag: NO" in pf.find(rcpt, b"prima del reload")[0],
              "before the reload: delivered, X-Spam-Flag NO")
        check(after and b"X-Spam-Flag: YES" in pf.find(bob, b"soglia nuova")[0]
              and b"Subject: soglia nuova" in pf.find(bob, b"soglia nuova")[0],
              "same session after the reload: the new threshold (add_header 0) flags it, "
              "headers only: the subject is not tagged")
        with open(policy, "w") as f:
            f.write("# nobody is PEC-only\n")
        reloads = milter.logtext().count("reloaded")
        milter.signal(signal.SIGHUP)
        pgtest.wait_for(lambda: milter.logtext().count("reloaded") > reloads, 30, "the reload")

        # ---- SIGTERM in the middle of DATA -------------------------------------
        m2 = ham("consegnato durante lo stop")
        s = smtplib.SMTP("127.0.0.1", port, timeout=120)
        s.ehlo("client.example.test")
        code, _ = s.mail("mario.bianchi@example.test")
        code2, _ = s.rcpt(rcpt)
        code3, _ = s.docmd("DATA")
        check(code == 250 and code2 == 250 and code3 == 354, "SMTP dialogue up to DATA")
        body = m2.replace(b"\r\n", b"\n").replace(b"\n", b"\r\n")
        s.send(body)
        time.sleep(0.5)
        t0 = time.monotonic()
        milter.signal(signal.SIGTERM)
        pgtest.wait_for(lambda: "stopping on signal" in milter.logtext(), 10, "the stop")
        time.sleep(1.0)
        check(milter.alive(), "SIGTERM with a message in progress: the milter waits for it")
        s.send(b"\r\n.\r\n" if not body.endswith(b"\r\n") else b".\r\n")
        code, text = s.getreply()
        s.quit()
        check(code == 250, "the message in progress is accepted: %d %s" % (code, text.decode(errors="replace")))
        check(pgtest_wait(lambda: pf.find(rcpt, b"consegnato durante lo stop"))
              and all(b"X-PECGuard-Class: peo" in m
                      for m in pf.find(rcpt, b"consegnato durante lo stop")),
              "and delivered, with the milter's headers")
        try:
            rc = milter.proc.wait(30)
        except Exception:
            rc = None
        if not check(rc == 0, "then the milter exits 0 (%s, %.1f s after SIGTERM)" % (rc, time.monotonic() - t0)):
            print(milter.logtext()[-4000:])
        log = milter.logtext()
        check("waiting for 1 message(s) in progress" in log and "stopped" in log,
              "its log says it waited for the message")
    finally:
        pgtest.teardown(base, pf, milter, keep=bool(os.environ.get("PG_KEEP_TMP")))
    return summary()


def pgtest_wait(pred, timeout=30):
    try:
        pgtest.wait_for(pred, timeout, "delivery")
        return True
    except RuntimeError:
        return False


if __name__ == "__main__":
    sys.exit(main())
