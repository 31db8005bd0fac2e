"""test_rest_docs.py -- every shell example of docs/REST.md runs as written
and prints what the document says it prints.

Extracts the fenced ```sh (and ```bash) blocks of docs/REST.md in document
order and runs each with `bash -e -o pipefail` against one fresh dynafiled
on a free port (127.0.0.1:8000 and localhost:8000 in the text are replaced
by the test daemon's address), all in one scratch directory so that a file
written by one example is there for the next. A block that exits non-zero
fails the test (with the block, its output and the daemon's stderr tail).
Other blocks (```console, untagged) are never run.

Expected outputs (docs/REST.md: "What each command prints follows it"):
the fenced block right after a ```sh block (untagged, ```json, ```text,
```http, ```ndjson; nothing but blank lines in between) is what the block
prints. Both texts are read as a sequence of
  - HTTP heads (curl -i / -I): the status code must be equal, and every
    header the document shows must be there with the same value (except
    Date, Content-Length, x-amzn-RequestId);
  - JSON values (numbers read as Decimals): compared loosely -- every key
    the document shows must be present and equal, except the time- or
    machine-dependent ones (VOLATILE: created, arn, label, eventID,
    ApproximateCreationDateTime, SequenceNumber), whose presence only is
    checked; "..." inside a string matches any text; extra keys in the
    answer are allowed; lists must have the same length;
  - other lines, compared exactly;
and must have the same number of such pieces. ETags and cursors are
compared: the document says they are what you will see. A change-stream
example (the output starts with ": ok") is compared event by event:
the comments, the event names, and the data of every event whose data the
document shows as complete JSON; a block "..." ends the comparison.
"""

import json
import os
import re
import shutil
import signal
import subprocess
import tempfile
import unittest
from decimal import Decimal

import harness
from harness import Daemon, SLOW

HERE = os.path.dirname(os.path.abspath(__file__))
DOC = os.path.normpath(os.path.join(HERE, "..", "..", "docs", "REST.md"))
VOLATILE = {"created", "arn", "label", "eventID", "ApproximateCreationDateTime", "SequenceNumber"}
VOLATILE_HEADERS = {"date", "content-length", "x-amzn-requestid"}
OUTPUT_LANGS = ("", "json", "text", "http", "ndjson")
FENCE = re.compile(r"^(```+|~~~+)\s*([A-Za-z0-9_+-]*)[^\n]*$")


def blocks(text):
    """[(lang, body, first_line_no, prose_before)] of the fenced blocks, in order."""
    out = []
    lines = text.split("\n")
    i, prose = 0, []
    while i < len(lines):
        m = FENCE.match(lines[i].strip())
        if not m:
            if lines[i].strip():
                prose.append(lines[i])
            i += 1
            continue
        fence, lang = m.group(1), m.group(2).lower()
        start = i + 1
        i += 1
        body = []
        while i < len(lines) and not lines[i].strip().startswith(fence):
            body.append(lines[i])
            i += 1
        i += 1
        out.append((lang, "\n".join(body) + "\n", start, prose))
        prose = []
    return out


def loads_exact(text):
    return json.loads(text, parse_float=Decimal, parse_int=Decimal)


def pieces(text):
    """The output as [("http", code, {header: value}) | ("json", value) | ("text", line)]."""
    t = text.replace("\r\n", "\n")
    dec = json.JSONDecoder(parse_float=Decimal, parse_int=Decimal)
    out, pos = [], 0
    while True:
        while pos < len(t) and t[pos] in " \t\n":
            pos += 1
        if pos >= len(t):
            return out
        if t.startswith("HTTP/", pos):
            end = t.find("\n\n", pos)
            end = len(t) if end < 0 else end
            lines = t[pos:end].split("\n")
            h = {}
            for ln in lines[1:]:
                if not ln.strip():
                    continue
                k, _, v = ln.partition(":")
                h[k.strip().lower()] = v.strip()
            out.append(("http", int(lines[0].split()[1]), h))
            pos = end
            continue
        if t[pos] in "{[\"":
            try:
                v, pos = dec.raw_decode(t, pos)
                out.append(("json", v))
                continue
            except ValueError:
                pass
        end = t.find("\n", pos)
        end = len(t) if end < 0 else end
        out.append(("text", t[pos:end].rstrip()))
        pos = end


