"""The diagrams of the LSTM's family: what each one says (its symbols, struck and added parts)."""

import matplotlib

matplotlib.use("Agg")

import matplotlib.pyplot as plt  # noqa: E402
import pytest  # noqa: E402
from matplotlib.colors import to_hex  # noqa: E402
from matplotlib.patches import Circle, FancyBboxPatch  # noqa: E402

from lstmlib.cell import VARIANTS  # noqa: E402
from lstmlib.viz import (  # noqa: E402
    COLORS,
    COLUMN_WIDTH,
    FAINT,
    RESET_COLOR,
    VARIANT_CHANGES,
    check_figure,
    draw_cell,
    draw_variant,
)

NAMES = [*VARIANT_CHANGES, "GRU"]
CELL_SYMBOLS = (r"$f_t$", r"$i_t$", r"$\tilde{c}_t$", r"$o_t$", r"$F_t$", r"$I_t$", r"$c'_t$")
REMOVED = "removed (faded, struck through)"


@pytest.fixture
def drawn():
    made = []

    def draw(name):
        ax = draw_variant(name)
        made.append(ax.figure)
        return ax

    yield draw
    for fig in made:
        plt.close(fig)


def texts(ax):
    return [t.get_text() for t in ax.texts]


def struck_at(ax):
    """Centres of the struck-through crosses on the cell (the key's sample, under it, left out):
    thick diagonal lines, two through each centre."""
    lines = [ln for ln in ax.lines if len(ln.get_xdata()) == 2 and ln.get_linewidth() >= 2.2
             and min(ln.get_ydata()) > 0]
    return {(round(sum(ln.get_xdata()) / 2, 2), round(sum(ln.get_ydata()) / 2, 2))
            for ln in lines if ln.get_xdata()[0] != ln.get_xdata()[1]
            and ln.get_ydata()[0] != ln.get_ydata()[1]}


def layer_edge(ax, x, y):
    """The edge colour of the σ/tanh layer (or op) drawn at (x, y)."""
    for p in ax.patches:
        if isinstance(p, FancyBboxPatch) and abs(p.get_x() + p.get_width() / 2 - x) < 0.05 \
                and abs(p.get_y() + p.get_height() / 2 - y) < 0.05:
            return to_hex(p.get_edgecolor())
        if isinstance(p, Circle) and abs(p.center[0] - x) < 0.05 and abs(p.center[1] - y) < 0.05:
            return to_hex(p.get_edgecolor())
    raise AssertionError(f"nothing drawn at {(x, y)}")


def test_every_variant_of_the_cell_has_its_diagram():
    assert list(VARIANT_CHANGES) == list(VARIANTS)


@pytest.mark.parametrize("name", NAMES)
def test_every_member_is_drawn_for_the_column_with_its_name(name, drawn):
    ax = drawn(name)
    assert ax.figure.get_size_inches()[0] == COLUMN_WIDTH
    assert check_figure(ax.figure) >= 10
    assert name in texts(ax)


def test_the_vanilla_cell_keeps_every_symbol_and_strikes_nothing(drawn):
    ax = drawn("vanilla")
    for tex in CELL_SYMBOLS:
        assert tex in texts(ax)
    assert not struck_at(ax) and REMOVED not in texts(ax)
    assert r"$c_t = f_t \otimes c_{t-1} + i_t \otimes \tilde{c}_t$," in " ".join(texts(ax))


@pytest.mark.parametrize("name, gone, at", [
    ("no forget gate", (r"$f_t$", r"$F_t$"), [(2.0, 2.3), (2.0, 5.4)]),
    ("no input gate", (r"$i_t$", r"$I_t$"), [(3.7, 2.3), (4.4, 3.9)]),
    ("no output gate", (r"$o_t$",), [(6.8, 2.3), (8.3, 2.3)]),
    ("coupled", (r"$i_t$",), [(3.7, 2.3)]),
    ("no output activation", (r"$c'_t$",), [(8.3, 3.72)]),
    ("no input activation", (), [(5.1, 2.3)]),
])
def test_a_removed_part_is_struck_faded_and_its_symbols_gone(name, gone, at, drawn):
    ax = drawn(name)
    shown = texts(ax)
    for tex in gone:
        assert tex not in shown, f"{name}: {tex} is still on the diagram"
    kept = [t for t in CELL_SYMBOLS if t not in gone]
    assert all(t in shown for t in kept), f"{name} lost a symbol it keeps"
    assert struck_at(ax) == {(x, y) for x, y in at}
    assert all(layer_edge(ax, x, y) == FAINT for x, y in at)
    assert REMOVED in shown


def test_the_equation_under_the_1997_cell_has_no_forget_gate(drawn):
    ax = drawn("no forget gate")
    equation = next(t for t in texts(ax) if t.startswith("$c_t ="))
    assert equation == r"$c_t = c_{t-1} + i_t \otimes \tilde{c}_t$"
    assert "f_t" not in " ".join(texts(ax))


def test_peepholes_are_drawn_into_their_gates_in_their_colours(drawn):
    ax = drawn("peepholes")
    colour = {t.get_text(): to_hex(t.get_color()) for t in ax.texts}
    assert colour[r"$p_f$"] == COLORS["forget"]
    assert colour[r"$p_i$"] == COLORS["input"]
    assert colour[r"$p_o$"] == COLORS["output"]
    assert not struck_at(ax)
    eq = next(t for t in texts(ax) if t.startswith("$f_t = "))
    assert r"p_f \otimes c_{t-1}" in eq and r"p_o \otimes c_t" in eq


def test_coupled_gates_write_one_minus_f(drawn):
    ax = drawn("coupled")
    colour = {t.get_text(): to_hex(t.get_color()) for t in ax.texts}
    assert colour[r"$1 - f_t$"] == COLORS["input"]
    assert r"$c_t = f_t \otimes c_{t-1} + (1 - f_t) \otimes \tilde{c}_t$" in colour


def test_the_gru_keeps_h_with_z_and_writes_with_one_minus_z(drawn):
    ax = drawn("GRU")
    colour = {t.get_text(): to_hex(t.get_color()) for t in ax.texts}
    assert colour[r"$z_t$"] == COLORS["forget"]
    assert colour[r"$1 - z_t$"] == COLORS["input"]
    assert colour[r"$r_t$"] == RESET_COLOR and colour[r"$n_t$"] == COLORS["input"]
    assert r"$h_{t-1}$" in colour and r"$c_t$" not in colour and r"$f_t$" not in colour
    assert any(t.startswith(r"$h_t = z_t \otimes h_{t-1} + (1 - z_t) \otimes n_t$")
               for t in colour)


def test_draw_variant_names_what_it_can_draw():
    with pytest.raises(ValueError, match="name must be one of .*'GRU'.*got 'LSTM'"):
        draw_variant("LSTM")
    fig, ax = plt.subplots(figsize=(3, 2))
    with pytest.raises(ValueError, match="draw_variant is drawn at the column's width"):
        draw_variant("coupled", ax=ax)
    plt.close(fig)


def test_draw_cell_is_left_as_it_was(drawn):
    before = texts(draw_cell())
    drawn("no forget gate")
    assert texts(draw_cell()) == before
    plt.close("all")
