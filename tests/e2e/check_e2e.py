#!/usr/bin/env python3
"""check_e2e.py - pecguard-milter end to end, through a real Postfix.

Starts its own Postfix (loopback ports, virtual Maildirs), a private clamd
with the project's test database, and pecguard-milter on the project's own
PEC fixtures and providers' index; sends messages over SMTP and checks
what each Maildir received (headers, subject) -- and, for every message
refused at SMTP or held, that no Maildir received it --, what the SMTP
client was told, which message Postfix holds (queue id, recipient,
Message-ID), what the sender was notified, and the milter's operations:
the spool file for big messages, SIGHUP reload of the policy map and the
providers' index, a bad reload, outbreak signatures applied without a
reload, a bad configuration, privilege drop, SIGTERM.

A second SMTP listener of the same Postfix is wired to a second
pecguard-milter listening on inet:PORT@127.0.0.1 with the in-process
ClamAV backend (a copy of the test database): messages through the inet
socket, and a signature added to the database taking effect on SIGHUP.

usage: check_e2e.py --milter BIN --fixtures DIR --avdb DIR [--pecguard CLI]
Exit 0 all passed, 1 a check failed, 77 skipped (not root, no postfix or
clamd; a failure under PG_REQUIRE_ALL=1, see tests/pgcheck.py).
"""
import argparse
import email
import email.policy
import email.utils
import os
import re
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

SPOOL_THRESHOLD = 1048576


class SMTP(smtplib.SMTP):
    """smtplib's client, keeping the reply to DATA (it names the queue id)."""
    last_data_reply = (None, b"")

    def data(self, msg):
        code, resp = super().data(msg)
        self.last_data_reply = (code, resp)
        return code, resp


def send(port, data, rcpts, sender="mittente@example.test"):
    """Returns ("ok", refused, queue_id) or (code, text) or ("refused", text)."""
    try:
        with SMTP("127.0.0.1", port, timeout=120) as s:
            refused = s.sendmail(sender, rcpts, data)
            m = re.search(rb"queued as ([0-9A-Za-z]+)", s.last_data_reply[1])
            return ("ok", refused, m.group(1).decode() if m else None)
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
    """The Message-ID of a message, to find it among delivered ones."""
    return hdrs(raw)["Message-ID"].strip().encode()


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


def settled(pf):
    """Every mailbox's files once nothing is in flight: what a refused
    message is compared against."""
    pf.settle()
    return pf.snapshot()


def nothing_delivered(pf, before, what):
    """After a message was refused at SMTP (or held): once Postfix has
    nothing in flight, no Maildir has a file it did not have before.  A
    message accepted by mistake would be in the queue when the client got
    its reply, so settling first leaves no race."""
    try:
        pf.settle()
    except RuntimeError:
        return check(False, "%s: the Postfix queue settles" % what)
    new = pf.new_since(before)
    return check(not new, "%s: no Maildir received it%s"
                 % (what, "" if not new else " (new in %s)" % sorted(new)))


def one_new(pf, before, addr, what):
    """The single message delivered to addr since snapshot before."""
    new = pf.new_since(before).get(addr, [])
    if not check(len(new) == 1, "%s: one message delivered to %s (%d)" % (what, addr, len(new))):
        return None
    return hdrs(new[0])


def unfold(v):
    return re.sub(r"\r?\n[ \t]", " ", v) if v else v


def status_shape(h):
    """X-Spam-Status exactly as SpamAssassin writes it: the tests= list is
    the X-PECGuard-Symbols names, in order, right after 'tests='."""
    names = [x.split("=")[0].strip() for x in unfold(h["X-PECGuard-Symbols"]).split(",")]
    if names == ["none"]:
        names = []
    st = re.sub(r",\r?\n\t", ",", h["X-Spam-Status"] or "")
    m = re.fullmatch(r"(Yes|No), score=(-?\d+\.\d) required=\d+\.\d tests=(\S+) version=pecguard-\S+", st)
    return (m is not None and m.group(2) == h["X-Spam-Score"]
            and m.group(3).split(",") == (names or ["none"])), st


def reloads(m):
    return m.logtext().count(" reloaded: ")


def sighup(m, what):
    n = reloads(m)
    m.signal(signal.SIGHUP)
    try:
        pgtest.wait_for(lambda: reloads(m) > n or "reload failed" in m.logtext()[-2000:], 20, what)
    except RuntimeError:
        pass
    return check(reloads(m) > n, "SIGHUP: %s" % what)


