"""Figures of the book: one shared style, and diagrams of the cell drawn from the book's symbols.

use_style     the book's matplotlib style: figures at the content column's width, text >= 10 pt
draw_cell     the whole cell, one part optionally highlighted, optionally annotated with a Step
draw_unrolled the same cell over several timesteps of a computed Trace
"""

import matplotlib as mpl
import matplotlib.pyplot as plt
import numpy as np
from matplotlib.patches import Circle, FancyArrowPatch, FancyBboxPatch

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


def use_style():
    """Apply the book's figure style (STYLE) to matplotlib; every chapter calls this once."""
    mpl.rcParams.update(STYLE)


def figsize(height, width=COLUMN_WIDTH):
    """(width, height) in inches for a figure of the content column's width."""
    return (width, height)

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
