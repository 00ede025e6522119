"""The adding problem (lag T = 50): wall time and optimizer steps to a test MSE below 0.01.

Written against the interface of `lstmlib.tasks` and `lstmlib.train`, checked at run time:

    tasks.adding_problem(T, batch_size, *, seed) -> (xs (T, B, 2), y (B, 1))
    train.Regressor(cell, *, seed)                  a cell with a linear readout of h_T
    train.TrainConfig(steps=, batch_size=, lr=, optimizer=, clip=, eval_every=, target_mse=,
                      seed=, progress=)
    train.train(model, sample, test, config) -> History with .reached_step (int or None),
                                                 .seconds, .steps

Where any piece is missing, the section reports that it is not available instead of failing.
"""

import functools
import importlib
import inspect
import statistics
import time
from dataclasses import asdict, dataclass

NEEDED = {"lstmlib.tasks": ("adding_problem",), "lstmlib.train": ("Regressor", "TrainConfig", "train")}
CONFIG_FIELDS = ("steps", "batch_size", "lr", "optimizer", "clip", "eval_every", "target_mse", "seed",
                 "progress")


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


def detect():
    """The two modules if they offer the interface above, else (None, why not)."""
    mods = {}
    for name, attrs in NEEDED.items():
        try:
            mods[name] = importlib.import_module(name)
        except ImportError as exc:
            return None, f"{name} is not available ({exc})"
        missing = [a for a in attrs if not hasattr(mods[name], a)]
        if missing:
            return None, f"{name} has no {', '.join(missing)}"
    fields = inspect.signature(mods["lstmlib.train"].TrainConfig).parameters
    missing = [f for f in CONFIG_FIELDS if f not in fields]
    if missing:
        return None, f"lstmlib.train.TrainConfig has no field {', '.join(missing)}"
    return mods, None


def run(setup=AddingSetup()):
    mods, why = detect()
    if mods is None:
        print(f"  adding problem: not available: {why}", flush=True)
        return {"available": False, "reason": why, "setup": asdict(setup)}
    import lstmlib

    tasks, train = mods["lstmlib.tasks"], mods["lstmlib.train"]
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
        "available": True, "setup": asdict(setup), "runs": runs,
        "reached": f"{len(ok)}/{len(runs)}",
        "median_seconds": statistics.median(r["seconds"] for r in ok) if ok else None,
        "median_steps": statistics.median(r["steps"] for r in ok) if ok else None,
    }
