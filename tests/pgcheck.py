"""pgcheck.py - what the Python checks share.

check() prints one line per assertion, "ok   what" or "FAIL what", and
keeps the failures; a script's exit status is non-zero when failures is
not empty.  The list is one for the whole process: a helper module that
checks (tests/av/check_clamd.py) adds to the same list as its importer.
"""

failures = []


def check(cond, what):
    print(("ok   " if cond else "FAIL ") + what, flush=True)
    if not cond:
        failures.append(what)
    return cond
