"""A small "search space odyssey": cells of the LSTM's family trained with one budget on one task.

`question_stream` is the second task of the family chapter: the exam of the book's analogy as one
unbroken stream, prices to add up and new-question markers that wipe the running total.
`run_study` trains every cell on every task for every seed with the same settings and collects
the test MSE of every run; `summarize` reduces the runs to one row per cell and task, `table`
prints them.
"""

from dataclasses import dataclass, replace

import numpy as np

from lstmlib.checks import as_real_array, positive_int, require_finite, rng_from
from lstmlib.train import Regressor, readout, train

STREAM_INPUTS = 2  # D of the question stream: (price, new-question marker)


def question_stream(T, batch_size, *, seed, p_new=0.25):
    """A batch of T-step windows cut from the exam's stream of questions.

    Every step is either a new-question marker (probability `p_new`: xs[t, b] = [0, 1]) or a
    price (xs[t, b] = [u, 0], u ~ U[0, 1]). A window starts in the middle of a question, with no
    boundary to tell the cell where; it holds at least one marker (one step drawn uniformly is
    made a marker where none fell). Target y (B, 1): the running total of the last question, the
    sum of the prices after the last marker (0 if the last step is a marker).

    seed: an int or a numpy Generator. Returns (xs (T, B, 2), y (B, 1)), float64.
    """
    T, B = positive_int(T, "T"), positive_int(batch_size, "batch_size")
    if not 0.0 < p_new < 1.0:
        raise ValueError(f"p_new is a probability strictly between 0 and 1; got {p_new!r}")
    rng = rng_from(seed)
    new = rng.random((T, B)) < p_new                          # (T, B) markers
    none = np.flatnonzero(~new.any(axis=0))
    new[rng.integers(T, size=none.size), none] = True         # a row in [0, T) each
    price = np.where(new, 0.0, rng.random((T, B)))            # U[0, 1) where no marker
    xs = np.stack([price, new], axis=-1)                      # (T, B, 2): markers as 1.0
    return xs, running_total(xs)[-1][:, None]


def running_total(xs):
    """The running total of the current question at every step of a question stream.

    xs: (T, B, 2)   ->   (T, B): the sum of the prices since the last marker up to step t
    (before the first marker: since the start).
    """
    xs = _stream(xs)
    total = np.zeros(xs.shape[:2])
    run = np.zeros(xs.shape[1])
    for t in range(xs.shape[0]):
        run = np.where(xs[t, :, 1] == 1.0, 0.0, run + xs[t, :, 0])
        total[t] = run
    return total


def question_age(xs):
    """How many steps ago the current question began, at every step of a question stream.

    xs: (T, B, 2)   ->   (T, B) ints: 0 at a marker, 1 on the step after it, ...; before the
    first marker the stream counts as begun one step before its start (t + 1 at step t).
    """
    xs = _stream(xs)
    age = np.zeros(xs.shape[:2], dtype=int)
    now = 0
    for t in range(xs.shape[0]):
        now = np.where(xs[t, :, 1] == 1.0, 0, now + 1)
        age[t] = now
    return age


def _stream(xs):
    xs = as_real_array(xs, "xs")  # integers promoted; strings, None, objects refused
    if xs.ndim != 3 or xs.shape[2] != STREAM_INPUTS:
        raise ValueError(f"xs must have shape (T, B, 2); got {xs.shape}")
    require_finite(xs, "xs")
    return xs


@dataclass(frozen=True)
class Task:
    """One task of the study: how to draw training batches, the test set, the criterion."""

    sample: object          # sample(batch_size, *, seed) -> (xs (T, B, D), y (B, 1))
    test: tuple             # (xs_test, y_test), the same for every run
    target_mse: float       # the criterion: the first evaluation with test MSE below this


@dataclass(frozen=True)
class Run:
    """One training run of the study."""

    cell: str                # the cell's name
    task: str                # the task's name
    seed: int                # seed of the cell's weights, the readout and the batches
    eval_step: np.ndarray    # (n_evals,) steps after which the test set was scored
    test_mse: np.ndarray     # (n_evals,) test MSE there
    model: Regressor         # the trained model

    @property
    def final_mse(self):
        return float(self.test_mse[-1])

    def steps_to(self, target):
        """The first evaluated step with test MSE below `target`, or None."""
        below = np.flatnonzero(self.test_mse < target)
        return int(self.eval_step[below[0]]) if below.size else None


def run_study(cells, tasks, seeds, config):
    """Train every cell on every task, once per seed, with the same `config` (its seed replaced).

    cells: {name: make(seed) -> a cell}; tasks: {name: Task}; seeds: ints. Every run trains a
    Regressor(make(seed), seed=seed) for the full `config.steps` (no early stop, so every final
    MSE comes after the same budget). Returns [Run], task by task, cell by cell, seed by seed.
    """
    if config.target_mse is not None:
        raise ValueError("run_study trains every run for the full budget: leave "
                         "config.target_mse unset (each Task has its own criterion)")
    runs = []
    for task_name, task in tasks.items():
        for cell_name, make in cells.items():
            for seed in seeds:
                model = Regressor(make(seed), seed=seed)
                h = train(model, task.sample, task.test, replace(config, seed=seed))
                runs.append(Run(cell_name, task_name, seed, h.eval_step, h.test_mse, model))
    return runs


def summarize(runs, tasks):
    """One row per (cell, task): {"cell", "task", "median_mse", "reached", "n", "median_steps"}.

    median_mse: the median over seeds of the final test MSE; reached: how many runs met the
    task's criterion within the budget; median_steps: the median step at which they did (over
    those that did; None if none did).
    """
    rows = []
    for task_name, task in tasks.items():
        names = list(dict.fromkeys(r.cell for r in runs if r.task == task_name))
        for cell_name in names:
            mine = [r for r in runs if r.task == task_name and r.cell == cell_name]
            steps = [s for s in (r.steps_to(task.target_mse) for r in mine) if s is not None]
            rows.append({"cell": cell_name, "task": task_name,
                         "median_mse": float(np.median([r.final_mse for r in mine])),
                         "reached": len(steps), "n": len(mine),
                         "median_steps": int(np.median(steps)) if steps else None})
    return rows


def table(rows, tasks):
    """The summary as fixed-width text: one line per cell, a column group per task."""
    names = list(dict.fromkeys(r["cell"] for r in rows))
    width = max(len(n) for n in names) + 2
    group = " median MSE reached steps"  # 25 characters: two tasks fit a 75-character line
    head = " " * width + "".join(f" {t:^{len(group) - 1}s}" for t in tasks)
    sub = f"{'cell':<{width}s}" + group * len(tasks)
    lines = [head, sub]
    for name in names:
        line = f"{name:<{width}s}"
        for t in tasks:
            r = next(r for r in rows if r["cell"] == name and r["task"] == t)
            steps = "-" if r["median_steps"] is None else str(r["median_steps"])
            line += f" {r['median_mse']:10.4f} {r['reached']:>3d}/{r['n']:<3d} {steps:>5s}"
        lines.append(line)
    return "\n".join(line.rstrip() for line in lines)


def stream_predictions(model, xs):
    """The readout at every step of one long stream: ŷ_t = W_y · h_t + b_y, (T, B)."""
    h = model.cell.forward(xs).h_all                          # (T, B, H)
    T, B, H = h.shape
    return readout(h.reshape(T * B, H), model.W_y, model.b_y).reshape(T, B)
