import io

import matplotlib

matplotlib.use("Agg")

import matplotlib.pyplot as plt  # noqa: E402
import numpy as np  # noqa: E402
import pytest  # noqa: E402
from matplotlib.patches import FancyArrowPatch  # noqa: E402

from lstmlib import LSTMCell  # noqa: E402
from lstmlib.viz import (  # noqa: E402
    COLORS,
    COLUMN_WIDTH,
    DPI,
    FAINT,
    STATE_TEXT,
    STYLE,
    FigureStyleError,
    check_figure,
    draw_cell,
    draw_gate,
    draw_long_short,
    draw_memory_path,
    draw_unrolled,
    figsize,
    png_info,
    tag_png,
    use_style,
)
from lstmlib.widgets import png_bytes  # noqa: E402


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
    own = STATE_TEXT if part == "state" else COLORS[part]
    assert own in colours
    others = {COLORS[p] for p in COLORS if p != part} | ({STATE_TEXT} if part != "state" else set())
    assert not colours & others
    assert FAINT in colours
    plt.close(ax.figure)


def test_every_diagram_is_drawn_for_the_column(trace):
    for ax in (draw_cell(), draw_cell(step=trace.at(1)), draw_unrolled(trace), draw_gate(),
               draw_gate(v=[1.0, -2.0], t=[0.5, 0.25]), draw_memory_path(trace), draw_long_short()):
        assert ax.figure.get_size_inches()[0] == COLUMN_WIDTH
        assert check_figure(ax.figure) >= 10
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


# --- the figure style and its checks -----------------------------------------------------------

@pytest.fixture
def styled():
    """The book's style (and its figure hook) for one test, rcParams restored afterwards."""
    with matplotlib.rc_context():
        use_style()
        yield
    plt.close("all")


def test_check_figure_passes_a_column_figure_and_returns_its_smallest_text(styled):
    fig, ax = plt.subplots(figsize=figsize(2.5))
    ax.plot([0, 1], [0, 1])
    ax.set_title("a title")
    assert check_figure(fig) == 10  # the tick labels, at the style's 10 pt


@pytest.mark.parametrize("size", [8, 9, 9.5])
def test_check_figure_names_small_text_and_its_size(styled, size):
    fig, ax = plt.subplots(figsize=figsize(2.5))
    ax.text(0.5, 0.5, "too small", fontsize=size)
    with pytest.raises(FigureStyleError, match=rf"'too small' at {size:g} pt"):
        check_figure(fig)


def test_check_figure_sees_small_tick_labels_and_legends(styled):
    fig, ax = plt.subplots(figsize=figsize(2.5))
    ax.plot([0, 1], label="a line")
    ax.legend(fontsize=7)
    with pytest.raises(FigureStyleError, match="'a line' at 7 pt"):
        check_figure(fig)
    fig, ax = plt.subplots(figsize=figsize(2.5))
    ax.plot([0, 1])
    ax.tick_params(labelsize=8)
    with pytest.raises(FigureStyleError, match=r"'0\.0' at 8 pt"):
        check_figure(fig)


def test_check_figure_ignores_what_is_not_shown(styled):
    fig, ax = plt.subplots(figsize=figsize(2.5))
    ax.tick_params(labelsize=8)
    ax.axis("off")  # the small tick labels are not drawn
    ax.text(0.5, 0.5, "hidden", fontsize=6, visible=False)
    ax.text(0.5, 0.5, "shown", fontsize=12)
    assert check_figure(fig) == 12


def test_check_figure_refuses_a_figure_wider_than_the_column(styled):
    fig, _ = plt.subplots(figsize=(9, 3))
    with pytest.raises(FigureStyleError, match=r"9\.00 in wide; the book's column is 6\.8 in"):
        check_figure(fig)


