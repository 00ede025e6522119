import re
from dataclasses import replace
from decimal import Decimal
from functools import partial

import numpy as np
import pytest

from lstmlib import LSTMCell, RNNCell
from lstmlib.checks import NonFiniteError
from lstmlib.study import (
    Run,
    Task,
    question_age,
    question_stream,
    run_study,
    running_total,
    stream_predictions,
    summarize,
    table,
)
from lstmlib.tasks import adding_problem
from lstmlib.train import Regressor, TrainConfig, train


def test_question_stream_targets_the_total_since_the_last_marker():
    xs, y = question_stream(12, 200, seed=3)
    assert xs.shape == (12, 200, 2) and y.shape == (200, 1)
    markers = xs[:, :, 1]
    assert set(np.unique(markers)) == {0.0, 1.0}
    assert markers.any(axis=0).all(), "every window holds a marker"
    assert not (xs[:, :, 0] * markers).any(), "a marker step carries no price"
    for b in range(200):  # the sum of the prices after the last marker, by a plain loop
        last = max(t for t in range(12) if markers[t, b] == 1.0)
        assert y[b, 0] == pytest.approx(xs[last + 1:, b, 0].sum(), abs=1e-12)
    # not every window starts with a marker: the stream has no episode boundaries
    assert (markers[0] == 0.0).any()


def test_question_stream_is_reproducible_and_checked():
    a, b = question_stream(8, 5, seed=1), question_stream(8, 5, seed=1)
    assert np.array_equal(a[0], b[0]) and np.array_equal(a[1], b[1])
    assert not np.array_equal(a[0], question_stream(8, 5, seed=2)[0])
    for p_new in (0.0, 1.0):
        with pytest.raises(ValueError, match=f"strictly between 0 and 1; got {p_new!r}$"):
            question_stream(8, 5, seed=0, p_new=p_new)
    with pytest.raises(ValueError, match="^T must be a positive integer; got 0$"):
        question_stream(0, 5, seed=0)
    with pytest.raises(ValueError, match="^batch_size must be a positive integer; got 0$"):
        question_stream(8, 0, seed=0)
    with pytest.raises(ValueError, match="xs must have shape \\(T, B, 2\\)"):
        running_total(np.zeros((3, 2)))


def test_running_total_and_age_restart_at_each_marker():
    xs = np.array([[0.5, 0], [0.25, 0], [0, 1], [0.125, 0], [0, 1], [1, 0]])[:, None, :]
    assert running_total(xs)[:, 0].tolist() == [0.5, 0.75, 0.0, 0.125, 0.0, 1.0]
    assert question_age(xs)[:, 0].tolist() == [1, 2, 0, 1, 0, 1]
    assert question_age(xs).dtype.kind == "i", "ages are step counts, ints"
    with pytest.raises(ValueError, match="xs must have shape \\(T, B, 2\\)"):
        question_age(np.zeros((3, 2, 3)))


def test_question_stream_prices_are_uniform_in_0_1():
    xs, _ = question_stream(20, 100, seed=0)
    prices = xs[:, :, 0][xs[:, :, 1] == 0.0]
    assert prices.size > 1000
    assert 0.0 <= prices.min() < 0.01 and 0.99 < prices.max() < 1.0
    assert abs(prices.mean() - 0.5) < 0.03
    assert np.unique(prices).size == prices.size, "every price is its own draw"


def test_a_window_without_a_marker_gets_one_at_a_uniform_step():
    # p_new this small: no step is drawn a marker, so every window gets exactly one added
    xs, _ = question_stream(4, 400, seed=0, p_new=1e-9)
    markers = xs[:, :, 1]
    assert (markers.sum(axis=0) == 1.0).all()
    per_step = markers.sum(axis=1)  # about 100 windows each, any step t = 0..3 alike
    assert ((60 <= per_step) & (per_step <= 140)).all(), per_step


def test_a_draw_equal_to_p_new_is_a_price_not_a_marker():
    # a step is a marker when its U[0, 1) draw is below p_new: probability exactly p_new
    class Ties(np.random.Generator):
        def random(self, size=None, dtype=np.float64, out=None):
            return np.full(size, 0.25)

    xs, _ = question_stream(6, 50, seed=Ties(np.random.PCG64(0)), p_new=0.25)
    assert (xs[:, :, 1].sum(axis=0) == 1.0).all(), "only the one added marker per window"


