"""The adding problem (lag T = 50): wall time and optimizer steps to a test MSE below 0.01,
with the settings of the training chapter; and the same training steps with lstmlib and with
torch side by side (the chapter's LSTM and RNN, float64, the same initial weights and batches).
"""

import functools
import statistics
import time
from dataclasses import asdict, dataclass

import numpy as np

import lstmlib
from lstmlib import tasks, train


@dataclass(frozen=True)
class AddingSetup:
    """The run timed here: a small LSTM, Adam, clipping, forget bias 1."""

    T: int = 50               # lag: sequence length
    hidden: int = 8           # H, as in the training chapter
    forget_bias: float = 1.0  # Gers et al. 2000
    batch_size: int = 32
    lr: float = 0.02
    clip: float = 1.0
    eval_every: int = 25
    max_steps: int = 4000
    target_mse: float = 0.01
    n_test: int = 1000
    test_seed: int = 12345
    seeds: tuple = (0, 1, 2, 3, 4)


def run(setup=AddingSetup()):
    return {**reach(setup), "side_by_side": side_by_side(), "char_side_by_side": char_side_by_side()}


def reach(setup=AddingSetup()):
    sample = functools.partial(tasks.adding_problem, setup.T)
    test = tasks.adding_problem(setup.T, setup.n_test, seed=setup.test_seed)
    runs = []
    for seed in setup.seeds:
        cell = lstmlib.LSTMCell(test[0].shape[2], setup.hidden, seed=seed, forget_bias=setup.forget_bias)
        model = train.Regressor(cell, seed=seed)
        config = train.TrainConfig(steps=setup.max_steps, batch_size=setup.batch_size, lr=setup.lr,
                                   optimizer="adam", clip=setup.clip, eval_every=setup.eval_every,
                                   target_mse=setup.target_mse, seed=seed, progress=False)
        t0 = time.perf_counter()
        hist = train.train(model, sample, test, config)
        wall = time.perf_counter() - t0
        reached = hist.reached_step
        runs.append({"seed": seed, "reached": reached is not None, "steps": reached or hist.steps,
                     "seconds": wall, "final_test_mse": float(hist.test_mse[-1])})
        print(f"  adding problem seed {seed}: "
              + (f"MSE < {setup.target_mse} after {reached} steps" if reached else "target not reached")
              + f", {wall:.2f} s", flush=True)
    ok = [r for r in runs if r["reached"]]
    return {
        "setup": asdict(setup), "runs": runs,
        "reached": f"{len(ok)}/{len(runs)}",
        "median_seconds": statistics.median(r["seconds"] for r in ok) if ok else None,
        "median_steps": statistics.median(r["steps"] for r in ok) if ok else None,
    }


# --- the same training with lstmlib and with torch ---------------------------------------------

@dataclass(frozen=True)
class SideBySide:
    """A fixed number of Adam steps on the adding problem, the training chapter's two models."""

    T: int = 50
    batch_size: int = 32
    lr: float = 0.02
    clip: float = 1.0
    steps: int = 200
    # (kind, H): the training chapter's LSTM and RNN, and a GRU of about the LSTM's size
    models: tuple = (("lstm", 8), ("rnn", 17), ("gru", 9))
    repeats: int = 3                              # blocks per implementation, alternating
    seed: int = 0


def _batches(setup):
    rng = np.random.default_rng(setup.seed)
    return [tasks.adding_problem(setup.T, setup.batch_size, seed=rng) for _ in range(setup.steps)]


def _lstmlib_run(kind, H, setup, batches):
    cell = {"lstm": lambda: lstmlib.LSTMCell(2, H, seed=setup.seed, forget_bias=1.0),
            "rnn": lambda: lstmlib.RNNCell(2, H, seed=setup.seed),
            "gru": lambda: lstmlib.GRUCell(2, H, seed=setup.seed)}[kind]()
    model = train.Regressor(cell, seed=setup.seed)
    init = {k: v.copy() for k, v in model.params.items()}
    # the cell's fused weights and the readout, as torch gets them
    start = {"W": cell.W.copy(), "b": cell.b.copy(), "W_y": model.W_y.copy(), "b_y": model.b_y.copy()}

    def run():
        for k, v in model.params.items():
            v[...] = init[k]
        opt = train.Adam(setup.lr)
        losses = []
        for xs, y in batches:
            loss, grads = model.loss_and_grads(xs, y)
            grads, _ = train.clip_grad_norm(grads, setup.clip)
            opt.step(model.params, grads)
            losses.append(loss)
        return losses

    return run, start


