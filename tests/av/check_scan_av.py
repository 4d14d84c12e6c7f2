#!/usr/bin/env python3
"""check_scan_av.py - the antivirus stage end to end through `pecguard scan`.

With the real in-process libclamav and a real private clamd (both loading
the project's test database), checks what issue 3 promises:
  - EICAR (plain and zipped) inside PEC envelopes is found, and the envelope
    is quarantined, not rejected (the PEC rule); in ordinary mail, rejected;
  - ClamAV's own test files mailed as attachments are found;
  - clamd down (dead socket), or killed in the middle of a run: tempfail,
    never clean;
  - outbreak signatures: a sample's SHA-256 added with `pecguard outbreak
    add` is found from the next scan, in-process and clamd alike, also
    inside a PEC envelope; removed, it is not;
  - heuristic threat indicators never stop a valid PEC envelope.

usage: check_scan_av.py --pecguard BIN --avdb DIR --fixtures DIR
                        [--shared DIR] [--testfiles DIR --detected LIST]
Exit 0 all passed, 1 a check failed, 77 skipped (no clamd; a failure under
PG_REQUIRE_ALL=1, see tests/pgcheck.py).
"""
import argparse
import email.message
import email.policy
import json
import os
import shutil
import subprocess
import sys
import tempfile
import time
import zipfile

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from check_clamd import EICAR, Clamd, CLAMD  # noqa: E402

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), ".."))
from pgcheck import check, missing, summary  # noqa: E402


def scan(args, state, av, paths, extra=()):
    cmd = [args.pecguard, "scan", "--json", "--state", state, "--av", av,
           "--av-db", args.avdb, "--providers", os.path.join(args.fixtures, "pki/index.ldif")]
    cmd += list(extra) + list(paths)
    p = subprocess.run(cmd, capture_output=True, text=True, timeout=300)
    out = {}
    for line in p.stdout.splitlines():
        o = json.loads(line)
        out[os.path.basename(o["path"])] = o
    return p, out


