#!/usr/bin/env python3
"""check_notice.py - the avviso di rilevazione virus, end to end.

A private Postfix with pecguard-milter configured as Gestore Beta's
reception point (the in-process ClamAV on the project's test database, the
fixture providers' index, Beta's certificate and key as the notice key).
Gestore Alfa's EICAR envelope is sent to a recipient at pec.beta.test:

  1. with the notice key: accepted at SMTP, held in the Postfix queue, not
     delivered; a notice reaches Alfa's mailReceipt (the pec.alfa.test
     catch-all Maildir), and `pecguard scan --json` with the fixture index
     calls it a valid pec-receipt of type rilevazione-virus from Gestore
     Beta with no failed check; the milter logs it with the queue id;
  2. without a key: still held, no notice, the hold logged;
  3. with a key but no SMTP server to submit to: still held, the failure
     logged with the queue id.

usage: check_notice.py --milter BIN --pecguard BIN --fixtures DIR --avdb DIR
Exit 0 all passed, 1 a check failed, 77 skipped (not root, no postfix).
"""
import argparse
import json
import os
import re
import smtplib
import subprocess
import sys
import tempfile
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import pgtest  # noqa: E402

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), ".."))
from pgcheck import check, failures, missing, summary  # noqa: E402

RCPT = "acquisti@pec.beta.test"
ALFA_RECEIPTS = "posta-certificata@pec.alfa.test"  # Gestore Alfa's mailReceipt


def send(port, data, rcpts, sender="posta-certificata@pec.alfa.test"):
    try:
        with smtplib.SMTP("127.0.0.1", port, timeout=120) as s:
            return ("ok", s.sendmail(sender, rcpts, data))
    except smtplib.SMTPException as e:
        return ("error", str(e))


def config(args, base, port, key, dsn_port=None):
    pec = ""
    if key:
        pec = 'pec = { notice_cert = "%(fx)s/pki/beta.pem"; notice_key = "%(fx)s/pki/beta.key"; };' % {
            "fx": args.fixtures}
    return """
providers = "%(fx)s/pki/index.ldif";
state_dir = "%(b)s/state";
antivirus = { backend = "clamav"; database = "%(avdb)s"; };
%(pec)s
milter = {
  socket = "unix:%(b)s/milter/milter.sock";
  socket_mode = "0666";
  log = "stderr";
  spool_dir = "%(b)s/spool";
  dsn_smtp = "127.0.0.1:%(dsn)d";
  reporting_mta = "mx.pec.beta.test";
};
""" % {"fx": args.fixtures, "b": base, "avdb": args.avdb, "pec": pec,
       "dsn": dsn_port if dsn_port else port}


