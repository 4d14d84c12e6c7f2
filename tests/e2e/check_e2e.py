#!/usr/bin/env python3
"""check_e2e.py - pecguard-milter end to end, through a real Postfix.

Starts its own Postfix (loopback port, virtual Maildirs), a private clamd
with the project's test database, and pecguard-milter on the project's own
PEC fixtures and providers' index; sends messages over SMTP and checks
what each Maildir received (headers, subject), what the SMTP client was
told, what Postfix holds, what the sender was notified, and the
milter's operations (SIGHUP reload, bad reload, bad configuration, spool,
privilege drop, SIGTERM).

usage: check_e2e.py --milter BIN --fixtures DIR --avdb DIR
Exit 0 all passed, 1 a check failed, 77 skipped (not root, no postfix or
clamd; a failure under PG_REQUIRE_ALL=1, see tests/pgcheck.py).
"""
import argparse
import email
import email.policy
import os
import shutil
import signal
import smtplib
import subprocess
import sys
import tempfile
import time
from email.message import EmailMessage

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import pgtest  # noqa: E402

EICAR = b"X5O!P%@AP[4\\PZX54(P^)7CC)7}$EICAR-" + b"STANDARD-ANTIVIRUS-TEST-FILE!$H+H*"
sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), ".."))
from pgcheck import check, failures, missing, summary  # noqa: E402


def send(port, data, rcpts, sender="mittente@example.test"):
    """Returns ("ok", refused) or (code, text)."""
    try:
        with smtplib.SMTP("127.0.0.1", port, timeout=120) as s:
            refused = s.sendmail(sender, rcpts, data)
            return ("ok", refused)
    except smtplib.SMTPDataError as e:
        return (e.smtp_code, e.smtp_error.decode(errors="replace"))
    except smtplib.SMTPRecipientsRefused as e:
        return ("refused", str(e.recipients))
    except smtplib.SMTPSenderRefused as e:
        return (e.smtp_code, e.smtp_error.decode(errors="replace"))


def hdrs(raw):
    return email.message_from_bytes(raw, policy=email.policy.compat32)


def mail(subject, body, attach=None, extra_headers=()):
    m = EmailMessage()
    m["From"] = "Mario Bianchi <mario.bianchi@example.test>"
    m["To"] = "destinatari@pec.alfa.test"
    m["Subject"] = subject
    m["Date"] = email.utils.formatdate(localtime=True)
    m["Message-ID"] = email.utils.make_msgid(domain="example.test")
    for k, v in extra_headers:
        m[k] = v
    m.set_content(body)
    if attach:
        name, data = attach
        m.add_attachment(data, maintype="application", subtype="octet-stream", filename=name)
    return m.as_bytes()


def fixture(args, name):
    with open(os.path.join(args.fixtures, "messages", name), "rb") as f:
        return f.read()


def msgid(raw):
    """The Message-ID line of a message, to find it among delivered ones."""
    return hdrs(raw)["Message-ID"].encode()


def latest(pf, addr, raw_or_needle):
    needle = raw_or_needle if len(raw_or_needle) < 200 else msgid(raw_or_needle)
    found = pf.find(addr, needle)
    return hdrs(found[-1]) if found else None


