#!/usr/bin/python3
"""bench.py -- the measuring instrument of `make bench` and `make bench-quick`.

Starts, all on 127.0.0.1 and all at once:
  dynafile        build/server/dynafiled on a temporary data directory
  dynalite        dynalite 4 (Node.js, bench/.dynalite) in memory
  dynalite --path dynalite on disk (LevelDB in a temporary directory)
  ceiling         nginx from a temporary config (one worker per core: the
                  machine's limit), as the current user on a free port,
                  answering POST / at once with the body an engine would send
                  for that X-Amz-Target (GetItem: one 200-byte item, 246
                  bytes; PutItem: {}; Query: 10 items with Count 10)
On each DynamoDB engine: the same table (pk, sk: strings), a preload of
PARTS x SORTS 200-byte items with BatchWriteItem (bench/preload.py, every
answer and UnprocessedItems checked), then the wrk request scripts of
bench/wrk/ (GetItem, PutItem, Query of one partition = 10 items, 90/10 mix)
at each connection count for DURATION seconds. The runs of one script and
connection count go back to back on every engine, so that a change of load
on a shared machine hits all engines alike (the ratios are what count). A
run with any wrong answer, wrong status or socket error is reported FAILED,
never as fast.

Also: the server's CPU time per request; fdatasync latency of the disk
before and after; cold start to the first answered ListTables (median of N)
for dynafile and dynalite; RSS idle and after the preload; bytes on disk
after the preload; dynafiled's recovery after SIGKILL, (a) right after 3 s
of PutItem at 64 connections and (b) with a large unapplied log written by
bench/logfill.c (checkpoints off), as MB/s of log replayed until the first
answer.

Prints Markdown: the request table, server CPU per request, the other
figures, and each target of issue 6 with PASS / MISS. Progress goes to
stderr, the tables to stdout. Exit status 1 when a dynafile run or a preload
failed or the set-up broke. docs/PERFORMANCE.md explains every figure.

Usage: bench.py [--quick] [--build DIR] [--duration S] [--conns 1,16,64]
                [--engines dynafile,dynalite,dynalite-disk,ceiling]
                [--parts N] [--log-mb MB] [--out FILE]
"""
import argparse
import http.client
import json
import os
import re
import shutil
import signal
import socket
import statistics
import subprocess
import sys
import tempfile
import time

HERE = os.path.dirname(os.path.abspath(__file__))
ROOT = os.path.dirname(HERE)
sys.path.insert(0, HERE)
import preload as loader  # noqa: E402

DYNALITE_CLI = os.path.join(HERE, ".dynalite", "node_modules", "dynalite", "cli.js")
SCRIPTS = [("GetItem", "getitem"), ("PutItem", "putitem"), ("Query", "query"),
           ("Mix 90/10", "mix")]
ENGINES = {"dynafile": "dynafile", "dynalite": "dynalite (memory)",
           "dynalite-disk": "dynalite --path", "ceiling": "nginx ceiling"}
TABLE_DEF = {
    "TableName": "bench",
    "KeySchema": [{"AttributeName": "pk", "KeyType": "HASH"},
                  {"AttributeName": "sk", "KeyType": "RANGE"}],
    "AttributeDefinitions": [{"AttributeName": "pk", "AttributeType": "S"},
                             {"AttributeName": "sk", "AttributeType": "S"}],
    "BillingMode": "PAY_PER_REQUEST",
}


def say(msg):
    print(msg, file=sys.stderr, flush=True)


class BenchError(Exception):
    pass


# ---- small helpers ---------------------------------------------------------

def free_port():
    s = socket.socket()
    s.bind(("127.0.0.1", 0))
    port = s.getsockname()[1]
    s.close()
    return port


def ddb(port, op, body, timeout=10):
    """One DynamoDB call; returns (status, parsed JSON or raw bytes)."""
    c = http.client.HTTPConnection("127.0.0.1", port, timeout=timeout)
    try:
        c.request("POST", "/", json.dumps(body), loader.headers(op))
        r = c.getresponse()
        data = r.read()
    finally:
        c.close()
    try:
        return r.status, json.loads(data)
    except ValueError:
        return r.status, data


