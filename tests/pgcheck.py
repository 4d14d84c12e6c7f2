"""pgcheck.py - what the Python checks share.

check() prints one line per assertion, "ok   what" or "FAIL what", and
keeps the failures; a script's exit status is non-zero when failures is
not empty.  One list for the whole process, so that a helper module's
checks (tests/av/check_clamd.py, used by check_scan_av.py and the e2e
tests) count in the script that runs them.
"""

failures = []


def check(cond, what):
    print(("ok   " if cond else "FAIL ") + what, flush=True)
    if not cond:
        failures.append(what)
    return cond