def test_use_style_makes_a_small_text_figure_fail_when_drawn(styled, tmp_path):
    assert STYLE["figure.figsize"][0] == COLUMN_WIDTH and matplotlib.rcParams["figure.dpi"] == DPI
    use_style()  # a second call installs the hook once
    assert matplotlib.rcParams["figure.hooks"].count("lstmlib.viz:_watch") == 1
    fig, ax = plt.subplots(figsize=figsize(2))
    ax.plot([0, 1])
    fig.savefig(tmp_path / "good.png")
    ax.set_xlabel("$x_t$", fontsize=8)
    with pytest.raises(FigureStyleError, match=r"'\$x_t\$' at 8 pt"):
        fig.savefig(tmp_path / "bad.png")
    with pytest.raises(FigureStyleError, match="8 pt"):
        fig.canvas.draw()


def test_without_the_style_nothing_is_checked(tmp_path):
    with matplotlib.rc_context({"figure.hooks": []}):
        fig, ax = plt.subplots(figsize=(2, 2))
        ax.text(0, 0, "small", fontsize=6)
        fig.savefig(tmp_path / "free.png")  # the check is the style's: the hook makes the difference
    plt.close(fig)


def test_inline_figures_record_their_smallest_font(styled):
    from IPython.core.interactiveshell import InteractiveShell

    shell = InteractiveShell.instance()
    try:
        use_style()
        fig, ax = plt.subplots(figsize=figsize(2))
        ax.plot([0, 1])
        ax.set_title("$f_t$", fontsize=14)
        data, _ = shell.display_formatter.format(fig)
        info = png_info(data["image/png"])
        assert info["dpi"] == DPI and info["min_font_pt"] == 10
        ax.text(0, 0, "small", fontsize=8)
        data, _ = shell.display_formatter.format(fig)  # the error is shown instead of the figure
        assert "image/png" not in data
    finally:
        InteractiveShell.clear_instance()


def test_png_tags_round_trip_and_stay_valid():
    from PIL import Image

    fig, ax = plt.subplots(figsize=figsize(1.5))
    ax.plot([0, 1])
    png = png_bytes(fig)
    info = png_info(png)
    assert info == {"dpi": 100.0, "min_font_pt": 10.0, "width": 680, "height": 150}
    Image.open(io.BytesIO(png)).load()  # the added chunk's CRC is right
    assert png_info(tag_png(png, None)) == info
    with pytest.raises(ValueError, match="not a PNG"):
        png_info(b"GIF89a")
    plt.close(fig)


def test_png_bytes_refuses_small_text():
    fig, ax = plt.subplots(figsize=figsize(1.5))
    ax.plot([0, 1])
    ax.set_ylabel("value", fontsize=9)
    with pytest.raises(FigureStyleError, match="'value' at 9 pt"):
        png_bytes(fig)
    plt.close(fig)


# --- what each diagram says: labels and values where they belong --------------------------------

def centre(ax, text):
    """The centre of a drawn text, in the Axes' data coordinates."""
    renderer = ax.figure.canvas.get_renderer()
    box = text.get_window_extent(renderer)
    return ax.transData.inverted().transform(((box.x0 + box.x1) / 2, (box.y0 + box.y1) / 2))


def the(ax, string):
    found = [t for t in ax.texts if t.get_text() == string]
    assert len(found) == 1, f"expected one text {string!r}, found {len(found)}"
    return found[0]


def number(text):
    return float(text.replace("\u2212", "-"))


