"""lstmlib's LSTMCell forward + backward against torch.nn.LSTM on the CPU, and the matmul peak.

How it measures. Each implementation is timed in its own block: the thread pools are left idle
for a moment (numpy's OpenBLAS threads and torch's OpenMP threads spin for a while after a call
and would steal the cores from the other library), then a warm-up, then many repeats of that one
implementation. Blocks alternate (lstmlib, torch, torch, lstmlib, ...) so that a slow phase of the
machine hits both. Best and median are over every repeat of every block. The old way, the two
alternating at every repeat, is measured too and shown apart: it makes torch look up to twice
as slow as it is on its own.

FLOP count of one forward + backward pass over T steps, batch B, input D, hidden H, counting the
matrix products only (2 FLOPs per multiply-add; the elementwise gate work is O(T·B·H) and left out):

    forward:   the four gates, z_t · W^T with z_t = [h_{t-1}, x_t]:   2 · T · B · (H+D) · 4H
    backward:  ∂L/∂W (dZ^T · Z) and ∂L/∂z (dZ · W), the same size each: 2 × the forward
    total:     3 · 2 · T · B · (H+D) · 4H  =  24 · T · B · H · (H+D)
"""

import statistics
import time

import numpy as np

from lstmlib import LSTMCell

SIZES = ((1, 50, 4, 8), (32, 100, 8, 32), (64, 200, 32, 128))  # (B, T, D, H)
DTYPES = ("float32", "float64")
# torch.nn.LSTM keeps its rows in the order i, f, g, o; lstmlib's fused W has f, i, c, o.
TORCH_FROM_LSTMLIB = ("i", "f", "c", "o")
IDLE_S = 0.3  # pause before every block: long enough for spinning pool threads to go to sleep


def lstm_flops(B, T, D, H):
    """Matrix-product FLOPs of one forward + backward pass: 24 · T · B · H · (H + D)."""
    return 24 * T * B * H * (H + D)


def matmul_peak(dtype, sizes=(1024, 2048), repeats=5):
    """The best GFLOP/s of numpy's square matmul (2 n³ FLOPs) over a few sizes, in this process."""
    rng = np.random.default_rng(0)
    best, at = 0.0, None
    for n in sizes:
        a = rng.standard_normal((n, n)).astype(dtype)
        b = rng.standard_normal((n, n)).astype(dtype)
        out = np.empty_like(a)
        np.matmul(a, b, out=out)  # warm-up: thread pool, caches
        for _ in range(repeats):
            t0 = time.perf_counter()
            np.matmul(a, b, out=out)
            gflops = 2 * n**3 / (time.perf_counter() - t0) / 1e9
            if gflops > best:
                best, at = gflops, n
    return {"gflops": best, "n": at}


def step_gemm(B, H, dtype, repeats=200):
    """Best time and GFLOP/s of one recurrent product (B, H) · (H, 4H), as the loop runs it."""
    rng = np.random.default_rng(0)
    a = rng.standard_normal((B, H)).astype(dtype)
    w = rng.standard_normal((H, 4 * H)).astype(dtype)
    out = np.empty((B, 4 * H), dtype=dtype)
    for _ in range(20):
        np.matmul(a, w, out=out)
    best = min(_once(lambda: np.matmul(a, w, out=out)) for _ in range(repeats))
    return {"B": B, "H": H, "us": best * 1e6, "gflops": 2 * B * H * 4 * H / best / 1e9}


def _once(fn):
    t0 = time.perf_counter()
    fn()
    return time.perf_counter() - t0


def _torch_twin(cell):
    """A torch.nn.LSTM with the cell's weights (b_hh = 0)."""
    import torch

    H = cell.H
    tdtype = getattr(torch, cell.dtype.name)
    lstm = torch.nn.LSTM(cell.D, H).to(tdtype)
    blocks = ["fico".index(g) for g in TORCH_FROM_LSTMLIB]
    rows = np.concatenate([np.arange(k * H, (k + 1) * H) for k in blocks])  # (4H,) torch's order
    with torch.no_grad():
        lstm.weight_hh_l0.copy_(torch.from_numpy(cell.W[rows, :H].copy()))
        lstm.weight_ih_l0.copy_(torch.from_numpy(cell.W[rows, H:].copy()))
        lstm.bias_ih_l0.copy_(torch.from_numpy(cell.b[rows].copy()))
        lstm.bias_hh_l0.zero_()
    return lstm


def implementations(B, T, D, H, dtype):
    """{"lstmlib": fn, "torch": fn}: one forward + backward pass each, with the gradients of every
    weight and of x, h_0 and c_0 for an upstream gradient on every h_t; and max |h_lstmlib - h_torch|."""
    import torch

    rng = np.random.default_rng(B * 1000 + T)
    cell = LSTMCell(D, H, seed=1, dtype=dtype)
    xs = rng.standard_normal((T, B, D)).astype(dtype)
    dh = rng.standard_normal((T, B, H)).astype(dtype)
    h0 = np.zeros((B, H), dtype=dtype)
    c0 = np.zeros((B, H), dtype=dtype)

    lstm = _torch_twin(cell)
    X = torch.from_numpy(xs.copy()).requires_grad_()
    H0 = torch.from_numpy(h0[None].copy()).requires_grad_()
    C0 = torch.from_numpy(c0[None].copy()).requires_grad_()
    DH = torch.from_numpy(dh.copy())
    wrt = [*lstm.parameters(), X, H0, C0]

    def run_lstmlib():
        trace = cell.forward(xs, h0, c0)
        return trace, cell.backward(trace, dh)

    def run_torch():
        out, _ = lstm(X, (H0, C0))
        return out, torch.autograd.grad(out, wrt, DH)

    trace, _ = run_lstmlib()
    out, _ = run_torch()
    diff = float(np.max(np.abs(trace.h - out.detach().numpy())))
    return {"lstmlib": run_lstmlib, "torch": run_torch}, diff


