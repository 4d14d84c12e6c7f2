"""pgcheck.py - what the Python checks share.

check() prints one line per assertion, "ok   what" or "FAIL what", and
keeps the failures; summary() prints their count and gives the script's
exit status, non-zero when there are any.  The list is one for the whole process: a helper module that
checks (tests/av/check_clamd.py) adds to the same list as its importer.
"""

failures = []


def check(cond, what):
    print(("ok   " if cond else "FAIL ") + what, flush=True)
    if not cond:
        failures.append(what)
    return cond


def summary(extra=""):
    """Prints how many checks failed (and extra, when given); returns the
    exit status: 0 when none did, 1 otherwise."""
    print("%d check(s) failed%s" % (len(failures), extra), flush=True)
    return 1 if failures else 0
