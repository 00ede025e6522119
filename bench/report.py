"""The results as JSON and as markdown; the markdown is what the book's Performance page includes."""

import json

TARGETS = {  # lstmlib time / torch time, at most (issue targets; reported, never asserted)
    ("float64", 0): 0.5, ("float64", 1): 0.5, ("float64", 2): 0.5,
    ("float32", 0): 1.5, ("float32", 1): 1.0, ("float32", 2): 1.0,
}
PEAK_TARGET_PCT = 45.0   # float32, largest size: share of the measured matmul peak
SLIDER_TARGET_MS = 30.0  # median draw time of a control
TRAIN_TARGET_S = 2.0     # median wall time of the adding problem
BUSY_SHARE = 0.10        # other processes' CPU share above which a section's timings are flagged


def _f(x, nd=2):
    return "n/a" if x is None else f"{x:.{nd}f}"


def _verdict(ok, miss):
    return "met" if ok else f"missed: {miss}"


def lstm_section(res):
    peak = res["peak"]
    lines = ["## lstmlib against torch.nn.LSTM", "",
             "Forward and backward pass of a whole sequence (gradients of every weight and of "
             "x, h<sub>0</sub>, c<sub>0</sub>), the two implementations alternating every repeat. "
             "Times in milliseconds, best / median; the ratio is lstmlib's time over torch's "
             "(below 1: lstmlib is faster).", "",
             "Matrix-product FLOPs per pass: 24·T·B·H·(H+D) (forward 2·T·B·(H+D)·4H for the four "
             "gates; backward twice that, for ∂L/∂W and ∂L/∂z). GFLOP/s from the best time; the "
             "peak is numpy's best square matmul in the same run (measured before and after): "
             + ", ".join(f"{dt} {p['gflops']:.0f} GFLOP/s (n = {p['n']})" for dt, p in peak.items()) + ".",
             "",
             "| dtype | B, T, D, H | lstmlib ms | torch ms | ratio best (median) | lstmlib GFLOP/s (% peak) "
             "| torch GFLOP/s (% peak) | repeats | target | |",
             "|---|---|---|---|---|---|---|---|---|---|"]
    order = {}
    for r in res["rows"]:
        k = order.setdefault(r["dtype"], 0)
        order[r["dtype"]] += 1
        target = TARGETS.get((r["dtype"], k))
        ok = target is None or r["ratio_best"] <= target
        verdict = _verdict(ok, f"{r['ratio_best'] / target:.2f}× the allowed time") if target else ""
        tgt = f"≤ {target}×" if target else ""
        if r["dtype"] == "float32" and k == 2:
            pk = r["lstmlib_pct_peak"]
            tgt += f", ≥ {PEAK_TARGET_PCT:.0f}% peak"
            if pk < PEAK_TARGET_PCT:
                verdict = (verdict + "; " if verdict != "met" else "") + f"peak missed: {pk:.0f}%"
        lines.append(
            f"| {r['dtype']} | {r['B']}, {r['T']}, {r['D']}, {r['H']} "
            f"| {_f(r['lstmlib_best_ms'])} / {_f(r['lstmlib_median_ms'])} "
            f"| {_f(r['torch_best_ms'])} / {_f(r['torch_median_ms'])} "
            f"| {_f(r['ratio_best'])} ({_f(r['ratio_median'])}) "
            f"| {_f(r['lstmlib_gflops'], 1)} ({_f(r['lstmlib_pct_peak'], 0)}%) "
            f"| {_f(r['torch_gflops'], 1)} ({_f(r['torch_pct_peak'], 0)}%) "
            f"| {r['repeats']} | {tgt} | {verdict} |")
    worst = max(r["max_abs_diff_h"] for r in res["rows"] if r["dtype"] == "float64")
    lines += ["", f"Same weights in both: the hidden states agree to {worst:.1e} in float64."]
    return lines


def slider_section(res):
    lines = ["## Slider updates", "",
             "In the book a slider only switches frames drawn in advance. In a live kernel a new "
             "value costs one call of the control's draw function: update the figure, render it, "
             "quantise it to PNG bytes. Each notebook runs in a kernel, then every slider control "
             f"in it is timed over its values (target: median ≤ {SLIDER_TARGET_MS:.0f} ms).", "",
             "| chapter | control | frames | median ms | p95 ms | PNG KB | target |",
             "|---|---|---|---|---|---|---|"]
    if not any(nb["controls"] for nb in res):
        lines = lines[:-2] + ["No notebook of this run has a slider control."]
    empty, errors = [], []
    for nb in res:
        if "error" in nb:
            errors.append(f"{nb['notebook']} did not run: {nb['error']}")
        if not nb["controls"]:
            if "error" not in nb:
                empty.append(nb["notebook"])
            continue
        for c in nb["controls"]:
            name = c.get("name") or " / ".join(c.get("sliders") or []) or "(unnamed)"
            if "error" in c:
                lines.append(f"| {nb['title']} | {name} | | | | | error: {c['error']} |")
                continue
            miss = f"{c['median_ms'] / SLIDER_TARGET_MS:.1f}× the target"
            lines.append(f"| {nb['title']} | {name} | {c['n_values']} | {_f(c['median_ms'], 1)} "
                         f"| {_f(c['p95_ms'], 1)} | {_f(c['mean_png_kb'], 1)} "
                         f"| {_verdict(c['median_ms'] <= SLIDER_TARGET_MS, miss)} |")
    if empty:
        lines += ["", "Notebooks without slider controls: " + ", ".join(empty) + "."]
    if errors:
        lines += [""] + [f"- {e}" for e in errors]
    return lines