def _torch_run(kind, H, setup, batches, init):
    import torch

    rnn = {"lstm": torch.nn.LSTM, "rnn": torch.nn.RNN, "gru": torch.nn.GRU}[kind](2, H).double()
    head = torch.nn.Linear(H, 1).double()
    W, b = init["W"], init["b"]
    rows = {"lstm": np.concatenate([np.arange(k * H, (k + 1) * H) for k in (1, 0, 2, 3)]),  # i,f,g,o
            "rnn": np.arange(H), "gru": np.arange(3 * H)}[kind]                         # r, z, n
    hh = np.zeros(len(rows))
    if kind == "gru":  # torch's b_hn is ours; its b_hr, b_hz are held at 0 (ours is their sum)
        hh[2 * H:] = b[3 * H:]
    data = [(torch.from_numpy(xs), torch.from_numpy(y)) for xs, y in batches]
    # torch's cells add a second bias b_hh; held at 0 it is the same model as lstmlib's
    params = [rnn.weight_ih_l0, rnn.weight_hh_l0, rnn.bias_ih_l0, *head.parameters()]
    if kind == "gru":  # ... except the GRU's b_hn, which trains as ours does
        keep = torch.from_numpy((np.arange(3 * H) >= 2 * H).astype(np.float64))
        rnn.bias_hh_l0.register_hook(lambda g: g * keep)
        params.append(rnn.bias_hh_l0)
    else:
        rnn.bias_hh_l0.requires_grad_(False)

    def run():
        with torch.no_grad():
            rnn.weight_hh_l0.copy_(torch.from_numpy(W[rows, :H]))
            rnn.weight_ih_l0.copy_(torch.from_numpy(W[rows, H:]))
            rnn.bias_ih_l0.copy_(torch.from_numpy(b[rows]))
            rnn.bias_hh_l0.copy_(torch.from_numpy(hh))
            head.weight.copy_(torch.from_numpy(init["W_y"]))
            head.bias.copy_(torch.from_numpy(init["b_y"]))
        opt = torch.optim.Adam(params, lr=setup.lr)
        losses = []
        for xs, y in data:
            out, _ = rnn(xs)
            loss = torch.mean((head(out[-1]) - y) ** 2)
            opt.zero_grad()
            loss.backward()
            torch.nn.utils.clip_grad_norm_(params, setup.clip)
            opt.step()
            losses.append(loss.item())
        return losses

    return run


def _in_blocks(fns, repeats, steps):
    """Seconds per step of each run in fns, in alternating blocks (a, b, b, a, ...) with the
    thread pools left idle before each; and each run's losses (the last block's)."""
    from bench.lstm import IDLE_S

    times, losses = {k: [] for k in fns}, {}
    for r in range(repeats):
        for k in (fns if r % 2 == 0 else list(fns)[::-1]):
            time.sleep(IDLE_S)
            t0 = time.perf_counter()
            losses[k] = fns[k]()
            times[k].append((time.perf_counter() - t0) / steps)
    return times, losses


def side_by_side(setup=SideBySide()):
    """Seconds per training step of each model with lstmlib and with torch (float64 both), timed
    in alternating blocks with idle thread pools between, and how far their losses drift apart."""
    batches = _batches(setup)
    rows = []
    for kind, H in setup.models:
        ours, init = _lstmlib_run(kind, H, setup, batches)
        theirs = _torch_run(kind, H, setup, batches, init)
        times, losses = _in_blocks({"lstmlib": ours, "torch": theirs}, setup.repeats, setup.steps)
        row = {"model": kind, "H": H, "steps": setup.steps,
               "loss_first": losses["lstmlib"][0], "loss_last_lstmlib": losses["lstmlib"][-1],
               "loss_last_torch": losses["torch"][-1],
               "max_loss_diff": float(np.max(np.abs(np.subtract(losses["lstmlib"], losses["torch"]))))}
        for k, v in times.items():
            row[f"{k}_best_ms"] = min(v) * 1e3
            row[f"{k}_median_ms"] = statistics.median(v) * 1e3
        row["ratio_median"] = row["lstmlib_median_ms"] / row["torch_median_ms"]
        rows.append(row)
        print(f"  training {kind} H={H}: lstmlib {row['lstmlib_median_ms']:.2f} ms/step, torch "
              f"{row['torch_median_ms']:.2f} ms/step (median), losses differ by at most "
              f"{row['max_loss_diff']:.1e}", flush=True)
    return {"setup": asdict(setup), "rows": rows}


# --- the character model with lstmlib and with torch -------------------------------------------

@dataclass(frozen=True)
class CharSideBySide:
    """Adam steps of the character chapter's model on the first chunks of its training text."""

    steps: int = 20               # optimizer steps per block
    repeats: int = 3              # blocks per implementation, alternating
    lr: float = 1e-2              # the book's run starts at this rate
    clip: float = 1.0


def _char_setup():
    from lstmlib import charmodel

    cfg = charmodel.BOOK_CONFIG
    vocab, train_ids, _, _ = charmodel.book_data()
    return cfg, len(vocab), train_ids


