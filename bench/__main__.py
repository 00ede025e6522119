"""`python -m bench`: measure, print the table, write bench/results/latest.{json,md}.

    python -m bench                  lstmlib vs torch, sliders, training, memory
    python -m bench --full           also `make book` from clean and `make test`
    python -m bench --only lstm      one or more sections; the others keep their last results
"""

import argparse
import datetime
import json
import os
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
RESULTS = ROOT / "bench" / "results"
SECTIONS = ("lstm", "sliders", "training", "memory", "build")
OPENBLAS_VARS = ("OPENBLAS_CORETYPE", "OPENBLAS_L2_SIZE")


def main(argv=None):
    p = argparse.ArgumentParser(prog="python -m bench", description=__doc__.splitlines()[0])
    p.add_argument("--full", action="store_true", help="also time `make book` from clean and `make test`")
    p.add_argument("--only", nargs="+", choices=SECTIONS, help="run only these sections")
    p.add_argument("--budget", type=float, default=2.0,
                   help="seconds per implementation and size in the torch comparison (default 2)")
    args = p.parse_args(argv)
    wanted = args.only or [s for s in SECTIONS if s != "build" or args.full]

    # The Makefile unsets these for the benchmark only (they can pick a slower OpenBLAS kernel);
    # it passes the values it found, so the report can say so.
    unset = {v: os.environ.get(f"BENCH_WAS_{v}") or None for v in OPENBLAS_VARS}

    import lstmlib
    from bench import build, lstm, machine, memory, report, sliders, training

    old = {}
    if (RESULTS / "latest.json").exists() and args.only:
        old = json.loads((RESULTS / "latest.json").read_text()).get("sections", {})
    sections = {k: v for k, v in old.items() if k not in wanted}
    runners = {"lstm": lambda: lstm.run(budget=args.budget),
               "sliders": lambda: sliders.run(ROOT / "book"),
               "training": training.run,
               "memory": memory.run,
               "build": lambda: build.run(ROOT)}
    now = datetime.datetime.now(datetime.UTC).strftime("%Y-%m-%d %H:%M UTC")
    for name in wanted:
        print(f"[bench] {name}", flush=True)
        with machine.LoadMeter() as load:
            result = runners[name]()
        sections[name] = {"result": result, "measured_at": now, "other_cpu_share": load.other_share}
    results = {"date": now, "lstmlib_version": lstmlib.__version__,
               "machine": machine.describe(unset),
               "sections": {k: sections[k] for k in SECTIONS if k in sections}}
    RESULTS.mkdir(parents=True, exist_ok=True)
    report.write(results, RESULTS / "latest.json", RESULTS / "latest.md")
    print()
    print(report.markdown(results))
    print(f"[bench] wrote {(RESULTS / 'latest.md').relative_to(ROOT)} and latest.json")


if __name__ == "__main__":
    main()
