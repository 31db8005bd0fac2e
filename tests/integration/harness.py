"""harness.py -- start and stop real dynafiled processes for the integration tests.

A Daemon owns one dynafiled process listening on a free 127.0.0.1 port with
its own data directory (a fresh temp dir unless one is given, so a test can
restart a daemon on the same data). start() waits until `GET /` answers;
stop() sends SIGTERM and checks the exit status is 0; kill() sends SIGKILL.
Every stop also scans the daemon's stderr for sanitizer reports when
DYNAFILE_SANITIZED=1 (the ASan/UBSan run), and fails the test if it finds one.

Also here: a boto3 client factory (dummy credentials, us-east-1, no retries
so errors surface at once), and a raw HTTP helper that sends exactly the
headers botocore sends (with a fake Authorization header) so that
server-side validation can be tested past boto3's client-side checks.

Standard library plus Debian's python3-boto3 only; run with /usr/bin/python3.
"""

import http.client
import json
import os
import shutil
import signal
import socket
import subprocess
import tempfile
import time
import unittest
import zlib

DAEMON = os.environ.get("DYNAFILED", "")  # set by run.py from --daemon (see configure)
SANITIZED = os.environ.get("DYNAFILE_SANITIZED") == "1"
# Everything slows down under ASan; timeouts scale with this.
SLOW = 3.0 if SANITIZED else 1.0


def is_sanitized_binary(path):
    """True if the executable was built with ASan or UBSan (runtime symbols)."""
    try:
        with open(path, "rb") as f:
            data = f.read()
    except OSError:
        return False
    return b"__asan_init" in data or b"__ubsan_handle_" in data


def configure(daemon):
    """Set the daemon path; turn the sanitizer checks on when
    DYNAFILE_SANITIZED=1 or when the binary is a sanitizer build anyway.
    Call before test modules import SLOW."""
    global DAEMON, SANITIZED, SLOW
    DAEMON = os.path.abspath(daemon)
    os.environ["DYNAFILED"] = DAEMON
    if not SANITIZED and is_sanitized_binary(DAEMON):
        SANITIZED = True
        os.environ["DYNAFILE_SANITIZED"] = "1"
    SLOW = 3.0 if SANITIZED else 1.0
    return SANITIZED

SANITIZER_MARKERS = ("ERROR: AddressSanitizer", "runtime error:", "LeakSanitizer")

FAKE_AUTH = ("AWS4-HMAC-SHA256 Credential=AKIDEXAMPLE/20240101/us-east-1/dynamodb/aws4_request, "
             "SignedHeaders=content-type;host;x-amz-date;x-amz-target, Signature=" + "0" * 64)
AMZ_DATE = "20240101T000000Z"
TARGET_PREFIX = "DynamoDB_20120810."


class DaemonError(AssertionError):
    """A daemon misbehaved (did not start, bad exit status, sanitizer report)."""


