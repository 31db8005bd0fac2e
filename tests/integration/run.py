#!/usr/bin/python3
"""run.py -- run the dynafile integration tests against a real dynafiled.

Usage: /usr/bin/python3 tests/integration/run.py --daemon PATH [-k PATTERN] [-v] [MODULE ...]

Discovers tests/integration/test_*.py (or runs the named modules), runs them
with unittest, prints the counts and exits non-zero on any failure or error.
Set DYNAFILE_SANITIZED=1 when PATH is an ASan/UBSan build (also detected
from the binary itself): every daemon's stderr is then checked for sanitizer
reports after it stops, timeouts are tripled, and every SIGTERM stop must
still exit 0.
"""

import argparse
import os
import sys
import time
import unittest

HERE = os.path.dirname(os.path.abspath(__file__))


def main():
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[1])
    ap.add_argument("--daemon", required=True, help="path to the dynafiled binary")
    ap.add_argument("-k", dest="patterns", action="append", default=[],
                    help="only run tests whose name contains this substring (repeatable)")
    ap.add_argument("-v", "--verbose", action="store_true")
    ap.add_argument("-f", "--failfast", action="store_true")
    ap.add_argument("modules", nargs="*", help="test modules (test_wire, ...); default all")
    args = ap.parse_args()

    daemon = os.path.abspath(args.daemon)
    if not (os.path.isfile(daemon) and os.access(daemon, os.X_OK)):
        print("run.py: %s is not an executable" % daemon, file=sys.stderr)
        return 2
    sys.path.insert(0, HERE)
    import harness  # before the test modules: they copy harness.SLOW at import
    harness.configure(daemon)

    loader = unittest.TestLoader()
    if args.patterns:
        loader.testNamePatterns = ["*%s*" % p for p in args.patterns]
    if args.modules:
        suite = unittest.TestSuite()
        for m in args.modules:
            m = os.path.basename(m)
            if m.endswith(".py"):
                m = m[:-3]
            suite.addTests(loader.loadTestsFromName(m))
    else:
        suite = loader.discover(HERE, pattern="test_*.py", top_level_dir=HERE)

    t0 = time.monotonic()
    runner = unittest.TextTestRunner(verbosity=2 if args.verbose else 1, failfast=args.failfast,
                                     stream=sys.stdout)
    result = runner.run(suite)
    dt = time.monotonic() - t0
    print("integration: %d run, %d failures, %d errors, %d skipped, %.1fs (daemon %s%s)"
          % (result.testsRun, len(result.failures), len(result.errors), len(result.skipped), dt, daemon,
             ", sanitized" if os.environ.get("DYNAFILE_SANITIZED") == "1" else ""))
    return 0 if result.wasSuccessful() and result.testsRun > 0 else 1


if __name__ == "__main__":
    sys.exit(main())
