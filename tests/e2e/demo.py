#!/usr/bin/env python3
"""demo.py - pecguard live: a throw-away Postfix on loopback wired to
pecguard-milter on its built-in defaults (in-process ClamAV, LMDB state,
local log), a bundled demo set delivered over SMTP, and a table of what
each sender was told and what each mailbox received.  Everything it starts
it stops; everything it writes is in one temporary directory.

usage: demo.py --milter BIN --examples DIR   (DIR from pg-mkfixtures, with avdb/)
"""
import argparse
import email
import email.policy
import os
import re
import smtplib
import sys
import tempfile
import time
from email.message import EmailMessage

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import pgtest  # noqa: E402

EICAR = b"X5O!P%@AP[4\\PZX54(P^)7CC)7}$EICAR-" + b"STANDARD-ANTIVIRUS-TEST-FILE!$H+H*"


def ordinary(subject, body, sender="mario.bianchi@example.test", attach=None, reply_to=None):
    m = EmailMessage()
    m["From"] = sender
    m["To"] = "alice@pec.alfa.test"
    m["Subject"] = subject
    m["Date"] = email.utils.formatdate(localtime=True)
    m["Message-ID"] = email.utils.make_msgid(domain="example.test")
    if reply_to:
        m["Reply-To"] = reply_to
    m.set_content(body)
    if attach:
        m.add_attachment(attach[1], maintype="application", subtype="octet-stream", filename=attach[0])
    return m.as_bytes()


