"""pgcheck.py - what the Python checks share.

check() prints one line per assertion, "ok   what" or "FAIL what", and
keeps the failures; summary() prints their count and gives the script's
exit status, non-zero when there are any.  The list is one for the whole process: a helper module that
checks (tests/av/check_clamd.py) adds to the same list as its importer.

missing() is what a script calls when a component it needs is absent (not
root, no postfix, no clamd, no smtp-source, ...): exit 77, which ctest
reports as skipped, so that a developer's plain `ctest` runs what it can.
With PG_REQUIRE_ALL=1 in the environment (scripts/test.sh, hence CI) the
same absence is a failure instead: CI never passes with a test silently
skipped.  Data that a user's clone does not have (../shared) is not a
component: scripts keep skipping for it whatever PG_REQUIRE_ALL says.
"""
import os

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


def require_all():
    """True when a missing prerequisite must fail (PG_REQUIRE_ALL=1)."""
    return os.environ.get("PG_REQUIRE_ALL", "") not in ("", "0")


def missing(what):
    """A component the script needs is absent: returns the exit status,
    77 (skipped) normally, 1 (failed) under PG_REQUIRE_ALL=1."""
    if require_all():
        check(False, "prerequisite missing: %s (PG_REQUIRE_ALL is set: not skipped)" % what)
        return summary()
    print("SKIP: %s (set PG_REQUIRE_ALL=1 to make this a failure)" % what, flush=True)
    return 77
