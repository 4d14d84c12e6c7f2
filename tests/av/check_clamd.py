#!/usr/bin/env python3
"""check_clamd.py - pg_av's clamd backend against real, private clamd daemons.

  check_clamd.py --driver AV_DRIVER --avdb DIR [--testfiles DIR] [--detected LIST]

Starts two clamd of its own (never the system service, never
/etc/clamav/clamd.conf): A on a unix socket, B on 127.0.0.1 and a free TCP
port with StreamMaxLength 1M.  Both load only the test database built by
tests/tools/mkavdb.sh (DIR), keep all their state in one mktemp directory,
run in the foreground so that the pid we hold is clamd's, and are stopped
by that pid (SIGTERM, then SIGKILL) in a finally block.

av_driver (tests/av/av_driver.c) opens a backend from a spec and prints one
line per file: "PATH<TAB>clean|infected NAME|error TEXT".

Exit status: 0 all passed, 1 a check failed, 77 skipped (no clamd; a failure
under PG_REQUIRE_ALL=1, see tests/pgcheck.py).
"""
import argparse
import io
import os
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import time
import zipfile

CLAMD = "/usr/sbin/clamd"
# Assembled from two halves: no file of the repository holds it whole.
EICAR = b"X5O!P%@AP[4\\PZX54(P^)7CC)7}$EICAR-" + b"STANDARD-ANTIVIRUS-TEST-FILE!$H+H*"
EICAR_NAME = "Eicar-Test-Signature.UNOFFICIAL"
CLAMTEST_NAME = "ClamAV-Test-File.UNOFFICIAL"

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), ".."))
from pgcheck import check, failures, missing, require_all, summary  # noqa: E402


# ---- talking to clamd directly (readiness only) -----------------------------

def clamd_command(addr, cmd, timeout=2.0):
    if isinstance(addr, tuple):
        s = socket.create_connection(addr, timeout=timeout)
    else:
        s = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
        s.settimeout(timeout)
        s.connect(addr)
    with s:
        s.sendall(b"z" + cmd + b"\0")
        buf = b""
        while not buf.endswith(b"\0"):
            chunk = s.recv(4096)
            if not chunk:
                break
            buf += chunk
    return buf.rstrip(b"\0").decode(errors="replace")


def port_busy(port):
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as s:
        s.settimeout(0.5)
        return s.connect_ex(("127.0.0.1", port)) == 0


def free_port():
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


class Clamd:
    """One private clamd: its own config, database, temp dir, log, pid."""

    def __init__(self, base, name, avdb, tcp_port=None, stream_max=None, alert_exceeds_max=True):
        self.name = name
        self.dir = os.path.join(base, name)
        os.mkdir(self.dir)
        os.mkdir(os.path.join(self.dir, "tmp"))
        self.proc = None
        self.log = os.path.join(self.dir, "clamd.log")
        if tcp_port is None:
            self.sock = os.path.join(self.dir, "clamd.sock")
            self.addr = self.sock
            self.spec = self.sock
            listen = ["LocalSocket " + self.sock, "LocalSocketMode 600", "FixStaleSocket yes"]
        else:
            self.sock = None
            self.addr = ("127.0.0.1", tcp_port)
            self.spec = "127.0.0.1:%d" % tcp_port
            listen = ["TCPSocket %d" % tcp_port, "TCPAddr 127.0.0.1"]
        conf = listen + [
            "DatabaseDirectory " + avdb,
            "TemporaryDirectory " + os.path.join(self.dir, "tmp"),
            "PidFile " + os.path.join(self.dir, "clamd.pid"),
            "LogFile " + self.log,
            "LogTime yes",
            # $! is clamd itself: we stop it by that pid.
            "Foreground yes",
            "SelfCheck 0",
            "Bytecode no",
            # As in-process: a limit that leaves content unscanned is
            # reported (Heuristics.Limits.Exceeded.*), never "OK".
            "AlertExceedsMax " + ("yes" if alert_exceeds_max else "no"),
        ]
        if stream_max:
            conf.append("StreamMaxLength " + stream_max)
        self.conf = os.path.join(self.dir, "clamd.conf")
        with open(self.conf, "w") as f:
            f.write("\n".join(conf) + "\n")

    def start(self, timeout=30.0):
        out = open(os.path.join(self.dir, "clamd.stdout"), "wb")
        self.proc = subprocess.Popen([CLAMD, "-c", self.conf], stdout=out,
                                     stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL)
        out.close()
        t0 = time.monotonic()
        while time.monotonic() - t0 < timeout:
            if self.proc.poll() is not None:
                raise RuntimeError("clamd %s exited with %s:\n%s" %
                                   (self.name, self.proc.returncode, self.logs()))
            try:
                if clamd_command(self.addr, b"PING") == "PONG":
                    return time.monotonic() - t0
            except OSError:
                pass
            time.sleep(0.05)
        raise RuntimeError("clamd %s not ready after %.0f s:\n%s" %
                           (self.name, timeout, self.logs()))

    def alive(self):
        return self.proc is not None and self.proc.poll() is None

    def kill(self):
        """SIGKILL, as a crash would: no cleanup, the socket file stays."""
        self.proc.send_signal(signal.SIGKILL)
        self.proc.wait(10)

    def stop(self):
        if not self.alive():
            return
        self.proc.send_signal(signal.SIGTERM)
        try:
            self.proc.wait(10)
        except subprocess.TimeoutExpired:
            self.proc.send_signal(signal.SIGKILL)
            self.proc.wait(10)

    def logs(self):
        text = ""
        for name in ("clamd.stdout", "clamd.log"):
            try:
                with open(os.path.join(self.dir, name), errors="replace") as f:
                    text += f.read()[-2000:]
            except OSError:
                pass
        return text