def send(port, sender, rcpts, data):
    """The reply to the end of data ("250 2.0.0 Ok: queued as QID" or the
    refusal), and the queue id when Postfix took the message."""
    try:
        with smtplib.SMTP("127.0.0.1", port, timeout=60) as s:
            s.ehlo("demo.example.test")
            s.mail(sender)
            for r in rcpts:
                s.rcpt(r)
            code, msg = s.data(data)
            text = msg.decode(errors="replace")
            m = re.search(r"queued as (\w+)", text)
            return "%d %s" % (code, text), (m.group(1) if code == 250 and m else None)
    except smtplib.SMTPException as e:
        return str(e), None


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--milter", required=True)
    ap.add_argument("--examples", required=True)
    args = ap.parse_args()
    if os.geteuid() != 0:
        print("the live demo runs a private Postfix: run it as root")
        return 1
    ex = os.path.abspath(args.examples)

    def fx(name):
        with open(os.path.join(ex, "messages", name), "rb") as f:
            return f.read()

    base = tempfile.mkdtemp(prefix="pecguard-demo-")
    os.chmod(base, 0o755)
    pf = milter = None
    try:
        # Postfix first: start() may move its listener off a port that
        # turned out to be taken; the milter's notifications go to the port
        # it really has.
        pf = pgtest.PrivatePostfix(base, pgtest.free_port(),
                                   "unix:" + os.path.join(base, "milter", "milter.sock"))
        pf.start()
        port = pf.port
        os.makedirs(os.path.join(base, "state"))
        os.makedirs(os.path.join(base, "spool"))
        with open(os.path.join(base, "policy.map"), "w") as f:
            f.write("carol@pec.alfa.test pec-only\n")
        # The built-in defaults, but for the paths of this throw-away run,
        # the project's test signature database (no official one here) and
        # the key of the test provider Gestore Alfa, as which this reception
        # point signs its virus notices.
        conf = """
providers = "%(ex)s/pki/index.ldif";
state_dir = "%(b)s/state";
antivirus = { database = "%(ex)s/avdb"; };
policy = { map = "%(b)s/policy.map"; };
pec = { notice_cert = "%(ex)s/pki/alfa.pem"; notice_key = "%(ex)s/pki/alfa.key"; };
milter = { socket = "unix:%(b)s/milter/milter.sock"; socket_mode = "0666"; log = "stderr";
           spool_dir = "%(b)s/spool"; events_file = "%(b)s/events.jsonl";
           dsn_smtp = "127.0.0.1:%(port)d"; reporting_mta = "mx.pec.alfa.test"; };
""" % {"ex": ex, "b": base, "port": port}
        milter = pgtest.Milter(base, args.milter, conf)
        milter.start()

        lure = ordinary("Invio File 4820157309",
                        "Gentile cliente,\nil Sistema di Interscambio (SdI) le ha inviato la fattura "
                        "IT01234567890_A1B2C.xml.p7m.\nLa scarichi da http://agenziaentrate-gov.it."
                        "example.net/fattura e aggiorni il suo indirizzo telematico entro 24 ore.\n"
                        "Agenzia delle Entrate\n", sender="Agenzia delle Entrate <noreply@sdi-notifiche.test>")
        typical = ordinary("Invio File 4820157311",
                           "Gentile cliente,\nil Sistema di Interscambio (SdI) ha ricevuto il file "
                           "IT01234567890_A1B2C.xml.p7m relativo alla sua fattura.\nLa preghiamo di "
                           "verificare il documento entro 24 ore.\nCordiali saluti\n")
        cases = [
            ("valid PEC envelope", "mittente@pec.beta.test", ["alice@pec.alfa.test"], fx("env-alfa-text.eml")),
            ("valid PEC receipt", "posta-certificata@pec.beta.test", ["alice@pec.alfa.test"],
             fx("rcpt-avvenuta-consegna-completa.eml")),
            ("fake PEC (altered)", "someone@example.test", ["bob@example.test"], fx("tamper-body-byte.eml")),
            ("fake PEC (unsigned)", "someone@example.test", ["bob@example.test"], fx("fake-unsigned-headers.eml")),
            ("invoice lure, typical", "mario.bianchi@example.test", ["bob@example.test"], typical),
            ("invoice lure, blatant", "noreply@sdi-notifiche.test", ["bob@example.test"], lure),
            ("EICAR, ordinary mail", "someone@example.test", ["bob@example.test"],
             ordinary("documento", "in allegato\n", attach=("doc.com", EICAR))),
            ("EICAR in PEC envelope", "mittente@pec.alfa.test", ["alice@pec.alfa.test"], fx("env-alfa-eicar-zip.eml")),
            ("lure in PEC envelope", "mittente@pec.alfa.test", ["alice@pec.alfa.test"],
             fx("env-alfa-lure-invoice.eml")),
            ("ham", "mario.bianchi@example.test", ["bob@example.test"], fx("peo-ham.eml")),
            ("ham to PEC-only box", "mario.bianchi@example.test", ["carol@pec.alfa.test"], fx("peo-ham.eml")),
            ("PEC to PEC-only box", "mittente@pec.beta.test", ["carol@pec.alfa.test"], fx("env-beta-cms-sha256.eml")),
            ("ham, mixed recipients", "bob@example.test", ["alice@pec.alfa.test", "carol@pec.alfa.test"],
             ordinary("Riunione", "Ci vediamo lunedi.\n", sender="bob@example.test")),
        ]
        results = []
        for name, sender, rcpts, data in cases:
            mid = email.message_from_bytes(data, policy=email.policy.compat32)["Message-ID"]
            reply, qid = send(port, sender, rcpts, data)
            results.append((name, sender, rcpts, reply, qid, mid))
        time.sleep(2)
        pf.flush_and_wait_empty(20)

        held = {q.get("queue_id"): q for q in pf.held()}
        print("\n%-22s %-28s %-62s %s" % ("MESSAGE", "RECIPIENT", "SMTP REPLY TO THE SENDER", "MAILBOX RECEIVED"))
        print("-" * 170)
        for name, sender, rcpts, reply, qid, mid in results:
            for i, rc in enumerate(rcpts):
                got = [m for m in pf.messages(rc) if mid and mid.encode() in m]
                if got:
                    h = email.message_from_bytes(got[-1], policy=email.policy.compat32)
                    what = "%s | %s | spam %s %s" % (h["Subject"][:34], (h["X-PECGuard-Class"] or "")[:30],
                                                     h["X-Spam-Flag"], h["X-Spam-Score"])
                    if h["X-PECGuard-Warning"]:
                        what += " | warning"
                elif qid is not None and qid in held:
                    what = "nothing: held in quarantine (queue id %s)" % qid
                else:
                    what = "nothing"
                shown = reply if len(reply) <= 62 else reply[:61] + "~"
                print("%-22s %-28s %-62s %s" % (name if i == 0 else "", rc,
                                                (shown if i == 0 else ""), what))
        print("\nwhat the senders were told afterwards (delivery status notifications):")
        for rc in ("bob@example.test",):
            for m in pf.find(rc, b"multipart/report"):
                h = email.message_from_bytes(m, policy=email.policy.compat32)
                text = m.decode(errors="replace")
                refused = [l.split(";")[1].strip() for l in text.splitlines() if l.startswith("Final-Recipient:")]
                print("  to %s: %s -- refused: %s" % (h["To"], h["Subject"], ", ".join(refused)))
        for m in pf.find("catchall@pec.alfa.test", b"X-Ricevuta: rilevazione-virus"):
            h = email.message_from_bytes(m, policy=email.policy.compat32)
            print("  to %s (the sending provider): %s -- a signed PEC receipt, X-Ricevuta: %s"
                  % (h["To"], h["Subject"], h["X-Ricevuta"]))
        print("\nheld in the Postfix queue (quarantine): %d message(s)" % len(pf.held()))
        print("the milter's log of every decision (queue id, class, antivirus, score, action):")
        for line in milter.logtext().splitlines():
            if "class=" in line:
                print("  " + line.split("pecguard-milter: ", 1)[-1][:200])
        return 0
    finally:
        pgtest.teardown(base, pf, milter)


if __name__ == "__main__":
    sys.exit(main())
