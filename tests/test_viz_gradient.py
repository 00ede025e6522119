"""draw_gradient_path: what the figure says. Each gradient's name sits on its own path, its value
is the computed one for the unit asked for, the paths point backwards, colours follow the key."""

import matplotlib

matplotlib.use("Agg")

import matplotlib.pyplot as plt  # noqa: E402
import numpy as np  # noqa: E402
import pytest  # noqa: E402
from matplotlib.patches import FancyArrowPatch  # noqa: E402
from test_viz import number, the  # noqa: E402

from lstmlib import LSTMCell, backward_step  # noqa: E402
from lstmlib.viz import (  # noqa: E402
    COLORS,
    COLUMN_WIDTH,
    INK,
    LAYERS,
    STATE_TEXT,
    Y_C,
    Y_GATE,
    Y_Z,
    check_figure,
    draw_gradient_path,
)

H = 3
FIELD = {r"$dh_t$": "dh", r"$dc_{t+1} \otimes f_{t+1}$": "dc_next", r"$dc_t$": "dc",
         r"$dc_{t-1}$": "dc_prev", r"$do_t$": "do", r"$df_t$": "df", r"$di_t$": "di",
         r"$d\tilde{c}_t$": "dc_tilde", r"$da^f_t$": "da_f", r"$da^i_t$": "da_i",
         r"$da^c_t$": "da_c", r"$da^o_t$": "da_o", r"$dh_{t-1}$": "dh_prev"}
PART = {"dh": "output", "do": "output", "da_o": "output", "dc_next": "state", "dc": "state",
        "dc_prev": "state", "df": "forget", "da_f": "forget", "di": "input", "dc_tilde": "input",
        "da_i": "input", "da_c": "input", "dh_prev": "sum"}
X_F, X_PLUS, X_OUT = 2.0, 4.4, 8.3  # the ⊗ of f_t, the ⊕, the branch to tanh and ⊗ o_t


@pytest.fixture
def grads(rng):
    cell = LSTMCell(2, H, seed=0)
    for p in cell.params.values():
        p[:] = rng.normal(scale=0.8, size=p.shape)
    x, h, c = rng.normal(size=2), rng.normal(size=H), rng.normal(size=H)
    return backward_step(cell.step(x, h, c), c, h, x, rng.normal(size=H), rng.normal(size=H),
                         cell.params)


def centre(ax, text):
    renderer = ax.figure.canvas.get_renderer()
    box = text.get_window_extent(renderer)
    return ax.transData.inverted().transform(((box.x0 + box.x1) / 2, (box.y0 + box.y1) / 2))


def value_of(ax, label):
    """The number written under `label`: same anchor x, the nearest text below it."""
    x, y = label.get_position()
    under = [t for t in ax.texts if t is not label and t.get_position()[0] == x
             and t.get_position()[1] < y]
    assert under, f"no value under {label.get_text()}"
    return min(under, key=lambda t: y - t.get_position()[1])


def test_each_name_sits_on_its_own_path(grads):
    ax = draw_gradient_path(grads=grads)
    ax.figure.canvas.draw()
    at = {tex: centre(ax, the(ax, tex)) for tex in FIELD}
    near_c = lambda p: abs(p[1] - Y_C) < 0.6  # noqa: E731
    near_z = lambda p: abs(p[1] - Y_Z) < 0.6  # noqa: E731
    assert near_c(at[r"$dc_{t-1}$"]) and at[r"$dc_{t-1}$"][0] < X_F, "dc_{t-1}: left of ⊗ f_t"
    assert near_c(at[r"$dc_t$"]) and X_PLUS < at[r"$dc_t$"][0] < X_OUT, "dc_t: between ⊕ and tanh"
    assert near_c(at[r"$dc_{t+1} \otimes f_{t+1}$"]) and at[r"$dc_{t+1} \otimes f_{t+1}$"][0] > X_OUT
    assert near_z(at[r"$dh_t$"]) and at[r"$dh_t$"][0] > X_OUT, "dh_t: where h_t leaves"
    assert near_z(at[r"$dh_{t-1}$"]) and at[r"$dh_{t-1}$"][0] < 0.6, "dh_{t-1}: where h_{t-1} enters"
    assert Y_GATE < at[r"$df_t$"][1] < Y_C and abs(at[r"$df_t$"][0] - X_F) < 0.8
    layers = {name: x for name, (x, _, _) in LAYERS.items()}
    for tex, layer, above in ((r"$di_t$", "i", True), (r"$d\tilde{c}_t$", "c_tilde", True),
                              (r"$do_t$", "o", True), (r"$da^f_t$", "f", False),
                              (r"$da^i_t$", "i", False), (r"$da^c_t$", "c_tilde", False),
                              (r"$da^o_t$", "o", False)):
        x, y = at[tex]
        nearest = min(layers, key=lambda n: abs(layers[n] - x))
        assert nearest == layer, f"{tex} is nearer the {nearest} layer than the {layer} layer"
        assert (Y_GATE < y < Y_C) if above else (Y_Z < y < Y_GATE), f"{tex} at height {y:.2f}"
    x, y = centre(ax, the(ax, r"$dx_t$"))
    assert y < Y_Z and abs(x - 0.6) < 0.8, "dx_t: where x_t enters"
    plt.close(ax.figure)


