#!/usr/bin/env python3
"""check_learn.py - learning through the CLI, and the helpdesk's flow.

Self-contained: the messages are written here, in a private directory.
The statistical filter learns spam from an mbox and ham from a Maildir
(`pecguard learn`), then:
  - a new spam gets BAYES_SPAM and a new ham BAYES_HAM;
  - `scan --explain` names the clues (tokens, their spam and ham counts);
  - the helpdesk flow: a message the filter calls spam is reported as a
    false positive (`learn ham`): its tokens are then counted as ham and
    its probability falls; learning it again changes nothing; `unlearn`
    puts the counts back exactly; learning it as spam moves them;
  - an empty Maildir or directory is nothing to do, not an error;
  - errors: an unknown class and a missing file exit non-zero and say why.

usage: check_learn.py --pecguard BIN
"""
import argparse
import json
import os
import shutil
import subprocess
import sys
import tempfile

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), ".."))
from pgcheck import check, summary  # noqa: E402


HAM_WORDS = ("riunione bilancio verbale assemblea condominio preventivo cantiere fornitore "
             "consegna magazzino ordine progetto scadenza trimestre revisione contratto "
             "relazione allegato documento ufficio").split()
SPAM_WORDS = ("offerta vincita premio gratis casino bonus esclusiva sconto imperdibile "
              "guadagna subito clicca ricchezza fortunato estrazione omaggio jackpot "
              "promozione limitata").split()


def message(i, words, sender, subject_words, extra=""):
    # Each message a different selection of its class's words.
    body = " ".join(words[(i * 7 + k * 3) % len(words)] for k in range(40))
    subj = " ".join(subject_words[(i + k) % len(subject_words)] for k in range(3))
    return ("From: %s\nTo: utente@example.test\nSubject: %s %d\n"
            "Message-ID: <m%d.%s>\nDate: Mon, 7 Oct 2019 10:%02d:00 +0200\n"
            "Content-Type: text/plain; charset=utf-8\n\n%s\n%s\n" %
            (sender, subj, i, i, sender.split("@")[1].rstrip(">"), i % 60, body, extra))