# ---- the driver ---------------------------------------------------------------

def parse_lines(text):
    res = []
    for line in text.splitlines():
        if "\t" not in line:
            continue
        path, verdict = line.split("\t", 1)
        res.append((path, verdict))
    return res


def run_driver(args, spec, files, extra=(), timeout=60):
    cmd = [args.driver, "--connect-ms", "1000", "--io-ms", "5000"] + list(extra) + \
          ["clamd:" + spec] + list(files)
    p = subprocess.run(cmd, stdout=subprocess.PIPE, stderr=subprocess.PIPE, timeout=timeout,
                       text=True)
    if p.returncode not in (0,):
        print("driver exit %d: %s" % (p.returncode, p.stderr.strip()))
    return p, parse_lines(p.stdout)


def expect_all(results, expected, what):
    """expected: path -> "clean" | "infected NAME" | "error" (any error).
    Every result line must match; callers check the number of lines."""
    ok = bool(results)
    for path, verdict in results:
        want = expected[path]
        good = verdict.startswith("error ") if want == "error" else verdict == want
        if not good:
            print("   %s: got %r, want %r" % (path, verdict, want))
            ok = False
    return check(ok, "%s (%d scans)" % (what, len(results)))


# ---- the cases ---------------------------------------------------------------------

def make_samples(d):
    s = {}

    def put(name, data):
        p = os.path.join(d, name)
        with open(p, "wb") as f:
            f.write(data)
        s[name] = p

    put("eicar.com", EICAR)
    b = io.BytesIO()
    with zipfile.ZipFile(b, "w", zipfile.ZIP_DEFLATED) as z:
        z.writestr("eicar.com", EICAR)
    put("eicar.zip", b.getvalue())
    assert b"EICAR" not in b.getvalue()  # found only by unpacking
    text = b"Gentile cliente, in allegato la fattura n. 42.\r\n"
    put("clean.txt", text)
    b = io.BytesIO()
    with zipfile.ZipFile(b, "w", zipfile.ZIP_DEFLATED) as z:
        z.writestr("fattura.txt", text)
    put("clean.zip", b.getvalue())
    import base64
    msg = (b"From: a@example.test\r\nTo: b@pec.example.test\r\nSubject: x\r\n"
           b"MIME-Version: 1.0\r\nContent-Type: multipart/mixed; boundary=\"BB\"\r\n\r\n"
           b"--BB\r\nContent-Type: text/plain\r\n\r\nciao\r\n"
           b"--BB\r\nContent-Type: application/zip; name=\"a.zip\"\r\n"
           b"Content-Transfer-Encoding: base64\r\n\r\n" +
           base64.encodebytes(open(s["eicar.zip"], "rb").read()) + b"\r\n--BB--\r\n")
    put("eicar.eml", msg)
    # Clean text 20 zips deep: past clamd's MaxRecursion (17), which
    # AlertExceedsMax reports as Heuristics.Limits.Exceeded.MaxRecursion.
    data, name = text, "inner.txt"
    for i in range(20):
        b = io.BytesIO()
        with zipfile.ZipFile(b, "w", zipfile.ZIP_DEFLATED) as z:
            z.writestr(name, data)
        data, name = b.getvalue(), "level%d.zip" % i
    put("deep.zip", data)
    # Clean, over B's StreamMaxLength (1M) but under pg_av's limits.
    put("big2m.bin", (b"pecguard clean filler line\n" * 80000)[:2 * 1024 * 1024])
    put("small900k.bin", (b"pecguard clean filler line\n" * 40000)[:900 * 1024])
    return s


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--driver", required=True)
    ap.add_argument("--avdb", required=True)
    ap.add_argument("--testfiles", default="/usr/share/clamav-testfiles")
    ap.add_argument("--detected")
    args = ap.parse_args()

    if not os.access(CLAMD, os.X_OK):
        return missing("%s not installed (package clamav-daemon)" % CLAMD)
    if not os.path.isdir(args.avdb) or not os.listdir(args.avdb):
        print("FAIL: no test database in %s (run av.db.generate)" % args.avdb)
        return 1

    t_start = time.monotonic()
    # Unix socket paths are limited to 107 bytes: keep the directory short.
    base_dir = os.environ.get("TMPDIR", "/tmp")
    if len(base_dir) > 60:
        base_dir = "/tmp"
    tmp = tempfile.mkdtemp(prefix="pg-clamd.", dir=base_dir)
    daemons = []
    try:
        samples = make_samples(tmp)
        port = free_port()
        if port_busy(port):
            print("FAIL: port %d in use: refusing to run" % port)
            return 1
        a = Clamd(tmp, "a", args.avdb)
        b = Clamd(tmp, "b", args.avdb, tcp_port=port, stream_max="1M")
        daemons += [a, b]
        ta = a.start()
        tb = b.start()
        print("clamd a (unix %s) ready in %.2f s, clamd b (tcp %s) ready in %.2f s" %
              (a.sock, ta, b.spec, tb))
        dead = os.path.join(tmp, "dead.sock")  # nobody listens there

        basic = {
            samples["eicar.com"]: "infected " + EICAR_NAME,
            samples["eicar.zip"]: "infected " + EICAR_NAME,
            samples["eicar.eml"]: "infected " + EICAR_NAME,
            samples["clean.txt"]: "clean",
            samples["clean.zip"]: "clean",
        }

        # 1. unix socket: EICAR plain, zipped, in a message; clean.
        p, res = run_driver(args, a.spec, list(basic))
        expect_all(res, basic, "unix socket: EICAR plain/zipped/mail found, clean is clean")
        check(len(res) == len(basic) and p.returncode == 0, "unix socket: one line per file")

        # 2. ClamAV's test files, the ones our database detects.
        if args.detected and os.path.isdir(args.testfiles):
            names = [l.strip() for l in open(args.detected)
                     if l.strip() and not l.startswith("#")]
            files = [os.path.join(args.testfiles, n) for n in names]
            p, res = run_driver(args, a.spec, files)
            expect_all(res, {f: "infected " + CLAMTEST_NAME for f in files},
                       "clamav-testfiles detected through clamd")
            check(len(res) == len(files), "clamav-testfiles: %d of %d answered" %
                  (len(res), len(files)))
        elif require_all():
            check(False, "%s missing (package clamav-testfiles)" % args.testfiles)
        else:
            print("skip clamav-testfiles (not installed)")

        # 3. TCP.
        p, res = run_driver(args, b.spec, list(basic))
        expect_all(res, basic, "tcp 127.0.0.1: EICAR found, clean is clean")
        check(len(res) == len(basic), "tcp: one line per file")

        # 4. StreamMaxLength 1M: 2 MB is an error, 900 KB is scanned.
        p, res = run_driver(args, b.spec, [samples["big2m.bin"], samples["small900k.bin"]])
        d = dict(res)
        big = d.get(samples["big2m.bin"], "")
        check(big.startswith("error ") and "size limit exceeded" in big,
              "tcp: 2 MB over StreamMaxLength 1M -> error (%s)" % big)
        check(d.get(samples["small900k.bin"]) == "clean", "tcp: 900 KB under the limit -> clean")

        # 4b. A limit clamd hits is an error, not a detection.
        p, res = run_driver(args, a.spec, [samples["deep.zip"]])
        v = res[0][1] if res else ""
        check(v.startswith("error limits exceeded: content not fully scanned: "
                           "Heuristics.Limits.Exceeded.MaxRecursion"),
              "clamd AlertExceedsMax -> error (%s)" % v)

        # 5. A dead socket: error (tempfail), never clean.
        errs = {samples["eicar.com"]: "error", samples["clean.txt"]: "error"}
        p, res = run_driver(args, dead, list(errs))
        expect_all(res, errs, "dead socket -> error, never clean")
        check(all("connect" in v for _, v in res), "dead socket: the error says connect")

        # 6. Failover: dead first, live second (the rotating start index
        # puts each first in turn, so both orders are exercised).
        files = list(basic) * 4
        for spec, what in ((dead + "," + a.spec, "dead unix + live unix"),
                           (dead + "," + b.spec, "dead unix + live tcp"),
                           ("[::1]:%d,%s" % (port, b.spec), "[::1] (nobody) + live tcp")):
            p, res = run_driver(args, spec, files)
            expect_all(res, basic, "failover %s" % what)
            check(len(res) == len(files), "failover %s: every file answered" % what)

        # 6b. A server that accepts and never answers (a listening socket
        # nobody reads: connect succeeds through the backlog): the scan
        # times out after io_timeout and fails over.
        stalled_path = os.path.join(tmp, "stalled.sock")
        stalled = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
        stalled.bind(stalled_path)
        stalled.listen(64)
        try:
            errs = {samples["eicar.com"]: "error"}
            t0 = time.monotonic()
            p, res = run_driver(args, stalled_path, list(errs), extra=["--io-ms", "300"])
            el = time.monotonic() - t0
            expect_all(res, errs, "stalled server -> error")
            check(res and "no reply within 300 ms" in res[0][1] and el < 5,
                  "stalled server: timed out in %.2f s (%s)" % (el, res[0][1] if res else ""))
            files = list(basic) * 2
            p, res = run_driver(args, stalled_path + "," + a.spec, files,
                                extra=["--io-ms", "300"])
            expect_all(res, basic, "failover stalled unix + live unix")
            check(len(res) == len(files), "failover stalled: every file answered")
        finally:
            stalled.close()

        # 6c. A unix server whose listen queue is full (nobody accepts):
        # connect retries until connect_timeout_ms, then fails over.
        full_path = os.path.join(tmp, "full.sock")
        full = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
        full.bind(full_path)
        full.listen(0)
        fillers = []
        try:
            for _ in range(8):
                c = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
                c.setblocking(False)
                try:
                    c.connect(full_path)
                except BlockingIOError:
                    c.close()
                    break
                fillers.append(c)
            t0 = time.monotonic()
            p, res = run_driver(args, full_path, [samples["eicar.com"]],
                                extra=["--connect-ms", "300"])
            el = time.monotonic() - t0
            v = res[0][1] if res else ""
            check(v.startswith("error ") and "connect" in v and 0.25 < el < 5,
                  "full listen queue: connect gave up after %.2f s (%s)" % (el, v))
            files = list(basic)
            p, res = run_driver(args, full_path + "," + a.spec, files,
                                extra=["--connect-ms", "300"])
            expect_all(res, basic, "failover full queue + live unix")
            check(len(res) == len(files), "failover full queue: every file answered")
        finally:
            for c in fillers:
                c.close()
            full.close()

        # 7. Many threads on one handle.
        files = list(basic) * 40
        p, res = run_driver(args, a.spec + "," + b.spec, files, extra=["--threads", "8"])
        expect_all(res, basic, "8 threads, two servers")
        check(len(res) == len(files), "8 threads: %d of %d answered" % (len(res), len(files)))

        # 8. Reload: every server says RELOADING; scans go on.
        p = subprocess.run([args.driver, "--reload", "clamd:%s,%s" % (a.spec, b.spec),
                            samples["eicar.com"]], stdout=subprocess.PIPE, text=True, timeout=60)
        check(p.stdout.startswith("RELOAD ok"), "zRELOAD on both servers (%s)" %
              p.stdout.splitlines()[0] if p.stdout else "no output")
        p = subprocess.run([args.driver, "--reload", "clamd:%s,%s" % (a.spec, dead),
                            samples["eicar.com"]], stdout=subprocess.PIPE, text=True, timeout=60)
        check(p.stdout.startswith("RELOAD error") and "dead.sock" in p.stdout,
              "zRELOAD with a dead server names it")
        # clamd reloads in the background: wait until it answers again.
        t0 = time.monotonic()
        while time.monotonic() - t0 < 20:
            try:
                if clamd_command(a.addr, b"PING") == "PONG" and \
                        clamd_command(b.addr, b"PING") == "PONG":
                    break
            except OSError:
                pass
            time.sleep(0.05)

        # 9. clamd A killed (SIGKILL) at a known point of a run: the scans
        # before were answered, every scan after is an error, none clean.
        files = [samples["eicar.com"], samples["clean.txt"]] * 15
        proc = subprocess.Popen([args.driver, "--connect-ms", "1000", "--io-ms", "5000",
                                 "--sync", "10", "clamd:" + a.spec] + files,
                                stdin=subprocess.PIPE, stdout=subprocess.PIPE, text=True,
                                bufsize=1)
        before, after, synced = [], [], False
        try:
            for line in proc.stdout:
                line = line.rstrip("\n")
                if line == "SYNC":
                    a.kill()
                    synced = True
                    proc.stdin.write("go\n")
                    proc.stdin.flush()
                    continue
                (after if synced else before).append(line.split("\t", 1))
            proc.wait(60)
        finally:
            if proc.poll() is None:
                proc.kill()
                proc.wait()
        check(synced and len(before) == 10 and len(after) == 20,
              "kill run: %d answered before the kill, %d after" % (len(before), len(after)))
        want = {samples["eicar.com"]: "infected " + EICAR_NAME, samples["clean.txt"]: "clean"}
        check(all(v == want[pth] for pth, v in before), "kill run: answers before the kill right")
        check(all(v.startswith("error ") for _, v in after),
              "kill run: every scan after the kill is an error")
        check(not any(v == "clean" for _, v in after), "kill run: nothing clean after the kill")

        # 10. clamd B killed while 8 threads scan EICAR through it: each
        # answer is the detection or an error - never clean - and the
        # scans after the kill fail.
        files = [samples["eicar.zip"]] * 3000
        proc = subprocess.Popen([args.driver, "--connect-ms", "1000", "--io-ms", "5000",
                                 "--threads", "8", "clamd:" + b.spec] + files,
                                stdout=subprocess.PIPE, text=True, bufsize=1)
        results, killed_at = [], None
        try:
            for line in proc.stdout:
                results.append(line.rstrip("\n").split("\t", 1)[1])
                if killed_at is None and len(results) == 200:
                    b.kill()
                    killed_at = len(results)
            proc.wait(60)
        finally:
            if proc.poll() is None:
                proc.kill()
                proc.wait()
        bad = [v for v in results if v != "infected " + EICAR_NAME and not v.startswith("error ")]
        errors = sum(1 for v in results if v.startswith("error "))
        check(killed_at is not None and len(results) == len(files),
              "concurrent kill: %d of %d answered, kill after %s" %
              (len(results), len(files), killed_at))
        check(not bad, "concurrent kill: only detections and errors (%d bad: %s)" %
              (len(bad), bad[:3]))
        check(errors > 0 and results[-1].startswith("error "),
              "concurrent kill: scans after the kill fail (%d errors)" % errors)
    except Exception as e:  # a broken setup is a failure, with the logs
        failures.append(repr(e))
        print("FAIL %r" % (e,))
        for dmn in daemons:
            print("--- clamd %s log:\n%s" % (dmn.name, dmn.logs()))
    finally:
        for dmn in daemons:
            dmn.stop()
        shutil.rmtree(tmp, ignore_errors=True)

    return summary(", %.1f s" % (time.monotonic() - t_start))


if __name__ == "__main__":
    sys.exit(main())