def wait_ready(port, proc, timeout=30.0):
    """Poll ListTables until it is answered 200; returns the monotonic time."""
    deadline = time.monotonic() + timeout
    while True:
        try:
            c = http.client.HTTPConnection("127.0.0.1", port, timeout=2)
            c.request("POST", "/", "{}", loader.headers("ListTables"))
            r = c.getresponse()
            r.read()
            c.close()
            if r.status == 200:
                return time.monotonic()
        except OSError:
            pass
        if proc.poll() is not None:
            raise BenchError("process exited with %s before answering" % proc.returncode)
        if time.monotonic() > deadline:
            raise BenchError("no answer to ListTables within %.0f s" % timeout)
        time.sleep(0.0005)


def rss_kib(pid):
    with open("/proc/%d/status" % pid) as f:
        for line in f:
            if line.startswith("VmRSS:"):
                return int(line.split()[1])
    raise BenchError("no VmRSS for pid %d" % pid)


def disk_bytes(path):
    """Bytes allocated on disk under path (st_blocks, like du)."""
    total = 0
    for d, _, files in os.walk(path):
        for f in files:
            try:
                total += os.lstat(os.path.join(d, f)).st_blocks * 512
            except OSError:
                pass
    return total


def file_bytes(path):
    total = 0
    for d, _, files in os.walk(path):
        for f in files:
            try:
                total += os.lstat(os.path.join(d, f)).st_size
            except OSError:
                pass
    return total


def family(pid):
    """pid and its direct children (nginx's workers)."""
    pids = [pid]
    for d in os.listdir("/proc"):
        if d.isdigit():
            try:
                with open("/proc/%s/stat" % d) as f:
                    if int(f.read().rsplit(")", 1)[1].split()[1]) == pid:
                        pids.append(int(d))
            except (OSError, ValueError, IndexError):
                pass
    return pids


def cpu_seconds(pids):
    """User + system CPU time of these processes (all their threads)."""
    t = 0
    for pid in pids:
        try:
            with open("/proc/%d/stat" % pid) as f:
                x = f.read().rsplit(")", 1)[1].split()
            t += int(x[11]) + int(x[12])
        except (OSError, ValueError, IndexError):
            pass
    return t / os.sysconf("SC_CLK_TCK")


def stop(proc, sig=signal.SIGTERM, timeout=30):
    """Stop one process we started, by its pid; returns its exit code."""
    if proc is None or proc.poll() is not None:
        return None if proc is None else proc.returncode
    proc.send_signal(sig)
    try:
        return proc.wait(timeout)
    except subprocess.TimeoutExpired:
        proc.kill()
        return proc.wait(10)


# ---- engines -----------------------------------------------------------------

class Engine:
    """A server we start and stop: kind is dynafile, dynalite, dynalite-disk or ceiling."""

    def __init__(self, kind, opts, tmp):
        self.kind, self.opts, self.tmp = kind, opts, tmp
        self.proc = None
        self.port = None
        self.dir = None
        self.logf = None

    def command(self):
        if self.kind == "dynafile":
            return [self.opts.dynafiled, "--host", "127.0.0.1", "--port", str(self.port),
                    "--data-dir", self.dir, "--log-level", "info"]
        if self.kind in ("dynalite", "dynalite-disk"):
            cmd = ["node", DYNALITE_CLI, "--host", "127.0.0.1", "--port", str(self.port),
                   "--createTableMs", "0", "--deleteTableMs", "0"]
            if self.kind == "dynalite-disk":
                cmd += ["--path", self.dir]
            return cmd
        conf = write_nginx_conf(self.dir, self.port, self.opts.ceiling_workers)
        return ["nginx", "-p", self.dir, "-c", conf, "-e", os.path.join(self.dir, "error.log")]

    def start(self, fresh=True):
        """Start on a (fresh) directory; returns seconds to the first answer."""
        if fresh or self.dir is None:
            self.dir = tempfile.mkdtemp(prefix=self.kind + ".", dir=self.tmp)
        self.port = free_port()
        self.logf = open(os.path.join(self.tmp, self.kind + ".log"), "ab")
        t0 = time.monotonic()
        self.proc = subprocess.Popen(self.command(), stdin=subprocess.DEVNULL,
                                     stdout=self.logf, stderr=self.logf, cwd=self.tmp)
        try:
            t1 = wait_ready(self.port, self.proc)
        except BenchError as e:
            self.stop()
            raise BenchError("%s: %s (see %s)" % (self.kind, e, self.logf.name))
        return t1 - t0

    def stop(self, sig=signal.SIGTERM):
        rc = stop(self.proc, sig)
        self.proc = None
        if self.logf:
            self.logf.close()
            self.logf = None
        return rc

    def log_text(self):
        with open(os.path.join(self.tmp, self.kind + ".log"), "rb") as f:
            return f.read().decode("utf-8", "replace")