def test_each_symbol_of_the_cell_sits_at_its_own_part():
    """Find the cell's layers and operations by what they are (σ, tanh, ×, +), then check that
    each symbol is nearer its own connection than any other's: $f_t$ by the forget gate, etc."""
    ax = draw_cell()
    ax.figure.canvas.draw()
    at = {name: [centre(ax, t) for t in ax.texts if t.get_text() == tex]
          for name, tex in (("sigma", r"$\sigma$"), ("tanh", r"$\tanh$"), ("times", r"$\times$"),
                            ("plus", r"$+$"))}
    f_layer, i_layer, o_layer = sorted(at["sigma"], key=lambda p: p[0])
    c_tilde_layer, c_prime_layer = sorted(at["tanh"], key=lambda p: p[1])  # bottom row, then top
    forget_x, output_x, input_x = sorted(at["times"], key=lambda p: -p[1])  # by height
    output_x, input_x = sorted([output_x, input_x], key=lambda p: p[0])[::-1]
    (plus,) = at["plus"]
    mid = lambda a, b: (np.asarray(a) + np.asarray(b)) / 2  # noqa: E731
    wires = {  # where each quantity flows: between the two parts it connects
        r"$f_t$": mid(f_layer, forget_x), r"$i_t$": mid(i_layer, input_x),
        r"$\tilde{c}_t$": mid(c_tilde_layer, input_x), r"$o_t$": mid(o_layer, output_x),
        r"$F_t$": mid(forget_x, plus), r"$I_t$": mid(input_x, plus),
        r"$c_t$": mid(plus, (c_prime_layer[0], plus[1])), r"$c'_t$": mid(c_prime_layer, output_x),
        r"$h_t$": output_x - (0, 1.0),
    }
    for tex in wires:
        texts = [t for t in ax.texts if t.get_text() == tex]
        assert texts, f"no {tex} on the cell"
        nearest = min(texts, key=lambda t: np.linalg.norm(centre(ax, t) - wires[tex]))
        p = centre(ax, nearest)
        own = np.linalg.norm(p - wires[tex])
        closest = min(wires, key=lambda other: np.linalg.norm(p - wires[other]))
        assert closest == tex, f"{tex} is written nearer the wire of {closest} than its own"
        assert own < 1.2, f"{tex} is {own:.2f} units from its wire"
    plt.close(ax.figure)


ATTRIBUTE = {r"$f_t$": "f", r"$F_t$": "F", r"$i_t$": "i", r"$\tilde{c}_t$": "c_tilde", r"$I_t$": "I",
             r"$c_t$": "c", r"$o_t$": "o", r"$c'_t$": "c_prime", r"$h_t$": "h"}


@pytest.mark.parametrize("unit", [None, 0, 2])
def test_the_step_table_lists_each_symbol_with_its_own_value(trace, unit):
    step = trace.at(2)
    ax = draw_cell(highlight="input", step=step, unit=unit)
    (table,) = ax.tables
    cells = table.get_celld()
    n_rows = 1 + max(r for r, _ in cells)
    n_cols = 1 + max(c for _, c in cells)
    header = [cells[0, c].get_text().get_text() for c in range(1, n_cols)]
    assert sorted(header) == sorted(ATTRIBUTE), "every symbol of the step has one column"
    units = [0, 1, 2] if unit is None else [unit]
    assert [int(cells[r, 0].get_text().get_text()) for r in range(1, n_rows)] == units
    for r, k in enumerate(units, start=1):
        for c, tex in enumerate(header, start=1):
            want = getattr(step, ATTRIBUTE[tex])[k]
            got = number(cells[r, c].get_text().get_text())
            assert got == pytest.approx(want, abs=0.005), f"unit {k}, {tex}: {got} != {want}"
    for cell in cells.values():
        assert cell.get_text().get_fontsize() >= 10
    # the table sits under the diagram, inside the figure
    ax.figure.canvas.draw()
    box = table.get_window_extent(ax.figure.canvas.get_renderer())
    assert box.y0 >= -1 and box.x1 <= ax.figure.bbox.x1 + 1
    plt.close(ax.figure)


def arrows(ax):
    """Horizontal arrows of a diagram as (y, x_from, x_to)."""
    out = []
    for p in ax.patches:
        if isinstance(p, FancyArrowPatch):
            (x0, y0), (x1, y1) = p._posA_posB
            if abs(y0 - y1) < 1e-9 and x1 > x0:
                out.append((y0, x0, x1))
    return out


