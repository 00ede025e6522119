"""lstmlib's LSTMCell forward + backward against torch.nn.LSTM on the CPU, and the matmul peak.

FLOP count of one forward + backward pass over T steps, batch B, input D, hidden H, counting the
matrix products only (2 FLOPs per multiply-add; the elementwise gate work is O(T·B·H) and left out):

    forward:   the four gates, z_t · W^T with z_t = [h_{t-1}, x_t]:   2 · T · B · (H+D) · 4H
    backward:  ∂L/∂W (dZ^T · Z) and ∂L/∂z (dZ · W), the same size each: 2 × the forward
    total:     3 · 2 · T · B · (H+D) · 4H  =  24 · T · B · H · (H+D)
"""

import statistics
import time
from dataclasses import dataclass

import numpy as np

from lstmlib import LSTMCell

SIZES = ((1, 50, 4, 8), (32, 100, 8, 32), (64, 200, 32, 128))  # (B, T, D, H)
DTYPES = ("float32", "float64")
# torch.nn.LSTM keeps its rows in the order i, f, g, o; lstmlib's fused W has f, i, c, o.
TORCH_FROM_LSTMLIB = ("i", "f", "c", "o")


def lstm_flops(B, T, D, H):
    """Matrix-product FLOPs of one forward + backward pass: 24 · T · B · H · (H + D)."""
    return 24 * T * B * H * (H + D)


@dataclass(frozen=True)
class Timing:
    best: float    # seconds, the fastest repeat
    median: float  # seconds
    repeats: int


def _timing(samples):
    return Timing(best=min(samples), median=statistics.median(samples), repeats=len(samples))


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


def _torch_twin(cell):
    """A torch.nn.LSTM with the cell's weights (b_hh = 0) and the inputs that need gradients."""
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


def compare(B, T, D, H, dtype, *, budget=2.0, min_repeats=7, max_repeats=300):
    """Time lstmlib and torch.nn.LSTM, forward + backward, alternating the two every repeat.

    Both return the gradients of every weight and of x, h_0 and c_0 for an upstream gradient on
    every h_t. `budget` seconds per implementation sets the number of repeats.
    Returns a dict with both timings, GFLOP/s and the largest difference of h_T between the two.
    """
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
    max_diff = float(np.max(np.abs(trace.h - out.detach().numpy())))

    # warm-up, then as many repeats as the budget allows
    t0 = time.perf_counter()
    run_lstmlib()
    run_torch()
    one = max(time.perf_counter() - t0, 1e-6)
    n = int(min(max_repeats, max(min_repeats, 2 * budget / one)))
    ours, theirs = [], []
    for _ in range(n):
        t0 = time.perf_counter()
        run_lstmlib()
        t1 = time.perf_counter()
        run_torch()
        t2 = time.perf_counter()
        ours.append(t1 - t0)
        theirs.append(t2 - t1)
    a, b = _timing(ours), _timing(theirs)
    flops = lstm_flops(B, T, D, H)
    return {
        "B": B, "T": T, "D": D, "H": H, "dtype": np.dtype(dtype).name,
        "lstmlib_best_ms": a.best * 1e3, "lstmlib_median_ms": a.median * 1e3,
        "torch_best_ms": b.best * 1e3, "torch_median_ms": b.median * 1e3,
        "ratio_best": a.best / b.best, "ratio_median": a.median / b.median,
        "repeats": n, "gflop": flops / 1e9,
        "lstmlib_gflops": flops / a.best / 1e9, "torch_gflops": flops / b.best / 1e9,
        "max_abs_diff_h": max_diff,
    }


def run(sizes=SIZES, dtypes=DTYPES, budget=2.0):
    """Peaks, every size and dtype, peaks again. Returns {"peak": {...}, "rows": [...]}."""
    peak = {dt: matmul_peak(np.dtype(dt)) for dt in dtypes}
    rows = []
    for dt in dtypes:
        for B, T, D, H in sizes:
            row = compare(B, T, D, H, np.dtype(dt), budget=budget)
            rows.append(row)
            print(f"  {dt} B={B} T={T} D={D} H={H}: lstmlib {row['lstmlib_best_ms']:.2f} ms, "
                  f"torch {row['torch_best_ms']:.2f} ms (best), ratio {row['ratio_best']:.2f}", flush=True)
    # measured again at the end: other work on the machine lowers a single measurement
    for dt in dtypes:
        again = matmul_peak(np.dtype(dt))
        if again["gflops"] > peak[dt]["gflops"]:
            peak[dt] = again
    for row in rows:
        p = peak[row["dtype"]]["gflops"]
        row["lstmlib_pct_peak"] = 100 * row["lstmlib_gflops"] / p
        row["torch_pct_peak"] = 100 * row["torch_gflops"] / p
    return {"peak": peak, "rows": rows, "flop_formula": "24 * T * B * H * (H + D)"}