def sample_item(i=123, j=5):
    return loader.item(i, j)


def write_nginx_conf(d, port, workers="auto"):
    """The ceiling: nginx answering every POST / at once with the body a
    DynamoDB engine would send for that X-Amz-Target (plus DynamoDB's two
    extra headers), reading and discarding the request body."""
    get_body = json.dumps({"Item": dict(sorted(sample_item().items()))}, separators=(",", ":"))
    items = [dict(sorted(loader.item(123, j).items())) for j in range(10)]
    query_body = json.dumps({"Items": items, "Count": 10, "ScannedCount": 10},
                            separators=(",", ":"))
    user = ""
    if os.geteuid() == 0:  # workers would switch to nobody; stay the current user
        user = "user root;"
    for sub in ("body", "proxy", "fastcgi", "uwsgi", "scgi"):
        os.makedirs(os.path.join(d, sub), exist_ok=True)
    conf = f"""# generated by bench/bench.py: the HTTP ceiling of `make bench`
{user}
worker_processes {workers};
daemon off;
master_process on;
pid {d}/nginx.pid;
error_log {d}/error.log warn;
events {{ worker_connections 1024; }}
http {{
  access_log off;
  server_tokens off;
  keepalive_requests 100000000;
  keepalive_timeout 300s;
  client_body_temp_path {d}/body;
  proxy_temp_path {d}/proxy;
  fastcgi_temp_path {d}/fastcgi;
  uwsgi_temp_path {d}/uwsgi;
  scgi_temp_path {d}/scgi;
  client_max_body_size 16m;
  client_body_buffer_size 64k;
  default_type application/x-amz-json-1.0;
  map $http_x_amz_target $ddb_body {{
    default '{get_body}';
    DynamoDB_20120810.PutItem '{{}}';
    DynamoDB_20120810.Query '{query_body}';
    DynamoDB_20120810.ListTables '{{"TableNames":[]}}';
  }}
  server {{
    listen 127.0.0.1:{port};
    location / {{
      add_header x-amzn-RequestId $request_id;
      add_header x-amz-crc32 2745614147;
      return 200 $ddb_body;
    }}
  }}
}}
"""
    path = os.path.join(d, "nginx.conf")
    with open(path, "w") as f:
        f.write(conf)
    return path


def create_table(port):
    st, ans = ddb(port, "CreateTable", TABLE_DEF)
    if st != 200:
        raise BenchError("CreateTable: HTTP %d %s" % (st, ans))
    for _ in range(600):
        st, ans = ddb(port, "DescribeTable", {"TableName": "bench"})
        if st == 200 and ans["Table"]["TableStatus"] == "ACTIVE":
            return
        time.sleep(0.05)
    raise BenchError("table bench never became ACTIVE")


# ---- wrk -----------------------------------------------------------------------

BENCH_RE = re.compile(r"BENCH requests=(\d+) errors=(\d+) bad_status=(\d+) socket=(\d+) "
                      r"p50_us=(\d+) p99_us=(\d+)")


def run_wrk(port, script, conns, duration, opts):
    cmd = ["wrk", "-t%d" % min(2, conns), "-c%d" % conns, "-d%ds" % duration,
           "--timeout", "10s", "-s", os.path.join(HERE, "wrk", script + ".lua"),
           "http://127.0.0.1:%d/" % port]
    env = dict(os.environ, BENCH_PARTS=str(opts.parts), BENCH_SORTS=str(opts.sorts))
    try:
        p = subprocess.run(cmd, env=env, capture_output=True, text=True, timeout=duration + 60)
        out = p.stdout + p.stderr
    except subprocess.TimeoutExpired:
        return {"failed": "wrk did not finish"}
    m = BENCH_RE.search(out)
    rps = re.search(r"Requests/sec:\s+([\d.]+)", out)
    if not m or not rps:
        return {"failed": "wrk: " + out.strip()[-300:]}
    req, err, bad, sock, p50, p99 = (int(x) for x in m.groups())
    r = {"rps": float(rps.group(1)), "requests": req, "p50": p50, "p99": p99,
         "errors": err, "bad_status": bad, "socket": sock}
    if req == 0:
        r["failed"] = "no request answered"
    elif err or bad or sock:
        r["failed"] = "%d wrong answers, %d bad statuses, %d socket errors of %d" % (
            err, bad, sock, req)
    return r