def test_a_stream_of_integers_is_read_as_floats_and_anything_else_is_refused():
    total = running_total([[[2, 0]], [[3, 0]], [[0, 1]], [[4, 0]]])
    assert total.dtype == np.float64 and total[:, 0].tolist() == [2.0, 5.0, 0.0, 4.0]
    for bad in ([[[Decimal("0.5"), 0]]], [[["0.5", "0"]]], [[[None, 0]]]):
        for f in (running_total, question_age):
            with pytest.raises(TypeError, match=r"xs must hold real numbers .*; got dtype"):
                f(bad)
    with pytest.raises(NonFiniteError, match=r"xs must be finite; found nan at index \(1, 0, 0\)"):
        running_total([[[0.5, 0.0]], [[np.nan, 0.0]]])


def _run(cell, task, mse):
    steps = 10 * np.arange(1, len(mse) + 1)
    return Run(cell, task, 0, steps, np.array(mse, dtype=float), model=None)


def test_steps_to_needs_a_test_mse_strictly_below_the_target():
    run = _run("x", "a", [0.5, 0.125, 0.125, 0.0625])
    assert run.steps_to(0.125) == 40 and run.steps_to(0.5) == 20 and run.steps_to(0.0625) is None
    assert run.final_mse == 0.0625 and type(run.final_mse) is float


def test_summarize_by_hand():
    # x reaches 0.125 at 30, 20, never, 40 (equal is not below); y at 10 and 40; z never
    runs = [_run("x", "a", [0.5, 0.25, 0.0625, 0.25]), _run("y", "a", [0.0625] * 4),
            _run("z", "b", [1.0] * 4), _run("x", "a", [0.5, 0.0625, 0.25, 0.5]),
            _run("x", "b", [1.0, 0.25, 0.25, 0.25]), _run("y", "a", [0.5, 0.5, 0.5, 0.0625]),
            _run("x", "a", [0.5, 0.25, 0.25, 0.75]), _run("x", "a", [0.125] * 3 + [0.03125])]
    tasks = {"a": Task(None, None, 0.125), "b": Task(None, None, 0.5)}
    rows = summarize(runs, tasks)
    assert rows == [  # median of the final MSEs; median of the steps over the runs that reached
        {"cell": "x", "task": "a", "median_mse": 0.375, "reached": 3, "n": 4, "median_steps": 30},
        {"cell": "y", "task": "a", "median_mse": 0.0625, "reached": 2, "n": 2, "median_steps": 25},
        {"cell": "z", "task": "b", "median_mse": 1.0, "reached": 0, "n": 1, "median_steps": None},
        {"cell": "x", "task": "b", "median_mse": 0.25, "reached": 1, "n": 1, "median_steps": 20}]
    assert all(type(r["median_mse"]) is float for r in rows)
    assert all(type(r["median_steps"]) is int for r in rows if r["reached"])


def test_table_by_hand():
    rows = [
        {"cell": "lstm", "task": "adding", "median_mse": 0.01234, "reached": 3, "n": 5,
         "median_steps": 150},
        {"cell": "rnn", "task": "adding", "median_mse": 0.5, "reached": 0, "n": 5,
         "median_steps": None},
        {"cell": "lstm", "task": "stream", "median_mse": 0.123456, "reached": 5, "n": 5,
         "median_steps": 1200},
        {"cell": "rnn", "task": "stream", "median_mse": 1.25, "reached": 1, "n": 5,
         "median_steps": 75},
    ]
    # the names column is 2 wider than the longest name; each task is centred over its group of
    # 25 characters (" median MSE reached steps"); "-" where no run reached the criterion
    assert table(rows, ["adding", "stream"]).splitlines() == [
        "                adding                   stream",
        "cell   median MSE reached steps median MSE reached steps",
        "lstm       0.0123   3/5     150     0.1235   5/5    1200",
        "rnn        0.5000   0/5       -     1.2500   1/5      75",
    ]