def _block(fn, n, warmup):
    """Idle pools, warm up, then n timed calls: (wall seconds each, CPU seconds each)."""
    time.sleep(IDLE_S)
    for _ in range(warmup):
        fn()
    wall, cpu = [], []
    for _ in range(n):
        c0, t0 = time.process_time(), time.perf_counter()
        fn()
        wall.append(time.perf_counter() - t0)
        cpu.append(time.process_time() - c0)
    return wall, cpu


def blocks(fns, *, budget=2.0, n_blocks=4, min_repeats=5, max_repeats=200, warmup=3):
    """Time every function of `fns` in its own blocks, alternating the order block by block.

    budget: seconds per implementation in all. Returns {name: {"wall": [...], "cpu": [...],
    "block_medians": [...]}} with every repeat's time in seconds.
    """
    names = list(fns)
    one = {k: max(min(_once(fns[k]) for _ in range(3)), 1e-6) for k in names}
    n = {k: int(min(max_repeats, max(min_repeats, budget / n_blocks / one[k]))) for k in names}
    out = {k: {"wall": [], "cpu": [], "block_medians": []} for k in names}
    for b in range(n_blocks):
        order = names if b % 2 == 0 else names[::-1]
        for k in order:
            wall, cpu = _block(fns[k], n[k], warmup)
            out[k]["wall"] += wall
            out[k]["cpu"] += cpu
            out[k]["block_medians"].append(statistics.median(wall))
    return out


def interleaved(fns, *, budget=1.0, min_repeats=5, max_repeats=200):
    """The old measurement: the implementations alternate at every repeat. {name: [seconds]}"""
    names = list(fns)
    for k in names:
        fns[k]()
    one = sum(max(_once(fns[k]), 1e-6) for k in names)
    n = int(min(max_repeats, max(min_repeats, len(names) * budget / one)))
    out = {k: [] for k in names}
    for _ in range(n):
        for k in names:
            out[k].append(_once(fns[k]))
    return out


def compare(B, T, D, H, dtype, *, budget=2.0):
    """lstmlib against torch at one size: block timings (best, median, CPU), and interleaved."""
    fns, diff = implementations(B, T, D, H, dtype)
    res = blocks(fns, budget=budget)
    mixed = interleaved(fns, budget=budget / 4)
    flops = lstm_flops(B, T, D, H)
    row = {"B": B, "T": T, "D": D, "H": H, "dtype": np.dtype(dtype).name, "gflop": flops / 1e9,
           "max_abs_diff_h": diff, "blocks": len(res["lstmlib"]["block_medians"])}
    for k in fns:
        wall, cpu = res[k]["wall"], res[k]["cpu"]
        row[f"{k}_best_ms"] = min(wall) * 1e3
        row[f"{k}_median_ms"] = statistics.median(wall) * 1e3
        row[f"{k}_cpu_median_ms"] = statistics.median(cpu) * 1e3
        row[f"{k}_repeats"] = len(wall)
        row[f"{k}_block_medians_ms"] = [m * 1e3 for m in res[k]["block_medians"]]
        row[f"{k}_gflops"] = flops / min(wall) / 1e9
        row[f"{k}_interleaved_best_ms"] = min(mixed[k]) * 1e3
        row[f"{k}_interleaved_median_ms"] = statistics.median(mixed[k]) * 1e3
    row["ratio_best"] = row["lstmlib_best_ms"] / row["torch_best_ms"]
    row["ratio_median"] = row["lstmlib_median_ms"] / row["torch_median_ms"]
    row["interleaved_ratio_median"] = (row["lstmlib_interleaved_median_ms"]
                                       / row["torch_interleaved_median_ms"])
    return row


def run(sizes=SIZES, dtypes=DTYPES, budget=2.0):
    """Peaks, every size and dtype, peaks again. Returns {"peak": {...}, "rows": [...], ...}."""
    peak = {dt: matmul_peak(np.dtype(dt)) for dt in dtypes}
    rows = []
    for dt in dtypes:
        for B, T, D, H in sizes:
            row = compare(B, T, D, H, np.dtype(dt), budget=budget)
            rows.append(row)
            print(f"  {dt} B={B} T={T} D={D} H={H}: lstmlib {row['lstmlib_best_ms']:.2f} / "
                  f"{row['lstmlib_median_ms']:.2f} ms, torch {row['torch_best_ms']:.2f} / "
                  f"{row['torch_median_ms']:.2f} ms (best / median), ratio {row['ratio_best']:.2f} "
                  f"({row['ratio_median']:.2f}); interleaved {row['interleaved_ratio_median']:.2f}",
                  flush=True)
    # measured again at the end: other work on the machine lowers a single measurement
    for dt in dtypes:
        again = matmul_peak(np.dtype(dt))
        if again["gflops"] > peak[dt]["gflops"]:
            peak[dt] = again
    for row in rows:
        p = peak[row["dtype"]]["gflops"]
        row["lstmlib_pct_peak"] = 100 * row["lstmlib_gflops"] / p
        row["torch_pct_peak"] = 100 * row["torch_gflops"] / p
    B, _, _, H = sizes[-1]
    gemm = {dt: step_gemm(B, H, np.dtype(dt)) for dt in dtypes}
    return {"peak": peak, "rows": rows, "flop_formula": "24 * T * B * H * (H + D)",
            "step_gemm": gemm, "method": "blocks", "idle_s": IDLE_S}
