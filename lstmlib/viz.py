"""Figures of the book: one shared style, and diagrams of the cell drawn from the book's symbols.

use_style        the book's matplotlib style: figures at the content column's width, text >= 10 pt,
                 and a check on every pyplot figure when it is drawn (small text fails loudly)
check_figure     raise FigureStyleError for text under MIN_FONT_PT or a figure wider than the column
png_info         the DPI and the smallest font size recorded in a PNG the book wrote
draw_cell        the whole cell, one part optionally highlighted, optionally with a table of a Step
draw_unrolled    the same cell over several timesteps of a computed Trace, gates and values inside
draw_gate        the gate: v → ⊗ ← σ, optionally with values
draw_memory_path three unrolled cells of one (f, i) case: the memory's path and its values
draw_long_short  what is long-term and what is short-term memory, in the book's analogy
"""

import struct
import zlib

import matplotlib as mpl
import matplotlib.pyplot as plt
import numpy as np
from matplotlib.patches import Circle, FancyArrowPatch, FancyBboxPatch
from matplotlib.text import Text

# --- one style for every figure and every slider frame --------------------------------------------
# The book's content column is about 700 CSS px wide on a laptop (a 1200 px window). A figure drawn
# COLUMN_WIDTH inches wide and saved at DPI shows at DPI/72 = 1.39 CSS px per point when it fits the
# column, so 10 pt text reads at 14 px, next to 16 px body text.
COLUMN_WIDTH = 6.8  # inches
DPI = 100           # dots per inch of every saved figure and frame
MIN_FONT_PT = 10    # no text in a figure is smaller
STYLE = {
    "figure.figsize": (COLUMN_WIDTH, 3.4),
    "figure.dpi": DPI,
    "savefig.dpi": DPI,
    "font.size": 11,
    "axes.titlesize": 11,
    "axes.labelsize": 11,
    "xtick.labelsize": 10,
    "ytick.labelsize": 10,
    "legend.fontsize": 10,
    "legend.title_fontsize": 10,
    "figure.titlesize": 12,
    "axes.spines.top": False,
    "axes.spines.right": False,
}
FONT_KEY = "min-font-pt"  # PNG text chunk: the smallest font size in the figure, in points


class FigureStyleError(ValueError):
    """A figure breaks the book's figure style (text under MIN_FONT_PT, wider than the column)."""


def use_style():
    """Apply the book's figure style (STYLE) to matplotlib; every chapter calls this once.

    It also installs a hook (rcParam `figure.hooks`) on every figure made by pyplot: each time the
    figure is drawn, `check_figure` runs on it, so a notebook figure with text under 10 pt (or wider
    than the column) shows a FigureStyleError instead of the figure, and nbval fails on it. In
    IPython, the PNG of every inline figure records its smallest font size (see `png_info`).
    """
    mpl.rcParams.update(STYLE)
    hooks = [h for h in mpl.rcParams["figure.hooks"] if h != _HOOK]
    mpl.rcParams["figure.hooks"] = [*hooks, _HOOK]


def figsize(height, width=COLUMN_WIDTH):
    """(width, height) in inches for a figure of the content column's width."""
    return (width, height)


def _drawn_texts(fig):
    """The texts a draw of `fig` shows: visible, not empty, not on a hidden axis or Axes."""
    hidden = set()
    for ax in fig.axes:
        if not ax.get_visible():
            hidden.update(map(id, ax.findobj(Text)))
            continue
        for axis in (ax.xaxis, ax.yaxis):
            if not ax.axison or not axis.get_visible():
                hidden.update(map(id, axis.findobj(Text)))
    return [t for t in fig.findobj(Text)
            if id(t) not in hidden and t.get_visible() and t.get_text().strip()]


def smallest_font(fig):
    """The smallest font size (points) of the texts `fig` shows, or None if it shows none."""
    sizes = [t.get_fontsize() for t in _drawn_texts(fig)]
    return min(sizes) if sizes else None