def test_run_study_is_the_hand_made_run_with_the_seed_everywhere():
    cells = {"rnn": lambda s: RNNCell(2, 3, seed=s)}
    task = Task(partial(question_stream, 5), question_stream(5, 20, seed=9), 0.2)
    config = TrainConfig(steps=4, batch_size=4, lr=0.03, eval_every=2, seed=0)
    [run] = run_study(cells, {"stream": task}, [1], config)
    model = Regressor(RNNCell(2, 3, seed=1), seed=1)
    h = train(model, task.sample, task.test, replace(config, seed=1))
    assert (run.cell, run.task, run.seed) == ("rnn", "stream", 1)
    assert np.array_equal(run.eval_step, h.eval_step) and np.array_equal(run.test_mse, h.test_mse)
    assert np.array_equal(run.model.W_y, model.W_y)
    for name, p in model.params.items():
        assert np.array_equal(run.model.params[name], p), name
    message = ("run_study trains every run for the full budget: leave config.target_mse unset "
               "(each Task has its own criterion)")
    with pytest.raises(ValueError, match=f"^{re.escape(message)}$"):
        run_study(cells, {"stream": task}, [1], replace(config, target_mse=0.1))


@pytest.fixture(scope="module")
def small_study():
    cells = {"lstm": lambda s: LSTMCell(2, 3, seed=s, forget_bias=1.0),
             "rnn": lambda s: RNNCell(2, 3, seed=s)}
    tasks = {"adding": Task(partial(adding_problem, 6), adding_problem(6, 50, seed=9), 0.1),
             "stream": Task(partial(question_stream, 6), question_stream(6, 50, seed=9), 0.2)}
    config = TrainConfig(steps=20, batch_size=8, lr=0.03, eval_every=5)
    return cells, tasks, config, run_study(cells, tasks, [0, 1], config)


def test_every_run_gets_the_same_budget_and_its_own_seed(small_study):
    cells, tasks, config, runs = small_study
    assert [(r.task, r.cell, r.seed) for r in runs] == [
        (t, c, s) for t in tasks for c in cells for s in (0, 1)]
    assert all(r.eval_step[-1] == config.steps for r in runs)
    lstm = [r for r in runs if r.cell == "lstm" and r.task == "adding"]
    assert not np.array_equal(lstm[0].model.W_y, lstm[1].model.W_y), "seeds differ"
    with pytest.raises(ValueError, match="leave config.target_mse unset"):
        run_study(cells, tasks, [0], TrainConfig(target_mse=0.1))


def test_summary_counts_what_the_runs_did(small_study):
    _, tasks, _, runs = small_study
    rows = summarize(runs, tasks)
    assert len(rows) == 4
    for row in rows:
        mine = [r for r in runs if r.cell == row["cell"] and r.task == row["task"]]
        target = tasks[row["task"]].target_mse
        reached = [r.steps_to(target) for r in mine if r.steps_to(target) is not None]
        assert row["reached"] == len(reached) and row["n"] == 2
        assert row["median_mse"] == np.median([r.test_mse[-1] for r in mine])
        if reached:
            assert row["median_steps"] == int(np.median(reached))
        else:
            assert row["median_steps"] is None
    text = table(rows, tasks).splitlines()
    assert len(text) == 2 + 2 and text[2].startswith("lstm") and text[3].startswith("rnn")
    group = len(" median MSE reached steps")
    first = text[1].index("median MSE") - 1
    for k, task in enumerate(tasks):  # each task's name over its own three columns
        start = first + k * group
        assert start + 1 <= text[0].index(task) <= start + group - len(task)
    assert max(map(len, text)) <= len("cell") + 2 + 2 * group
    first = next(r for r in rows if r["cell"] == "lstm" and r["task"] == "adding")
    assert f"{first['median_mse']:.4f}" in text[2]


def test_steps_to_is_the_first_evaluation_below_the_target(small_study):
    run = small_study[3][0]
    target = float(np.median(run.test_mse))
    s = run.steps_to(target)
    k = list(run.eval_step).index(s)
    assert run.test_mse[k] < target and (run.test_mse[:k] >= target).all()
    assert run.steps_to(0.0) is None


def test_stream_predictions_read_out_every_step(small_study):
    run = small_study[3][-1]
    xs, _ = question_stream(9, 4, seed=5)
    every = stream_predictions(run.model, xs)
    assert every.shape == (9, 4)
    assert np.allclose(every[-1], run.model.predict(xs)[:, 0], rtol=0, atol=1e-12)
    assert np.allclose(every[4], run.model.predict(xs[:5])[:, 0], rtol=0, atol=1e-12)
