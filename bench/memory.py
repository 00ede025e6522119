"""Peak memory of one forward + backward pass, as a multiple of the trace's own size.

    python -m bench.memory            (B, T, H) = (64, 2000, 256), D = 32, float64 and float32

The trace keeps what backward needs: the gates (T, B, 4H), h_0..h_T and c_0..c_T (T+1, B, H)
each, tanh(c_t) (T, B, H) and a copy of the inputs (T, B, D). tracemalloc sees every numpy
allocation; the peak is measured from just before forward (with xs and dh already allocated and
not counted) to the end of backward, the trace included.
"""

import gc
import tracemalloc

import numpy as np

from lstmlib import LSTMCell

SIZE = (64, 2000, 32, 256)  # B, T, D, H


def trace_bytes(trace):
    """Bytes of the arrays the trace owns (its views share them)."""
    Hs, Cs = trace.store
    own = [trace.xs, trace.gates, trace.cp_all, Hs, Cs]
    return sum(a.nbytes for a in own)


def measure(dtype, size=SIZE):
    B, T, D, H = size
    rng = np.random.default_rng(0)
    cell = LSTMCell(D, H, seed=0, dtype=dtype)
    xs = rng.standard_normal((T, B, D)).astype(dtype)
    dh = rng.standard_normal((T, B, H)).astype(dtype)
    cell.forward(xs[:2])  # the prepared weights exist before the measurement
    gc.collect()
    tracemalloc.start()
    base = tracemalloc.get_traced_memory()[0]
    trace = cell.forward(xs)
    after_forward = tracemalloc.get_traced_memory()[0] - base
    grads = cell.backward(trace, dh)
    peak = tracemalloc.get_traced_memory()[1] - base
    tracemalloc.stop()
    own = trace_bytes(trace)
    out = sum(g.nbytes for g in grads.values())
    del trace, grads
    return {"B": B, "T": T, "D": D, "H": H, "dtype": np.dtype(dtype).name,
            "trace_mb": own / 2**20, "after_forward_mb": after_forward / 2**20,
            "peak_mb": peak / 2**20, "grads_mb": out / 2**20, "peak_over_trace": peak / own}


def run(dtypes=("float64", "float32")):
    rows = []
    for dt in dtypes:
        r = measure(np.dtype(dt))
        rows.append(r)
        print(f"  memory {dt} (B, T, D, H) = ({r['B']}, {r['T']}, {r['D']}, {r['H']}): trace "
              f"{r['trace_mb']:.0f} MB, peak of forward + backward {r['peak_mb']:.0f} MB = "
              f"{r['peak_over_trace']:.2f} x the trace", flush=True)
    return {"rows": rows}


if __name__ == "__main__":
    run()