def _check_drawn(fig, min_pt=MIN_FONT_PT, max_width=COLUMN_WIDTH):
    width = fig.get_size_inches()[0]
    if width > max_width + 1e-6:
        raise FigureStyleError(f"the figure is {width:.2f} in wide; the book's column is {max_width} "
                               f"in (COLUMN_WIDTH): use figsize(height)")
    small = [t for t in _drawn_texts(fig) if t.get_fontsize() < min_pt - 1e-9]
    if small:
        names = ", ".join(f"{t.get_text()!r} at {t.get_fontsize():g} pt" for t in small[:6])
        more = f" (and {len(small) - 6} more)" if len(small) > 6 else ""
        raise FigureStyleError(f"text under the book's {min_pt} pt minimum (MIN_FONT_PT): "
                               f"{names}{more}")
    return smallest_font(fig)


def check_figure(fig, *, min_pt=MIN_FONT_PT, max_width=COLUMN_WIDTH):
    """Raise FigureStyleError naming every text of `fig` under `min_pt` points (with its size), or
    a figure wider than `max_width` inches. Returns the smallest font size shown (None: no text).

    The figure is laid out first (without rendering), so tick labels are checked with their text.
    """
    fig.draw_without_rendering()
    return _check_drawn(fig, min_pt, max_width)


def _on_draw(event):
    _check_drawn(event.canvas.figure)


def _watch(fig):
    """figure.hooks entry installed by use_style: check the figure every time it is drawn."""
    fig.canvas.mpl_connect("draw_event", _on_draw)
    _ipython_png_formatter()


_HOOK = f"{__name__}:_watch"


def _ipython_png_formatter():
    """In IPython, write inline figures' PNGs with their smallest font size recorded."""
    try:
        from IPython import get_ipython
        from IPython.core.pylabtools import print_figure
    except ImportError:  # pragma: no cover - the book's environment has IPython
        return
    shell = get_ipython()
    if shell is None:
        return
    formatter = shell.display_formatter.formatters["image/png"]
    try:
        if getattr(formatter.lookup_by_type(mpl.figure.Figure), "_lstm_tagged", False):
            return
    except KeyError:  # no printer for figures yet (no inline backend): ours is the first
        pass

    def png(fig):
        data = print_figure(fig, "png")
        return None if data is None else tag_png(data, smallest_font(fig))

    png._lstm_tagged = True
    formatter.for_type(mpl.figure.Figure, png)


# --- PNG metadata: the DPI (pHYs) and the smallest font (tEXt) ------------------------------------

def _chunks(png):
    if png[:8] != b"\x89PNG\r\n\x1a\n":
        raise ValueError(f"not a PNG: starts with {png[:8]!r}")
    pos = 8
    while pos < len(png):
        (n,) = struct.unpack(">I", png[pos:pos + 4])
        kind = png[pos + 4:pos + 8]
        yield kind, png[pos + 8:pos + 8 + n], pos
        pos += 12 + n


def tag_png(png, min_font_pt):
    """`png` with a tEXt chunk recording its smallest font size (None: no text, nothing added)."""
    if min_font_pt is None:
        return png
    data = FONT_KEY.encode("latin-1") + b"\0" + f"{min_font_pt:g}".encode("latin-1")
    chunk = struct.pack(">I", len(data)) + b"tEXt" + data
    chunk += struct.pack(">I", zlib.crc32(b"tEXt" + data) & 0xFFFFFFFF)
    end = next(pos for kind, _, pos in _chunks(png) if kind == b"IEND")
    return png[:end] + chunk + png[end:]


def png_info(png):
    """{"width", "height" (pixels), "dpi" (from pHYs, None if absent), "min_font_pt" (None if
    absent)} of PNG bytes written by the book."""
    info = {"dpi": None, "min_font_pt": None}
    for kind, data, _ in _chunks(png):
        if kind == b"IHDR":
            info["width"], info["height"] = struct.unpack(">II", data[:8])
        elif kind == b"pHYs":
            x, y, unit = struct.unpack(">IIB", data)
            if unit == 1:  # pixels per metre
                info["dpi"] = round(x * 0.0254, 1)
        elif kind == b"tEXt":
            key, _, value = data.partition(b"\0")
            if key == FONT_KEY.encode("latin-1"):
                info["min_font_pt"] = float(value)
    return info


