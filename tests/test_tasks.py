import numpy as np
import pytest

from lstmlib.tasks import adding_problem, marked_steps


@pytest.mark.parametrize("T, B", [(2, 1), (3, 5), (50, 64), (101, 7)])
def test_adding_problem_shapes_and_marks(T, B):
    xs, y = adding_problem(T, B, seed=0)
    assert xs.shape == (T, B, 2) and y.shape == (B, 1)
    assert xs.dtype == np.float64 and y.dtype == np.float64
    values, marks = xs[..., 0], xs[..., 1]
    assert ((values >= 0) & (values <= 1)).all()
    assert set(np.unique(marks)) <= {0.0, 1.0}
    assert (marks.sum(axis=0) == 2).all()  # exactly two marks per sequence
    steps = marked_steps(xs)               # (B, 2)
    assert (steps[:, 0] < T // 2).all() and (steps[:, 1] >= T // 2).all()
    cols = np.arange(B)
    np.testing.assert_array_equal(y[:, 0], values[steps[:, 0], cols] + values[steps[:, 1], cols])


def test_same_seed_same_batch_and_generator_advances():
    a = adding_problem(20, 8, seed=3)
    b = adding_problem(20, 8, seed=3)
    for u, v in zip(a, b, strict=True):
        np.testing.assert_array_equal(u, v)
    rng = np.random.default_rng(3)
    first = adding_problem(20, 8, seed=rng)
    np.testing.assert_array_equal(first[0], a[0])   # an int seed and a fresh Generator agree
    second = adding_problem(20, 8, seed=rng)
    assert not np.array_equal(first[0], second[0])  # the Generator moved on


def test_mean_guess_scores_about_one_sixth():
    # Var(U1 + U2) = 2/12; with 20000 sequences the sample MSE is within ~0.003 of it (4 sigma)
    _, y = adding_problem(10, 20000, seed=1)
    assert np.mean((y - 1.0) ** 2) == pytest.approx(1 / 6, abs=0.006)
    assert np.mean(y) == pytest.approx(1.0, abs=0.02)


@pytest.mark.parametrize("T", [1, 0, -5, 2.5, "50", True])
def test_bad_T(T):
    with pytest.raises(ValueError, match="T >= 2"):
        adding_problem(T, 4, seed=0)


@pytest.mark.parametrize("B", [0, -1, 3.0, None])
def test_bad_batch_size(B):
    with pytest.raises(ValueError, match="batch_size must be a positive integer"):
        adding_problem(10, B, seed=0)


def test_bad_seed():
    with pytest.raises(TypeError, match="seed"):
        adding_problem(10, 4, seed=1.5)


def test_marked_steps_rejects_bad_input():
    xs, _ = adding_problem(10, 3, seed=0)
    with pytest.raises(ValueError, match=r"\(T, B, 2\)"):
        marked_steps(xs[..., :1])
    xs[0, 0, 1] = 1.0 if xs[0, 0, 1] == 0 else 0.0
    with pytest.raises(ValueError, match="exactly two marks"):
        marked_steps(xs)


def test_each_sequence_draws_its_own_marked_steps():
    steps = marked_steps(adding_problem(50, 64, seed=0)[0])
    # one draw per sequence: 64 sequences sharing one step in a half of 25 would be a bug
    assert len(np.unique(steps[:, 0])) > 5 and len(np.unique(steps[:, 1])) > 5