# ---- the stages --------------------------------------------------------------------

def cold_starts(kind, opts, tmp):
    os.sync()  # pending writeback would slow the fresh directory's fsyncs
    times = []
    for _ in range(opts.cold_n):
        e = Engine(kind, opts, tmp)
        times.append(e.start())
        e.stop()
        if e.dir:
            shutil.rmtree(e.dir, ignore_errors=True)
    return statistics.median(times), times


def setup(kind, opts, tmp, res):
    """Start one engine and preload it; fills res[kind] (RSS, disk, preload).
    Returns the running Engine, or None when its preload failed."""
    e = Engine(kind, opts, tmp)
    e.start()
    r = res[kind] = {"runs": {}}
    time.sleep(1.0)
    r["rss_idle"] = rss_kib(e.proc.pid)
    if kind != "ceiling":
        create_table(e.port)
        say("[%s] preload %d x %d items with BatchWriteItem ..." % (kind, opts.parts, opts.sorts))
        try:
            p = loader.preload(e.port, opts.parts, opts.sorts, threads=4)
        except loader.LoadError as ex:
            r["preload_failed"] = str(ex)
            say("[%s] preload FAILED: %s" % (kind, ex))
            e.stop()
            return None
        r["preload"] = p
        say("[%s] preload: %.0f items/s (%d resent)" % (kind, p["rate"], p["resent"]))
        time.sleep(1.0)
        r["rss_loaded"] = rss_kib(e.proc.pid)
        if kind != "dynalite":
            r["disk"] = disk_bytes(e.dir)
    e.pids = family(e.proc.pid)
    return e


def measure(e, label, script, c, opts, res):
    """One wrk run against a running engine, with the server's CPU time."""
    cpu0 = cpu_seconds(e.pids)
    w = run_wrk(e.port, script, c, opts.duration, opts)
    if w.get("requests"):
        w["cpu_us"] = (cpu_seconds(e.pids) - cpu0) / w["requests"] * 1e6
    res[e.kind]["runs"][(script, c)] = w
    if "failed" in w:
        say("[%s] %s c=%d: FAILED (%s)" % (e.kind, label, c, w["failed"]))
    else:
        say("[%s] %s c=%d: %.0f req/s p50 %.2f ms p99 %.2f ms, server CPU %.1f us/request"
            % (e.kind, label, c, w["rps"], w["p50"] / 1000, w["p99"] / 1000, w.get("cpu_us", 0)))


def fsync_latency(d, n=200):
    """Median time of a 4 KiB append + fdatasync in directory d: what one
    group commit costs on this disk right now (it drifts on shared machines)."""
    path = os.path.join(d, "fsync-probe")
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o644)
    buf = b"f" * 4096
    ts = []
    try:
        for _ in range(n):
            t0 = time.monotonic()
            os.write(fd, buf)
            os.fdatasync(fd)
            ts.append(time.monotonic() - t0)
    finally:
        os.close(fd)
        os.unlink(path)
    return statistics.median(ts)