@pytest.mark.parametrize("unit", range(H))
def test_values_are_the_units_gradients(grads, unit):
    ax = draw_gradient_path(grads=grads, unit=unit)
    for tex, name in FIELD.items():
        label = the(ax, tex)
        value = value_of(ax, label)
        want = getattr(grads, name)[unit]
        assert number(value.get_text()) == pytest.approx(want, abs=0.005), f"{tex}: {want}"
        assert value.get_color() == label.get_color()
    assert the(ax, f"values of unit {unit}")
    plt.close(ax.figure)


@pytest.mark.parametrize("scale, power", [(1000, 3), (0.1, -1)])
def test_scaled_values_say_so(grads, scale, power):
    ax = draw_gradient_path(grads=grads, unit=1, scale=scale, title="step $t = 5$")
    for tex, name in FIELD.items():
        got = number(value_of(ax, the(ax, tex)).get_text())
        assert got == pytest.approx(scale * getattr(grads, name)[1], abs=0.005), tex
    assert the(ax, rf"step $t = 5$, $\times\,10^{{{power}}}$")
    plt.close(ax.figure)


def test_without_values_only_names(grads):
    ax = draw_gradient_path()
    written = [t.get_text() for t in ax.texts]
    assert set(FIELD) <= set(written)
    assert not [s for s in written if s[:1] in "+\u2212"], "numbers written without grads"
    plt.close(ax.figure)


def test_colours_follow_the_key_and_the_paths_point_backwards(grads):
    ax = draw_gradient_path(grads=grads)
    want = {"output": COLORS["output"], "state": STATE_TEXT, "forget": COLORS["forget"],
            "input": COLORS["input"], "sum": INK}
    for tex, name in FIELD.items():
        got = matplotlib.colors.to_hex(the(ax, tex).get_color())
        assert got == want[PART[name]], f"{tex} is {got}"
    key = {t.get_text(): t for t in ax.texts if t.get_position()[1] < -1}
    assert len(key) == 5
    keyed = {matplotlib.colors.to_hex(line.get_color()) for line in ax.lines
             if line.get_ydata()[0] < -1}
    assert keyed == {COLORS["output"], COLORS["state"], COLORS["forget"], COLORS["input"], INK}
    arrows = [p for p in ax.patches if isinstance(p, FancyArrowPatch)]
    along_c = [p._posA_posB for p in arrows
               if matplotlib.colors.to_hex(p.get_edgecolor()) == COLORS["state"]]
    assert len(along_c) == 3 and all(b[0] < a[0] and a[1] == b[1] == Y_C for a, b in along_c), \
        "the cell-state line carries the gradient from right to left"
    out = [p._posA_posB for p in arrows if matplotlib.colors.to_hex(p.get_edgecolor()) == INK]
    assert any(a[1] == b[1] == Y_Z and b[0] < a[0] for a, b in out), "dh_{t-1} goes left"
    assert any(a[0] == b[0] and b[1] < a[1] < Y_GATE for a, b in out), "dx_t goes down"
    plt.close(ax.figure)


def test_drawn_for_the_column(grads):
    for ax in (draw_gradient_path(), draw_gradient_path(grads=grads, unit=2)):
        assert ax.figure.get_size_inches()[0] == COLUMN_WIDTH
        assert check_figure(ax.figure) >= 10
        plt.close(ax.figure)


def test_bad_arguments_are_named(rng):
    cell = LSTMCell(2, H, seed=0)
    x, h, c = rng.normal(size=(2, 2)), rng.normal(size=(2, H)), rng.normal(size=(2, H))
    batched = backward_step(cell.step(x, h, c), c, h, x, np.ones((2, H)), np.ones((2, H)),
                            cell.params)
    with pytest.raises(ValueError, match=r"one sequence, dh of shape \(H,\); got dh of shape \(2, 3\)"):
        draw_gradient_path(grads=batched)
    one = backward_step(cell.step(x[0], h[0], c[0]), c[0], h[0], x[0], np.ones(H), np.ones(H),
                        cell.params)
    with pytest.raises(ValueError, match="unit must be between 0 and H-1=2; got 3"):
        draw_gradient_path(grads=one, unit=3)
    for scale in (300, 0, -10, "1000"):
        with pytest.raises(ValueError, match=f"scale must be a power of ten .* got {scale!r}"):
            draw_gradient_path(grads=one, scale=scale)
    plt.close("all")