# colours: one per gate, used across the book
COLORS = {"forget": "#d1495b", "input": "#2e86ab", "output": "#3c9d5d", "state": "#edae49"}
INK, FAINT = "#222222", "#b9b9b9"
PARTS = ("forget", "input", "output", "state")

# where each piece of the cell sits (data coordinates; the cell box spans x 0..10, y 0..6.4)
Y_C, Y_Z, Y_GATE = 5.4, 0.9, 2.3  # cell-state line, [h, x] bus, row of σ/tanh layers
LAYERS = {  # name: (x, label, part)
    "f": (2.0, r"$\sigma$", "forget"),
    "i": (3.7, r"$\sigma$", "input"),
    "c_tilde": (5.1, r"$\tanh$", "input"),
    "o": (6.8, r"$\sigma$", "output"),
}
OPS = {  # name: (x, y, symbol, part)
    "F": (2.0, Y_C, r"$\times$", "forget"),
    "I": (4.4, 3.9, r"$\times$", "input"),
    "c": (4.4, Y_C, r"$+$", "input"),
    "h": (8.3, Y_GATE, r"$\times$", "output"),
}
SYMBOLS = {  # quantity: (x, y, TeX) — where its name (and value) is written
    "f": (1.55, 3.5, r"$f_t$"), "i": (3.25, 3.25, r"$i_t$"), "c_tilde": (5.45, 3.25, r"$\tilde{c}_t$"),
    "o": (7.2, 3.0, r"$o_t$"), "F": (2.5, 6.0, r"$F_t$"), "I": (4.85, 4.45, r"$I_t$"),
    "c": (7.0, 5.95, r"$c_t$"), "c_prime": (9.05, 3.85, r"$c'_t$"), "h": (8.45, 1.3, r"$h_t$"),
}


def _color(part, highlight):
    if highlight is None or part == highlight:
        return COLORS[part] if highlight == part else INK
    return FAINT


def _arrow(ax, xy_from, xy_to, color, lw=1.6, style="-|>", **kw):
    ax.add_patch(FancyArrowPatch(xy_from, xy_to, arrowstyle=style, mutation_scale=12, color=color,
                                 lw=lw, shrinkA=0, shrinkB=0, **kw))


def _layer(ax, x, y, label, color, fill):
    ax.add_patch(FancyBboxPatch((x - 0.48, y - 0.32), 0.96, 0.64, boxstyle="round,pad=0.02",
                                fc=fill, ec=color, lw=1.6))
    ax.text(x, y, label, ha="center", va="center", fontsize=12, color=color)


def _op(ax, x, y, symbol, color):
    ax.add_patch(Circle((x, y), 0.3, fc="white", ec=color, lw=1.6, zorder=3))
    ax.text(x, y, symbol, ha="center", va="center", fontsize=12, color=color, zorder=4)


def _values(step, name, unit):
    v = np.atleast_1d(np.asarray(getattr(step, name)))
    v = v if unit is None else v[unit:unit + 1]
    return "[" + " ".join(f"{x:+.2f}".replace("-0.00", "+0.00") for x in v) + "]"