def mail_with(name, data, subject="documenti"):
    m = email.message.EmailMessage(policy=email.policy.SMTP)
    m["From"] = "mittente@example.test"
    m["To"] = "destinatario@example.test"
    m["Subject"] = subject
    m["Message-ID"] = "<%s@example.test>" % name.replace("/", "_")
    m.set_content("In allegato il documento.\n")
    m.add_attachment(data, maintype="application", subtype="octet-stream", filename=name)
    return m.as_bytes()


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--pecguard", required=True)
    ap.add_argument("--avdb", required=True)
    ap.add_argument("--fixtures", required=True)
    ap.add_argument("--shared", default=None)
    ap.add_argument("--testfiles", default=None)
    ap.add_argument("--detected", default=None)
    args = ap.parse_args()
    if not os.path.exists(CLAMD):
        return missing("%s not installed (package clamav-daemon)" % CLAMD)
    msgs = os.path.join(args.fixtures, "messages")
    tmp = tempfile.mkdtemp(prefix="pg-scan-av-")
    clamd = None
    try:
        state = os.path.join(tmp, "state")
        # ---- in-process: the project's fixtures ----------------------------
        p, out = scan(args, state, "clamav", [msgs])
        check(p.returncode == 0, "scan of own fixtures exits 0 (%s)" % p.stderr.strip()[-200:])
        for f in ("env-alfa-eicar.eml", "env-alfa-eicar-zip.eml"):
            o = out.get(f, {})
            check(o.get("class") == "pec-envelope" and o["av"]["status"] == "infected"
                  and o["action"] == "quarantine"
                  and any(v["name"] == "Eicar-Test-Signature.UNOFFICIAL" for v in o["av"]["viruses"]),
                  "%s: EICAR inside a valid envelope: quarantine" % f)
            check(any("postacert.eml/" in v["part"] for v in o.get("av", {}).get("viruses", [])),
                  "%s: the part inside postacert.eml is named" % f)
        clean = [f for f, o in out.items() if "eicar" not in f]
        check(all(out[f]["av"]["status"] == "clean" for f in clean),
              "every other fixture is clean (%d)" % len(clean))
        check(all(out[f]["av"]["backend"] == "clamav" for f in out), "backend reported: clamav")
        lure = out.get("env-alfa-lure-invoice.eml", {})
        check(lure.get("class") == "pec-envelope" and lure.get("action") == "none",
              "a lure with a zipped script inside a valid envelope is not stopped "
              "(threat symbols only: %s)" % [s["name"] for s in lure.get("symbols", [])])

        # ---- pecguard config: the same engine, checked without scanning ------
        prov = os.path.join(args.fixtures, "pki/index.ldif")
        p = subprocess.run([args.pecguard, "config", "--state", state, "--av", "clamav",
                            "--av-db", args.avdb, "--providers", prov],
                           capture_output=True, text=True, timeout=120)
        check(p.returncode == 0 and p.stdout.rstrip().endswith("ok")
              and "antivirus: clamav" in p.stdout and "built-in defaults" in p.stdout,
              "config: a usable configuration is reported ok (%s)" % (p.stdout + p.stderr).strip()[-200:])
        bad = os.path.join(tmp, "bad.conf")
        with open(bad, "w") as f:
            f.write('antivirus = { backend = "nonsense"; };\n')
        p = subprocess.run([args.pecguard, "config", "--config", bad, "--state", state,
                            "--providers", prov], capture_output=True, text=True, timeout=120)
        check(p.returncode == 3 and "antivirus" in p.stderr and "ok" not in p.stdout,
              "config: a bad antivirus backend exits 3 with the reason (%s)" % p.stderr.strip()[:120])
        with open(bad, "w") as f:
            f.write('limits = { max_depth = ;\n')
        p = subprocess.run([args.pecguard, "config", "--config", bad, "--state", state,
                            "--providers", prov], capture_output=True, text=True, timeout=120)
        check(p.returncode == 3 and "bad.conf" in p.stderr,
              "config: a syntax error names the file (%s)" % p.stderr.strip()[:120])

        # ---- the shared oracle's virus rows ----------------------------------
        if args.shared and os.path.exists(os.path.join(args.shared, "expected.tsv")):
            rows = [l.rstrip("\n").split("\t") for l in open(os.path.join(args.shared, "expected.tsv"))
                    if l.strip() and not l.startswith("#")]
            virus_rows = [r for r in rows if len(r) > 4 and r[4]]
            files = [os.path.join(args.shared, "messages", r[0]) for r in virus_rows]
            p, sout = scan(args, state, "clamav", files,
                           ["--providers", os.path.join(args.shared, "pki/index.ldif")])
            for r in virus_rows:
                o = sout.get(r[0], {})
                check(o.get("av", {}).get("status") == "infected" and o.get("action") == "quarantine",
                      "shared %s: %s found, quarantined" % (r[0], r[4]))
        else:
            print("SKIP shared fixtures: ../shared absent")

        # ---- ClamAV's test files mailed as attachments -------------------------
        mailed = os.path.join(tmp, "mailed")
        os.mkdir(mailed)
        detected = []
        if args.testfiles and args.detected and os.path.isdir(args.testfiles):
            for line in open(args.detected):
                line = line.strip()
                if line and not line.startswith("#"):
                    detected.append(line.split()[0])
            for name in detected:
                with open(os.path.join(args.testfiles, name), "rb") as f:
                    data = f.read()
                with open(os.path.join(mailed, name + ".eml"), "wb") as f:
                    f.write(mail_with(name, data))
        with open(os.path.join(mailed, "eicar-peo.eml"), "wb") as f:
            f.write(mail_with("eicar.com", EICAR))
        zbuf = os.path.join(tmp, "e.zip")
        with zipfile.ZipFile(zbuf, "w") as z:
            z.writestr("doc/eicar.txt", EICAR)
        with open(zbuf, "rb") as f:
            with open(os.path.join(mailed, "eicar-zip-peo.eml"), "wb") as g:
                g.write(mail_with("fattura.zip", f.read()))
        with open(os.path.join(mailed, "clean-peo.eml"), "wb") as f:
            f.write(mail_with("fattura.pdf", b"%PDF-1.4\n% a clean document\n"))
        dup = email.message.EmailMessage(policy=email.policy.SMTP)
        dup["From"] = "mittente@example.test"
        dup["To"] = "destinatario@example.test"
        dup["Subject"] = "due copie"
        dup.set_content("In allegato due copie.\n")
        for n in ("copia1.pdf", "copia2.pdf"):
            dup.add_attachment(b"%PDF-1.4\n% the same document twice\n", maintype="application",
                               subtype="pdf", filename=n)
        dup.add_attachment(b"", maintype="application", subtype="octet-stream", filename="vuoto.bin")
        with open(os.path.join(mailed, "dup-peo.eml"), "wb") as f:
            f.write(dup.as_bytes())
        p, mout = scan(args, state, "clamav", [mailed])
        parts = {x["part"]: x["result"] for x in mout.get("dup-peo.eml", {}).get("av", {}).get("parts", [])}
        check(parts.get("2 copia1.pdf") == "clean" and parts.get("3 copia2.pdf") == "same content as 2 copia1.pdf"
              and parts.get("4 vuoto.bin") == "empty",
              "every part is in the list: a copy named as such, an empty part as empty (%s)" % parts)
        found = [n for n in detected if mout.get(n + ".eml", {}).get("av", {}).get("status") == "infected"]
        check(len(found) == len(detected) and len(detected) > 0,
              "ClamAV test files mailed as attachments: %d/%d found" % (len(found), len(detected)))
        for n in ("eicar-peo.eml", "eicar-zip-peo.eml"):
            check(mout.get(n, {}).get("action") == "reject", "%s: ordinary mail with a virus is rejected" % n)
        check(mout.get("clean-peo.eml", {}).get("av", {}).get("status") == "clean", "a clean attachment is clean")

        # ---- outbreak signatures --------------------------------------------
        sample = os.path.join(tmp, "fattura.vbs")
        with open(sample, "wb") as f:
            f.write(b"' inert sample of a campaign that no signature knows\r\nWScript.Echo 1\r\n")
        with open(sample, "rb") as f:
            sdata = f.read()
        ob = os.path.join(tmp, "ob")
        os.mkdir(ob)
        with open(os.path.join(ob, "campaign.eml"), "wb") as f:
            f.write(mail_with("fattura.vbs", sdata))
        p, o1 = scan(args, state, "clamav", [ob])
        check(o1.get("campaign.eml", {}).get("av", {}).get("status") == "clean",
              "before: the campaign sample is clean for ClamAV")
        ob_cmd = [args.pecguard, "outbreak", "--state", state]
        r = subprocess.run(ob_cmd + ["add", sample, "--name", "Fattura.Vbs.2026"], capture_output=True, text=True)
        check(r.returncode == 0 and "PECGuard.Outbreak.Fattura.Vbs.2026" in r.stdout,
              "outbreak add FILE (%s)" % (r.stdout.strip() or r.stderr.strip()))
        # the envelope's zip, by hash
        import email as _email
        env = _email.message_from_bytes(open(os.path.join(msgs, "env-alfa-lure-invoice.eml"), "rb").read(),
                                        policy=email.policy.default)
        zips = []
        for part in env.walk():
            if part.get_content_type() == "message/rfc822":
                for sub in part.get_payload()[0].walk():
                    if (sub.get_filename() or "").endswith(".zip"):
                        zips.append(sub.get_payload(decode=True))
        import hashlib
        if check(len(zips) == 1, "the lure envelope carries one zip"):
            h = hashlib.sha256(zips[0]).hexdigest()
            r = subprocess.run(ob_cmd + ["add", h, "--name", "Lure.Zip"], capture_output=True, text=True)
            check(r.returncode == 0, "outbreak add SHA256")
        # the script inside that zip, by its own bytes: archive members match too
        if zips:
            import io
            with zipfile.ZipFile(io.BytesIO(zips[0])) as z:
                member = z.read(z.namelist()[0])
            mpath = os.path.join(tmp, "member.vbs")
            with open(mpath, "wb") as f:
                f.write(member)
            r = subprocess.run(ob_cmd + ["add", mpath, "--name", "Lure.Member"], capture_output=True,
                               text=True)
            check(r.returncode == 0, "outbreak add of the script inside the zip")
        r = subprocess.run(ob_cmd + ["list"], capture_output=True, text=True)
        check("Fattura.Vbs.2026" in r.stdout and "Lure.Zip" in r.stdout, "outbreak list shows both")
        p, o2 = scan(args, state, "clamav", [ob, os.path.join(msgs, "env-alfa-lure-invoice.eml")])
        c = o2.get("campaign.eml", {})
        check(c.get("av", {}).get("status") == "infected" and c.get("action") == "reject"
              and any(v["name"] == "PECGuard.Outbreak.Fattura.Vbs.2026" for v in c["av"]["viruses"]),
              "in-process: the next scan finds the outbreak sample")
        e = o2.get("env-alfa-lure-invoice.eml", {})
        check(e.get("class") == "pec-envelope" and e.get("action") == "quarantine"
              and any(v["name"] == "PECGuard.Outbreak.Lure.Zip" for v in e["av"]["viruses"]),
              "in-process: the campaign inside a valid PEC envelope is quarantined")
        check(any(v["name"] == "PECGuard.Outbreak.Lure.Member" and v["part"].endswith("!fattura.vbs")
                  for v in e.get("av", {}).get("viruses", [])),
              "a sample found as a member of an archive inside postacert.eml: %s"
              % [v["part"] for v in e.get("av", {}).get("viruses", [])])

        # ---- clamd -----------------------------------------------------------
        clamd = Clamd(tmp, "clamd", args.avdb)
        clamd.start()
        spec = "clamd:" + clamd.spec
        p, o3 = scan(args, state, spec, [ob, os.path.join(msgs, "env-alfa-eicar-zip.eml"),
                                          os.path.join(msgs, "env-alfa-text.eml"),
                                          os.path.join(mailed, "eicar-peo.eml")])
        check(o3.get("campaign.eml", {}).get("av", {}).get("status") == "infected",
              "clamd: the outbreak sample is found too")
        check(o3.get("env-alfa-eicar-zip.eml", {}).get("action") == "quarantine",
              "clamd: zipped EICAR inside an envelope: quarantine")
        check(o3.get("env-alfa-text.eml", {}).get("av", {}).get("status") == "clean"
              and o3["env-alfa-text.eml"]["av"]["backend"].startswith("clamd:"),
              "clamd: a clean envelope is clean, backend named")
        check(o3.get("eicar-peo.eml", {}).get("action") == "reject", "clamd: EICAR in ordinary mail: reject")
        # the same mailed test files through clamd: the same verdicts
        p, cm = scan(args, state, spec, [mailed])
        found_cd = [n for n in detected if cm.get(n + ".eml", {}).get("av", {}).get("status") == "infected"]
        check(len(found_cd) == len(detected) and len(detected) > 0,
              "clamd: ClamAV test files mailed as attachments: %d/%d found" % (len(found_cd), len(detected)))
        same = [n for n in mout if mout[n]["av"]["status"] == cm.get(n, {}).get("av", {}).get("status")
                and mout[n]["action"] == cm.get(n, {}).get("action")]
        check(len(same) == len(mout), "clamd and in-process agree on every mailed file (%d/%d; differ: %s)"
              % (len(same), len(mout), sorted(set(mout) - set(same))[:5]))
        r = subprocess.run(ob_cmd + ["remove", "Fattura.Vbs.2026"], capture_output=True, text=True)
        check(r.returncode == 0 and "removed 1" in r.stdout, "outbreak remove")
        p, o4 = scan(args, state, spec, [ob])
        check(o4.get("campaign.eml", {}).get("av", {}).get("status") == "clean",
              "after remove: clean again")

        # ---- ClamAV's phishing heuristics: threat indicators, never viruses ----
        # The official database carries phishing signatures (.pdb/.wdb) and
        # clamd checks links against them by default.  A link whose text
        # names a protected site but goes elsewhere is then reported as
        # Heuristics.Phishing.Email.*: in ordinary mail it is weighed
        # (AV_HEURISTIC), inside a valid envelope it must not stop delivery.
        phdb = os.path.join(tmp, "phdb")
        shutil.copytree(args.avdb, phdb)
        with open(os.path.join(phdb, "pecguard-phish.pdb"), "w") as f:
            f.write("H:bancaditalia.it\n")
        ph = os.path.join(tmp, "phish")
        os.mkdir(ph)
        with open(os.path.join(ph, "spoof-peo.eml"), "wb") as f:
            f.write(b"From: Servizio Clienti <avvisi@example.net>\r\nTo: mario.rossi@example.org\r\n"
                    b"Subject: Verifica del conto\r\nMessage-ID: <spoof-1@example.net>\r\n"
                    b"MIME-Version: 1.0\r\nContent-Type: text/html; charset=utf-8\r\n\r\n"
                    b"<html><body><p>Verifichi i suoi dati: <a href=\"http://bancaditalia-verifica."
                    b"example.net/login\">https://www.bancaditalia.it/servizi/accesso</a></p>"
                    b"</body></html>\r\n")
        for f in ("env-alfa-spoofed-link.eml", "env-alfa-eicar.eml"):
            shutil.copy(os.path.join(msgs, f), ph)

        def heuristic(o):
            return [x for x in o.get("symbols", []) if x["name"] == "AV_HEURISTIC"]

        p, o6 = scan(args, state, "clamav", [ph], ["--av-db", phdb])
        check(all(o6.get(f, {}).get("av", {}).get("status") == "clean" and not heuristic(o6[f])
                  for f in ("spoof-peo.eml", "env-alfa-spoofed-link.eml")),
              "in-process: the phishing databases are not loaded, a spoofed link is no virus")
        check(o6.get("env-alfa-spoofed-link.eml", {}).get("action") == "none",
              "in-process: the envelope with a spoofed link is delivered")
        clamd_ph = Clamd(tmp, "clamd-phish", phdb)
        clamd_ph.start()
        try:
            p, o7 = scan(args, state, "clamd:" + clamd_ph.spec, [ph])
        finally:
            clamd_ph.stop()
        peo = o7.get("spoof-peo.eml", {})
        check(peo.get("av", {}).get("status") == "clean"
              and any("Heuristics.Phishing.Email" in (x["detail"] or "") and x["weight"] > 0
                      for x in heuristic(peo)),
              "clamd: its phishing alert in ordinary mail is the weighted symbol AV_HEURISTIC, "
              "not a virus (%s)" % [(x["name"], x["detail"]) for x in peo.get("symbols", [])])
        env = o7.get("env-alfa-spoofed-link.eml", {})
        check(env.get("class") == "pec-envelope" and env.get("action") == "none"
              and env.get("av", {}).get("status") == "clean" and heuristic(env),
              "clamd: the same alert inside a valid envelope: delivered, noted only (action %s, av %s)"
              % (env.get("action"), env.get("av", {}).get("status")))
        check(o7.get("env-alfa-eicar.eml", {}).get("action") == "quarantine",
              "clamd with phishing databases: a real virus in an envelope is still quarantined")

        # ---- the self-check of `pecguard config` ---------------------------------
        def config(av, extra=()):
            return subprocess.run([args.pecguard, "config", "--state", state, "--av", av,
                                   "--providers", prov] + list(extra),
                                  capture_output=True, text=True, timeout=120)
        p = config(spec)
        check(p.returncode == 0 and "antivirus: clamd:" in p.stdout and "warning" not in p.stderr,
              "config: clamd finds EICAR and reports exceeded limits: ok (%s)" % p.stderr.strip()[-200:])
        lax = Clamd(tmp, "clamd-lax", args.avdb, alert_exceeds_max=False)
        lax.start()
        try:
            p = config("clamd:" + lax.spec)
        finally:
            lax.stop()
        check(p.returncode == 3 and "AlertExceedsMax" in p.stderr,
              "config: a clamd that answers OK for content past its limits is refused, exit 3 "
              "(%s)" % p.stderr.strip()[-200:])
        p = config("clamd:" + os.path.join(tmp, "dead.sock"), ["--set", "antivirus.connect_timeout_ms=300"])
        check(p.returncode == 0 and "warning" in p.stderr and "did not answer" in p.stdout,
              "config: a clamd that does not answer (still loading) is a warning, exit 0 (%s)"
              % p.stderr.strip()[-200:])
        nodb = os.path.join(tmp, "no-eicar-db")
        os.mkdir(nodb)
        with open(os.path.join(nodb, "other.ndb"), "w") as f:
            f.write("PG-Not-Eicar:0:*:%s\n" % b"pecguard: a signature that is not EICAR".hex())
        p = config("clamav", ["--av-db", nodb])
        check(p.returncode == 3 and "EICAR" in p.stderr,
              "config: signatures that do not find EICAR are refused, exit 3 (%s)" % p.stderr.strip()[-200:])

        # clamd killed in the middle of a run: never clean after it died
        many = os.path.join(tmp, "many")
        os.mkdir(many)
        for i in range(3000):
            with open(os.path.join(many, "m%05d.eml" % i), "wb") as f:
                f.write(mail_with("doc%d.pdf" % i, b"%PDF-1.4\n% clean " + str(i).encode() + b"\n"))
        cmd = [args.pecguard, "scan", "--json", "--state", state, "--av", spec,
               "--set", "antivirus.connect_timeout_ms=500", "--set", "antivirus.io_timeout_ms=2000",
               "--providers", os.path.join(args.fixtures, "pki/index.ldif"), many]
        proc = subprocess.Popen(cmd, stdout=subprocess.PIPE, stderr=subprocess.DEVNULL, text=True)
        statuses = []
        killed_at = None
        for line in proc.stdout:
            o = json.loads(line)
            statuses.append(o["av"]["status"])
            if killed_at is None and len(statuses) >= 200:
                clamd.kill()
                killed_at = len(statuses)
        proc.wait(120)
        first_tf = statuses.index("tempfail") if "tempfail" in statuses else None
        check(killed_at is not None and first_tf is not None,
              "clamd killed after %s scans; tempfail from scan %s" % (killed_at, first_tf))
        if first_tf is not None:
            after = statuses[first_tf:]
            check(all(s == "tempfail" for s in after),
                  "after clamd died: %d scans, all tempfail, none clean" % len(after))
        check(len(statuses) == 3000, "every message got a verdict (%d)" % len(statuses))

        # a dead socket from the start: tempfail for ordinary and PEC mail alike
        p, o5 = scan(args, state, "clamd:" + os.path.join(tmp, "dead.sock"),
                     [os.path.join(msgs, "env-alfa-text.eml"), os.path.join(mailed, "clean-peo.eml")],
                     ["--set", "antivirus.connect_timeout_ms=500"])
        check(p.returncode == 0 and all(o["av"]["status"] == "tempfail" and o["action"] == "tempfail"
                                        for o in o5.values()) and len(o5) == 2,
              "dead clamd socket: tempfail for every message, PEC included")
        check(all(o["av"]["error"] for o in o5.values()), "the tempfail says why")
    finally:
        if clamd is not None:
            clamd.stop()
        shutil.rmtree(tmp, ignore_errors=True)
    return summary()


if __name__ == "__main__":
    sys.exit(main())