def loose_match(want, got, path="$"):
    """None when got matches want loosely, else a description of the first difference."""
    if isinstance(want, dict):
        if not isinstance(got, dict):
            return "%s: expected an object, got %r" % (path, got)
        for k, v in want.items():
            if k not in got:
                return "%s: missing key %r (have %s)" % (path, k, sorted(got))
            if k in VOLATILE:
                continue
            d = loose_match(v, got[k], "%s.%s" % (path, k))
            if d:
                return d
        return None
    if isinstance(want, list):
        if not isinstance(got, list) or len(got) != len(want):
            return "%s: expected a list of %d, got %r" % (path, len(want), got)
        for i, (w, g) in enumerate(zip(want, got)):
            d = loose_match(w, g, "%s[%d]" % (path, i))
            if d:
                return d
        return None
    if isinstance(want, str) and "..." in want and isinstance(got, str):
        pat = ".*".join(re.escape(p) for p in want.split("..."))
        return None if re.fullmatch(pat, got, re.S) else "%s: %r does not match %r" % (path, got, want)
    if isinstance(want, bool) or isinstance(got, bool):
        return None if want is got else "%s: expected %r, got %r" % (path, want, got)
    return None if want == got else "%s: expected %r, got %r" % (path, want, got)


def compare_output(want_text, got_text):
    """None when the output matches the document's, else the first difference."""
    if want_text.lstrip().startswith(": ok"):
        return compare_stream(want_text, got_text)
    want, got = pieces(want_text), pieces(got_text)
    for i, w in enumerate(want):
        if i >= len(got):
            return "piece %d: expected %r, the output ended" % (i + 1, w)
        g = got[i]
        if w[0] != g[0]:
            return "piece %d: expected %r, got %r" % (i + 1, w, g)
        if w[0] == "http":
            if w[1] != g[1]:
                return "piece %d: HTTP status %d, expected %d" % (i + 1, g[1], w[1])
            for k, v in w[2].items():
                if k in VOLATILE_HEADERS:
                    continue
                if g[2].get(k) != v:
                    return "piece %d: header %s: %r, expected %r" % (i + 1, k, g[2].get(k), v)
        elif w[0] == "json":
            d = loose_match(w[1], g[1])
            if d:
                return "piece %d: %s" % (i + 1, d)
        elif w[1] != g[1]:
            return "piece %d: line %r, expected %r" % (i + 1, g[1], w[1])
    if len(got) != len(want):
        return "%d pieces of output, expected %d; extra: %r" % (len(got), len(want), got[len(want):])
    return None


def sse_blocks(text):
    out = []
    for b in text.replace("\r\n", "\n").split("\n\n"):
        b = b.strip("\n")
        if not b:
            continue
        ev = {"raw": b}
        for line in b.split("\n"):
            if line.startswith(":"):
                ev.setdefault("comment", line[1:].strip())
                continue
            k, _, v = line.partition(":")
            ev[k] = v[1:] if v.startswith(" ") else v
        out.append(ev)
    return out