def on_arrow(ax, string):
    """The label `string` written on a horizontal arrow (just above it): the label, the arrow's
    height and the value written just under the arrow."""
    ax.figure.canvas.draw()
    found = []
    for label in (t for t in ax.texts if t.get_text() == string):
        x, y = centre(ax, label)
        under = [ya for ya, x0, x1 in arrows(ax) if x0 <= x <= x1 and 0 < y - ya < 0.3]
        found += [(label, ya) for ya in under]
    assert len(found) == 1, f"{string} is written on {len(found)} arrows, not one"
    label, ya = found[0]
    x = centre(ax, label)[0]
    values = [t for t in ax.texts if t is not label and abs(centre(ax, t)[0] - x) < 0.05
              and 0 < ya - centre(ax, t)[1] < 0.3]
    assert len(values) == 1, f"no single value under {string}"
    return label, ya, number(values[0].get_text())


@pytest.mark.parametrize("unit", [0, 1, 2])
def test_unrolled_arrows_carry_c_t_and_h_t_of_the_unit(trace, unit):
    ax = draw_unrolled(trace, steps=3, unit=unit)
    c = [trace.c0[0, unit], *trace.c[:3, unit]]
    h = [trace.h0[0, unit], *trace.h[:3, unit]]
    ys = {}
    for name, values in (("c", c), ("h", h)):
        xs = []
        for t in range(4):
            label, y, value = on_arrow(ax, f"${name}_{{{t}}}$")
            assert value == pytest.approx(values[t], abs=0.005), f"${name}_{t}$ carries {value}"
            ys.setdefault(name, set()).add(round(y, 6))
            xs.append(centre(ax, label)[0])
        assert xs == sorted(xs), f"the {name} arrows are not in time order"
    assert len(ys["c"]) == len(ys["h"]) == 1 and ys["c"] != ys["h"]  # one line for c, one for h
    assert f"unit {unit}" in " ".join(texts(ax))
    plt.close(ax.figure)


def test_unrolled_inputs_are_numbered_and_each_box_shows_its_gates(trace):
    unit = 1
    ax = draw_unrolled(trace, steps=3, unit=unit)
    ax.figure.canvas.draw()
    c_x = [centre(ax, the(ax, f"$c_{{{t}}}$"))[0] for t in range(4)]
    for t in range(1, 4):
        x_label = the(ax, f"$x_{{{t}}}$")
        assert c_x[t - 1] < centre(ax, x_label)[0] < c_x[t], f"$x_{t}$ is not under box {t}"
        assert not [s for s in texts(ax) if s in ("$x_{0}$", "$x_{4}$")]
        for name, tex in (("f", "$f_{%d}$"), ("i", "$i_{%d}$"), ("c_tilde", r"$\tilde{c}_{%d}$"),
                          ("o", "$o_{%d}$")):
            label = the(ax, tex % t)
            lx, ly = centre(ax, label)
            assert c_x[t - 1] < lx < c_x[t], f"{tex % t} is not inside box {t}"
            row = [s for s in ax.texts if s is not label and abs(centre(ax, s)[1] - ly) < 0.05
                   and c_x[t - 1] < centre(ax, s)[0] < c_x[t]]
            assert len(row) == 1
            want = getattr(trace, name)[t - 1, unit]
            assert number(row[0].get_text()) == pytest.approx(want, abs=0.005), tex % t
    plt.close(ax.figure)


def test_unrolled_units_differ(trace):
    """unit=k shows unit k: the three units' drawings write different numbers."""
    written = [sorted(t for t in texts(draw_unrolled(trace, unit=k)) if t[:1] in "+\u2212")
               for k in range(3)]
    assert written[0] != written[1] != written[2] != written[0]
    plt.close("all")


def pinned(f, i, c0=0.8):
    cell = LSTMCell(1, 1, seed=3)
    xs = np.random.default_rng(5).normal(size=(3, 1))
    return cell.forward(xs, c0=np.array([c0]), f=f, i=i)


