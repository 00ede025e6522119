import io

import matplotlib

matplotlib.use("Agg")

import matplotlib.pyplot as plt  # noqa: E402
import pytest  # noqa: E402

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
