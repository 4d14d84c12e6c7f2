#!/usr/bin/env python3
"""Hostile structure: messages built here to break every cap (nesting,
part count, header field and block size, message size), plus unclosed
and self-similar boundaries.  Each must end with a typed status and a safe
class -- never a valid PEC class, never a crash, in bounded memory and time.
"""
import argparse
import json
import os
import resource
import subprocess
import sys
import tempfile

PEC_HEADERS = ("X-Trasporto: posta-certificata\n"
               "From: \"Per conto di: a@pec.example\" <posta-certificata@pec.example>\n"
               "Subject: POSTA CERTIFICATA: hello\n")


def deep(n, pec=False):
    h = (PEC_HEADERS if pec else "From: a@example.test\n") + "MIME-Version: 1.0\n"
    body = "".join("Content-Type: multipart/mixed; boundary=b%d\n\n--b%d\n" % (i, i) for i in range(n))
    return h + body + "Content-Type: text/plain\n\nhi\n"


def deep_rfc822(n):
    return "From: a@example.test\n" + "Content-Type: message/rfc822\n\n" * n + "Subject: x\n\nhi\n"


def many_parts(n):
    parts = "".join("--b\nContent-Type: text/plain\n\npart %d\n" % i for i in range(n))
    return ("From: a@example.test\nMIME-Version: 1.0\nContent-Type: multipart/mixed; boundary=b\n\n"
            + parts + "--b--\n")


def long_field(n):
    return "From: a@example.test\nSubject: " + "x" * n + "\n\nbody\n"


def long_folded_field(n):
    return "From: a@example.test\nTo: a@b.test" + ",\n a@b.test" * n + "\n\nbody\n"


def big_block(n):
    return "From: a@example.test\n" + "".join("X-H%d: %s\n" % (i, "y" * 900) for i in range(n)) + "\nbody\n"


def big_message(mb):
    return "From: a@example.test\nSubject: big\n\n" + ("z" * 999 + "\n") * (mb * 1049)


def hidden(msg):
    """msg with its structure hidden from the raw scan, not from GMime: a
    line that is no header field ends the raw scan's header block, GMime
    skips it and reads the Content-Type below."""
    return "Subject: hidden\nnot a header line\n" + msg


def empty_parts(n, ctype="Content-Type: multipart/mixed; boundary=b0"):
    """n empty body parts: 6 bytes each, the cheapest part there is."""
    return "Subject: x\n" + ctype + "\n\n" + "--b0\n\n" * n + "--b0--\n"


def qp_rfc822_chain(n):
    """message/rfc822 in quoted-printable, n levels: GMime parses each level
    as a message whatever its encoding; the raw scan sees one leaf."""
    return ("From: a@example.test\n" + "Content-Type: message/rfc822\n"
            "Content-Transfer-Encoding: quoted-printable\n\n" * n + "\nhi\n")


def unclosed():
    return ("From: a@example.test\nMIME-Version: 1.0\nContent-Type: multipart/mixed; boundary=a\n\n--a\n"
            "Content-Type: multipart/mixed; boundary=ab\n\n--ab\n--a\n--abc\nContent-Type: text/plain\n\nx\n")


CASES = [
    # name, bytes, expected status, expected class
    ("deep-multipart", deep(10000), "too-deep", "peo"),
    ("deep-multipart-pec", deep(5000, pec=True), "too-deep", "invalid-pec"),
    ("deep-rfc822", deep_rfc822(5000), "too-deep", "peo"),
    ("many-parts", many_parts(20000), "too-many-parts", "peo"),
    ("long-field", long_field(200000), "header-too-long", "peo"),
    ("long-folded-field", long_folded_field(20000), "header-too-long", "peo"),
    ("big-header-block", big_block(1500), "header-too-long", "peo"),
    ("big-message", big_message(70), "too-big", "peo"),
    ("hidden-many-parts", hidden(many_parts(20000)), "too-many-parts", "peo"),
    ("hidden-deep", hidden(deep(2000)), "too-deep", "peo"),
    # Shapes GMime reads as parts and the raw scan does not: refused before
    # GMime builds them (a million of them took 1.3 GB and 11 s; 100,000
    # quoted-printable levels 500 MB); the peak RSS bound below applies.
    ("hidden-million-parts", hidden(empty_parts(1000000)), "too-many-parts", "peo"),
    ("rfc2231-million-parts", empty_parts(1000000, "Content-Type: multipart/mixed; boundary*=''b0"),
     "too-many-parts", "peo"),
    ("qp-rfc822-chain", qp_rfc822_chain(100000), "too-many-parts", "peo"),
    ("unclosed-boundaries", unclosed(), "ok", "peo"),
    ("within-limits-deep", deep(30), "ok", "peo"),
]


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--pecguard", required=True)
    ap.add_argument("--scan-arg", action="append", default=[],
                    help="extra argument for pecguard scan (repeat)")
    ap.add_argument("--sanitized", action="store_true")
    args = ap.parse_args()
    fails = 0
    with tempfile.TemporaryDirectory() as tmp:
        for name, data, want_status, want_class in CASES:
            path = os.path.join(tmp, name + ".eml")
            with open(path, "w") as f:
                f.write(data)
            before = resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss
            p = subprocess.run([args.pecguard, "scan", "--json"] + args.scan_arg + [path], capture_output=True,
                               text=True, timeout=120)
            problems = []
            if p.returncode != 0:
                problems.append("exit %d: %s" % (p.returncode, p.stderr[-500:]))
            else:
                o = json.loads(p.stdout)
                if o["status"] != want_status:
                    problems.append("status %s, expected %s" % (o["status"], want_status))
                if o["class"] != want_class:
                    problems.append("class %s, expected %s" % (o["class"], want_class))
                if want_status != "ok" and not o["error"]:
                    problems.append("no error message")
            rss = resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss
            if not args.sanitized and rss > 250 * 1024 and rss > before:
                problems.append("peak RSS %d MB" % (rss // 1024))
            print("%-22s %s" % (name, "ok" if not problems else "FAIL " + "; ".join(problems)))
            fails += bool(problems)
    return 1 if fails else 0


if __name__ == "__main__":
    sys.exit(main())
