"""pgtest.py - private mail components for pecguard's end-to-end tests.

Everything runs on 127.0.0.1 or unix sockets in one temporary directory,
is started by the test and stopped by its pid; nothing of the system's
Postfix, clamd or configuration is touched.

  PrivatePostfix  a Postfix instance of its own: config and queue in DIR,
                  virtual Maildir delivery, one loopback SMTP port wired
                  to a milter socket (and more listeners, each with its
                  own milter, with add_smtpd)
  Milter          pecguard-milter with a configuration written here
  Clamd           a private clamd (tests/av/check_clamd.py)
"""
import json
import os
import shutil
import signal
import socket
import subprocess
import sys
import time

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, os.path.join(HERE, "..", "av"))
from check_clamd import CLAMD, Clamd  # noqa: E402,F401

DOMAINS = ("pec.alfa.test", "pec.beta.test", "example.test")


def port_busy(port):
    with socket.socket() as s:
        s.settimeout(0.3)
        return s.connect_ex(("127.0.0.1", port)) == 0


def free_port():
    for _ in range(50):
        with socket.socket() as s:
            s.bind(("127.0.0.1", 0))
            port = s.getsockname()[1]
        if not port_busy(port):
            return port
    raise RuntimeError("no free port")


def postfix_unavailable(what="end-to-end tests run a private Postfix"):
    """Why a private Postfix cannot be started here (not root, Postfix not
    installed), or None: the caller passes the reason to pgcheck.missing()."""
    if os.geteuid() != 0:
        return "%s: root needed" % what
    if not shutil.which("postfix") or not os.path.exists("/etc/postfix/master.cf"):
        return "postfix not installed"
    return None


def teardown(base, *parts, keep=False):
    """Stops what a test started (Postfix first, so that nothing more reaches
    the milter; None entries are skipped), then removes its directory unless
    keep: a failed run's directory is kept for inspection."""
    for p in parts:
        if p is not None:
            p.stop()
    if keep:
        print("kept for inspection:", base)
    else:
        shutil.rmtree(base, ignore_errors=True)


def wait_for(pred, timeout, what):
    t0 = time.monotonic()
    while time.monotonic() - t0 < timeout:
        v = pred()
        if v:
            return v
        time.sleep(0.05)
    raise RuntimeError("timed out after %.0f s waiting for %s" % (timeout, what))