def wait_count(pf, addr, n, timeout=30):
    try:
        pgtest.wait_for(lambda: pf.count(addr) >= n, timeout, "%d message(s) for %s" % (n, addr))
        return True
    except RuntimeError:
        return False


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--milter", required=True)
    ap.add_argument("--fixtures", required=True)
    ap.add_argument("--avdb", required=True)
    args = ap.parse_args()
    if os.geteuid() != 0:
        return missing("end-to-end tests run a private Postfix: root needed")
    if not shutil.which("postfix") or not os.path.exists("/etc/postfix/master.cf"):
        return missing("postfix not installed")
    if not os.access(pgtest.CLAMD, os.X_OK):
        return missing("%s not installed (package clamav-daemon)" % pgtest.CLAMD)
    base = tempfile.mkdtemp(prefix="pg-e2e-")
    os.chmod(base, 0o755)
    pf = clamd = milter = None
    try:
        port = pgtest.free_port()
        clamd = pgtest.Clamd(base, "clamd", args.avdb)
        clamd.start()
        for d in ("state", "spool"):
            os.makedirs(os.path.join(base, d))
        policy = os.path.join(base, "policy.map")
        with open(policy, "w") as f:
            f.write("# PEC-only mailboxes\ncarol@pec.alfa.test pec-only\n@pec.beta.test pec-only\n"
                    "protocollo@pec.beta.test accept\n")
        conf = """
providers = "%(fx)s/pki/index.ldif";
state_dir = "%(b)s/state";
antivirus = { backend = "clamd:%(clamd)s"; connect_timeout_ms = 500; io_timeout_ms = 5000; };
policy = { map = "%(policy)s"; };
milter = {
  socket = "unix:%(b)s/milter/milter.sock";
  socket_mode = "0666";
  log = "stderr";
  events_file = "%(b)s/milter/events.jsonl";
  spool_dir = "%(b)s/spool";
  spool_threshold = 1048576;
  dsn_smtp = "127.0.0.1:%(port)d";
  reporting_mta = "mx.pec.alfa.test";
};
""" % {"fx": args.fixtures, "b": base, "clamd": clamd.spec, "policy": policy, "port": port}
        milter = pgtest.Milter(base, args.milter, conf)
        milter.start()
        pf = pgtest.PrivatePostfix(base, port, milter.spec)
        pf.start()

        # 1. a valid PEC envelope: delivered, labelled, never tagged
        env = fixture(args, "env-alfa-text.eml")
        r = send(port, env, ["alice@pec.alfa.test"])
        check(r[0] == "ok", "valid envelope accepted at SMTP (%s)" % (r,))
        if check(wait_count(pf, "alice@pec.alfa.test", 1), "valid envelope delivered to alice"):
            h = latest(pf, "alice@pec.alfa.test", env)
            check(h["X-PECGuard-Class"].startswith("pec-envelope; type=posta-certificata")
                  and 'provider="Gestore Alfa"' in h["X-PECGuard-Class"],
                  "X-PECGuard-Class: %s" % h["X-PECGuard-Class"])
            check(h["X-Spam-Flag"] == "NO" and h["Subject"].startswith("POSTA CERTIFICATA:"),
                  "envelope: X-Spam-Flag NO, subject untouched")
            check(h["X-Spam-Status"] is not None and h["X-Spam-Score"] is not None,
                  "X-Spam-Status and X-Spam-Score present")

        # 2. a valid receipt
        rc = fixture(args, "rcpt-avvenuta-consegna-completa.eml")
        r = send(port, rc, ["alice@pec.alfa.test"])
        if check(r[0] == "ok" and wait_count(pf, "alice@pec.alfa.test", 2), "receipt delivered"):
            h = latest(pf, "alice@pec.alfa.test", rc)
            check(h["X-PECGuard-Class"].startswith("pec-receipt; type=avvenuta-consegna"),
                  "receipt labelled: %s" % h["X-PECGuard-Class"])

        # 3. invalid PEC (altered envelope): the full verdict, labelled invalid
        tb = fixture(args, "tamper-body-byte.eml")
        r = send(port, tb, ["bob@example.test"])
        if check(r[0] == "ok" and wait_count(pf, "bob@example.test", 1),
                 "altered envelope delivered as ordinary mail"):
            h = latest(pf, "bob@example.test", tb)
            check(h["X-PECGuard-Class"].startswith("invalid-pec; claims=pec-envelope; "
                                                   "failed=signature-digest-mismatch"),
                  "X-PECGuard-Class: %s" % h["X-PECGuard-Class"])
            check(h["Subject"].startswith("[SPAM] ") and h["X-Spam-Flag"] == "YES",
                  "fake PEC is tagged: subject %r, flag %s" % (h["Subject"][:40], h["X-Spam-Flag"]))

        # 4. ordinary ham: delivered, not tagged
        n_bob = pf.count("bob@example.test")
        ham = fixture(args, "peo-ham.eml")
        r = send(port, ham, ["bob@example.test"])
        if check(r[0] == "ok" and wait_count(pf, "bob@example.test", n_bob + 1), "ham delivered"):
            h = latest(pf, "bob@example.test", ham)
            check(h["X-PECGuard-Class"] == "peo" and h["X-Spam-Flag"] == "NO"
                  and not h["Subject"].startswith("[SPAM]"), "ham: peo, not tagged")

        # 5. ordinary-mail invoice lures: a typical one is tagged; a blatant
        #    one (look-alike of agenziaentrate.gov.it, Reply-To elsewhere)
        #    goes over the reject mark and is refused with its reasons
        lure = mail("Invio File 4820157309",
                    "Gentile cliente,\nil Sistema di Interscambio (SdI) ha ricevuto il file "
                    "IT01234567890_A1B2C.xml.p7m relativo alla sua fattura.\nLa preghiamo di "
                    "verificare il documento entro 24 ore.\nCordiali saluti\n")
        n_bob = pf.count("bob@example.test")
        r = send(port, lure, ["bob@example.test"])
        if check(r[0] == "ok" and wait_count(pf, "bob@example.test", n_bob + 1),
                 "invoice lure delivered (tagged, not refused)"):
            h = latest(pf, "bob@example.test", lure)
            check(h["Subject"] == "[SPAM] Invio File 4820157309" and h["X-Spam-Flag"] == "YES"
                  and "INVOICE_" in h["X-PECGuard-Symbols"],
                  "lure: subject %r, X-Spam-Status %s" % (h["Subject"], h["X-Spam-Status"]))
        blatant = mail("Invio File 4820157310",
                       "Gentile cliente,\nil Sistema di Interscambio (SdI) ha ricevuto il file "
                       "IT01234567890_A1B2C.xml.p7m che trova in allegato.\nPer visualizzare la "
                       "fattura scarichi il documento dal link http://agenziaentrate-gov.it.evil.test/"
                       "fattura e aggiorni il suo indirizzo telematico entro 24 ore.\n"
                       "Agenzia delle Entrate - Sistema di Interscambio\n",
                       extra_headers=(("Reply-To", "fatture@evil.test"),))
        r = send(port, blatant, ["bob@example.test"])
        check(r[0] == 550 and "5.7.1" in r[1] and "spam" in r[1] and "URL_LOOKALIKE" in r[1],
              "blatant lure: 550 5.7.1 with the score and symbols (%s)" % (r,))

        # 6. EICAR in ordinary mail: refused at SMTP
        n_bob = pf.count("bob@example.test")
        r = send(port, mail("documento", "in allegato", ("doc.com", EICAR)), ["bob@example.test"])
        check(r[0] == 550 and "5.7.1" in r[1] and "Eicar" in r[1],
              "EICAR in ordinary mail: 550 5.7.1 naming the virus (%s)" % (r,))

        # 7. EICAR inside a valid envelope: accepted, held, not delivered
        n_alice = pf.count("alice@pec.alfa.test")
        held_before = len(pf.held())
        r = send(port, fixture(args, "env-alfa-eicar-zip.eml"), ["alice@pec.alfa.test"])
        check(r[0] == "ok", "EICAR inside an envelope: accepted at SMTP, not refused (%s)" % (r,))
        try:
            pgtest.wait_for(lambda: len(pf.held()) > held_before, 20, "a held message")
            check(True, "EICAR inside an envelope: held in the Postfix queue (quarantine)")
        except RuntimeError:
            check(False, "EICAR inside an envelope: held in the Postfix queue (quarantine)")
        time.sleep(1.5)
        check(pf.count("alice@pec.alfa.test") == n_alice, "the infected envelope is not delivered")
        check("milter triggers HOLD action" in pf.logtext(), "Postfix logs the milter hold")

        # 8. a PEC-only mailbox: ordinary mail refused, PEC accepted
        r = send(port, fixture(args, "peo-ham.eml"), ["carol@pec.alfa.test"])
        check(r[0] == 550 and "5.7.1" in r[1] and "PEC" in r[1],
              "ordinary mail to a PEC-only mailbox: 550 5.7.1 (%s)" % (r,))
        r = send(port, fixture(args, "env-alfa-text.eml"), ["carol@pec.alfa.test"])
        check(r[0] == "ok" and wait_count(pf, "carol@pec.alfa.test", 1),
              "a valid envelope reaches the PEC-only mailbox")
        r = send(port, fixture(args, "tamper-body-byte.eml"), ["giulia@pec.beta.test"])
        check(r[0] == 550, "fake PEC to a PEC-only domain: refused (%s)" % (r,))
        check(pf.count("carol@pec.alfa.test") == 1, "carol got nothing else")

        # 9. mixed recipients: the PEC-only ones are removed and the sender told
        n_alice = pf.count("alice@pec.alfa.test")
        n_bob = pf.count("bob@example.test")
        m = mail("Riunione di lunedi", "Ci vediamo lunedi alle 10.\n")
        r = send(port, m, ["alice@pec.alfa.test", "carol@pec.alfa.test", "protocollo@pec.beta.test",
                           "giulia@pec.beta.test"], sender="bob@example.test")
        check(r[0] == "ok", "mixed recipients: accepted at SMTP (%s)" % (r,))
        check(wait_count(pf, "alice@pec.alfa.test", n_alice + 1)
              and wait_count(pf, "protocollo@pec.beta.test", 1),
              "mixed: the accepting mailboxes (alice, protocollo@ exception) received it")
        check(pf.count("carol@pec.alfa.test") == 1 and pf.count("giulia@pec.beta.test") == 0,
              "mixed: the PEC-only mailboxes did not")
        if check(wait_count(pf, "bob@example.test", n_bob + 1)
                 and pf.find("bob@example.test", b"multipart/report"),
                 "mixed: the sender got a notification"):
            dsn = pf.find("bob@example.test", b"multipart/report")[-1]
            h = hdrs(dsn)
            text = dsn.decode(errors="replace")
            check(h.get_content_type() == "multipart/report"
                  and "Final-Recipient: rfc822; carol@pec.alfa.test" in text
                  and "Final-Recipient: rfc822; giulia@pec.beta.test" in text
                  and "alice@pec.alfa.test" not in text.split("message/delivery-status")[1].split("text/rfc822-headers")[0]
                  and "Status: 5.7.1" in text,
                  "the notification is a delivery status report naming carol and giulia only")

        # 10. a lure inside a valid envelope: delivered untouched, with a warning
        n_alice = pf.count("alice@pec.alfa.test")
        el = fixture(args, "env-alfa-lure-invoice.eml")
        r = send(port, el, ["alice@pec.alfa.test"])
        if check(r[0] == "ok" and wait_count(pf, "alice@pec.alfa.test", n_alice + 1),
                 "lure inside a valid envelope: delivered (the law forbids blocking it)"):
            h = latest(pf, "alice@pec.alfa.test", el)
            check(not h["Subject"].startswith("[SPAM]") and h["X-Spam-Flag"] == "NO",
                  "lure in envelope: never tagged")
            check(h["X-PECGuard-Warning"] is not None,
                  "lure in envelope: X-PECGuard-Warning explains (%s)" % (h["X-PECGuard-Warning"],))

        # 11. pre-labelled ordinary mail: our headers replace theirs
        n_bob = pf.count("bob@example.test")
        forged = mail("ciao", "ciao\n", extra_headers=(("X-PECGuard-Class", "pec-envelope"),
                                                       ("X-Spam-Flag", "NO"), ("X-Spam-Flag", "NO")))
        r = send(port, forged, ["bob@example.test"])
        if check(r[0] == "ok" and wait_count(pf, "bob@example.test", n_bob + 1), "pre-labelled mail delivered"):
            h = latest(pf, "bob@example.test", forged)
            check(h.get_all("X-PECGuard-Class") == ["peo"] and len(h.get_all("X-Spam-Flag")) == 1,
                  "forged labels removed: %s %s" % (h.get_all("X-PECGuard-Class"), h.get_all("X-Spam-Flag")))

        # 12. a big message goes through the spool file
        big = mail("grande", "allegato grande", ("dati.bin", os.urandom(3 * 1024 * 1024)))
        n_bob = pf.count("bob@example.test")
        r = send(port, big, ["bob@example.test"])
        check(r[0] == "ok" and wait_count(pf, "bob@example.test", n_bob + 1),
              "a 4 MB message (spooled to a private file) is delivered")
        check(os.listdir(os.path.join(base, "spool")) == [], "no spool file left behind")

        # 13. the antivirus down: tempfail, never clean; back up: accepted
        clamd.stop()
        r = send(port, fixture(args, "env-alfa-text.eml"), ["alice@pec.alfa.test"])
        check(r[0] == 451 and "4.7.1" in r[1], "clamd down: 451 4.7.1, even for PEC (%s)" % (r,))
        clamd.start()
        r = send(port, fixture(args, "env-alfa-text.eml"), ["alice@pec.alfa.test"])
        check(r[0] == "ok", "clamd back: accepted again")

        # 14. SIGHUP reloads the policy map; a bad configuration keeps the old one
        with open(policy, "a") as f:
            f.write("alice@pec.alfa.test pec-only\n")
        milter.signal(signal.SIGHUP)
        pgtest.wait_for(lambda: milter.logtext().count("reloaded:") >= 1, 20, "reload")
        r = send(port, fixture(args, "peo-ham.eml"), ["alice@pec.alfa.test"])
        check(r[0] == 550, "after SIGHUP, alice is PEC-only (%s)" % (r,))
        with open(milter.conf, "a") as f:
            f.write("\nthis is { not valid\n")
        milter.signal(signal.SIGHUP)
        pgtest.wait_for(lambda: "reload failed" in milter.logtext(), 20, "failed reload logged")
        check(milter.alive(), "a bad reload does not stop the milter")
        r = send(port, fixture(args, "env-alfa-text.eml"), ["alice@pec.alfa.test"])
        check(r[0] == "ok", "after a bad reload the old configuration still works")

        # 15. the log: queue id and verdict of every message; the event log
        log = milter.logtext()
        check("class=pec-envelope type=posta-certificata provider=Gestore Alfa" in log
              and "milter=quarantine" in log and "virus=Eicar-Test-Signature" in log,
              "the milter logs class, verdict and virus per message")
        ev = milter.events_list()
        check(len(ev) >= 15 and all(e.get("queue_id") and e.get("class") for e in ev),
              "event log: %d JSON lines with queue id and class" % len(ev))

        # 16. a bad configuration at start: clear error, non-zero exit
        bad = os.path.join(base, "bad.conf")
        with open(bad, "w") as f:
            f.write('providers = "";\nantivirus = { backend = "nonsense"; };\n'
                    'milter = { socket = "unix:%s/bad.sock"; log = "stderr"; };\n' % base)
        p = subprocess.run([args.milter, "--config", bad], capture_output=True, text=True, timeout=30)
        check(p.returncode != 0 and "antivirus" in p.stderr,
              "bad configuration at start: exit %d, %s" % (p.returncode, p.stderr.strip()[:120]))
        p = subprocess.run([args.milter, "--config", milter.conf.replace("pecguard.conf", "none.conf")],
                           capture_output=True, text=True, timeout=30)
        check(p.returncode != 0 and "cannot read" in p.stderr, "missing configuration file: clear error")

        # 17. privileges dropped after binding
        pconf = conf.replace("milter.sock", "milter2.sock").replace(
            'log = "stderr";', 'log = "stderr"; user = "nobody";').replace(
            'events_file = "%s/milter/events.jsonl";' % base, 'events_file = "";').replace(
            "state_dir = \"%s/state\"" % base, "state_dir = \"%s/state2\"" % base)
        os.makedirs(os.path.join(base, "state2"))
        shutil.chown(os.path.join(base, "state2"), "nobody")
        m2 = pgtest.Milter(os.path.join(base, "m2"), args.milter, pconf)
        os.chmod(os.path.join(base, "m2"), 0o755)
        m2.start()
        uid = None
        with open("/proc/%d/status" % m2.proc.pid) as f:
            for line in f:
                if line.startswith("Uid:"):
                    uid = line.split()[1:]
        check(uid is not None and all(u == "65534" for u in uid),
              "milter.user=nobody: running as uid %s after binding" % (uid,))
        check(os.stat(os.path.join(base, "milter", "milter2.sock")).st_uid == 65534,
              "the socket belongs to the milter user")
        m2.stop()

        # 18. SIGTERM: graceful stop
        t0 = time.monotonic()
        rc = milter.stop(timeout=20)
        check(rc == 0, "SIGTERM: exit %s in %.1f s" % (rc, time.monotonic() - t0))
    except Exception as e:  # noqa: BLE001
        check(False, "harness: %s" % e)
        if milter:
            print(milter.logtext()[-3000:])
    finally:
        if pf:
            pf.stop()
        if milter:
            milter.stop()
        if clamd:
            clamd.stop()
        if not failures:
            shutil.rmtree(base, ignore_errors=True)
        else:
            print("kept for inspection:", base)
    return summary()


if __name__ == "__main__":
    sys.exit(main())