def compare_stream(want_text, got_text):
    want, got = sse_blocks(want_text), sse_blocks(got_text)
    for i, w in enumerate(want):
        if w["raw"].strip() == "...":
            return None
        if i >= len(got):
            return "stream block %d: expected %r, the output ended" % (i + 1, w["raw"][:200])
        g = got[i]
        if "comment" in w and "event" not in w:
            if g.get("comment") != w["comment"]:
                return "stream block %d: %r, expected the comment %r" % (i + 1, g["raw"][:200], w["comment"])
            continue
        if g.get("event") != w.get("event"):
            return "stream block %d: event %r, expected %r" % (i + 1, g.get("event"), w.get("event"))
        try:
            wd = loads_exact(w["data"])
        except (KeyError, ValueError):
            continue  # the document abbreviates this one
        try:
            gd = loads_exact(g["data"])
        except (KeyError, ValueError) as e:
            return "stream block %d: data is not JSON (%s): %r" % (i + 1, e, g["raw"][:300])
        d = loose_match(wd, gd)
        if d:
            return "stream block %d: %s" % (i + 1, d)
    if len(got) != len(want):
        return "%d stream blocks, expected %d" % (len(got), len(want))
    return None


def is_sh(lang):
    return lang in ("sh", "bash", "shell")


class RestDocsTest(unittest.TestCase):

    def test_every_sh_example_runs(self):
        self.assertTrue(os.path.isfile(DOC), "%s is missing" % DOC)
        with open(DOC, encoding="utf-8") as f:
            text = f.read()
        bl = blocks(text)
        examples = []
        for n, (lang, body, line, _prose) in enumerate(bl):
            if not is_sh(lang):
                continue
            expect = None
            if n + 1 < len(bl) and bl[n + 1][0] in OUTPUT_LANGS and not bl[n + 1][3]:
                expect = (bl[n + 1][1], bl[n + 1][2])
            examples.append((body, line, expect))
        self.assertGreater(len(examples), 0, "no ```sh blocks in docs/REST.md")

        d = Daemon(fsync=False)
        d.start()
        self.addCleanup(d.cleanup)
        work = tempfile.mkdtemp(prefix="dynafile-restdocs-")
        self.addCleanup(shutil.rmtree, work, True)
        addr = "127.0.0.1:%d" % d.port
        # `dynafiled` in an example is the daemon under test, and port 8001
        # (the second daemon of the --rest-token example) a free port.
        bindir = tempfile.mkdtemp(prefix="dynafile-restdocs-bin-")
        self.addCleanup(shutil.rmtree, bindir, True)
        os.symlink(harness.daemon_path(), os.path.join(bindir, "dynafiled"))
        port2 = harness.free_port()
        env = dict(os.environ, DYNAFILE_ENDPOINT="http://" + addr, DYNAFILE_ADDR=addr,
                   PATH=bindir + ":/usr/bin:/bin")
        env.pop("DYNAFILE_REST_TOKEN", None)
        ran = skipped = compared = 0
        for body, line, expect in examples:
            first = body.strip().split("\n")[0] if body.strip() else ""
            if "not run" in first.lower() and first.lstrip().startswith("#"):
                skipped += 1
                continue
            if re.search(r"^\s*(\S*/)?dynafiled\b", body, re.M) and "curl" not in body:
                skipped += 1
                continue
            script = body.replace("127.0.0.1:8000", addr).replace("localhost:8000", addr)
            script = script.replace("127.0.0.1:8001", "127.0.0.1:%d" % port2).replace("--port 8001", "--port %d" % port2)
            streaming = "/stream" in script
            limit = (10 if streaming else 60) * SLOW
            p = subprocess.Popen(["/bin/bash", "-e", "-o", "pipefail", "-c", script], cwd=work, env=env,
                                 stdout=subprocess.PIPE, stderr=subprocess.PIPE, start_new_session=True)
            timed_out = False
            try:
                out, err = p.communicate(timeout=limit)
                rc = p.returncode
            except subprocess.TimeoutExpired:
                os.killpg(p.pid, signal.SIGKILL)
                out, err = p.communicate()
                rc, timed_out = None, True
            ran += 1
            ctx = ("docs/REST.md line %d:\n%s\n--- exit %s, stdout:\n%s\n--- stderr:\n%s\n--- dynafiled stderr tail:\n%s"
                   % (line, body, rc, out.decode("utf-8", "replace")[-3000:], err.decode("utf-8", "replace")[-2000:],
                      d.stderr_text()[-1500:]))
            with self.subTest(line=line):
                if timed_out and not streaming:
                    self.fail("still running after %ds: %s" % (limit, ctx))
                if not timed_out:
                    self.assertEqual(rc, 0, ctx)
                if expect is not None:
                    compared += 1
                    diff = compare_output(expect[0], out.decode("utf-8", "replace"))
                    self.assertIsNone(diff, "the output differs from docs/REST.md line %d: %s\n--- expected:\n%s\n%s"
                                      % (expect[1], diff, expect[0], ctx))
        print("\n  [rest-docs] %d sh blocks run, %d outputs compared, %d skipped" % (ran, compared, skipped))
        self.assertTrue(d.running(), "dynafiled died:\n" + d.stderr_text()[-3000:])


