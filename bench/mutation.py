"""The mutation score of lstmlib, after `mutmut run` (`make mutants` runs both).

    python -m bench.mutation      read mutmut's results, write bench/results/mutants.{json,md}
    python -m bench.mutation --earlier bench/results/mutmut-earlier.txt
                                  the same, with the verdicts of an earlier run (the output of
                                  `mutmut results --all true`) for mutants this run did not check

mutmut changes lstmlib's code one small edit at a time (a `<` into `<=`, a constant into
another, a call dropped ...) and runs the unit tests that cover the changed function against
each such mutant. A mutant that some test fails on is killed; one that every test passes is a
survivor: either the tests miss a behaviour, or the edit changes nothing observable (an
equivalent mutant). bench/mutation_equivalent.json lists survivors with what was found about them:
{name: {"change": "old line → new line", "note": "Equivalent: why ..." or "Not killed: why ..."}}.
A note that starts with "Equivalent" takes its mutant out of the score, which counts killed mutants
among the others. An entry whose change is not the mutant's any more (mutmut numbers a function's
mutants anew when the function changes) is ignored.
"""

import json
import re
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
RESULTS = ROOT / "bench" / "results"
EQUIVALENT = ROOT / "bench" / "mutation_equivalent.json"
TARGET_PCT = 95.0
MUTMUT = [str(Path(sys.executable).parent / "mutmut")]


def _mutmut(*args):
    proc = subprocess.run(MUTMUT + list(args), cwd=ROOT, capture_output=True, text=True)
    if proc.returncode != 0:
        raise RuntimeError(f"mutmut {' '.join(args)} failed:\n{proc.stdout}\n{proc.stderr}")
    return proc.stdout


def parse(text):
    """{mutant name: status} from the output of `mutmut results --all true`."""
    out = {}
    for line in text.splitlines():
        m = re.match(r"\s*(\S+__mutmut_\d+): (.+)$", line)
        if m:
            out[m.group(1)] = m.group(2).strip()
    return out


def statuses(earlier=None):
    """{mutant name: status}: this run's verdicts, and an earlier run's where this one has none.
    (Tests only get added between runs, so an earlier kill stays a kill.)"""
    now = parse(_mutmut("results", "--all", "true"))
    if earlier is None:
        return now
    out = parse(Path(earlier).read_text())
    out.update({k: v for k, v in now.items() if v != "not checked" or k not in out})
    return out


def diff(name):
    """The change a mutant makes, as a unified diff."""
    return _mutmut("show", name).strip()


def change(diff_text):
    """The lines a mutant removes and adds, as one line: "old → new"."""
    return " → ".join(ln[1:].strip() for ln in diff_text.splitlines()
                      if ln.startswith(("+", "-")) and not ln.startswith(("+++", "---")))


def notes_for(survivors, equivalent, diffs):
    """{name: note} for the survivors whose entry in bench/mutation_equivalent.json still
    describes them. mutmut numbers a function's mutants anew when the function changes, so an
    entry names its mutant *and* the change it was argued for; an entry whose change is no longer
    the mutant's is stale and explains nothing."""
    out = {}
    for k in survivors:
        entry = equivalent.get(k)
        if entry is not None and entry["change"] == change(diffs[k]):
            out[k] = entry["note"]
    return out


def summarize(status, equivalent):
    counts = {}
    for s in status.values():
        counts[s] = counts.get(s, 0) + 1
    survivors = sorted(k for k, s in status.items() if s == "survived")
    diffs = {k: diff(k) for k in survivors}
    equivalent = notes_for(survivors, equivalent, diffs)
    # an entry of the list that starts with "Equivalent" removes its mutant from the score; any
    # other entry explains a survivor that still counts as not killed
    argued = {k: equivalent[k] for k in survivors if equivalent.get(k, "").startswith("Equivalent")}
    open_ = [k for k in survivors if k not in argued]
    killed = counts.get("killed", 0) + counts.get("timeout", 0)  # a mutant that hangs is caught
    unchecked = counts.get("not checked", 0)
    considered = (len(status) - len(argued) - counts.get("no tests", 0) - counts.get("skipped", 0)
                  - unchecked)
    return {
        "counts": counts, "total": len(status), "killed": killed, "not_checked": unchecked,
        "equivalent": len(argued), "non_equivalent": considered,
        "score_pct": 100.0 * killed / considered if considered else None,
        "target_pct": TARGET_PCT,
        "survivors": [{"name": k, "equivalent": argued.get(k), "note": equivalent.get(k),
                       "diff": diffs[k]} for k in survivors],
        "unexplained": [k for k in open_ if k not in equivalent],
        "not_killed": open_,
        "no_tests": sorted(k for k, s in status.items() if s == "no tests"),
        "modules": sorted({module_of(k) for k in status}),
        "by_module": by_module(status, equivalent),
    }


