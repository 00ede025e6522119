"""Wall time of `make book` from clean and of `make test`, as subprocesses (only with --full).

`make test` runs lint, the unit tests, nbval on every notebook, the strict build and the browser
tests, so it takes minutes; `make book` is timed after `make clean` removed _build.
"""

import os
import re
import subprocess
import time
from pathlib import Path

OPENBLAS_VARS = ("OPENBLAS_CORETYPE", "OPENBLAS_L2_SIZE")


def _test_env():
    """The environment as the caller had it: `make bench` unsets the OpenBLAS overrides for the
    benchmark only, so they are put back for the build and the tests."""
    env = dict(os.environ)
    for v in OPENBLAS_VARS:
        was = env.pop(f"BENCH_WAS_{v}", "")
        if was:
            env[v] = was
    return env


def _timed(cmd, cwd):
    t0 = time.perf_counter()
    proc = subprocess.run([cmd[0], "--no-print-directory", *cmd[1:]], cwd=cwd, capture_output=True,
                          text=True, env=_test_env())
    # the last lines, with this checkout's path made relative (no machine paths in the results)
    text = (proc.stdout + proc.stderr).replace(str(Path(cwd).resolve()), ".")
    text = re.sub(r"\x1b\[[0-9;]*m", "", text)  # colour codes
    tail = text.strip().splitlines()[-3:]
    return {"command": " ".join(cmd), "seconds": time.perf_counter() - t0, "returncode": proc.returncode,
            "tail": tail}


def run(root="."):
    out = []
    for cmd in (["make", "clean"], ["make", "book"], ["make", "test"]):
        r = _timed(cmd, root)
        if cmd[1] != "clean":
            print(f"  {r['command']}: {r['seconds']:.1f} s, exit {r['returncode']}", flush=True)
            out.append(r)
    return out
