import matplotlib

matplotlib.use("Agg")

import matplotlib.pyplot as plt  # noqa: E402
import pytest  # noqa: E402

from lstmlib import LSTMCell  # noqa: E402
from lstmlib.viz import COLORS, FAINT, draw_cell, draw_unrolled  # noqa: E402


@pytest.fixture
def trace(rng):
    return LSTMCell(2, 3, seed=0).forward(rng.normal(size=(4, 2)))


def texts(ax):
    return [t.get_text() for t in ax.texts]


def test_cell_diagram_names_every_symbol():
    ax = draw_cell()
    joined = " ".join(texts(ax))
    for tex in (r"$f_t$", r"$i_t$", r"$\tilde{c}_t$", r"$o_t$", r"$F_t$", r"$I_t$", r"$c'_t$",
                r"$c_{t-1}$", r"$h_{t-1}$", r"$x_t$"):
        assert tex in joined
    plt.close(ax.figure)


@pytest.mark.parametrize("part", ["forget", "input", "output", "state"])
def test_highlight_colours_only_that_part(part):
    ax = draw_cell(highlight=part)
    colours = {matplotlib.colors.to_hex(t.get_color()) for t in ax.texts}
    assert COLORS[part] in colours
    others = {COLORS[p] for p in COLORS if p != part}
    assert not colours & others
    assert FAINT in colours
    plt.close(ax.figure)


def test_step_values_are_written(trace):
    step = trace.at(1)
    ax = draw_cell(step=step)
    line = next(t for t in texts(ax) if t.startswith(r"$h_t$ ="))
    assert line.endswith("[" + " ".join(f"{x:+.2f}" for x in step.h).replace("-0.00", "+0.00") + "]")
    plt.close(ax.figure)


def test_unrolled_writes_trace_values(trace):
    ax = draw_unrolled(trace, steps=3, unit=1)
    assert any(t == f"$h_{{2}}$ = {trace.h[1, 1]:+.3f}" for t in texts(ax))
    plt.close(ax.figure)


def test_bad_arguments_are_named(trace, rng):
    with pytest.raises(ValueError, match="highlight must be None or one of"):
        draw_cell(highlight="gate")
    with pytest.raises(ValueError, match="steps must be between 1 and T=4; got 5"):
        draw_unrolled(trace, steps=5)
    with pytest.raises(ValueError, match="unit must be between 0 and H-1=2; got 3"):
        draw_unrolled(trace, unit=3)
    batched = LSTMCell(2, 3).forward(rng.normal(size=(4, 2, 2)))
    with pytest.raises(ValueError, match="batched trace"):
        draw_unrolled(batched)
    with pytest.raises(ValueError, match="one sequence"):
        draw_cell(step=batched.at(0))
    plt.close("all")