class LooseMatchTest(unittest.TestCase):
    """The comparison rules themselves."""

    def test_rules(self):
        self.assertIsNone(loose_match({"a": 1, "created": 5}, {"a": 1, "created": 9, "extra": 2}))
        self.assertIsNotNone(loose_match({"a": 1}, {"a": 2}))
        self.assertIsNotNone(loose_match({"a": 1}, {"b": 1}))
        self.assertIsNotNone(loose_match({"a": True}, {"a": 1}))
        self.assertIsNone(loose_match({"m": "Table already exists: ..."}, {"m": "Table already exists: books"}))
        self.assertIsNotNone(loose_match([1, 2], [1]))
        want = 'HTTP/1.1 201 Created\nETag: "x"\n\n{"a":1}\n'
        self.assertIsNone(compare_output('HTTP/1.1 304 Not Modified\nETag: "x"\n', 'HTTP/1.1 304 Not Modified\r\nETag: "x"\r\n\r\n'))
        self.assertIsNone(compare_output(want, 'HTTP/1.1 201 Created\r\nDate: now\r\nETag: "x"\r\n\r\n{"a":1,"b":2}'))
        self.assertIsNotNone(compare_output(want, 'HTTP/1.1 201 Created\r\nETag: "y"\r\n\r\n{"a":1}'))
        self.assertIsNotNone(compare_output(want, 'HTTP/1.1 200 OK\r\nETag: "x"\r\n\r\n{"a":1}'))
        self.assertIsNotNone(compare_output(want, 'HTTP/1.1 201 Created\r\nETag: "x"\r\n\r\n{"a":1}\n{"b":1}'))
        self.assertIsNone(compare_output('{"a":1}\n{"b":2}\n200 application/json\n', '{"a":1}\n{"b":2}\n200 application/json\n'))
        self.assertIsNotNone(compare_output('200 application/json\n', '200 text/plain\n'))
        self.assertIsNone(compare_output('{"x":0.1}', '{"x":0.1000}'))
        self.assertIsNotNone(compare_output('{"x":3.14159265358979323846}', '{"x":3.141592653589793}'))
        sse_want = ': ok\n\nid: 1\nevent: INSERT\ndata: {"eventID":"0a...","dynamodb":{"Keys":{"k":"a"}}}\n\nevent: MODIFY\ndata: {...}\n\n...\n'
        sse_got = ': ok\n\nid: 7\nevent: INSERT\ndata: {"eventID":"zz","dynamodb":{"Keys":{"k":"a"},"X":1}}\n\nid: 8\nevent: MODIFY\ndata: {}\n\n'
        self.assertIsNone(compare_output(sse_want, sse_got))
        self.assertIsNotNone(compare_output(sse_want, sse_got.replace('"k":"a"', '"k":"b"')))
        self.assertIsNotNone(compare_output(sse_want, sse_got.replace("MODIFY", "REMOVE")))
        bl = blocks("x\n```sh\necho 1\n```\n\n```\n1\n```\n")
        self.assertEqual([(b[0], b[1], b[3]) for b in bl], [("sh", "echo 1\n", ["x"]), ("", "1\n", [])])


if __name__ == "__main__":
    unittest.main()