class PrivatePostfix:
    """port and the ports of add_smtpd() are the ones asked for; start() may
    move a listener to another free port when its own turned out to be
    taken (another test grabbed it meanwhile): read .port and .ports after
    start()."""

    def __init__(self, base, port, milter_spec, users=("alice", "bob", "carol", "giulia", "protocollo", "load")):
        self.T = os.path.join(base, "postfix")
        self.port = port
        # listeners: port -> the milter spec for its smtpd ("" = main.cf's)
        self.listeners = {port: ""}
        # Our banner carries a token of its own: readiness is this Postfix
        # answering, never another test's on a port that was reused.
        self.token = os.urandom(6).hex()
        self.C = os.path.join(self.T, "etc")
        self.mail = os.path.join(self.T, "mail")
        self.log = os.path.join(self.T, "log", "postfix.log")
        os.makedirs(self.C)
        os.makedirs(os.path.join(self.T, "log"))
        os.makedirs(self.mail)
        for d, mode, owner in (("data", 0o700, "postfix"), ("spool", 0o755, "root")):
            p = os.path.join(self.T, d)
            os.makedirs(p)
            os.chmod(p, mode)
            shutil.chown(p, owner, "root")
        for p in (base, self.T):
            os.chmod(p, 0o755)
        shutil.chown(self.mail, 65534, 65534)
        shutil.copy("/etc/postfix/master.cf", os.path.join(self.C, "master.cf"))
        open(os.path.join(self.C, "main.cf"), "w").close()
        with open(os.path.join(self.C, "vmailbox"), "w") as f:
            for d in DOMAINS:
                for u in users:
                    f.write("%s@%s\t%s/%s/\n" % (u, d, d, u))
                f.write("@%s\t%s/catchall/\n" % (d, d))
        self.postconf_e(
            "compatibility_level = 3.6",
            "queue_directory = %s/spool" % self.T,
            "data_directory = %s/data" % self.T,
            "mail_owner = postfix", "setgid_group = postdrop",
            "myhostname = mx.pec.alfa.test", "mydomain = pec.alfa.test",
            "myorigin = $myhostname", "mydestination =", "local_recipient_maps =",
            "alias_maps =", "alias_database =", "relay_domains =", "relayhost =",
            "inet_interfaces = 127.0.0.1", "inet_protocols = ipv4", "mynetworks = 127.0.0.0/8",
            "smtpd_banner = $myhostname ESMTP pecguard-e2e-" + self.token,
            "smtpd_peername_lookup = no",
            "biff = no",
            # as Debian's Postfix: carol+x@ is delivered to carol@
            "recipient_delimiter = +",
            "virtual_mailbox_domains = " + ", ".join(DOMAINS),
            "virtual_mailbox_maps = texthash:%s/vmailbox" % self.C,
            "virtual_mailbox_base = %s" % self.mail,
            "virtual_uid_maps = static:65534", "virtual_gid_maps = static:65534",
            "smtpd_milters = %s" % milter_spec, "non_smtpd_milters =",
            "milter_default_action = tempfail",
            "milter_connect_timeout = 5s", "milter_command_timeout = 30s",
            "milter_content_timeout = 60s",
            "queue_run_delay = 1s", "minimal_backoff_time = 1s", "maximal_backoff_time = 2s",
            "maximal_queue_lifetime = 1h", "bounce_queue_lifetime = 1h", "in_flow_delay = 0",
            "smtpd_client_connection_count_limit = 0",
            # refusals are expected here: no penalty sleep, no disconnects
            "smtpd_error_sleep_time = 0", "smtpd_soft_error_limit = 100000",
            "smtpd_hard_error_limit = 100000",
            "default_process_limit = 100",
            "message_size_limit = 52428800", "virtual_mailbox_limit = 0",
            "maillog_file = %s/log/postfix.log" % self.T,
            "maillog_file_prefixes = %s/log" % self.T)
        self.run(["postconf", "-c", self.C, "-F", "*/*/chroot = n"])
        self.run(["postconf", "-c", self.C, "-MX", "smtp/inet"])
        self._listen(port, "")

    def _listen(self, port, milter_spec):
        entry = "127.0.0.1:%d inet n - n - - smtpd" % port
        if milter_spec:
            entry += " -o smtpd_milters=%s -o syslog_name=postfix/smtpd-%d" % (milter_spec, port)
        self.run(["postconf", "-c", self.C, "-M", "127.0.0.1:%d/inet = %s" % (port, entry)])

    def add_smtpd(self, port, milter_spec):
        """A second SMTP listener on port whose smtpd uses milter_spec
        (Postfix syntax: inet:127.0.0.1:PORT or unix:/path)."""
        self.listeners[port] = milter_spec
        self._listen(port, milter_spec)

    @property
    def ports(self):
        return list(self.listeners)

    def _move(self, old):
        """Moves the listener on port old to a new free port."""
        spec = self.listeners.pop(old)
        self.run(["postconf", "-c", self.C, "-MX", "127.0.0.1:%d/inet" % old])
        new = free_port()
        self.listeners[new] = spec
        self._listen(new, spec)
        if self.port == old:
            self.port = new
        return new

    def run(self, cmd):
        p = subprocess.run(cmd, capture_output=True, text=True)
        if p.returncode != 0:
            raise RuntimeError("%s: %s" % (" ".join(cmd), p.stderr))
        return p.stdout

    def postconf_e(self, *settings):
        self.run(["postconf", "-c", self.C, "-e"] + list(settings))

    def ours(self, port):
        """True when port answers with this instance's banner."""
        try:
            with socket.create_connection(("127.0.0.1", port), timeout=2) as s:
                line = s.recv(200)
                s.sendall(b"QUIT\r\n")
                return line.startswith(b"220") and self.token.encode() in line
        except OSError:
            return False

    def start(self, attempts=3):
        """Starts Postfix and waits until every listener gives our banner.
        A port taken by someone else since it was chosen (the master logs
        "bind ... Address already in use", or a stranger answers) is
        replaced by a fresh one and Postfix started again."""
        last = None
        for _ in range(attempts):
            for p in self.ports:
                if port_busy(p):
                    self._move(p)
            mark = len(self.logtext())

            def ready():
                if "Address already in use" in self.logtext()[mark:]:
                    raise RuntimeError("a listener's port is taken")
                return all(self.ours(p) for p in self.ports)
            try:
                self.run(["postfix", "-c", self.C, "start"])
                wait_for(ready, 30, "postfix banner")
                return
            except RuntimeError as e:
                last = e
            self.stop()
        raise RuntimeError("postfix did not answer on %s: %s\n%s"
                           % (self.ports, last, self.logtext()[-2000:]))

    def master_pid(self):
        try:
            with open(os.path.join(self.T, "spool", "pid", "master.pid")) as f:
                return int(f.read().strip())
        except (OSError, ValueError):
            return None

    def stop(self):
        pid = self.master_pid()
        if pid is None:
            return
        kids = subprocess.run(["ps", "-o", "pid=", "--ppid", str(pid)], capture_output=True,
                              text=True).stdout.split()
        try:
            os.kill(pid, signal.SIGTERM)
        except ProcessLookupError:
            return
        for _ in range(100):
            alive = False
            for p in [pid] + [int(k) for k in kids]:
                try:
                    os.kill(p, 0)
                    alive = True
                except ProcessLookupError:
                    pass
            if not alive:
                return
            time.sleep(0.1)

    def maildir(self, addr):
        user, dom = addr.split("@")
        return os.path.join(self.mail, dom, user, "new")

    def messages(self, addr):
        d = self.maildir(addr)
        if not os.path.isdir(d):
            return []
        out = []
        for n in sorted(os.listdir(d)):
            with open(os.path.join(d, n), "rb") as f:
                out.append(f.read())
        return out

    def find(self, addr, needle):
        """The delivered messages of addr whose bytes contain needle."""
        return [m for m in self.messages(addr) if needle in m]

    def count(self, addr):
        d = self.maildir(addr)
        return len(os.listdir(d)) if os.path.isdir(d) else 0

    def snapshot(self):
        """Every mailbox's delivered files: {address: frozenset(names)}."""
        out = {}
        for dom in sorted(os.listdir(self.mail)):
            for user in sorted(os.listdir(os.path.join(self.mail, dom))):
                files = set()
                for sub in ("new", "cur"):
                    d = os.path.join(self.mail, dom, user, sub)
                    if os.path.isdir(d):
                        files.update(sub + "/" + n for n in os.listdir(d))
                out["%s@%s" % (user, dom)] = frozenset(files)
        return out

    def new_since(self, before):
        """{address: [raw message, ...]} delivered since snapshot before."""
        out = {}
        for addr, files in self.snapshot().items():
            for n in sorted(files - before.get(addr, frozenset())):
                user, dom = addr.split("@")
                with open(os.path.join(self.mail, dom, user, n), "rb") as f:
                    out.setdefault(addr, []).append(f.read())
        return out

    def settle(self, timeout=30):
        """Waits until Postfix has nothing in flight (held messages stay):
        whatever was accepted is then in its Maildir."""
        wait_for(lambda: all(q.get("queue_name") == "hold" for q in self.queue()), timeout,
                 "the queue to settle")

    def queue(self):
        p = subprocess.run(["postqueue", "-c", self.C, "-j"], capture_output=True, text=True)
        return [json.loads(l) for l in p.stdout.splitlines() if l.strip()]

    def held(self):
        return [q for q in self.queue() if q.get("queue_name") == "hold"]

    def postcat(self, queue_id):
        """The queued message queue_id as postcat -q shows it (envelope and content)."""
        p = subprocess.run(["postcat", "-c", self.C, "-q", queue_id], capture_output=True,
                           text=True, errors="replace")
        return p.stdout if p.returncode == 0 else ""

    def flush_and_wait_empty(self, timeout=30):
        subprocess.run(["postqueue", "-c", self.C, "-f"], capture_output=True)
        wait_for(lambda: all(q.get("queue_name") == "hold" for q in self.queue()), timeout,
                 "queue to drain")

    def logtext(self):
        try:
            with open(self.log, errors="replace") as f:
                return f.read()
        except OSError:
            return ""