def free_port():
    """A port that was free a moment ago (the daemon start retries on a race)."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def daemon_path():
    if not DAEMON:
        raise DaemonError("no daemon: run through run.py --daemon PATH (or set DYNAFILED)")
    return DAEMON


class Daemon:
    """One dynafiled process. Usable as a context manager (stop on exit)."""

    def __init__(self, data_dir=None, fsync=True, create_delay_ms=0, delete_delay_ms=0,
                 log_level="info", extra_args=(), log_dir=None):
        self.own_dir = data_dir is None
        self.own_log_dir = log_dir is None
        self.log_dir = log_dir or tempfile.mkdtemp(prefix="dynafiled-log-")
        self.data_dir = data_dir or tempfile.mkdtemp(prefix="dynafile-itest-")
        self.fsync = fsync
        self.create_delay_ms = create_delay_ms
        self.delete_delay_ms = delete_delay_ms
        self.log_level = log_level
        self.extra_args = list(extra_args)
        self.proc = None
        self.port = None
        self.stderr_path = None
        self.stderr_file = None
        self.runs = 0  # how many processes this object started (stderr file per run)

    # -- lifecycle ------------------------------------------------------------

    def argv(self, port):
        a = [daemon_path(), "--host", "127.0.0.1", "--port", str(port), "--data-dir", self.data_dir,
             "--log-level", self.log_level]
        if self.create_delay_ms:
            a += ["--create-delay-ms", str(self.create_delay_ms)]
        if self.delete_delay_ms:
            a += ["--delete-delay-ms", str(self.delete_delay_ms)]
        if not self.fsync:
            a.append("--no-fsync")
        return a + self.extra_args

    def start(self, timeout=None, wait=True):
        """Start on a free port (keeping the previous one on restart if
        possible) and wait until GET / answers (wait=False: return at once,
        e.g. to kill the daemon in the middle of its recovery)."""
        timeout = timeout or 20 * SLOW
        last = ""
        for attempt in range(5):
            port = self.port if (self.port and attempt == 0) else free_port()
            self.runs += 1
            self.stderr_path = os.path.join(self.log_dir, "dynafiled-%d.stderr" % self.runs)
            self.stderr_file = open(self.stderr_path, "wb")
            env = dict(os.environ)
            if SANITIZED:
                env.setdefault("ASAN_OPTIONS", "detect_leaks=1:abort_on_error=0")
                env.setdefault("UBSAN_OPTIONS", "print_stacktrace=1")
            self.proc = subprocess.Popen(self.argv(port), stdin=subprocess.DEVNULL,
                                         stdout=self.stderr_file, stderr=self.stderr_file, env=env)
            self.port = port
            if not wait:
                return self
            deadline = time.monotonic() + timeout
            while time.monotonic() < deadline:
                if self.proc.poll() is not None:
                    break
                if self._health_ok():
                    return self
                time.sleep(0.02)
            if self.proc.poll() is None:
                self.proc.kill()
                self.proc.wait()
                self.stderr_file.close()
                raise DaemonError("dynafiled did not answer GET / within %.0fs; stderr:\n%s"
                                  % (timeout, self.stderr_text()[-4000:]))
            self.stderr_file.close()
            last = self.stderr_text()
            self.check_sanitizers()
            if "in use" not in last.lower() and "bind" not in last.lower():
                break
        raise DaemonError("dynafiled exited with status %s at start; stderr:\n%s"
                          % (self.proc.returncode, last[-4000:]))

    def _health_ok(self):
        try:
            c = http.client.HTTPConnection("127.0.0.1", self.port, timeout=1)
            c.request("GET", "/")
            r = c.getresponse()
            r.read()
            c.close()
            return r.status == 200
        except (OSError, http.client.HTTPException):
            return False

    def running(self):
        return self.proc is not None and self.proc.poll() is None

    def stop(self, timeout=None, expect_rc=0, sig=signal.SIGTERM):
        """Send sig (SIGTERM; None = a signal was already sent: just wait),
        wait, check the exit status and the sanitizer output."""
        if self.proc is None:
            return None
        timeout = timeout or 30 * SLOW
        if self.proc.poll() is None and sig is not None:
            self.proc.send_signal(sig)
        try:
            rc = self.proc.wait(timeout)
        except subprocess.TimeoutExpired:
            self.proc.kill()
            self.proc.wait()
            self._close()
            raise DaemonError("dynafiled did not exit within %.0fs of %s; stderr tail:\n%s"
                              % (timeout, getattr(sig, "name", "its stop signal"), self.stderr_text()[-4000:]))
        self._close()
        self.check_sanitizers()
        if expect_rc is not None and rc != expect_rc:
            raise DaemonError("dynafiled exited with status %d after %s (expected %d); stderr tail:\n%s"
                              % (rc, getattr(sig, "name", "its stop signal"), expect_rc, self.stderr_text()[-4000:]))
        return rc

    def kill(self):
        """SIGKILL (deliberate crash); no exit-status check, sanitizers still checked."""
        if self.proc is None:
            return
        if self.proc.poll() is None:
            self.proc.send_signal(signal.SIGKILL)
        self.proc.wait()
        self._close()
        self.check_sanitizers()

    def restart(self):
        self.stop()
        return self.start()

    def _close(self):
        proc = self.proc
        self.proc = None
        self._last_proc = proc
        if self.stderr_file and not self.stderr_file.closed:
            self.stderr_file.close()

    def stderr_text(self):
        try:
            with open(self.stderr_path, "rb") as f:
                return f.read().decode("utf-8", "replace")
        except (OSError, TypeError):
            return ""

    def check_sanitizers(self):
        if not SANITIZED:
            return
        text = self.stderr_text()
        for m in SANITIZER_MARKERS:
            if m in text:
                i = text.index(m)
                raise DaemonError("sanitizer report (%s) in dynafiled stderr:\n%s" % (m, text[max(0, i - 500):i + 6000]))

    def cleanup(self):
        """Stop if running; remove the data dir if we created it, and stderr logs."""
        try:
            if self.running():
                self.stop()
        finally:
            if self.own_dir:
                shutil.rmtree(self.data_dir, ignore_errors=True)
            if self.own_log_dir:
                shutil.rmtree(self.log_dir, ignore_errors=True)

    def __enter__(self):
        if not self.running():
            self.start()
        return self

    def __exit__(self, *exc):
        self.cleanup()
        return False

    # -- clients ----------------------------------------------------------------

    @property
    def endpoint(self):
        return "http://127.0.0.1:%d" % self.port

    def client(self, **kw):
        return boto3_client(self.endpoint, **kw)

    def resource(self, **kw):
        return boto3_resource(self.endpoint, **kw)

    def raw(self, target, body, **kw):
        return raw_request(self.port, target, body, **kw)

    def connection(self, timeout=30):
        return http.client.HTTPConnection("127.0.0.1", self.port, timeout=timeout * SLOW)


# -- boto3 ---------------------------------------------------------------------

def _config(**kw):
    from botocore.config import Config
    args = dict(retries={"total_max_attempts": 1, "mode": "standard"},
                connect_timeout=10 * SLOW, read_timeout=60 * SLOW, max_pool_connections=32)
    args.update(kw)
    return Config(**args)


def _session():
    import boto3
    return boto3.session.Session(aws_access_key_id="AKIDEXAMPLE", aws_secret_access_key="secret",
                                 region_name="us-east-1")


def boto3_client(endpoint, **kw):
    return _session().client("dynamodb", endpoint_url=endpoint, config=_config(**kw))


def boto3_resource(endpoint, **kw):
    return _session().resource("dynamodb", endpoint_url=endpoint, config=_config(**kw))


# -- raw HTTP ------------------------------------------------------------------

class Response:
    """A raw HTTP answer: status, headers (lower-case names), body bytes, parsed JSON."""

    def __init__(self, status, headers, body):
        self.status = status
        self.headers = headers
        self.body = body
        try:
            self.json = json.loads(body) if body else None
        except ValueError:
            self.json = None

    @property
    def type(self):
        return (self.json or {}).get("__type") if isinstance(self.json, dict) else None

    @property
    def message(self):
        if not isinstance(self.json, dict):
            return None
        return self.json.get("message", self.json.get("Message"))

    def __repr__(self):
        return "<Response %d %r>" % (self.status, self.body[:400])


def default_headers(target=None, content_type="application/x-amz-json-1.0"):
    h = {"X-Amz-Date": AMZ_DATE, "Authorization": FAKE_AUTH,
         "User-Agent": "Boto3/1.26.27 Python/3.11 dynafile-itest"}
    if content_type is not None:
        h["Content-Type"] = content_type
    if target is not None:
        h["X-Amz-Target"] = target if "." in target or target == "" else TARGET_PREFIX + target
    return h


def raw_request(port, target, body, headers=None, drop=(), method="POST", conn=None, timeout=30):
    """Send one request. target: "PutItem" (prefixed) or a full header value
    or None (no header). body: dict (JSON-encoded), str or bytes. headers
    override the defaults; names in drop are removed. conn: reuse this
    HTTPConnection (keep-alive) instead of a new one."""
    if isinstance(body, (dict, list)):
        body = json.dumps(body).encode()
    elif isinstance(body, str):
        body = body.encode()
    h = default_headers(target)
    if headers:
        h.update(headers)
    for d in drop:
        h = {k: v for k, v in h.items() if k.lower() != d.lower()}
    own = conn is None
    if own:
        conn = http.client.HTTPConnection("127.0.0.1", port, timeout=timeout * SLOW)
    try:
        conn.request(method, "/", body=body, headers=h)
        r = conn.getresponse()
        data = r.read()
        return Response(r.status, {k.lower(): v for k, v in r.getheaders()}, data)
    finally:
        if own:
            conn.close()


def crc32_ok(resp):
    """True when x-amz-crc32 is present and matches the body."""
    v = resp.headers.get("x-amz-crc32")
    return v is not None and v == str(zlib.crc32(resp.body) & 0xFFFFFFFF)


# -- unittest helpers ------------------------------------------------------------

class DaemonTestCase(unittest.TestCase):
    """A TestCase sharing one daemon per class (started in setUpClass)."""

    daemon_kwargs = {}
    daemon = None

    @classmethod
    def setUpClass(cls):
        cls.daemon = Daemon(**cls.daemon_kwargs)
        cls.daemon.start()
        cls.ddb = cls.daemon.client()
        cls._names = 0

    @classmethod
    def tearDownClass(cls):
        d = cls.daemon
        cls.daemon = None
        if d is not None:
            d.cleanup()

    def unique(self, stem="t"):
        """A table name unique within this class's daemon."""
        type(self)._names += 1
        return "%s_%s_%d" % (stem, self._testMethodName[:40], type(self)._names)

    def assertApiError(self, ctx, code, message=None, msg=None):
        """ctx is the assertRaises context of a botocore ClientError."""
        err = ctx.exception.response.get("Error", {})
        self.assertEqual(err.get("Code"), code, msg or ctx.exception.response)
        if message is not None:
            self.assertEqual(err.get("Message"), message, msg)

    def make_table(self, name=None, hash_type="S", range_type=None, hash_name="pk", range_name="sk",
                   client=None, **extra):
        c = client or self.ddb
        name = name or self.unique()
        attrs = [{"AttributeName": hash_name, "AttributeType": hash_type}]
        ks = [{"AttributeName": hash_name, "KeyType": "HASH"}]
        if range_type:
            attrs.append({"AttributeName": range_name, "AttributeType": range_type})
            ks.append({"AttributeName": range_name, "KeyType": "RANGE"})
        args = dict(TableName=name, AttributeDefinitions=attrs, KeySchema=ks)
        if "BillingMode" not in extra and "ProvisionedThroughput" not in extra:
            args["BillingMode"] = "PAY_PER_REQUEST"
        args.update(extra)
        c.create_table(**args)
        return name
