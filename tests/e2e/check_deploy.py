#!/usr/bin/env python3
"""check_deploy.py - pecguard-milter as the README and the systemd unit
deploy it.

  - etc/pecguard-milter.service passes `systemd-analyze verify` without a
    warning (binary paths pointed at the build);
  - started as root with milter.user set, `--check` builds the engine as
    that user: the state files it creates are not root's (else the milter,
    once it has dropped privileges, cannot open them);
  - started directly as the unprivileged user, as the unit does (User=),
    with or without milter.user naming that same user, it runs and
    answers; started unprivileged with milter.user naming someone else it
    refuses, with the reason.

usage: check_deploy.py --milter BIN --fixtures DIR --unit FILE
Exit 0 all passed, 1 a check failed, 77 skipped (not root; a failure
under PG_REQUIRE_ALL=1, see tests/pgcheck.py).
"""
import argparse
import os
import pwd
import shutil
import subprocess
import sys
import tempfile

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import pgtest  # noqa: E402

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), ".."))
from pgcheck import check, missing, summary  # noqa: E402

USER = "nobody"


def owners(d):
    out = {}
    for root, dirs, files in os.walk(d):
        for n in dirs + files:
            st = os.lstat(os.path.join(root, n))
            out[os.path.relpath(os.path.join(root, n), d)] = st.st_uid
    return out


def as_user(uid, gid):
    def f():
        os.setgroups([])
        os.setgid(gid)
        os.setuid(uid)
    return f


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--milter", required=True)
    ap.add_argument("--fixtures", required=True)
    ap.add_argument("--unit", required=True)
    args = ap.parse_args()
    if os.geteuid() != 0:
        return missing("deployment checks switch users: root needed")
    pw = pwd.getpwnam(USER)
    base = tempfile.mkdtemp(prefix="pg-deploy-")
    os.chmod(base, 0o755)
    try:
        # ---- the unit -----------------------------------------------------
        sa = shutil.which("systemd-analyze")
        if sa is None:
            if missing("systemd-analyze not installed") != 77:
                return summary()
        else:
            unit = os.path.join(base, "pecguard-milter.service")
            with open(args.unit) as f:
                text = f.read().replace("/usr/sbin/pecguard-milter", os.path.abspath(args.milter))
            with open(unit, "w") as f:
                f.write(text)
            p = subprocess.run([sa, "verify", unit], capture_output=True, text=True)
            check(p.returncode == 0 and p.stderr.strip() == "" and p.stdout.strip() == "",
                  "systemd-analyze verify: no error, no warning (%s)" % (p.stderr + p.stdout).strip()[:300])

        # ---- --check as root with milter.user: state files are the user's ---
        state = os.path.join(base, "state")
        os.mkdir(state)
        os.chown(state, pw.pw_uid, pw.pw_gid)
        os.chmod(state, 0o750)
        conf = os.path.join(base, "root.conf")
        with open(conf, "w") as f:
            f.write('providers = "%s/pki/index.ldif";\nstate_dir = "%s";\n'
                    'antivirus = { backend = "none"; };\n'
                    'milter = { socket = "unix:%s/m.sock"; user = "%s"; log = "stderr"; };\n'
                    % (args.fixtures, state, base, USER))
        p = subprocess.run([args.milter, "--config", conf, "--check"], capture_output=True, text=True)
        made = owners(state)
        roots = sorted(n for n, u in made.items() if u != pw.pw_uid)
        check(p.returncode == 0 and made and not roots,
              "--check as root with milter.user=%s: exit %d, %d state files, all owned by it "
              "(not: %s) %s" % (USER, p.returncode, len(made), roots[:5], p.stderr.strip()[-200:]))

        # ---- started as the user, as systemd's User= does ------------------
        run = os.path.join(base, "run")
        os.mkdir(run)
        os.chown(run, pw.pw_uid, pw.pw_gid)
        for name, user_line in (("no milter.user", ""), ("milter.user = itself", 'user = "%s";' % USER)):
            conf = os.path.join(base, "user.conf")
            with open(conf, "w") as f:
                f.write('providers = "%s/pki/index.ldif";\nstate_dir = "%s";\n'
                        'antivirus = { backend = "none"; };\n'
                        'milter = { socket = "unix:%s/milter.sock"; %s log = "stderr";'
                        ' spool_dir = "%s"; };\n' % (args.fixtures, state, run, user_line, run))
            pre = subprocess.run([args.milter, "--config", conf, "--check"], capture_output=True,
                                 text=True, preexec_fn=as_user(pw.pw_uid, pw.pw_gid))
            proc = subprocess.Popen([args.milter, "--config", conf], stdout=subprocess.DEVNULL,
                                    stderr=subprocess.PIPE, text=True,
                                    preexec_fn=as_user(pw.pw_uid, pw.pw_gid))
            sock = os.path.join(run, "milter.sock")
            try:
                pgtest.wait_for(lambda: proc.poll() is not None or os.path.exists(sock), 30, "socket")
                up = proc.poll() is None and os.path.exists(sock) and os.stat(sock).st_uid == pw.pw_uid
            except RuntimeError:
                up = False
            proc.terminate()
            try:
                _, err = proc.communicate(timeout=30)
            except subprocess.TimeoutExpired:
                proc.kill()
                _, err = proc.communicate()
            check(pre.returncode == 0 and up and proc.returncode == 0,
                  "as %s from the start (%s): --check %d, socket up, clean stop %s (%s)"
                  % (USER, name, pre.returncode, proc.returncode,
                     (pre.stderr + err).strip()[-200:]))
        with open(conf, "w") as f:
            f.write('providers = "%s/pki/index.ldif";\nstate_dir = "%s";\n'
                    'antivirus = { backend = "none"; };\n'
                    'milter = { socket = "unix:%s/milter.sock"; user = "root"; log = "stderr"; };\n'
                    % (args.fixtures, state, run))
        p = subprocess.run([args.milter, "--config", conf], capture_output=True, text=True, timeout=30,
                           preexec_fn=as_user(pw.pw_uid, pw.pw_gid))
        check(p.returncode == 78 and "not started as root" in p.stderr,
              "unprivileged with milter.user naming another user: exit 78, says why (%d: %s)"
              % (p.returncode, p.stderr.strip()[-200:]))
    finally:
        shutil.rmtree(base, ignore_errors=True)
    return summary()


if __name__ == "__main__":
    sys.exit(main())