def run(args, *cmd):
    return subprocess.run([args.pecguard] + list(cmd), capture_output=True, text=True)


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--pecguard", required=True)
    args = ap.parse_args()
    tmp = tempfile.mkdtemp(prefix="pg-learn-")
    try:
        state = os.path.join(tmp, "state")
        common = ["--state", state, "--av", "none", "--set", "providers=",
                  "--set", "bayes.min_learned=20"]
        # spam as an mbox
        mbox = os.path.join(tmp, "spam.mbox")
        with open(mbox, "w") as f:
            for i in range(30):
                f.write("From promo@premi.example  Mon Oct  7 10:00:00 2019\n")
                f.write(message(i, SPAM_WORDS, "Premi <promo@premi.example>", SPAM_WORDS))
                f.write("\n")
        # ham as a Maildir
        md = os.path.join(tmp, "Maildir")
        for d in ("cur", "new", "tmp"):
            os.makedirs(os.path.join(md, d))
        for i in range(30):
            with open(os.path.join(md, "cur" if i % 2 else "new", "%d.host:2,S" % i), "w") as f:
                f.write(message(i, HAM_WORDS, "Maria Rossi <maria@ditta.example>", HAM_WORDS))

        p = run(args, "learn", "spam", *common, mbox)
        check(p.returncode == 0, "learn spam from an mbox (exit %d %s)" % (p.returncode, p.stderr.strip()))
        p = run(args, "learn", "ham", *common, md)
        check(p.returncode == 0, "learn ham from a Maildir (exit %d %s)" % (p.returncode, p.stderr.strip()))

        def scan(path, explain=True):
            p = run(args, "scan", "--json", *(["--explain"] if explain else []), *common, path)
            if p.returncode != 0:
                check(False, "scan %s: exit %d %s" % (path, p.returncode, p.stderr.strip()))
                return None
            return json.loads(p.stdout.splitlines()[0])

        def sym(o, name):
            return next((s for s in o["symbols"] if s["name"] == name), None)

        def write(name, text):
            path = os.path.join(tmp, name)
            with open(path, "w") as f:
                f.write(text)
            return path

        new_spam = write("new-spam.eml", message(101, SPAM_WORDS, "Premi <promo@premi.example>",
                                                 SPAM_WORDS))
        new_ham = write("new-ham.eml", message(102, HAM_WORDS, "Maria Rossi <maria@ditta.example>",
                                               HAM_WORDS))
        o = scan(new_spam)
        if o:
            check(sym(o, "BAYES_SPAM") is not None and o["bayes"]["probability"] > 0.9,
                  "a new spam: BAYES_SPAM, probability %.3f" % o["bayes"]["probability"])
            clues = {c["token"]: c for c in o["bayes"]["clues"]}
            check(len(clues) > 5 and all(c["p"] > 0.5 for c in clues.values()),
                  "--explain: the clues are spam tokens (%s)" % ", ".join(list(clues)[:5]))
            check(any(c["spam"] == 30 and c["ham"] == 0 for c in clues.values()),
                  "--explain: a clue's counts are the learned messages (30 spam, 0 ham)")
        o = scan(new_ham)
        if o:
            check(sym(o, "BAYES_HAM") is not None and o["bayes"]["probability"] < 0.1,
                  "a new ham: BAYES_HAM, probability %.3f" % o["bayes"]["probability"])
        p = run(args, "scan", "--explain", *common, new_spam)
        check(p.returncode == 0 and "strongest clues" in p.stdout and "BAYES_SPAM" in p.stdout,
              "scan --explain, table: symbols and clues printed")

        # The helpdesk flow.  The parish newsletter about its prize draw,
        # which the user wants: a few words of spam, and many of its own
        # ("lotteria", "parrocchia") that nothing has learned yet.
        own = ("lotteria parrocchia tombola oratorio sagra volontari chierichetti "
               "campanile processione patrono canonica catechismo").split()
        fp = write("reported.eml",
                   "From: Parrocchia <info@parrocchia.example>\nTo: utente@example.test\n"
                   "Subject: premio estrazione lotteria\nMessage-ID: <n1@parrocchia.example>\n"
                   "Date: Mon, 7 Oct 2019 11:00:00 +0200\n\n"
                   "premio gratis estrazione omaggio\n" +
                   " ".join(own[(k * 5) % len(own)] for k in range(36)) + "\n")
        before = scan(fp)
        if before is None:
            return 1
        check(before["bayes"]["probability"] > 0.6,
              "the reported message is judged spam (%.3f)" % before["bayes"]["probability"])
        p = run(args, "learn", "ham", *common, fp)
        check(p.returncode == 0, "learn ham: the user's false-positive report")
        after = scan(fp)
        clues = {c["token"]: c for c in after["bayes"]["clues"]} if after else {}
        check(after is not None and after["bayes"]["probability"] < before["bayes"]["probability"],
              "after the report the probability falls (%.4f -> %.4f)" %
              (before["bayes"]["probability"], after["bayes"]["probability"] if after else -1))
        check(clues.get("parrocchia", {}).get("ham") == 1 and
              clues.get("parrocchia", {}).get("spam") == 0,
              "its own tokens now count as ham (parrocchia: %s)" % clues.get("parrocchia"))
        again = scan(fp) if run(args, "learn", "ham", *common, fp).returncode == 0 else None
        check(again is not None and again["bayes"] == after["bayes"],
              "learning the same message again changes nothing")
        p = run(args, "unlearn", *common, fp)
        back = scan(fp)
        check(p.returncode == 0 and back is not None and back["bayes"] == before["bayes"],
              "unlearn puts every count back (probability %.4f)" %
              (back["bayes"]["probability"] if back else -1))
        run(args, "learn", "ham", *common, fp)
        p = run(args, "learn", "spam", *common, fp)
        moved = scan(fp)
        mc = {c["token"]: c for c in moved["bayes"]["clues"]} if moved else {}
        check(p.returncode == 0 and mc.get("parrocchia", {}).get("spam") == 1 and
              mc.get("parrocchia", {}).get("ham") == 0,
              "relearned as spam, its counts move from ham to spam (%s)" % mc.get("parrocchia"))

        # An empty folder (a Junk folder nobody filled): nothing to do, no error.
        empty = os.path.join(tmp, "EmptyMaildir")
        for d in ("cur", "new", "tmp"):
            os.makedirs(os.path.join(empty, d))
        p = run(args, "learn", "spam", *common, empty)
        check(p.returncode == 0, "learn spam of an empty Maildir: exit %d %s" %
              (p.returncode, p.stderr.strip()))
        p = run(args, "scan", "--json", *common, os.path.join(empty, "cur"))
        check(p.returncode == 0 and p.stdout == "", "scan of an empty directory: exit %d, no output"
              % p.returncode)

        # Errors say why.
        p = run(args, "learn", "maybe", *common, fp)
        check(p.returncode != 0 and "usage" in p.stderr, "learn maybe: usage error")
        p = run(args, "learn", "ham", *common, os.path.join(tmp, "missing.eml"))
        check(p.returncode != 0 and "missing.eml" in p.stderr,
              "learn ham of a missing file: exit %d, names the file" % p.returncode)
        # Without enough learned, no verdict and no clues.
        p = run(args, "scan", "--json", "--explain", "--state", os.path.join(tmp, "empty"),
                "--av", "none", "--set", "providers=", new_spam)
        o = json.loads(p.stdout.splitlines()[0]) if p.returncode == 0 and p.stdout else None
        check(o is not None and o["bayes"] is None and
              not any(s["name"].startswith("BAYES_") for s in o["symbols"]),
              "an empty store: no Bayes verdict, \"bayes\": null")
    finally:
        shutil.rmtree(tmp, ignore_errors=True)
    return summary()


if __name__ == "__main__":
    sys.exit(main())