def _char_lstmlib_run(setup, cfg, V, chunks):
    from lstmlib import charmodel

    model = charmodel.CharLSTM(V, cfg.hidden_sizes, seed=cfg.seed)
    init = {k: v.copy() for k, v in model.params.items()}

    def run():
        for k, v in model.params.items():
            v[...] = init[k]
        opt = train.Adam(setup.lr)
        state, losses = None, []
        for x, y in chunks:
            bits, grads, state = model.loss_and_grads(x, y, state)
            grads, _ = train.clip_grad_norm(grads, setup.clip)
            opt.step(model.params, grads)
            losses.append(bits)
        return losses

    return run, init


def _char_torch_run(setup, cfg, V, chunks, init):
    import math

    import torch

    layers = len(cfg.hidden_sizes)
    H = cfg.hidden_sizes[0]
    rnn = torch.nn.LSTM(V, H, num_layers=layers)
    head = torch.nn.Linear(H, V)
    rows = np.concatenate([np.arange(k * H, (k + 1) * H) for k in (1, 0, 2, 3)])  # i, f, g, o
    data = []
    for x, y in chunks:
        onehot = np.zeros((*x.shape, V), dtype=np.float32)
        np.put_along_axis(onehot, x[..., None], 1.0, axis=2)
        data.append((torch.from_numpy(onehot), torch.from_numpy(y.astype(np.int64))))
    params = [head.weight, head.bias]
    for l in range(layers):  # torch's second biases b_hh held at 0: the same model as lstmlib's
        getattr(rnn, f"bias_hh_l{l}").requires_grad_(False)
        params += [getattr(rnn, f"weight_ih_l{l}"), getattr(rnn, f"weight_hh_l{l}"),
                   getattr(rnn, f"bias_ih_l{l}")]

    def run():
        with torch.no_grad():
            for l in range(layers):
                W, b = init[f"W{l}"], init[f"b{l}"]
                getattr(rnn, f"weight_hh_l{l}").copy_(torch.from_numpy(W[rows, :H]))
                getattr(rnn, f"weight_ih_l{l}").copy_(torch.from_numpy(W[rows, H:]))
                getattr(rnn, f"bias_ih_l{l}").copy_(torch.from_numpy(b[rows]))
                getattr(rnn, f"bias_hh_l{l}").zero_()
            head.weight.copy_(torch.from_numpy(init["W_y"]))
            head.bias.copy_(torch.from_numpy(init["b_y"]))
        opt = torch.optim.Adam(params, lr=setup.lr)
        state, losses = None, []
        for x, y in data:
            out, state = rnn(x, state)
            state = tuple(s.detach() for s in state)  # truncated BPTT, the state carried on
            logits = head(out)
            loss = torch.nn.functional.cross_entropy(logits.reshape(-1, V), y.reshape(-1))
            opt.zero_grad()
            (loss / math.log(2.0)).backward()
            torch.nn.utils.clip_grad_norm_(params, setup.clip)
            opt.step()
            losses.append(loss.item() / math.log(2.0))
        return losses

    return run


def char_side_by_side(setup=CharSideBySide()):
    """Seconds per training step of the character chapter's model (float32, two layers) with
    lstmlib and with torch, timed in alternating blocks with idle thread pools between."""
    from lstmlib import charmodel

    cfg, V, train_ids = _char_setup()
    stream = charmodel.chunks(train_ids, cfg.batch_size, cfg.seq_len)
    chunks = [next(stream)[:2] for _ in range(setup.steps)]
    ours, init = _char_lstmlib_run(setup, cfg, V, chunks)
    fns = {"lstmlib": ours, "torch": _char_torch_run(setup, cfg, V, chunks, init)}
    times, losses = _in_blocks(fns, setup.repeats, setup.steps)
    row = {"V": V, "hidden_sizes": list(cfg.hidden_sizes), "T": cfg.seq_len, "B": cfg.batch_size,
           "steps": setup.steps, "loss_last_lstmlib": losses["lstmlib"][-1],
           "loss_last_torch": losses["torch"][-1],
           "max_loss_diff": float(np.max(np.abs(np.subtract(losses["lstmlib"], losses["torch"]))))}
    for k, v in times.items():
        row[f"{k}_best_ms"] = min(v) * 1e3
        row[f"{k}_median_ms"] = statistics.median(v) * 1e3
    row["ratio_median"] = row["lstmlib_median_ms"] / row["torch_median_ms"]
    print(f"  character model: lstmlib {row['lstmlib_median_ms']:.1f} ms/step, torch "
          f"{row['torch_median_ms']:.1f} ms/step (median), bits differ by at most "
          f"{row['max_loss_diff']:.1e}", flush=True)
    return {"setup": asdict(setup), "row": row}
