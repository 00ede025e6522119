"""The adding problem (lag T = 50): wall time and optimizer steps to a test MSE below 0.01,
with the settings of the training chapter.
"""

import functools
import statistics
import time
from dataclasses import asdict, dataclass

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