def recovery(e, opts, tmp, res):
    """dynafiled after SIGKILL: (a) with the log the benchmark left, (b) with
    a large unapplied log from logfill. e is the running dynafile engine."""
    r = res["dynafile"]
    rec_re = re.compile(r"(\d+) log records replayed in ([\d.]+)s")

    def restart():
        before = len(e.log_text())
        secs = e.start(fresh=False)
        m = rec_re.search(e.log_text()[before:])
        return secs, (int(m.group(1)), float(m.group(2))) if m else (0, 0.0)

    # (a) the log that real requests left: PutItem for 3 s at 64 connections
    # (acknowledged after fsync), then SIGKILL at once
    w = run_wrk(e.port, "putitem", 64, 3, opts)
    if "failed" in w:
        raise BenchError("PutItem burst before SIGKILL failed: %s" % w["failed"])
    e.stop(signal.SIGKILL)
    wal = file_bytes(os.path.join(e.dir, "wal"))
    secs, (recs, replay) = restart()
    r["recovery_small"] = {"log": wal, "secs": secs, "records": recs, "replay": replay,
                           "acked": w["requests"]}
    say("[dynafile] SIGKILL after 3 s of PutItem: %.1f MiB of log, first answer after %.3f s"
        % (wal / 2**20, secs))
    # (b) a large unapplied log: clean stop (checkpoint), logfill, SIGKILL
    rc = e.stop()
    if rc != 0:
        raise BenchError("dynafiled exited %s on SIGTERM" % rc)
    lf = build_logfill(opts, tmp)
    say("[dynafile] writing a %d MiB log with checkpoints off (bench/logfill.c) ..." % opts.log_mb)
    p = subprocess.run([lf, e.dir, str(opts.log_mb), str(opts.parts), str(opts.sorts)],
                       capture_output=True, text=True, timeout=600)
    m = re.search(r"logfill records=(\d+) log_bytes=(\d+) pk=(\S+) sk=(\S+) data_prefix=(\S+)",
                  p.stdout)
    if p.returncode != -signal.SIGKILL or not m:
        raise BenchError("logfill: exit %s: %s %s" % (p.returncode, p.stdout, p.stderr))
    os.sync()  # let the kernel write the 300 MiB back first: time the replay, not the writeback
    wal = file_bytes(os.path.join(e.dir, "wal"))
    unapplied = int(m.group(2))
    secs, (recs, replay) = restart()
    # the last item written must be there, with its last value
    st, ans = ddb(e.port, "GetItem", {"TableName": "bench",
                                      "Key": {"pk": {"S": m.group(3)}, "sk": {"S": m.group(4)}}})
    ok = st == 200 and ans.get("Item", {}).get("data", {}).get("S", "").startswith(m.group(5))
    r["recovery_large"] = {"log": unapplied, "wal": wal, "secs": secs, "records": recs, "replay": replay,
                           "written": int(m.group(1)), "verified": ok}
    say("[dynafile] SIGKILL with %.0f MiB unapplied: %d records, first answer after %.3f s "
        "(replay %.3f s), last write %s" % (wal / 2**20, recs, secs, replay,
                                            "found" if ok else "MISSING"))
    e.stop()


def build_logfill(opts, tmp):
    out = os.path.join(tmp, "logfill")
    libs = [os.path.join(opts.build, "storage", "libdfstorage.a"),
            os.path.join(opts.build, "storage", "libdfvalue.a")]
    for lib in libs:
        if not os.path.exists(lib):
            raise BenchError("%s missing: build first (make build)" % lib)
    xx = subprocess.run(["pkg-config", "--libs", "libxxhash"], capture_output=True,
                        text=True).stdout.split() or ["-lxxhash"]
    cmd = ["cc", "-O2", "-std=c11", "-D_GNU_SOURCE", "-I", ROOT,
           os.path.join(HERE, "logfill.c")] + libs + xx + ["-lpthread", "-lm", "-o", out]
    p = subprocess.run(cmd, capture_output=True, text=True)
    if p.returncode != 0:
        raise BenchError("cannot build logfill: " + p.stderr)
    return out


# ---- report --------------------------------------------------------------------

def loadavg():
    with open("/proc/loadavg") as f:
        return f.read().split()[0]


def cpu_model():
    try:
        with open("/proc/cpuinfo") as f:
            for line in f:
                if line.startswith("model name"):
                    return " ".join(line.split(":", 1)[1].split())
    except OSError:
        pass
    return "unknown CPU"


def fmt_rps(w):
    if w is None:
        return "—"
    if "failed" in w:
        return "FAILED"
    return "{:,.0f}".format(w["rps"])


def fmt_ms(w, k):
    if w is None or "failed" in w:
        return "—"
    v = w[k] / 1000.0
    return "%.2f" % v if v < 10 else "%.1f" % v


def ratio(a, b):
    if a is None or b is None or "failed" in a or "failed" in b or not b["rps"]:
        return None
    return a["rps"] / b["rps"]


def fmt_ratio(x):
    return "—" if x is None else "%.2f×" % x


def mib(kib):
    return "%.1f MiB" % (kib / 1024.0)