def held_after(pf, before, what):
    try:
        pgtest.wait_for(lambda: len(pf.held()) > before, 30, "a held message")
        return check(True, "%s: held in the Postfix queue" % what)
    except RuntimeError:
        return check(False, "%s: held in the Postfix queue" % what)


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--milter", required=True)
    ap.add_argument("--pecguard", required=True)
    ap.add_argument("--fixtures", required=True)
    ap.add_argument("--avdb", required=True)
    args = ap.parse_args()
    why = pgtest.postfix_unavailable()
    if why:
        return missing(why)
    base = tempfile.mkdtemp(prefix="pg-notice-")
    os.chmod(base, 0o755)
    pf = milter = None
    try:
        port = pgtest.free_port()
        for d in ("state", "spool", "scan-state"):
            os.makedirs(os.path.join(base, d))
        with open(os.path.join(args.fixtures, "messages", "env-alfa-eicar.eml"), "rb") as f:
            env = f.read()
        env_ref = re.search(rb"^X-Riferimento-Message-ID: *(\S+)", env, re.M | re.I).group(1)

        # 0. `pecguard config` says whether notices are signed, and by whom
        for key, want in ((True, "virus notices: signed by "), (False, "virus notices: off")):
            cf = os.path.join(base, "config-%d.conf" % key)
            with open(cf, "w") as f:
                f.write(config(args, base, port, key=key))
            p = subprocess.run([args.pecguard, "config", "--config", cf], capture_output=True,
                               text=True, timeout=120)
            line = [l for l in p.stdout.splitlines() if l.startswith("virus notices:")]
            check(p.returncode == 0 and line and line[0].startswith(want)
                  and (not key or "Gestore Beta" in line[0]),
                  "config with%s a notice key: %s" % ("" if key else "out", line))

        milter = pgtest.Milter(base, args.milter, config(args, base, port, key=True))
        milter.start()
        pf = pgtest.PrivatePostfix(base, port, milter.spec)
        pf.start()
        beta_box = "catchall@pec.beta.test"   # acquisti@ is not a named mailbox
        alfa_box = "catchall@pec.alfa.test"   # where Alfa's mailReceipt lands

        # 1. with Beta's key: held, not delivered, the notice reaches Alfa
        r = send(port, env, [RCPT])
        check(r[0] == "ok" and not r[1], "EICAR envelope accepted at SMTP (%s)" % (r,))
        held_after(pf, 0, "EICAR envelope")
        notices = []
        try:
            notices = pgtest.wait_for(lambda: pf.find(alfa_box, b"rilevazione-virus"), 30,
                                      "the notice at Alfa's mailReceipt")
        except RuntimeError:
            pass
        check(len(notices) == 1, "one notice delivered to Alfa's mailReceipt %s (%d)" %
              (ALFA_RECEIPTS, len(notices)))
        time.sleep(1.5)
        check(not pf.find(beta_box, env_ref), "the infected envelope is not delivered to %s" % RCPT)
        log = milter.logtext()
        qids = [q["queue_id"] for q in pf.held()]
        m = re.search(r"(\S+): virus notice sent: to=<%s> provider=Gestore Alfa virus=(\S+)" %
                      re.escape(ALFA_RECEIPTS), log)
        check(m is not None and m.group(1) in qids and "Eicar" in m.group(2),
              "the milter logs the notice with the held queue id %s, the provider, the virus" %
              (m.group(0) if m else None))
        if notices:
            path = os.path.join(base, "notice.eml")
            with open(path, "wb") as f:
                f.write(notices[0])
            check(b"X-Ricevuta: rilevazione-virus" in notices[0] and
                  b"Subject: PROBLEMA DI SICUREZZA: Documento da verificare" in notices[0] and
                  b"X-Riferimento-Message-ID: " + env_ref in notices[0],
                  "the notice's X-Ricevuta, Subject and X-Riferimento-Message-ID")
            check(re.search(rb"^Return-Path: <posta-certificata@pec\.beta\.test>", notices[0], re.M)
                  is not None, "envelope sender: Beta's posta-certificata@ address")
            p = subprocess.run([args.pecguard, "scan", "--json", "--av", "none",
                                "--state", os.path.join(base, "scan-state"),
                                "--providers", os.path.join(args.fixtures, "pki", "index.ldif"),
                                path], capture_output=True, text=True, timeout=120)
            j = json.loads(p.stdout) if p.returncode == 0 and p.stdout.strip() else {}
            failed = [r for r in j.get("reasons", [])
                      if r.split(":")[0] not in ("marker", "signature-valid", "signer-in-index",
                                                 "certificate-valid-at", "daticert-consistent",
                                                 "sender-domain-managed")]
            check(j.get("class") == "pec-receipt" and j.get("pec_type") == "rilevazione-virus"
                  and j.get("provider") == "Gestore Beta" and not failed,
                  "pecguard scan: %s %s %s, failed checks %s" %
                  (j.get("class"), j.get("pec_type"), j.get("provider"), failed or "none"))
        rc = milter.stop()
        check(rc == 0, "the milter with the notice key stops cleanly, exit %s (under ASan: no leak)" % rc)

        # 2. no notice key: still held, no notice
        m2 = pgtest.Milter(os.path.join(base, "m2"), args.milter,
                           config(args, base, port, key=False), sock=milter.sock)
        os.chmod(os.path.join(base, "m2"), 0o755)
        milter = m2
        milter.start()
        n_held = len(pf.held())
        r = send(port, env, [RCPT])
        check(r[0] == "ok", "no key: EICAR envelope accepted (%s)" % (r,))
        held_after(pf, n_held, "no key")
        time.sleep(3)
        check(len(pf.find(alfa_box, b"rilevazione-virus")) == 1, "no key: no new notice")
        check(not pf.find(beta_box, env_ref), "no key: the envelope is not delivered")
        check(re.search(r"\S+: held; no virus notice sent: pec.notice_key is not set",
                        milter.logtext()) is not None, "no key: the hold is logged without a notice")
        rc = milter.stop()
        check(rc == 0, "the milter without a notice key stops cleanly, exit %s (under ASan: no leak)" % rc)

        # 3. the notice cannot be submitted: still held, the failure logged
        dead = pgtest.free_port()
        m3 = pgtest.Milter(os.path.join(base, "m3"), args.milter,
                           config(args, base, port, key=True, dsn_port=dead), sock=milter.sock)
        os.chmod(os.path.join(base, "m3"), 0o755)
        milter = m3
        milter.start()
        n_held = len(pf.held())
        r = send(port, env, [RCPT])
        check(r[0] == "ok", "no SMTP server for the notice: envelope accepted (%s)" % (r,))
        held_after(pf, n_held, "no SMTP server for the notice")
        qids = [q["queue_id"] for q in pf.held()]
        m = re.search(r"(\S+): held, but the virus notice to Gestore Alfa <%s> could not be "
                      r"submitted" % re.escape(ALFA_RECEIPTS), milter.logtext())
        check(m is not None and m.group(1) in qids,
              "the failed notice is logged with the held queue id (%s)" % (m.group(0) if m else None))
        check(len(pf.find(alfa_box, b"rilevazione-virus")) == 1, "no SMTP server: no notice")
        rc = milter.stop()
        check(rc == 0, "the milter with no SMTP server for the notice stops cleanly, exit %s (under ASan: no leak)" % rc)
    except Exception as e:  # noqa: BLE001
        check(False, "harness: %s" % e)
        if milter:
            print(milter.logtext()[-3000:])
    finally:
        pgtest.teardown(base, pf, milter, keep=bool(failures))
    return summary()


if __name__ == "__main__":
    sys.exit(main())