def module_of(name):
    """'lstmlib.cell.xǁLSTMCellǁstep__mutmut_6' -> 'cell'."""
    return name.split(".")[1]


def by_module(status, equivalent):
    """{module: {"mutants", "killed", "equivalent", "not_killed", "score_pct"}}, the score as in
    summarize()."""
    out = {}
    for name, s in status.items():
        m = out.setdefault(module_of(name), {"mutants": 0, "killed": 0, "equivalent": 0,
                                             "not_killed": 0, "other": 0})
        m["mutants"] += 1
        if s in ("killed", "timeout"):
            m["killed"] += 1
        elif s == "survived" and equivalent.get(name, "").startswith("Equivalent"):
            m["equivalent"] += 1
        elif s == "survived":
            m["not_killed"] += 1
        else:
            m["other"] += 1
    for m in out.values():
        considered = m["killed"] + m["not_killed"]
        m["score_pct"] = 100.0 * m["killed"] / considered if considered else None
    return dict(sorted(out.items()))


def markdown(res):
    score = res["score_pct"]
    modules = ", ".join(res["modules"])
    lines = ["`make mutants` runs mutmut (pinned in requirements-dev.txt) on lstmlib "
             f"({modules}): each mutant, one small edit of the code, is run against the unit tests "
             "that cover the edited function. A mutant is killed when a test fails on it. "
             "The drawing, slider and character-model modules are left out (see setup.cfg).", "",
             "| mutants | run | killed | argued equivalent | not killed | no tests | score | target |",
             "|---|---|---|---|---|---|---|---|",
             f"| {res['total']} | {res['total'] - res['not_checked']} | {res['killed']} "
             f"| {res['equivalent']} | {len(res['not_killed'])} "
             f"| {len(res['no_tests'])} | {'n/a' if score is None else f'{score:.1f}%'} "
             f"| ≥ {res['target_pct']:.0f}% |", "",
             "The score is the killed mutants over those run, less the ones argued equivalent and "
             "those no test covers."]
    if res["not_checked"]:
        lines += ["", f"**Incomplete run:** {res['not_checked']} of the {res['total']} mutants were "
                  "not run; the score is over the mutants that were."]
    lines += ["", "| module | mutants | killed | argued equivalent | not killed | score |",
              "|---|---|---|---|---|---|"]
    for name, m in res["by_module"].items():
        pct = "n/a" if m["score_pct"] is None else f"{m['score_pct']:.1f}%"
        lines.append(f"| {name} | {m['mutants']} | {m['killed']} | {m['equivalent']} "
                     f"| {m['not_killed']} | {pct} |")
    other = {k: v for k, v in res["counts"].items()
             if k not in ("killed", "survived", "no tests", "not checked")}
    if other:
        lines += ["", "Other outcomes: " + ", ".join(f"{k} {v}" for k, v in sorted(other.items()))
                  + " (a timeout counts as killed: the mutant changed what the tests observe)."]
    if res["survivors"]:
        lines += ["", "Every surviving mutant, with why it changes nothing a caller can observe "
                  "(\"Equivalent\") or why no test kills it (\"Not killed\"):", ""]
        for s in res["survivors"]:
            why = s["note"] or "**not explained**"
            lines.append(f"- `{s['name']}`: `{change(s['diff'])}`. {why}")
    return lines


def main(argv=None):
    import argparse

    p = argparse.ArgumentParser(prog="python -m bench.mutation", description=__doc__.splitlines()[0])
    p.add_argument("--earlier", help="`mutmut results --all true` output of an earlier run")
    args = p.parse_args(argv)
    equivalent = json.loads(EQUIVALENT.read_text()) if EQUIVALENT.exists() else {}
    status = statuses(args.earlier)
    if not status:
        sys.exit("no mutmut results: run `mutmut run` first (make mutants does both)")
    res = summarize(status, equivalent)
    RESULTS.mkdir(parents=True, exist_ok=True)
    (RESULTS / "mutants.json").write_text(json.dumps(res, indent=1, sort_keys=True) + "\n")
    (RESULTS / "mutants.md").write_text("\n".join(markdown(res)) + "\n")
    score = res["score_pct"]
    print(f"[mutants] {res['killed']} of {res['non_equivalent']} non-equivalent mutants killed "
          f"({'n/a' if score is None else f'{score:.1f}%'}); {len(res['not_killed'])} not killed, "
          f"{len(res['unexplained'])} of them not explained; wrote bench/results/mutants.md")


if __name__ == "__main__":
    main()