def report(res, opts, cold, started, out):
    eng = [k for k in ("dynafile", "dynalite", "dynalite-disk", "ceiling") if k in res]
    lines = []
    p = lines.append
    p("## Requests (%d s per run, wrk -t2 (-t1 at 1 connection), %d x %d items of 200 bytes)"
      % (opts.duration, opts.parts, opts.sorts))
    p("")
    head = "| script | conns |"
    sep = "|---|---:|"
    for k in eng:
        head += " %s req/s | p50 ms | p99 ms |" % ENGINES[k]
        sep += "---:|---:|---:|"
    head += " dynafile/dynalite | dynafile/ceiling |"
    sep += "---:|---:|"
    p(head)
    p(sep)

    def run(k, s, c):
        return res.get(k, {}).get("runs", {}).get((s, c))

    for label, s in SCRIPTS:
        for c in opts.conns:
            row = "| %s | %d |" % (label, c)
            for k in eng:
                w = run(k, s, c)
                row += " %s | %s | %s |" % (fmt_rps(w), fmt_ms(w, "p50"), fmt_ms(w, "p99"))
            row += " %s | %s |" % (fmt_ratio(ratio(run("dynafile", s, c), run("dynalite", s, c))),
                                   fmt_ratio(ratio(run("dynafile", s, c), run("ceiling", s, c))))
            p(row)
    failed = [(k, s, c, run(k, s, c)["failed"]) for k in eng for _, s in SCRIPTS
              for c in opts.conns if run(k, s, c) and "failed" in run(k, s, c)]
    if failed:
        p("")
        for k, s, c, why in failed:
            p("- FAILED: %s %s at %d connections: %s" % (ENGINES[k], s, c, why))

    p("")
    p("Server CPU per request (user + system time of the server's processes during the run, "
      "divided by the requests answered; less sensitive to other load on the machine than req/s), µs:")
    p("")
    p("| script | conns |" + "".join(" %s |" % ENGINES[k] for k in eng))
    p("|---|---:|" + "---:|" * len(eng))
    for label, s in SCRIPTS:
        for c in opts.conns:
            p("| %s | %d |" % (label, c) + "".join(
                " %s |" % ("%.1f" % run(k, s, c)["cpu_us"] if run(k, s, c) and "cpu_us" in run(k, s, c)
                           else "—") for k in eng))
    p("")
    p("## Other figures")
    p("")
    p("| figure | dynafile | dynalite (memory) | dynalite --path |")
    p("|---|---:|---:|---:|")
    d, dl, dd = res.get("dynafile", {}), res.get("dynalite", {}), res.get("dynalite-disk", {})

    def g(r, k, f):
        return f(r[k]) if k in r else "—"

    cf, cl = cold.get("dynafile"), cold.get("dynalite")
    p("| cold start to first ListTables (median of %d) | %s | %s | — |"
      % (opts.cold_n, "%.1f ms" % (cf * 1000) if cf else "—", "%.1f ms" % (cl * 1000) if cl else "—"))
    p("| RSS idle | %s | %s | %s |" % (g(d, "rss_idle", mib), g(dl, "rss_idle", mib), g(dd, "rss_idle", mib)))
    p("| RSS after preload | %s | %s | %s |"
      % (g(d, "rss_loaded", mib), g(dl, "rss_loaded", mib), g(dd, "rss_loaded", mib)))
    p("| bytes on disk after preload | %s | (memory) | %s |"
      % (g(d, "disk", lambda b: "%.1f MiB" % (b / 2**20)), g(dd, "disk", lambda b: "%.1f MiB" % (b / 2**20))))
    pre = lambda x: "{:,.0f} items/s".format(x["rate"])  # noqa: E731
    p("| preload (BatchWriteItem, 4 connections) | %s | %s | %s |"
      % (g(d, "preload", pre), g(dl, "preload", pre), g(dd, "preload", pre)))
    p("| fdatasync of a 4 KiB append on this disk (median of 200), before / after the runs | %s | | |"
      % " / ".join("%.2f ms" % (x * 1000) for x in (opts.fsync_start, opts.fsync_end) if x is not None))
    rs, rl = d.get("recovery_small"), d.get("recovery_large")
    if rs:
        p("| restart after SIGKILL right after 3 s of PutItem at 64 connections (%d acknowledged): %.1f MiB of log files, %d records replayed | %.3f s to first answer (replay %.3f s) | — | — |"
          % (rs["acked"], rs["log"] / 2**20, rs["records"], rs["secs"], rs["replay"]))
    if rl:
        p("| restart after SIGKILL, large unapplied log: %.0f MiB (%.0f MB; %.0f MiB of wal files), %d records | %.3f s to first answer = %.0f MB/s (replay alone %.3f s = %.0f MB/s); last write %s | — | — |"
          % (rl["log"] / 2**20, rl["log"] / 1e6, rl["wal"] / 2**20, rl["records"], rl["secs"], rl["log"] / 1e6 / rl["secs"],
             rl["replay"], rl["log"] / 1e6 / rl["replay"] if rl["replay"] else 0,
             "present" if rl["verified"] else "MISSING"))

    p("")
    p("## Targets (issue 6)")
    p("")
    p("| target | measured | result |")
    p("|---|---|---|")

    def target(name, value, ok, measured):
        if value is None:
            p("| %s | %s | n/a |" % (name, measured or "not measured"))
        else:
            p("| %s | %s | %s |" % (name, measured, "PASS" if ok else "MISS"))

    for c in (16, 64):
        x = ratio(run("dynafile", "getitem", c), run("ceiling", "getitem", c))
        target("GetItem ≥ 75%% of the ceiling at %d connections" % c, x, x is not None and x >= 0.75,
               x is not None and "%.0f%% (%s vs %s req/s)" % (x * 100, fmt_rps(run("dynafile", "getitem", c)),
                                                           fmt_rps(run("ceiling", "getitem", c))))
    for c in (16, 64):
        x = ratio(run("dynafile", "query", c), run("dynalite", "query", c))
        target("Query ≥ 10× dynalite at %d connections" % c, x, x is not None and x >= 10,
               x is not None and "%.1f× (%s vs %s req/s)" % (x, fmt_rps(run("dynafile", "query", c)),
                                                          fmt_rps(run("dynalite", "query", c))))
        x = ratio(run("dynafile", "query", c), run("ceiling", "query", c))
        target("Query ≥ 40%% of the ceiling at %d connections" % c, x, x is not None and x >= 0.40,
               x is not None and "%.0f%% (%s vs %s req/s)" % (x * 100, fmt_rps(run("dynafile", "query", c)),
                                                           fmt_rps(run("ceiling", "query", c))))
    x = ratio(run("dynafile", "putitem", 64), run("dynalite", "putitem", 64))
    target("PutItem (fsync) ≥ 4× dynalite in memory at 64 connections", x, x is not None and x >= 4,
           x is not None and "%.1f× (%s vs %s req/s)" % (x, fmt_rps(run("dynafile", "putitem", 64)),
                                                      fmt_rps(run("dynalite", "putitem", 64))))
    for label, s in SCRIPTS:
        a, b = run("dynafile", s, 64), run("dynalite", s, 64)
        x = None if a is None or b is None or "failed" in a or "failed" in b else a["p99"] / max(b["p99"], 1)
        cl_ = run("ceiling", s, 64)
        ctx = ""
        if cl_ is not None and "failed" not in cl_ and b is not None and "failed" not in b:
            ctx = "; the ceiling itself: %s ms (%.3f)" % (fmt_ms(cl_, "p99"), cl_["p99"] / max(b["p99"], 1))
        target("p99 at 64 connections ≤ 1/5 of dynalite's: %s" % label, x, x is not None and x <= 0.2,
               x is not None and "%s vs %s ms (%.3f)%s" % (fmt_ms(a, "p99"), fmt_ms(b, "p99"), x, ctx))
    x = cf / cl if cf and cl else None
    target("cold start ≤ 1/10 of dynalite's", x, x is not None and x <= 0.1,
           x is not None and "%.1f vs %.1f ms (%.3f)" % (cf * 1000, cl * 1000, x))
    a, b = d.get("rss_loaded"), dl.get("rss_loaded")
    x = a / b if a and b else None
    target("RSS after preload ≤ 1/5 of dynalite's in memory", x, x is not None and x <= 0.2,
           x is not None and "%s vs %s (%.3f)" % (mib(a), mib(b), x))
    a = d.get("rss_idle")
    target("idle RSS ≤ 8 MiB", a, a is not None and a <= 8 * 1024, a is not None and mib(a))
    x = rl["log"] / 1e6 / rl["secs"] if rl else None
    target("recovery replays the log at ≥ 200 MB/s", x, x is not None and x >= 200,
           x is not None and "%.0f MB/s (%.0f MiB log, %.3f s from exec to first answer)"
           % (x, rl["log"] / 2**20, rl["secs"]))
    p("")
    p("Machine: %d cores (%s); %s; the run took %.0f s; load average %s at the start, %s at the end."
      % (os.cpu_count(), cpu_model(), "make bench-quick" if opts.quick else "make bench",
         time.monotonic() - started, opts.load_start, loadavg()))
    text = "\n".join(lines) + "\n"
    sys.stdout.write("\n" + text)
    sys.stdout.flush()
    if out:
        with open(out, "w") as f:
            f.write(text)
    return failed


