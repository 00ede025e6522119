"""The cost of a live slider update: draw(value) -> new PNG bytes, for every chapter's control.

In the built book a slider only switches frames drawn in advance; in a live kernel the honest
cost of a new value is the control's `draw` (update the figure, render, quantise to PNG). Each
notebook of the book is executed in a kernel (nbclient) with one extra cell appended that finds
every `lstmlib.widgets.FrameSlider` alive in the kernel and times `draw` over its values.
"""

import json
from pathlib import Path

MARKER = "BENCH-SLIDERS-JSON "

# Runs inside the notebook's kernel, after the notebook's own cells. Names start with _bench so
# they cannot clash with a chapter's.
PROBE = r'''
import gc as _bench_gc, html as _bench_html, json as _bench_json, re as _bench_re, time as _bench_time
import itertools as _bench_it
import numpy as _bench_np
from lstmlib.widgets import FrameSlider as _BenchFS

def _bench_controls():
    names = {}
    for _k, _v in list(globals().items()):
        if isinstance(_v, _BenchFS) and not _k.startswith("_"):
            names.setdefault(id(_v), _k)
    found = {id(o): o for o in _bench_gc.get_objects() if isinstance(o, _BenchFS)}
    out = []
    for _id, ctl in found.items():
        cap = ctl.children[-1].value if hasattr(ctl.children[-1], "value") else ""
        cap = _bench_html.unescape(_bench_re.sub(r"<[^>]+>", "", str(cap))).strip()
        labels = [getattr(c, "description", "") for c in ctl.children if hasattr(c, "options")]
        out.append((names.get(_id), labels, cap, ctl))
    return sorted(out, key=lambda r: (r[0] or "~", r[2]))

def _bench_time_control(ctl, min_samples=30, max_samples=200, budget=20.0):
    vals = ctl.values
    two = isinstance(vals, tuple) and len(vals) == 2 and all(isinstance(v, list) for v in vals)
    args = [tuple(p) for p in _bench_it.product(*vals)] if two else [(v,) for v in vals]
    if len(args) > max_samples:  # evenly spread over the range
        args = [args[k] for k in _bench_np.linspace(0, len(args) - 1, max_samples).round().astype(int)]
    times, sizes, start = [], [], _bench_time.perf_counter()
    while len(times) < min_samples or not times:
        for a in args:
            t0 = _bench_time.perf_counter()
            png = ctl.draw(*a)
            times.append(_bench_time.perf_counter() - t0)
            sizes.append(len(png))
            if _bench_time.perf_counter() - start > budget:
                break
        if _bench_time.perf_counter() - start > budget:
            break
    ms = _bench_np.array(times) * 1e3
    return {"n_values": len(args), "samples": len(times), "median_ms": float(_bench_np.median(ms)),
            "p95_ms": float(_bench_np.percentile(ms, 95)), "max_ms": float(ms.max()),
            "mean_png_kb": float(_bench_np.mean(sizes) / 1024), "png_is_bytes": isinstance(png, bytes)}

_bench_rows = []
for _bench_name, _bench_labels, _bench_cap, _bench_ctl in _bench_controls():
    try:
        _bench_r = _bench_time_control(_bench_ctl)
    except Exception as _bench_exc:
        _bench_r = {"error": f"{type(_bench_exc).__name__}: {_bench_exc}"}
    _bench_r.update(name=_bench_name, sliders=_bench_labels, caption=_bench_cap)
    _bench_rows.append(_bench_r)
print("MARKER" + _bench_json.dumps(_bench_rows))
'''.replace("MARKER", MARKER)


def discover(book_dir):
    """Every notebook of the book folder, sorted; checkpoints and build output left out."""
    return sorted(p for p in Path(book_dir).rglob("*.ipynb")
                  if ".ipynb_checkpoints" not in p.parts and "_build" not in p.parts)


def _title(nb, path):
    for cell in nb.cells:
        if cell.cell_type == "markdown":
            for line in cell.source.splitlines():
                if line.startswith("# "):
                    return line[2:].strip()
    return path.stem


def bench_notebook(path, timeout=900):
    """Execute one notebook with the probe appended; returns its controls' timings (or an error)."""
    import nbformat
    from nbclient import NotebookClient
    from nbclient.exceptions import CellExecutionError

    nb = nbformat.read(path, as_version=4)
    title = _title(nb, path)
    nb.cells.append(nbformat.v4.new_code_cell(PROBE))
    client = NotebookClient(nb, timeout=timeout, kernel_name="python3",
                            resources={"metadata": {"path": str(Path(path).parent)}})
    result = {"notebook": Path(path).name, "title": title, "controls": []}
    try:
        client.execute()
    except CellExecutionError as exc:
        result["error"] = str(exc).strip().splitlines()[-1][:300]
        return result
    except Exception as exc:  # noqa: BLE001 (a kernel that dies must not stop the other notebooks)
        result["error"] = f"{type(exc).__name__}: {exc}"[:300]
        return result
    for out in nb.cells[-1].get("outputs", []):
        for line in out.get("text", "").splitlines():
            if line.startswith(MARKER):
                result["controls"] = json.loads(line[len(MARKER):])
    return result


def run(book_dir="book"):
    rows = []
    for path in discover(book_dir):
        r = bench_notebook(path)
        n = len(r["controls"])
        print(f"  {path.name}: {n} control(s)" + (f", error: {r['error']}" if "error" in r else ""),
              flush=True)
        rows.append(r)
    return rows