def draw_cell(ax=None, *, highlight=None, step=None, unit=None):
    """Draw the LSTM cell with the book's symbols.

    highlight: None, "forget", "input", "output" or "state" — that part in colour, the rest faded.
    step: an optional `Step` (one sequence, shapes (H,)); its values are written next to the symbols,
    all H entries, or only `unit` if given. Returns the Axes.
    """
    if highlight is not None and highlight not in PARTS:
        raise ValueError(f"highlight must be None or one of {PARTS}; got {highlight!r}")
    if step is not None and np.ndim(step.h) != 1:
        raise ValueError(f"step must be one sequence, h of shape (H,); got h of shape {np.shape(step.h)}")
    if ax is None:
        _, ax = plt.subplots(figsize=(8.6, 5.6) if step is None else (12.5, 5.6))
    col = {p: _color(p, highlight) for p in PARTS}
    fill = {p: (COLORS[p] + "22" if p == highlight else "white") for p in PARTS}

    ax.add_patch(FancyBboxPatch((0, 0.2), 10, 6.2, boxstyle="round,pad=0.1", fc="#f7f7f7",
                                ec="#888888", lw=1.2))
    # the cell state runs along the top, through ⊗ (forget) and ⊕ (write)
    cs = col["state"] if highlight in (None, "state") else FAINT
    _arrow(ax, (-1.2, Y_C), (11.2, Y_C), cs, lw=2.6 if highlight == "state" else 2.0)
    ax.text(-1.25, Y_C + 0.3, r"$c_{t-1}$", ha="left", fontsize=12, color=cs)
    # [h_{t-1}, x_t] bus along the bottom, feeding every layer
    zc = INK if highlight in (None, "state") else "#555555"
    _arrow(ax, (-1.2, Y_Z), (6.8, Y_Z), zc, style="-")
    ax.text(-1.25, Y_Z + 0.25, r"$h_{t-1}$", ha="left", fontsize=12, color=zc)
    _arrow(ax, (0.6, -0.9), (0.6, Y_Z), zc)
    ax.text(0.75, -0.75, r"$x_t$", fontsize=12, color=zc)
    ax.text(1.0, Y_Z - 0.45, r"$[h_{t-1}, x_t]$", fontsize=10, color=zc)
    for x, label, part in LAYERS.values():
        _arrow(ax, (x, Y_Z), (x, Y_GATE - 0.32), col[part])
        _layer(ax, x, Y_GATE, label, col[part], fill[part])
    for name, (x, y, symbol, part) in OPS.items():
        _op(ax, x, y, symbol, col["state"] if name == "c" and highlight == "state" else col[part])
    # forget: f_t up into the ⊗ on the cell-state line
    _arrow(ax, (2.0, Y_GATE + 0.32), (2.0, Y_C - 0.3), col["forget"])
    # input: i_t and c̃_t meet in ⊗, whose I_t goes up into ⊕
    _arrow(ax, (3.7, Y_GATE + 0.32), (4.2, 3.7), col["input"])
    _arrow(ax, (5.1, Y_GATE + 0.32), (4.6, 3.7), col["input"])
    _arrow(ax, (4.4, 4.2), (4.4, Y_C - 0.3), col["input"])
    # output: c_t is squashed by tanh, o_t filters it into h_t
    _arrow(ax, (8.3, Y_C), (8.3, 4.3), col["output"])
    ax.add_patch(FancyBboxPatch((7.8, 3.45), 1.0, 0.55, boxstyle="round,pad=0.02", fc=fill["output"],
                                ec=col["output"], lw=1.6))
    ax.text(8.3, 3.72, r"$\tanh$", ha="center", va="center", fontsize=11, color=col["output"])
    _arrow(ax, (8.3, 3.45), (8.3, Y_GATE + 0.3), col["output"])
    _arrow(ax, (6.8 + 0.48, Y_GATE), (8.0, Y_GATE), col["output"])
    _arrow(ax, (8.3, Y_GATE - 0.3), (8.3, Y_Z), col["output"], style="-")
    _arrow(ax, (8.3, Y_Z), (11.2, Y_Z), col["output"])
    _arrow(ax, (9.6, Y_Z), (9.6, 7.4), col["output"])
    ax.text(11.25, Y_Z + 0.25, r"$h_t$", fontsize=12, color=col["output"])
    ax.text(9.75, 7.2, r"$h_t$", fontsize=12, color=col["output"])
    ax.text(11.25, Y_C + 0.3, r"$c_t$", fontsize=12, color=cs)

    part_of = {"f": "forget", "F": "forget", "i": "input", "c_tilde": "input", "I": "input",
               "c": "state", "o": "output", "c_prime": "output", "h": "output"}
    for name, (x, y, tex) in SYMBOLS.items():
        part = part_of[name]
        ax.text(x, y, tex, fontsize=12, color=col[part] if part != "state" else cs)
    right = 12.6
    if step is not None:  # the values in a column beside the diagram, in the order they are computed
        order = ("f", "F", "i", "c_tilde", "I", "c", "o", "c_prime", "h")
        ax.text(12.2, 7.0, "values" if unit is None else f"values (unit {unit})", fontsize=10, color=INK)
        for k, name in enumerate(order):
            part = part_of[name]
            color = col[part] if part != "state" else cs
            tex = SYMBOLS[name][2]
            ax.text(12.2, 6.2 - 0.78 * k, f"{tex} = {_values(step, name, unit)}", fontsize=10,
                    color=color if color != FAINT else "#777777", family="monospace")
        right = 18.0
    ax.set_xlim(-1.6, right)
    ax.set_ylim(-1.2, 7.8)
    ax.set_aspect("equal")
    ax.axis("off")
    return ax