# ---- main ---------------------------------------------------------------------

def main():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--quick", action="store_true", help="short subset for development")
    ap.add_argument("--build", default="build", help="meson build dir holding server/dynafiled")
    ap.add_argument("--duration", type=int)
    ap.add_argument("--conns")
    ap.add_argument("--engines")
    ap.add_argument("--parts", type=int)
    ap.add_argument("--sorts", type=int, default=10)
    ap.add_argument("--log-mb", type=int)
    ap.add_argument("--cold-n", type=int)
    ap.add_argument("--ceiling-workers", default="auto",
                    help="nginx worker_processes (default auto: one per core, the machine's limit)")
    ap.add_argument("--out", help="also write the Markdown report to this file")
    opts = ap.parse_args()
    q = opts.quick
    opts.duration = opts.duration or (3 if q else 10)
    opts.conns = [int(x) for x in (opts.conns or ("16,64" if q else "1,16,64")).split(",")]
    engines = (opts.engines or ("dynafile,dynalite,ceiling" if q else
                                "dynafile,dynalite,dynalite-disk,ceiling")).split(",")
    opts.parts = opts.parts or (2000 if q else 10000)
    opts.log_mb = opts.log_mb or (100 if q else 300)
    opts.cold_n = opts.cold_n or (5 if q else 10)
    opts.build = os.path.join(ROOT, opts.build) if not os.path.isabs(opts.build) else opts.build
    opts.dynafiled = os.path.join(opts.build, "server", "dynafiled")

    need = [("wrk", shutil.which("wrk")), ("nginx", shutil.which("nginx")),
            ("node", shutil.which("node")), ("dynalite", os.path.exists(DYNALITE_CLI)),
            ("dynafiled", os.access(opts.dynafiled, os.X_OK))]
    missing = [n for n, ok in need if not ok]
    if missing:
        sys.exit("bench: missing %s (`make bench` installs them)" % ", ".join(missing))

    started = time.monotonic()
    opts.load_start = loadavg()
    if float(opts.load_start) > 1.0:
        say("bench: load average %s: other work on this machine will skew the figures" % opts.load_start)
    tmp = tempfile.mkdtemp(prefix="dynafile-bench.")
    res, cold = {}, {}
    live = []
    rc = 0
    try:
        opts.fsync_start = fsync_latency(tmp)
        say("bench: fdatasync of a 4 KiB append: %.2f ms (median of 200)" % (opts.fsync_start * 1000))
        opts.fsync_end = None
        for kind in ("dynafile", "dynalite"):
            if kind in engines:
                cold[kind], ts = cold_starts(kind, opts, tmp)
                say("[%s] cold start median of %d: %.1f ms (%s)" % (
                    kind, opts.cold_n, cold[kind] * 1000, ", ".join("%.1f" % (t * 1000) for t in ts)))
        # Every engine runs at once (idle ones cost nothing) and the runs of
        # one script and connection count go back to back on each engine, so
        # that a change of load on a shared machine hits all of them alike.
        engs = {}
        for kind in engines:
            if kind not in ENGINES:
                raise BenchError("unknown engine %s" % kind)
            e = setup(kind, opts, tmp, res)
            if e is None:
                if kind == "dynafile":
                    rc = 1
                continue
            live.append(e)
            engs[kind] = e
        for label, script in SCRIPTS:
            for c in opts.conns:
                for kind in engines:
                    if kind in engs:
                        measure(engs[kind], label, script, c, opts, res)
                        time.sleep(0.5)
        opts.fsync_end = fsync_latency(tmp)
        if "dynafile" in engs:
            recovery(engs["dynafile"], opts, tmp, res)
        failed = report(res, opts, cold, started, opts.out)
        if any(k == "dynafile" for k, _, _, _ in failed):
            rc = 1
    except BenchError as ex:
        say("bench: %s" % ex)
        rc = 1
    finally:
        for e in live:
            e.stop()
        if rc == 0:
            shutil.rmtree(tmp, ignore_errors=True)
        else:
            say("bench: logs kept in %s" % tmp)
    return rc


if __name__ == "__main__":
    sys.exit(main())