def providers_in(line_kind, m):
    """The provider count of the milter's last 'started on'/'reloaded:' line."""
    found = re.findall(r"%s.*?(\d+) providers" % line_kind, m.logtext())
    return int(found[-1]) if found else None


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--milter", required=True)
    ap.add_argument("--fixtures", required=True)
    ap.add_argument("--avdb", required=True)
    ap.add_argument("--pecguard", help="the CLI (default: next to the milter)")
    args = ap.parse_args()
    if args.pecguard is None:
        args.pecguard = os.path.join(os.path.dirname(os.path.abspath(args.milter)), "pecguard")
    why = pgtest.postfix_unavailable()
    if why:
        return missing(why)
    if not os.access(pgtest.CLAMD, os.X_OK):
        return missing("%s not installed (package clamav-daemon)" % pgtest.CLAMD)
    base = tempfile.mkdtemp(prefix="pg-e2e-")
    os.chmod(base, 0o755)
    pf = clamd = milter = mi = None
    # (Message-ID, what) of every message that no Maildir may ever hold
    never = []
    try:
        clamd = pgtest.Clamd(base, "clamd", args.avdb)
        clamd.start()
        for d in ("state", "spool", "state-inet"):
            os.makedirs(os.path.join(base, d))
        spool = os.path.join(base, "spool")
        policy = os.path.join(base, "policy.map")
        with open(policy, "w") as f:
            f.write("# PEC-only mailboxes\ncarol@pec.alfa.test pec-only\n@pec.beta.test pec-only\n"
                    "protocollo@pec.beta.test accept\n")
        # The providers' index the main milter reads: a copy, so that the
        # test can swap it and reload.
        full_index = os.path.join(args.fixtures, "pki", "index.ldif")
        providers = os.path.join(base, "providers.ldif")
        shutil.copy(full_index, providers)
        # The inet milter's signature database: a copy, to add to.
        avdb = os.path.join(base, "avdb-inet")
        shutil.copytree(args.avdb, avdb)

        # The second milter, on inet, in-process ClamAV.
        def inet_conf(mport):
            return """
providers = "%(idx)s";
state_dir = "%(b)s/state-inet";
antivirus = { backend = "clamav"; database = "%(db)s"; };
milter = { socket = "inet:%(mport)d@127.0.0.1"; log = "stderr"; };
""" % {"idx": full_index, "b": base, "db": avdb, "mport": mport}
        mi, mport = pgtest.start_inet_milter(os.path.join(base, "inet"), args.milter, inet_conf)

        main_sock = os.path.join(base, "milter", "milter.sock")
        pf = pgtest.PrivatePostfix(base, pgtest.free_port(), "unix:" + main_sock)
        pf.add_smtpd(pgtest.free_port(), mi.spec)
        pf.start()
        port = pf.port
        port_inet = [p for p in pf.ports if p != port][0]

        conf = """
providers = "%(providers)s";
state_dir = "%(b)s/state";
antivirus = { backend = "clamd:%(clamd)s"; connect_timeout_ms = 500; io_timeout_ms = 5000; };
policy = { map = "%(policy)s"; };
milter = {
  socket = "unix:%(b)s/milter/milter.sock";
  socket_mode = "0666";
  log = "stderr";
  events_file = "%(b)s/milter/events.jsonl";
  spool_dir = "%(spool)s";
  spool_threshold = %(thr)d;
  dsn_smtp = "127.0.0.1:%(port)d";
  reporting_mta = "mx.pec.alfa.test";
};
""" % {"providers": providers, "b": base, "clamd": clamd.spec, "policy": policy, "port": port,
       "spool": spool, "thr": SPOOL_THRESHOLD}
        milter = pgtest.Milter(base, args.milter, conf, sock=main_sock)
        milter.start()

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
            ok, st = status_shape(h)
            check(ok and st.startswith("No, "), "ham: X-Spam-Status %r" % st)

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
            ok, st = status_shape(h)
            check(ok and st.startswith("Yes, ") and re.search(r"[=,]INVOICE_", st) is not None,
                  "lure: X-Spam-Status is 'Yes, score=S required=R tests=SYM,SYM version=...' "
                  "with no stray comma: %r" % st)
        blatant = mail("Invio File 4820157310",
                       "Gentile cliente,\nil Sistema di Interscambio (SdI) ha ricevuto il file "
                       "IT01234567890_A1B2C.xml.p7m che trova in allegato.\nPer visualizzare la "
                       "fattura scarichi il documento dal link http://agenziaentrate-gov.it.evil.test/"
                       "fattura e aggiorni il suo indirizzo telematico entro 24 ore.\n"
                       "Agenzia delle Entrate - Sistema di Interscambio\n",
                       extra_headers=(("Reply-To", "fatture@evil.test"),))
        before = settled(pf)
        r = send(port, blatant, ["bob@example.test"])
        check(r[0] == 550 and "5.7.1" in r[1] and "spam" in r[1] and "URL_LOOKALIKE" in r[1],
              "blatant lure: 550 5.7.1 with the score and symbols (%s)" % (r,))
        nothing_delivered(pf, before, "blatant lure refused")
        never.append((msgid(blatant), "the blatant lure"))

        # 6. EICAR in ordinary mail: refused at SMTP
        eicar_peo = mail("documento", "in allegato", ("doc.com", EICAR))
        before = settled(pf)
        r = send(port, eicar_peo, ["bob@example.test"])
        check(r[0] == 550 and "5.7.1" in r[1] and "Eicar" in r[1],
              "EICAR in ordinary mail: 550 5.7.1 naming the virus (%s)" % (r,))
        nothing_delivered(pf, before, "EICAR in ordinary mail")
        never.append((msgid(eicar_peo), "EICAR in ordinary mail"))

        # 7. EICAR inside a valid envelope: accepted, held, not delivered;
        #    the held message is this one (queue id of the SMTP reply, its
        #    recipient and Message-ID in the queue file)
        infected = fixture(args, "env-alfa-eicar-zip.eml")
        before = settled(pf)
        r = send(port, infected, ["alice@pec.alfa.test"])
        check(r[0] == "ok" and r[2], "EICAR inside an envelope: accepted at SMTP, not refused (%s)" % (r,))
        qid = r[2] if r[0] == "ok" else None
        entry = None
        try:
            entry = pgtest.wait_for(lambda: [q for q in pf.held() if q.get("queue_id") == qid], 20,
                                    "message %s held" % qid)[0]
        except RuntimeError:
            pass
        check(entry is not None, "EICAR inside an envelope: %s is in the hold queue (quarantine)" % qid)
        if entry:
            rcpts = [x.get("address") for x in entry.get("recipients", [])]
            check(rcpts == ["alice@pec.alfa.test"] and entry.get("sender") == "mittente@example.test",
                  "held %s: from %s to %s" % (qid, entry.get("sender"), rcpts))
            pc = pf.postcat(qid)
            check(("Message-ID: " + msgid(infected).decode()) in pc
                  and re.search(r"X-PECGuard-Virus: Eicar-Test-Signature\S* in ", pc) is not None,
                  "postcat -q %s: the envelope's Message-ID and X-PECGuard-Virus" % qid)
        check("%s: milter-hold: END-OF-MESSAGE" % qid in pf.logtext(),
              "Postfix logs the milter hold of %s" % qid)
        check(re.search(r"%s: class=pec-envelope .*milter=quarantine" % qid, milter.logtext()) is not None,
              "the milter logs %s as quarantined" % qid)
        nothing_delivered(pf, before, "the infected envelope (held)")
        never.append((msgid(infected), "the infected envelope"))

        # 8. a PEC-only mailbox: ordinary mail refused, PEC accepted
        before = settled(pf)
        r = send(port, fixture(args, "peo-ham.eml"), ["carol@pec.alfa.test"])
        check(r[0] == 550 and "5.7.1" in r[1] and "PEC" in r[1],
              "ordinary mail to a PEC-only mailbox: 550 5.7.1 (%s)" % (r,))
        nothing_delivered(pf, before, "ordinary mail to a PEC-only mailbox")
        # the same mailbox by another spelling: Postfix delivers carol+x@ and
        # "carol"@ to carol, so the PEC-only policy must hold for them too
        for alias in ("carol+newsletter@pec.alfa.test", '"carol"@pec.alfa.test', "Carol@PEC.alfa.test"):
            before = settled(pf)
            r = send(port, fixture(args, "peo-ham.eml"), [alias])
            check(r[0] == 550 and "5.7.1" in r[1],
                  "ordinary mail to the PEC-only mailbox as %s: 550 5.7.1 (%s)" % (alias, r))
            nothing_delivered(pf, before, "ordinary mail to %s" % alias)
        r = send(port, fixture(args, "env-alfa-text.eml"), ["carol@pec.alfa.test"])
        check(r[0] == "ok" and wait_count(pf, "carol@pec.alfa.test", 1),
              "a valid envelope reaches the PEC-only mailbox")
        before = settled(pf)
        r = send(port, fixture(args, "tamper-body-byte.eml"), ["giulia@pec.beta.test"])
        check(r[0] == 550, "fake PEC to a PEC-only domain: refused (%s)" % (r,))
        nothing_delivered(pf, before, "fake PEC to a PEC-only domain")
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
            w = re.sub(r",\r?\n\t", ", ", h["X-PECGuard-Warning"] or "")
            check(re.fullmatch(r"the certified message scores \d+\.\d \(spam threshold \d+\.\d\); PEC "
                               r"from the circuit is never spam-tagged: [A-Z][A-Z0-9_]*(, [A-Z][A-Z0-9_]*)*",
                               w) is not None,
                  "lure in envelope: X-PECGuard-Warning lists the symbols, no stray comma (%r)" % w)
            ok, st = status_shape(h)
            check(ok and st.startswith("No, "), "lure in envelope: X-Spam-Status %r" % st)

        # 11. pre-labelled ordinary mail: our headers replace theirs
        n_bob = pf.count("bob@example.test")
        forged = mail("ciao", "ciao\n", extra_headers=(("X-PECGuard-Class", "pec-envelope"),
                                                       ("X-Spam-Flag", "NO"), ("X-Spam-Flag", "NO")))
        r = send(port, forged, ["bob@example.test"])
        small_qid = r[2] if r[0] == "ok" else None
        if check(r[0] == "ok" and wait_count(pf, "bob@example.test", n_bob + 1), "pre-labelled mail delivered"):
            h = latest(pf, "bob@example.test", forged)
            check(h.get_all("X-PECGuard-Class") == ["peo"] and len(h.get_all("X-Spam-Flag")) == 1,
                  "forged labels removed: %s %s" % (h.get_all("X-PECGuard-Class"), h.get_all("X-Spam-Flag")))

        # 12. a big message goes through the spool file: the milter says so,
        #     for this queue id and no other
        big = mail("grande", "allegato grande", ("dati.bin", os.urandom(3 * 1024 * 1024)))
        n_bob = pf.count("bob@example.test")
        r = send(port, big, ["bob@example.test"])
        check(r[0] == "ok" and wait_count(pf, "bob@example.test", n_bob + 1),
              "a 4 MB message (spooled to a private file) is delivered")
        big_qid = r[2] if r[0] == "ok" else None
        spooled = re.findall(r"(\w+): (\d+) bytes spooled to a private file in (\S+) \(over (\d+)\)",
                             milter.logtext())
        check(len(spooled) == 1 and spooled[0][0] == big_qid and int(spooled[0][1]) > 3 * 1024 * 1024
              and spooled[0][2] == spool and int(spooled[0][3]) == SPOOL_THRESHOLD,
              "the milter spooled %s (over milter.spool_threshold) and only it: %s" % (big_qid, spooled))
        check(small_qid is not None and ("%s: class=" % small_qid) in milter.logtext()
              and all(s[0] != small_qid for s in spooled),
              "a small message (%s) stays in memory" % small_qid)
        check(os.listdir(spool) == [], "no spool file left behind")

        # 13. the antivirus down: tempfail, never clean; back up: accepted
        clamd.stop()
        before = settled(pf)
        r = send(port, fixture(args, "env-alfa-text.eml"), ["alice@pec.alfa.test"])
        check(r[0] == 451 and "4.7.1" in r[1], "clamd down: 451 4.7.1, even for PEC (%s)" % (r,))
        nothing_delivered(pf, before, "tempfailed while clamd is down")
        clamd.start()
        r = send(port, fixture(args, "env-alfa-text.eml"), ["alice@pec.alfa.test"])
        check(r[0] == "ok", "clamd back: accepted again")

        # 14. an outbreak signature added with the CLI applies to the next
        #     message, without a reload (the milter reads the store per scan)
        sample = b"campione della campagna " + os.urandom(24).hex().encode() + b"\n"
        before = settled(pf)
        first = mail("Fattura marzo", "in allegato\n", ("fattura.dat", sample))
        r = send(port, first, ["bob@example.test"])
        if check(r[0] == "ok", "outbreak sample before its signature: accepted (%s)" % (r,)):
            pf.settle()
            h = one_new(pf, before, "bob@example.test", "outbreak sample before its signature")
            check(h is not None and h["X-PECGuard-Virus"] is None, "... and clean")
        sample_file = os.path.join(base, "sample.dat")
        with open(sample_file, "wb") as f:
            f.write(sample)
        n_reloads = reloads(milter)
        p = subprocess.run([args.pecguard, "outbreak", "add", sample_file, "--name", "E2eCampaign",
                            "--state", os.path.join(base, "state")],
                           capture_output=True, text=True, timeout=60)
        check(p.returncode == 0, "pecguard outbreak add: exit %d %s" % (p.returncode, p.stderr.strip()[:200]))
        second = mail("Fattura aprile", "in allegato\n", ("fattura.dat", sample))
        before = settled(pf)
        r = send(port, second, ["bob@example.test"])
        check(r[0] == 550 and "5.7.1" in r[1] and "PECGuard.Outbreak.E2eCampaign" in r[1],
              "the same sample after 'outbreak add': 550 5.7.1 naming the outbreak (%s)" % (r,))
        check(reloads(milter) == n_reloads, "... with no reload in between")
        nothing_delivered(pf, before, "the outbreak sample")
        never.append((msgid(second), "the outbreak sample"))

        # 15. SIGHUP reloads the policy map...
        with open(policy, "a") as f:
            f.write("alice@pec.alfa.test pec-only\n")
        sighup(milter, "policy map reloaded")
        before = settled(pf)
        r = send(port, fixture(args, "peo-ham.eml"), ["alice@pec.alfa.test"])
        check(r[0] == 550, "after SIGHUP, alice is PEC-only (%s)" % (r,))
        nothing_delivered(pf, before, "ordinary mail to alice, PEC-only since the reload")

        #     ... and the providers' index: without Gestore Alfa its
        #     envelope is invalid PEC; with the full index back, valid again
        n_full = providers_in("started on", milter)
        with open(full_index) as f:
            blocks = f.read().split("\n\n")
        with open(providers + ".new", "w") as f:
            f.write("\n\n".join(b for b in blocks if not b.startswith("dn: providerName=Gestore Alfa,")))
        os.rename(providers + ".new", providers)
        if sighup(milter, "providers' index without Gestore Alfa"):
            check(n_full is not None and providers_in("reloaded:", milter) == n_full - 1,
                  "reloaded with %s providers (was %s)" % (providers_in("reloaded:", milter), n_full))
            before = settled(pf)
            r = send(port, env, ["bob@example.test"])
            if check(r[0] == "ok", "Gestore Alfa's envelope accepted (%s)" % (r,)):
                pf.settle()
                h = one_new(pf, before, "bob@example.test", "envelope, Alfa not in the index")
                check(h is not None and h["X-PECGuard-Class"].startswith(
                    "invalid-pec; claims=pec-envelope; failed=signer-not-in-index"),
                    "provider missing from the index: %s" % (h and h["X-PECGuard-Class"]))
        shutil.copy(full_index, providers + ".new")
        os.rename(providers + ".new", providers)
        if sighup(milter, "full providers' index back"):
            check(providers_in("reloaded:", milter) == n_full,
                  "reloaded with %s providers" % providers_in("reloaded:", milter))
            before = settled(pf)
            r = send(port, env, ["bob@example.test"])
            if check(r[0] == "ok", "the same envelope accepted (%s)" % (r,)):
                pf.settle()
                h = one_new(pf, before, "bob@example.test", "envelope, Alfa back in the index")
                check(h is not None and h["X-PECGuard-Class"].startswith("pec-envelope; type=posta-certificata")
                      and 'provider="Gestore Alfa"' in h["X-PECGuard-Class"],
                      "the same envelope is valid PEC again: %s" % (h and h["X-PECGuard-Class"]))

        #     ... a bad configuration keeps the old one
        with open(milter.conf, "a") as f:
            f.write("\nthis is { not valid\n")
        milter.signal(signal.SIGHUP)
        pgtest.wait_for(lambda: "reload failed" in milter.logtext(), 20, "failed reload logged")
        check(milter.alive(), "a bad reload does not stop the milter")
        r = send(port, fixture(args, "env-alfa-text.eml"), ["alice@pec.alfa.test"])
        check(r[0] == "ok", "after a bad reload the old configuration still works")

        # 16. the milter on an inet socket (second listener), in-process
        #     ClamAV: a signature added to its database applies on SIGHUP
        check(("started on inet:%d@127.0.0.1" % mport) in mi.logtext(),
              "second milter listening on inet:%d@127.0.0.1" % mport)
        marker = b"PECGUARD-E2E-RELOAD-" + os.urandom(12).hex().upper().encode()
        payload = b"dati di prova\n" + marker + b"\n"
        before = settled(pf)
        m_a = mail("prova inet", "in allegato\n", ("prova.dat", payload))
        r = send(port_inet, m_a, ["bob@example.test"])
        qa = r[2] if r[0] == "ok" else None
        if check(qa is not None, "through the inet milter: accepted (%s)" % (r,)):
            pf.settle()
            h = one_new(pf, before, "bob@example.test", "through the inet milter")
            check(h is not None and h["X-PECGuard-Class"] == "peo" and h["X-Spam-Status"] is not None,
                  "through the inet milter: delivered with pecguard's headers")
            check(re.search(r"%s: class=peo .*milter=accept" % qa, mi.logtext()) is not None
                  and ("%s: " % qa) not in milter.logtext(),
                  "%s was decided by the inet milter, not the unix one" % qa)
        with open(os.path.join(avdb, "pecguard-e2e.ndb"), "w") as f:
            f.write("Pecguard-E2E-Reload:0:*:%s\n" % marker.hex())
        before = settled(pf)
        r = send(port_inet, mail("prova inet 2", "in allegato\n", ("prova.dat", payload)), ["bob@example.test"])
        check(r[0] == "ok", "new signature file, no SIGHUP yet: the running engine still passes it (%s)"
              % (r,))
        if sighup(mi, "inet milter, signatures reloaded"):
            before = settled(pf)
            m_c = mail("prova inet 3", "in allegato\n", ("prova.dat", payload))
            r = send(port_inet, m_c, ["bob@example.test"])
            check(r[0] == 550 and "5.7.1" in r[1] and "Pecguard-E2E-Reload" in r[1],
                  "after SIGHUP the new signature is found: 550 5.7.1 (%s)" % (r,))
            nothing_delivered(pf, before, "the message the new signature finds")
            never.append((msgid(m_c), "the message the new signature finds"))

        # 17. the log: queue id and verdict of every message; the event log
        log = milter.logtext()
        check("class=pec-envelope type=posta-certificata provider=Gestore Alfa" in log
              and "milter=quarantine" in log and "virus=Eicar-Test-Signature" in log,
              "the milter logs class, verdict and virus per message")
        ev = milter.events_list()
        check(len(ev) >= 15 and all(e.get("queue_id") and e.get("class") for e in ev),
              "event log: %d JSON lines with queue id and class" % len(ev))

        # 18. a bad configuration at start: clear error, non-zero exit
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

        # 19. privileges dropped after binding
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

        # 20. no message refused or held above is in any Maildir, now that
        #     everything accepted has been delivered
        pf.settle()
        everything = [raw for addr in pf.snapshot() for raw in pf.messages(addr)]
        for mid, what in never:
            found = [raw for raw in everything if mid in raw]
            check(not found, "%s (%s) is in no Maildir" % (what, mid.decode()))

        # 21. SIGTERM: graceful stop (both milters; under ASan, their leak
        #     check at exit is part of the status)
        t0 = time.monotonic()
        rc = milter.stop(timeout=20)
        check(rc == 0, "SIGTERM: exit %s in %.1f s" % (rc, time.monotonic() - t0))
        rc = mi.stop(timeout=20)
        check(rc == 0, "SIGTERM, inet milter (in-process ClamAV, reloaded): exit %s" % rc)
    except Exception as e:  # noqa: BLE001
        check(False, "harness: %s" % e)
        if milter:
            print(milter.logtext()[-3000:])
        if mi:
            print(mi.logtext()[-2000:])
    finally:
        pgtest.teardown(base, pf, milter, mi, clamd, keep=bool(failures))
    return summary()


if __name__ == "__main__":
    sys.exit(main())