@pytest.mark.parametrize("f, i", [(1.0, 0.0), (0.0, 1.0), (0.0, 0.0), (1.0, 1.0), (0.6, 0.3)])
def test_memory_path_writes_the_c_values_and_each_box_its_gates(f, i):
    trace = pinned(f, i)
    ax = draw_memory_path(trace, title=f"$f_t = {f}$, $i_t = {i}$")
    c = [trace.c0[0, 0], *trace.c[:3, 0]]
    for t in range(4):
        _, _, value = on_arrow(ax, f"$c_{{{t}}}$")
        assert value == pytest.approx(c[t], abs=0.005), f"$c_{t}$ is written {value}"
    c_x = [centre(ax, the(ax, f"$c_{{{t}}}$"))[0] for t in range(4)]
    for t in range(1, 4):
        for name, tex in (("f", "$f_{%d}$ ="), ("i", "$i_{%d}$ ="), ("c_tilde", r"$\tilde{c}_{%d}$ =")):
            label = the(ax, tex % t)
            lx, ly = centre(ax, label)
            assert c_x[t - 1] < lx < c_x[t]
            row = [s for s in ax.texts if s is not label and abs(centre(ax, s)[1] - ly) < 0.05
                   and c_x[t - 1] < centre(ax, s)[0] < c_x[t]]
            assert len(row) == 1
            assert number(row[0].get_text()) == pytest.approx(getattr(trace, name)[t - 1, 0], abs=0.005)
    assert the(ax, f"$f_t = {f}$, $i_t = {i}$")
    plt.close(ax.figure)


def line_widths(ax):
    """Widths of the memory line's pieces from left to right (the state-coloured horizontals)."""
    pieces = [p for p in ax.patches if isinstance(p, FancyArrowPatch)
              and matplotlib.colors.to_hex(p.get_edgecolor()) == COLORS["state"]]
    return [p.get_linewidth() for p in sorted(pieces, key=lambda p: p._posA_posB[0][0])]


def test_memory_path_is_strong_where_kept_and_faint_where_erased():
    kept, erased, rewritten = (line_widths(draw_memory_path(pinned(f, i)))
                               for f, i in ((1.0, 0.0), (0.0, 0.0), (0.0, 1.0)))
    assert min(kept) == max(kept) > 3  # f = 1, i = 0: the memory is carried all the way
    assert erased[0] > 3 and max(erased[1:]) < 1.5  # f = 0, i = 0: wiped after the first ⊗
    assert rewritten[2] > 3 and rewritten[1] < 1.5  # f = 0, i = 1: erased, then written anew
    plt.close("all")


def test_gate_values_sit_in_their_rows():
    v, t = [0.8, -1.2, 0.5, 2.0], [1.0, 0.5, 0.0, 0.25]
    ax = draw_gate(v=v, t=t)
    ax.figure.canvas.draw()
    gx, gy = centre(ax, the(ax, r"$\times$"))
    numbers = [(centre(ax, s), number(s.get_text())) for s in ax.texts
               if s.get_text()[:1].isdigit() or s.get_text()[:1] == "\u2212"]

    def row(keep):
        return [val for (x, y), val in sorted(numbers, key=lambda n: n[0][0]) if keep(x, y)]

    assert row(lambda x, y: abs(y - gy) < 0.05 and x < gx) == pytest.approx(v)
    assert row(lambda x, y: abs(y - gy) < 0.05 and x > gx) == pytest.approx(
        np.multiply(v, t), abs=0.005)
    assert row(lambda x, y: y < gy - 0.3) == pytest.approx(t)
    for tex, side in (("$v$", -1), ("$v'$", 1)):
        x, y = centre(ax, the(ax, tex))
        assert abs(y - gy) < 0.05 and np.sign(x - gx) == side
    x, y = centre(ax, the(ax, "$t$"))
    assert y < gy
    plt.close(ax.figure)


def test_gate_bad_values_are_named():
    with pytest.raises(ValueError, match="needs both v and t, or neither; got only v"):
        draw_gate(v=[1.0])
    with pytest.raises(ValueError, match=r"every entry in \[0, 1\]"):
        draw_gate(v=[1.0], t=[1.5])
    with pytest.raises(ValueError, match=r"same length, 1 to 5 entries; got shapes \(2,\) and \(1,\)"):
        draw_gate(v=[1.0, 2.0], t=[0.5])
    plt.close("all")