def training_section(res):
    lines = ["## Training: the adding problem", ""]
    s = res["setup"]
    lines += [f"Lag T = {s['T']}, an LSTM with H = {s['hidden']} and forget bias {s['forget_bias']}, "
              f"Adam (lr {s['lr']}), gradient clipping at {s['clip']}, batches of {s['batch_size']}, "
              f"test MSE on {s['n_test']} held-out sequences every {s['eval_every']} steps, until it "
              f"is below {s['target_mse']} (predicting the mean scores about 0.167).", "",
              "| seed | reached | steps | seconds | final test MSE |", "|---|---|---|---|---|"]
    for r in res["runs"]:
        lines.append(f"| {r['seed']} | {'yes' if r['reached'] else 'no'} | {r['steps']} "
                     f"| {_f(r['seconds'])} | {r['final_test_mse']:.4f} |")
    med = res["median_seconds"]
    verdict = "n/a" if med is None else _verdict(med <= TRAIN_TARGET_S,
                                                 f"{(med or 0) / TRAIN_TARGET_S:.1f}× the target")
    lines += ["", f"Reached by {res['reached']} seeds; median {_f(med)} s and {res['median_steps']} steps "
              f"(target: median ≤ {TRAIN_TARGET_S:.0f} s: {verdict})."]
    return lines


def build_section(res):
    lines = ["## Building and testing", ""]
    if not res:
        return lines + ["Not measured in this run; `make bench BENCH_ARGS=--full` times `make book` "
                        "from clean and `make test` (lint, unit tests, nbval, strict build, browser)."]
    lines += ["| command | seconds | exit code | last line |", "|---|---|---|---|"]
    for r in res:
        last = (r["tail"] or [""])[-1].replace("|", "/")
        lines.append(f"| `{r['command']}` | {r['seconds']:.1f} | {r['returncode']} | {last} |")
    if any(r["returncode"] for r in res):
        lines += ["", "A command that failed stopped early: its time is not that of a full run."]
    return lines


def machine_section(m, load):
    blas = "; ".join(
        ", ".join(f"{k} {v}" for k, v in b.items() if v is not None) for b in m["blas_runtime"])
    t = m["torch"] or {}
    lines = ["## The machine", "",
             "| | |", "|---|---|",
             f"| CPU | {m['cpu']} |",
             f"| cores | {m['physical_cores']} physical, {m['logical_cpus']} logical, "
             f"{m['cpus_usable']} usable |",
             f"| memory | {m['memory_gib']} GiB |",
             f"| system | {m['os']}, Python {m['python']} |",
             f"| numpy | {m['numpy']}, built with {m['numpy_blas_build'].get('name')} "
             f"{m['numpy_blas_build'].get('version')} |",
             f"| thread pools at run time | {blas} |",
             f"| torch | {t.get('version')}, {t.get('threads')} threads, {t.get('blas')}, "
             f"{t.get('cpu_capability')} |"]
    unset = {k: v for k, v in m["unset_for_this_run"].items() if v}
    lines.append("| environment | " + (", ".join(f"{k}={v} unset for this run" for k, v in unset.items())
                                       or "no OpenBLAS overrides were set") + " |")
    if load:
        lines += ["", "Share of the machine's CPU time used by other processes while each section ran: "
                  + ", ".join(f"{k} {100 * v:.0f}%" for k, v in load.items() if v is not None) + "."]
        if any(v is not None and v > BUSY_SHARE for v in load.values()):
            lines += ["", f"Above {100 * BUSY_SHARE:.0f}%, other work competed for the cores: "
                      "multithreaded matrix products (numpy's OpenBLAS and torch alike) then wait for "
                      "their threads, and times of that section are longer and more spread than on "
                      "an idle machine. Best times are the least disturbed."]
    return lines


def markdown(results):
    """The whole report; headings start at level 2 so the book page can include it."""
    s = results["sections"]
    out = [f"Measured by `make bench` on {results['date']} (lstmlib {results['lstmlib_version']}).", ""]
    out += machine_section(results["machine"], {k: v.get("other_cpu_share") for k, v in s.items()})
    out.append("")
    if "lstm" in s:
        out += lstm_section(s["lstm"]["result"]) + [""]
    if "sliders" in s:
        out += slider_section(s["sliders"]["result"]) + [""]
    if "training" in s:
        out += training_section(s["training"]["result"]) + [""]
    out += build_section(s.get("build", {}).get("result"))
    return "\n".join(out) + "\n"


def write(results, json_path, md_path):
    json_path.write_text(json.dumps(results, indent=1, sort_keys=True) + "\n")
    md_path.write_text(markdown(results))