def draw_unrolled(trace, *, steps=3, unit=0, ax=None):
    """Draw one cell reused over the first `steps` timesteps of a `Trace` (one sequence).

    Each box is the same cell (same W and b); the arrows between boxes carry c_t and h_t, written
    with their values for hidden unit `unit`. Returns the Axes.
    """
    if trace.batched:
        raise ValueError("draw_unrolled draws one sequence; got a batched trace (T, B, H)")
    if not 1 <= steps <= trace.T:
        raise ValueError(f"steps must be between 1 and T={trace.T}; got {steps}")
    H = trace.c.shape[-1]
    if not 0 <= unit < H:
        raise ValueError(f"unit must be between 0 and H-1={H - 1}; got {unit}")
    if ax is None:
        _, ax = plt.subplots(figsize=(3.3 * steps + 1.5, 3.6))
    w, gap = 2.2, 1.3

    def fmt(v):
        return f"{v:+.3f}"

    c_prev, h_prev = trace.c0[0, unit], trace.h0[0, unit]
    for t in range(steps):
        x0 = t * (w + gap)
        ax.add_patch(FancyBboxPatch((x0, 0), w, 2, boxstyle="round,pad=0.08", fc="#f7f7f7",
                                    ec="#888888", lw=1.3))
        ax.text(x0 + w / 2, 1.0, "LSTM cell\n(same $W$, $b$)", ha="center", va="center", fontsize=10)
        for y, name, prev in ((1.6, "c", c_prev), (0.4, "h", h_prev)):
            color = COLORS["state"] if name == "c" else COLORS["output"]
            _arrow(ax, (x0 - gap + 0.08, y), (x0, y), color, lw=2.0)
            ax.text(x0 - gap / 2, y + 0.12, f"${name}_{{{t}}}$\n{fmt(prev)}", ha="center", va="bottom",
                    fontsize=9, color=color)
        _arrow(ax, (x0 + w / 2, -0.9), (x0 + w / 2, 0), INK)
        ax.text(x0 + w / 2 + 0.1, -0.8, f"$x_{{{t + 1}}}$", fontsize=11)
        _arrow(ax, (x0 + w / 2, 2.0), (x0 + w / 2, 2.9), COLORS["output"])
        ax.text(x0 + w / 2 + 0.1, 2.55, f"$h_{{{t + 1}}}$ = {fmt(trace.h[t, unit])}", fontsize=9,
                color=COLORS["output"])
        c_prev, h_prev = trace.c[t, unit], trace.h[t, unit]
    x_end = steps * (w + gap)
    for y, name, v in ((1.6, "c", c_prev), (0.4, "h", h_prev)):
        color = COLORS["state"] if name == "c" else COLORS["output"]
        _arrow(ax, (x_end - gap + 0.08, y), (x_end - 0.2, y), color, lw=2.0)
        ax.text(x_end - gap / 2, y + 0.12, f"${name}_{{{steps}}}$\n{fmt(v)}", ha="center", va="bottom",
                fontsize=9, color=color)
    ax.set_xlim(-gap - 0.1, x_end)
    ax.set_ylim(-1.1, 3.3)
    ax.set_aspect("equal")
    ax.axis("off")
    return ax
