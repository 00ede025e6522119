from functools import partial

import numpy as np
import pytest

from lstmlib import LSTMCell, RNNCell
from lstmlib.study import (
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
from lstmlib.train import TrainConfig


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
    with pytest.raises(ValueError, match="p_new is a probability"):
        question_stream(8, 5, seed=0, p_new=1.0)
    with pytest.raises(ValueError, match="xs must have shape \\(T, B, 2\\)"):
        running_total(np.zeros((3, 2)))


def test_running_total_and_age_restart_at_each_marker():
    xs = np.array([[0.5, 0], [0.25, 0], [0, 1], [0.125, 0], [0, 1], [1, 0]])[:, None, :]
    assert running_total(xs)[:, 0].tolist() == [0.5, 0.75, 0.0, 0.125, 0.0, 1.0]
    assert question_age(xs)[:, 0].tolist() == [1, 2, 0, 1, 0, 1]
    with pytest.raises(ValueError, match="xs must have shape \\(T, B, 2\\)"):
        question_age(np.zeros((3, 2, 3)))


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