def test_long_short_puts_each_role_with_its_symbol():
    ax = draw_long_short()
    assert texts(ax).count("$W$, $b$") == 3  # the same knowledge in every step
    roles = {r"$W$, $b$: long-term knowledge": "the method learned in class",
             r"$c_t$: working memory": "the running figure", r"$h_t$: what is shown": "paper"}
    ax.figure.canvas.draw()
    for head, note in roles.items():
        hx, hy = centre(ax, the(ax, head))
        (explained,) = [t for t in ax.texts if note in t.get_text()]
        ex, ey = centre(ax, explained)
        assert ey < hy < ey + 0.6, f"{note!r} is not written under {head!r}"
    method = next(t for t in ax.texts if "method" in t.get_text())
    assert "$c_t$" not in method.get_text()  # the memory never carries the method
    plt.close(ax.figure)


def test_new_diagrams_refuse_what_they_cannot_draw(trace, rng):
    with pytest.raises(ValueError, match="at most 3 steps"):
        draw_memory_path(trace, steps=4)
    with pytest.raises(ValueError, match="unit must be between 0 and H-1=2; got 5"):
        draw_memory_path(trace, unit=5)
    with pytest.raises(ValueError, match="unit must be between 0 and H-1=2; got 3"):
        draw_cell(step=trace.at(0), unit=3)
    batched = LSTMCell(2, 3).forward(rng.normal(size=(4, 2, 2)))
    with pytest.raises(ValueError, match="draw_memory_path draws one sequence"):
        draw_memory_path(batched)
    plt.close("all")


def test_png_bytes_under_the_style_checks_once_and_records_the_font(styled):
    fig, ax = plt.subplots(figsize=figsize(1.5))
    ax.plot([0, 1])
    ax.set_title("title", fontsize=13)
    assert png_info(png_bytes(fig))["min_font_pt"] == 10
    ax.tick_params(labelsize=12)
    assert png_info(png_bytes(fig))["min_font_pt"] == 12  # the record follows the figure
    ax.set_xlabel("small", fontsize=9)
    with pytest.raises(FigureStyleError, match="'small' at 9 pt"):
        png_bytes(fig)


def test_a_diagram_refuses_an_axes_too_small_for_its_text(trace):
    """Text keeps its size in points: in a quarter of the column it would overlap the drawing."""
    fig, axs = plt.subplots(2, 2, figsize=figsize(4.5))
    with pytest.raises(ValueError, match=r"draw_cell is drawn at the column's width.*got one of 2\.\d"):
        draw_cell(axs[0, 0])
    with pytest.raises(ValueError, match="draw_memory_path is drawn at the column's width"):
        draw_memory_path(trace, ax=axs[0, 1])
    fig, ax = plt.subplots(figsize=figsize(4.3))  # one Axes with pyplot's margins is enough
    assert draw_cell(ax) is ax
    plt.close("all")


def test_draw_gate_names_the_rates_as_the_chapter_does(styled):
    ax = draw_gate(v=[4.0, -2.0], t=[0.1, 0.9], rate_label=r"\sigma(t)")
    texts = [t.get_text() for t in ax.texts]
    assert r"$\sigma(t)$" in texts and r"$v' = v \otimes \sigma(t)$" in texts
    assert "$t$" not in texts


def test_a_column_figure_shown_inline_with_its_padding_passes(styled):
    # IPython draws inline figures at their tight box plus savefig.pad_inches on each side
    fig = plt.figure(figsize=figsize(2.0))
    fig.set_size_inches(COLUMN_WIDTH + 0.2, 2.0)
    fig.add_axes((0, 0, 1, 1)).axis("off")
    check_figure(fig)
    fig.set_size_inches(COLUMN_WIDTH + 0.3, 2.0)
    with pytest.raises(FigureStyleError, match="in wide"):
        check_figure(fig)


def test_a_reused_equal_aspect_axes_is_measured_by_its_own_box(styled):
    fig = plt.figure(figsize=figsize(2.9))
    ax = fig.add_axes((0, 0, 1, 1))
    draw_gate(ax=ax)
    ax.clear()  # the equal aspect of the first drawing must not shrink the second's measure
    draw_gate(ax=ax)