class Milter:
    """pecguard-milter with config_text in base/milter/pecguard.conf.  spec
    is how Postfix names its socket: unix:SOCK by default, or the
    postfix_spec given (inet:127.0.0.1:PORT for milter.socket =
    "inet:PORT@127.0.0.1")."""

    def __init__(self, base, binary, config_text, sock=None, postfix_spec=None):
        self.dir = os.path.join(base, "milter")
        os.makedirs(self.dir, exist_ok=True)
        os.chmod(self.dir, 0o755)
        self.binary = binary
        self.sock = sock or os.path.join(self.dir, "milter.sock")
        self.postfix_spec = postfix_spec
        self.conf = os.path.join(self.dir, "pecguard.conf")
        self.stderr = os.path.join(self.dir, "milter.log")
        self.events = os.path.join(self.dir, "events.jsonl")
        with open(self.conf, "w") as f:
            f.write(config_text)
        self.proc = None

    @property
    def spec(self):
        return self.postfix_spec or "unix:" + self.sock

    def start(self, extra=(), wait=True):
        err = open(self.stderr, "ab")
        self.proc = subprocess.Popen([self.binary, "--config", self.conf] + list(extra),
                                     stdout=err, stderr=subprocess.STDOUT,
                                     stdin=subprocess.DEVNULL)
        err.close()
        if wait:
            def ready():
                if self.proc.poll() is not None:
                    raise RuntimeError("pecguard-milter exited %s:\n%s" %
                                       (self.proc.returncode, self.logtext()[-3000:]))
                return "started on" in self.logtext()
            wait_for(ready, 60, "pecguard-milter start")

    def alive(self):
        return self.proc is not None and self.proc.poll() is None

    def signal(self, sig):
        self.proc.send_signal(sig)

    def stop(self, timeout=15):
        if not self.alive():
            return self.proc.returncode if self.proc else None
        self.proc.send_signal(signal.SIGTERM)
        try:
            return self.proc.wait(timeout)
        except subprocess.TimeoutExpired:
            self.proc.kill()
            self.proc.wait(5)
            return None

    def logtext(self):
        try:
            with open(self.stderr, errors="replace") as f:
                return f.read()
        except OSError:
            return ""

    def events_list(self):
        try:
            with open(self.events) as f:
                return [json.loads(l) for l in f if l.strip()]
        except OSError:
            return []

    def rss_kb(self):
        try:
            with open("/proc/%d/status" % self.proc.pid) as f:
                for line in f:
                    if line.startswith("VmRSS:"):
                        return int(line.split()[1])
        except OSError:
            pass
        return None

    def hwm_kb(self):
        try:
            with open("/proc/%d/status" % self.proc.pid) as f:
                for line in f:
                    if line.startswith("VmHWM:"):
                        return int(line.split()[1])
        except OSError:
            pass
        return None


def start_inet_milter(base, binary, make_conf, attempts=3):
    """pecguard-milter on inet:PORT@127.0.0.1, PORT a free one; make_conf(port)
    gives its configuration text.  A port taken between choosing and binding
    (another test's) is replaced by a fresh one.  Returns (milter, port)."""
    last = None
    for _ in range(attempts):
        port = free_port()
        m = Milter(base, binary, make_conf(port), postfix_spec="inet:127.0.0.1:%d" % port)
        try:
            m.start()
            return m, port
        except RuntimeError as e:
            last = e
            m.stop()
    raise RuntimeError("pecguard-milter on inet: %s" % last)
