"""Figures of the book: one shared style, and diagrams of the cell drawn from the book's symbols.

use_style        the book's matplotlib style: figures at the content column's width, text >= 10 pt,
                 and a check on every pyplot figure when it is drawn (small text fails loudly)
check_figure     raise FigureStyleError for text under MIN_FONT_PT or a figure wider than the column
png_info         the DPI and the smallest font size recorded in a PNG the book wrote
draw_cell        the whole cell, one part optionally highlighted, optionally with a table of a Step
draw_unrolled    the same cell over several timesteps of a computed Trace, gates and values inside
draw_gate        the gate: v → ⊗ ← σ, optionally with values
draw_memory_path three unrolled cells of one (f, i) case: the memory's path and its values
draw_gradient_path the cell with one backward step's paths drawn backwards, optionally its values
draw_long_short  what is long-term and what is short-term memory, in the book's analogy
draw_variant     a member of the LSTM's family (or the GRU, draw_gru), its change to the cell marked
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
    # an inline figure is drawn at its tight box plus savefig.pad_inches on each side: a figure of
    # the column's width whose content fills it comes out that much wider, and is still fine
    pad = 2 * mpl.rcParams["savefig.pad_inches"] if isinstance(mpl.rcParams["savefig.pad_inches"],
                                                                 float) else 0.2
    if width > max_width + pad + 1e-6:
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
    fig = event.canvas.figure
    fig._lstm_min_font = _check_drawn(fig)  # kept for png_bytes, which then need not check again


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


# --- diagrams ---------------------------------------------------------------------------------------
# colours: one per gate, used across the book
COLORS = {"forget": "#d1495b", "input": "#2e86ab", "output": "#3c9d5d", "state": "#edae49"}
INK, FAINT, GREY = "#222222", "#b9b9b9", "#6b6b6b"
STATE_TEXT = "#9a6400"  # the state colour, dark enough for text on white
PARTS = ("forget", "input", "output", "state")
LABEL_PT, VALUE_PT = 12, 10  # symbols, and the numbers written on a diagram

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
SYMBOLS = {  # quantity: (x, y, TeX) — where its name is written on the cell
    "f": (1.45, 3.5, r"$f_t$"), "i": (3.15, 3.25, r"$i_t$"), "c_tilde": (5.45, 3.25, r"$\tilde{c}_t$"),
    "o": (7.15, 3.0, r"$o_t$"), "F": (2.45, 5.95, r"$F_t$"), "I": (4.8, 4.4, r"$I_t$"),
    "c": (6.9, 5.95, r"$c_t$"), "c_prime": (8.45, 2.9, r"$c'_t$"), "h": (8.45, 1.25, r"$h_t$"),
}
PART_OF = {"f": "forget", "F": "forget", "i": "input", "c_tilde": "input", "I": "input",
           "c": "state", "o": "output", "c_prime": "output", "h": "output"}
ORDER = ("f", "F", "i", "c_tilde", "I", "c", "o", "c_prime", "h")  # the order they are computed


def fmt(v, digits=2, sign=True):
    """A value as the diagrams write it: `digits` decimals, signed (a true minus sign "−", as wide
    as "+"), never "−0.00"."""
    s = f"{float(v):+.{digits}f}"
    if float(s) == 0:
        s = "+" + s[1:]
    if not sign and s[0] == "+":
        s = s[1:]
    return s.replace("-", "\u2212")


def _axes(ax, width, height, name):
    """`ax`, or a new figure of `width` x `height` inches with one Axes filling it.

    A given Axes must be at least 75 % as large: the diagram's text keeps its size in points, so
    in a smaller Axes it would overlap the shrunken drawing.
    """
    if ax is None:
        fig = plt.figure(figsize=(width, height))
        return fig.add_axes((0, 0, 1, 1))
    box = ax.get_position(original=True)  # the Axes' own box, not shrunk by an equal aspect
    w, h = box.width * ax.figure.get_figwidth(), box.height * ax.figure.get_figheight()
    if w < 0.75 * width or h < 0.75 * height:
        raise ValueError(f"{name} is drawn at the column's width, in an Axes of about {width:.1f} x "
                         f"{height:.1f} in; got one of {w:.1f} x {h:.1f} in. Give it a figure of its "
                         f"own (ax=None), or one Axes of figsize({height:.1f}).")
    return ax


def _finish(ax, xlim, ylim):
    ax.set_xlim(*xlim)
    ax.set_ylim(*ylim)
    ax.set_aspect("equal")
    ax.axis("off")
    return ax


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
    ax.text(x, y, label, ha="center", va="center", fontsize=LABEL_PT, color=color)


def _op(ax, x, y, symbol, color, r=0.3, **kw):
    ax.add_patch(Circle((x, y), r, fc="white", ec=color, lw=1.6, zorder=3, **kw))
    ax.text(x, y, symbol, ha="center", va="center", fontsize=LABEL_PT, color=color, zorder=4, **kw)


def _one_sequence(trace, steps, unit, name, max_steps):
    if trace.batched:
        raise ValueError(f"{name} draws one sequence; got a batched trace (T, B, H)")
    if not 1 <= steps <= trace.T:
        raise ValueError(f"steps must be between 1 and T={trace.T}; got {steps}")
    if steps > max_steps:
        raise ValueError(f"{name} draws at most {max_steps} steps at the column's width; got {steps}")
    H = trace.c.shape[-1]
    if not 0 <= unit < H:
        raise ValueError(f"unit must be between 0 and H-1={H - 1}; got {unit}")


# --- the cell -------------------------------------------------------------------------------------

def draw_cell(ax=None, *, highlight=None, step=None, unit=None):
    """Draw the LSTM cell with the book's symbols, at the column's width.

    highlight: None, "forget", "input", "output" or "state" — that part in colour, the rest faded.
    step: an optional `Step` (one sequence, shapes (H,)); its values are shown in a table under the
    diagram: one column per symbol in the order they are computed, one row per hidden unit (only
    `unit` if given), at 10 pt. Returns the Axes (the table is `ax.tables[0]`).
    """
    if highlight is not None and highlight not in PARTS:
        raise ValueError(f"highlight must be None or one of {PARTS}; got {highlight!r}")
    if step is not None and np.ndim(step.h) != 1:
        raise ValueError(f"step must be one sequence, h of shape (H,); got h of shape {np.shape(step.h)}")
    units = None
    if step is not None:
        H = np.shape(step.h)[0]
        if unit is not None and not 0 <= unit < H:
            raise ValueError(f"unit must be between 0 and H-1={H - 1}; got {unit}")
        units = range(H) if unit is None else [unit]
    x0, x1, y1 = -1.6, 12.6, 7.8
    row = 0.72  # height of one table row, in the diagram's units (0.34 in at column width)
    y0 = -1.2 if units is None else -1.5 - row * (len(units) + 1)
    ax = _axes(ax, COLUMN_WIDTH, COLUMN_WIDTH * (y1 - y0) / (x1 - x0), "draw_cell")
    col = {p: _color(p, highlight) for p in PARTS}
    fill = {p: (COLORS[p] + "22" if p == highlight else "white") for p in PARTS}

    ax.add_patch(FancyBboxPatch((0, 0.2), 10, 6.2, boxstyle="round,pad=0.1", fc="#f7f7f7",
                                ec="#888888", lw=1.2))
    # the cell state runs along the top, through ⊗ (forget) and ⊕ (write)
    cs = col["state"] if highlight in (None, "state") else FAINT
    cs_text = STATE_TEXT if cs == COLORS["state"] else cs
    _arrow(ax, (-1.2, Y_C), (11.2, Y_C), cs, lw=2.6 if highlight == "state" else 2.0)
    ax.text(-1.25, Y_C + 0.3, r"$c_{t-1}$", ha="left", fontsize=LABEL_PT, color=cs_text)
    # [h_{t-1}, x_t] bus along the bottom, feeding every layer
    zc = INK if highlight in (None, "state") else "#555555"
    _arrow(ax, (-1.2, Y_Z), (6.8, Y_Z), zc, style="-")
    ax.text(-1.25, Y_Z + 0.25, r"$h_{t-1}$", ha="left", fontsize=LABEL_PT, color=zc)
    _arrow(ax, (0.6, -0.9), (0.6, Y_Z), zc)
    ax.text(0.75, -0.8, r"$x_t$", fontsize=LABEL_PT, color=zc)
    ax.text(1.0, Y_Z - 0.5, r"$[h_{t-1}, x_t]$", fontsize=VALUE_PT, color=zc)
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
    ax.text(11.25, Y_Z + 0.25, r"$h_t$", fontsize=LABEL_PT, color=col["output"])
    ax.text(9.75, 7.2, r"$h_t$", fontsize=LABEL_PT, color=col["output"])
    ax.text(11.25, Y_C + 0.3, r"$c_t$", fontsize=LABEL_PT, color=cs_text)

    def color_of(name):
        part = PART_OF[name]
        return cs_text if part == "state" else col[part]

    for name, (x, y, tex) in SYMBOLS.items():
        ax.text(x, y, tex, fontsize=LABEL_PT, color=color_of(name))
    if units is not None:
        _value_table(ax, step, units, color_of, (x0, x1, y0, y1), row)
    return _finish(ax, (x0, x1), (y0, y1))


def _value_table(ax, step, units, color_of, limits, row):
    """The values of `step`: a header of symbols, then one row per unit, under the diagram."""
    from matplotlib.table import Table

    x0, x1, y0, y1 = limits
    n_rows = len(units) + 1
    # the table's box in axes coordinates (the limits are fixed and the aspect equal)
    left, width = 0.0, 1.0
    height = n_rows * row / (y1 - y0)
    bottom = (y0 + 0.1 - y0) / (y1 - y0)
    table = Table(ax, bbox=(left, bottom, width, height))
    widths = [1.3] + [1.0] * len(ORDER)
    widths = [w / sum(widths) for w in widths]
    cells = [["unit"] + [SYMBOLS[name][2] for name in ORDER]]
    cells += [[f"{k}"] + [fmt(np.asarray(getattr(step, name))[k]) for name in ORDER] for k in units]
    for r, texts in enumerate(cells):
        for c, text in enumerate(texts):
            cell = table.add_cell(r, c, widths[c], 1.0 / n_rows, text=text, loc="center",
                                  edgecolor="#cccccc", facecolor="#f4f4f4" if r == 0 else "white")
            color = INK if c == 0 else color_of(ORDER[c - 1])
            cell.get_text().set_color("#777777" if color == FAINT else color)
    table.auto_set_font_size(False)
    table.set_fontsize(VALUE_PT)
    for (r, _), cell in table.get_celld().items():
        if r == 0:
            cell.get_text().set_fontsize(LABEL_PT - 1)
    ax.add_table(table)
    return table


# --- the cell over time ---------------------------------------------------------------------------

def draw_unrolled(trace, *, steps=3, unit=0, ax=None):
    """Draw one cell reused over the first `steps` (1 to 4) timesteps of a `Trace` (one sequence).

    Every box is the same cell (same W and b) and shows, for hidden unit `unit`, its gate values
    f, i, c̃ and o at that step. The inputs are numbered x_1..x_steps; the arrows between boxes
    carry c_t and h_t (trace.c[t - 1] and trace.h[t - 1]) with their values, from c_0 and h_0 (the
    trace's initial state) on. Returns the Axes.
    """
    _one_sequence(trace, steps, unit, "draw_unrolled", 4)
    W, H = COLUMN_WIDTH, 3.0
    ax = _axes(ax, W, H, "draw_unrolled")
    gap = 0.72 if steps < 4 else 0.6
    w = min(1.6, (W - (steps + 1) * gap) / steps)
    left = (W - steps * w - (steps + 1) * gap) / 2
    y_box, h_box, y_c, y_h = 0.55, 1.65, 1.95, 0.85
    c = np.concatenate([trace.c0[:, unit], trace.c[:steps, unit]])  # c_0..c_steps
    h = np.concatenate([trace.h0[:, unit], trace.h[:steps, unit]])
    rows = (("f", r"$f_{%d}$", "forget"), ("i", r"$i_{%d}$", "input"),
            ("c_tilde", r"$\tilde{c}_{%d}$", "input"), ("o", r"$o_{%d}$", "output"))

    def carried(x_from, x_to, t):  # the arrows into a box (or out of the last), c_t and h_t
        for y, name, v, color in ((y_c, "c", c[t], COLORS["state"]), (y_h, "h", h[t], COLORS["output"])):
            _arrow(ax, (x_from, y), (x_to, y), color, lw=2.0)
            xm = (x_from + x_to) / 2
            text = STATE_TEXT if name == "c" else color
            ax.text(xm, y + 0.06, f"${name}_{{{t}}}$", ha="center", va="bottom", fontsize=LABEL_PT - 1,
                    color=text)
            ax.text(xm, y - 0.06, fmt(v), ha="center", va="top", fontsize=VALUE_PT, color=INK)

    for t in range(1, steps + 1):
        x0 = left + gap + (t - 1) * (w + gap)
        carried(x0 - gap, x0, t - 1)
        ax.add_patch(FancyBboxPatch((x0, y_box), w, h_box, boxstyle="round,pad=0.02", fc="#f7f7f7",
                                    ec="#888888", lw=1.3))
        for k, (name, tex, part) in enumerate(rows):
            y = y_box + h_box - 0.3 - 0.36 * k
            value = getattr(trace, name)[t - 1, unit]
            ax.text(x0 + 0.1, y, tex % t, ha="left", va="center", fontsize=LABEL_PT - 1,
                    color=COLORS[part])
            ax.text(x0 + w - 0.1, y, fmt(value), ha="right", va="center", fontsize=VALUE_PT,
                    color=COLORS[part])
        xm = x0 + w / 2
        _arrow(ax, (xm, 0.12), (xm, y_box), INK)
        ax.text(xm + 0.08, 0.2, f"$x_{{{t}}}$", ha="left", va="center", fontsize=LABEL_PT - 1)
        _arrow(ax, (xm, y_box + h_box), (xm, y_box + h_box + 0.35), COLORS["output"])
        ax.text(xm + 0.08, y_box + h_box + 0.25, f"$h_{{{t}}}$", ha="left", va="center",
                fontsize=LABEL_PT - 1, color=COLORS["output"])
    x_end = left + steps * (w + gap)
    carried(x_end, x_end + gap - 0.05, steps)
    ax.text(W / 2, H - 0.02, f"the same cell (same $W$, $b$) at every step; values of unit {unit}",
            ha="center", va="top", fontsize=VALUE_PT, color=GREY)
    return _finish(ax, (0, W), (0, H))


# --- the gate -------------------------------------------------------------------------------------

def draw_gate(ax=None, *, v=None, t=None, rate_label="t"):
    r"""Draw the gate: the vector v passes through ⊗, where the sigmoid layer's output t (every
    entry between 0 and 1) scales it entry by entry into v' = v ⊗ t.

    v, t: optional 1-D vectors of the same length (1 to 5 entries); with them, each vector is drawn
    as a row of its values and v' is computed. rate_label: the TeX name of the rates (the
    walkthrough's "t"; a chapter that calls the score t writes r"\sigma(t)"). Returns the Axes.
    """
    if (v is None) != (t is None):
        raise ValueError("draw_gate needs both v and t, or neither; got only "
                         + ("v" if t is None else "t"))
    W, H = COLUMN_WIDTH, 2.9
    ax = _axes(ax, W, H, "draw_gate")
    xg, yv, yt, ys = 3.4, 2.15, 1.2, 0.35  # the ⊗, the v row, the t row, the σ layer
    if v is not None:
        v, t = np.asarray(v, dtype=float), np.asarray(t, dtype=float)
        if v.ndim != 1 or v.shape != t.shape or not 1 <= v.size <= 5:
            raise ValueError(f"v and t must be 1-D vectors of the same length, 1 to 5 entries; got "
                             f"shapes {v.shape} and {t.shape}")
        if np.any((t < 0) | (t > 1)) or not np.all(np.isfinite(v)):
            raise ValueError(f"t comes from a sigmoid (every entry in [0, 1]) and v must be finite; "
                             f"got t={t.tolist()}, v={v.tolist()}")
        d, cw = v.size, 0.5
        rows = {"v": (v, xg - 0.6 - d * cw, yv), "t": (t, xg - d * cw / 2, yt),
                "v'": (v * t, xg + 0.6, yv)}
        for vals, x0, y in rows.values():
            for k, val in enumerate(vals):
                ax.add_patch(plt.Rectangle((x0 + k * cw, y - 0.2), cw, 0.4, fc="white", ec=GREY, lw=1.0))
                ax.text(x0 + (k + 0.5) * cw, y, fmt(val, sign=False), ha="center", va="center",
                        fontsize=VALUE_PT)
        ends = {name: (x0, x0 + d * cw) for name, (_, x0, _) in rows.items()}
        ax.text(ends["v"][0] - 0.1, yv, "$v$", ha="right", va="center", fontsize=LABEL_PT)
        ax.text(ends["v'"][1] + 0.1, yv, "$v'$", ha="left", va="center", fontsize=LABEL_PT)
        ax.text(ends["t"][0] - 0.1, yt, f"${rate_label}$", ha="right", va="center", fontsize=LABEL_PT)
        _arrow(ax, (ends["v"][1], yv), (xg - 0.2, yv), INK)
        _arrow(ax, (xg + 0.2, yv), (ends["v'"][0], yv), INK)
        _arrow(ax, (xg, yt + 0.2), (xg, yv - 0.2), INK)
        _arrow(ax, (xg, ys + 0.22), (xg, yt - 0.2), INK)
        ax.text(ends["v'"][0], yv + 0.3, rf"$v' = v \otimes {rate_label}$", ha="left", va="bottom",
                fontsize=VALUE_PT + 1)
    else:
        ax.text(1.0, yv, "$v$", ha="right", va="center", fontsize=LABEL_PT + 2)
        _arrow(ax, (1.15, yv), (xg - 0.2, yv), INK)
        _arrow(ax, (xg + 0.2, yv), (5.6, yv), INK)
        ax.text(5.7, yv, rf"$v' = v \otimes {rate_label}$", ha="left", va="center", fontsize=LABEL_PT + 2)
        _arrow(ax, (xg, ys + 0.22), (xg, yv - 0.2), INK)
        ax.text(xg + 0.12, yt, f"${rate_label}$", ha="left", va="center", fontsize=LABEL_PT + 2)
        ax.text(xg + 0.45, yt, "every entry between 0 and 1", ha="left", va="center",
                fontsize=VALUE_PT, color=GREY)
    _op(ax, xg, yv, r"$\times$", INK, r=0.2)
    ax.add_patch(FancyBboxPatch((xg - 0.3, ys - 0.2), 0.6, 0.42, boxstyle="round,pad=0.02",
                                fc="white", ec=INK, lw=1.4))
    ax.text(xg, ys, r"$\sigma$", ha="center", va="center", fontsize=LABEL_PT)
    ax.text(xg + 0.45, ys, "sigmoid layer", ha="left", va="center", fontsize=VALUE_PT, color=GREY)
    return _finish(ax, (0, W), (0, H))


# --- the memory's path ----------------------------------------------------------------------------

def draw_memory_path(trace, *, steps=3, unit=0, ax=None, title=None):
    """Draw the memory of unit `unit` through `steps` (1 to 3) unrolled cells of a `Trace`.

    The memory line runs c_0 → ⊗ f_t → ⊕ i_t c̃_t → c_t through every box, drawn as strong as what
    it carries: after ⊗ it keeps f_t of the strength it came with, and after ⊕ it is as strong as
    that plus i_t (at most full), so a kept memory stays strong, an erased one fades, a new write
    is strong again. The values c_0..c_steps are written on the line between the boxes, f_t, i_t
    and c̃_t inside each box. Returns the Axes.
    """
    _one_sequence(trace, steps, unit, "draw_memory_path", 3)
    W, H = COLUMN_WIDTH, 2.35
    ax = _axes(ax, W, H, "draw_memory_path")
    gap = 0.62
    w = (W - (steps + 1) * gap) / steps if steps == 3 else 1.6
    left = (W - steps * w - (steps + 1) * gap) / 2
    y_box, h_box, y_c = 0.1, 1.55, 1.35
    c = np.concatenate([trace.c0[:, unit], trace.c[:steps, unit]])
    f, i, ct = (getattr(trace, n)[:steps, unit] for n in ("f", "i", "c_tilde"))

    def line(x_from, x_to, strength, arrow=False):
        _arrow(ax, (x_from, y_c), (x_to, y_c), COLORS["state"], **_strength(strength),
               style="-|>" if arrow else "-")

    def value_on_line(x, t, strength):
        ax.text(x, y_c + 0.1, f"$c_{{{t}}}$", ha="center", va="bottom", fontsize=LABEL_PT - 1,
                color=INK)
        ax.text(x, y_c - 0.1, fmt(c[t]), ha="center", va="top", fontsize=VALUE_PT, color=INK)

    s = 1.0  # the strength the line arrives with
    for t in range(1, steps + 1):
        x0 = left + gap + (t - 1) * (w + gap)
        ax.add_patch(FancyBboxPatch((x0, y_box), w, h_box, boxstyle="round,pad=0.02", fc="#f7f7f7",
                                    ec="#888888", lw=1.2, zorder=0))
        line(x0 - gap, x0 + 0.3, s)
        value_on_line(x0 - gap / 2, t - 1, s)
        xf, xp = x0 + 0.3, x0 + w - 0.32
        kept = float(np.clip(f[t - 1], 0, 1)) * s
        line(xf, xp, kept)
        s = min(1.0, kept + float(np.clip(i[t - 1], 0, 1)))
        line(xp, x0 + w, s)
        _op(ax, xf, y_c, r"$\times$", COLORS["forget"], r=0.17)
        _op(ax, xp, y_c, r"$+$", COLORS["input"], r=0.17)
        _arrow(ax, (xp, y_box + 0.08), (xp, y_c - 0.17), COLORS["input"],
               **_strength(float(np.clip(i[t - 1], 0, 1)), 3.0))
        for k, (tex, vals, part) in enumerate(
                ((r"$f_{%d}$", f, "forget"), (r"$i_{%d}$", i, "input"),
                 (r"$\tilde{c}_{%d}$", ct, "input"))):
            y = y_c - 0.42 - 0.32 * k
            ax.text(x0 + 0.08, y, tex % t + " =", ha="left", va="center", fontsize=LABEL_PT - 1,
                    color=COLORS[part])
            ax.text(xp - 0.14, y, fmt(vals[t - 1]), ha="right", va="center", fontsize=VALUE_PT,
                    color=COLORS[part])
    x_end = left + steps * (w + gap)
    line(x_end, x_end + gap - 0.05, s, arrow=True)
    value_on_line(x_end + gap / 2, steps, s)
    if title is not None:
        ax.text(0.02, H - 0.02, title, ha="left", va="top", fontsize=LABEL_PT - 1)
    # the key: what the line's strength means
    for k, (strength, label) in enumerate(((1.0, "memory carried"), (0.0, "erased"))):
        xk = W - 2.75 + 1.65 * k  # room for "memory carried" at 10 pt
        ax.add_line(mpl.lines.Line2D([xk, xk + 0.35], [H - 0.14] * 2, color=COLORS["state"],
                                     **_strength(strength)))
        ax.text(xk + 0.42, H - 0.14, label, ha="left", va="center", fontsize=VALUE_PT, color=GREY)
    return _finish(ax, (0, W), (0, H))


# --- the gradient's path --------------------------------------------------------------------------
# where each gradient of one backward step is written on the cell: (x, y, TeX, StepGrads field,
# part, ha); with `grads`, its value is written under the label, or under the line it sits on
GRADIENT_LABELS = (
    (10.45, Y_Z + 0.12, r"$dh_t$", "dh", "output", "center"),
    (9.9, Y_C + 0.12, r"$dc_{t+1} \otimes f_{t+1}$", "dc_next", "state", "left"),
    (6.35, Y_C + 0.12, r"$dc_t$", "dc", "state", "center"),
    (0.25, Y_C + 0.12, r"$dc_{t-1}$", "dc_prev", "state", "center"),
    (7.05, 3.5, r"$do_t$", "do", "output", "center"),
    (1.85, 4.2, r"$df_t$", "df", "forget", "right"),
    (3.45, 3.6, r"$di_t$", "di", "input", "right"),
    (5.3, 3.6, r"$d\tilde{c}_t$", "dc_tilde", "input", "left"),
    (2.2, 1.55, r"$da^f_t$", "da_f", "forget", "left"),
    (3.9, 1.55, r"$da^i_t$", "da_i", "input", "left"),
    (5.3, 1.55, r"$da^c_t$", "da_c", "input", "left"),
    (7.0, 1.55, r"$da^o_t$", "da_o", "output", "left"),
    (-0.45, Y_Z + 0.12, r"$dh_{t-1}$", "dh_prev", "sum", "center"),
)
LINES_Y = (Y_C, Y_Z)  # labels just above these lines have their values just under them
GRADIENT_KEY = (("output", "through $o_t$"), ("state", "along $c_t$"), ("forget", "through $f_t$"),
                ("input", r"through $i_t$, $\tilde{c}_t$"), ("sum", "on $[h_{t-1}, x_t]$"))


def _gradient_color(part, text=False):
    if part == "sum":
        return INK
    return STATE_TEXT if (part == "state" and text) else COLORS[part]


def draw_gradient_path(ax=None, *, grads=None, unit=0, scale=1, title=None):
    """Draw the cell (faint) with the paths of one backward step on it, drawn backwards: dh_t comes
    in from the right, dc_t runs left along the cell-state line through ⊗ f_t to dc_{t-1}, down
    through every gate into its pre-activation, and out along [h_{t-1}, x_t] to dh_{t-1} and dx_t.

    grads: an optional `lstmlib.cell.StepGrads` of one sequence (shapes (H,)); with it, the value of
    unit `unit` is written under each gradient's name, times `scale` (a power of ten: 1000 shows
    gradients of a few thousandths; the title says so). Colours: one per path, with a key.
    title: a line above the diagram (default, with grads: "values of unit k"). Returns the Axes.
    """
    power = np.log10(scale) if isinstance(scale, int | float) and scale > 0 else 0.5
    if power != round(power):
        raise ValueError(f"scale must be a power of ten (1, 10, 1000, 0.1, ...); got {scale!r}")
    if grads is not None:
        if np.ndim(grads.dh) != 1:
            raise ValueError(f"grads must be one sequence, dh of shape (H,); got dh of shape "
                             f"{np.shape(grads.dh)}")
        H = np.shape(grads.dh)[0]
        if not 0 <= unit < H:
            raise ValueError(f"unit must be between 0 and H-1={H - 1}; got {unit}")
    x0, x1, y0, y1 = -1.6, 12.6, -1.95, 7.8
    ax = _axes(ax, COLUMN_WIDTH, COLUMN_WIDTH * (y1 - y0) / (x1 - x0), "draw_gradient_path")
    _faint_cell(ax)
    col = {p: _gradient_color(p) for p in (*PARTS, "sum")}

    def back(xy_from, xy_to, part, lw=2.0, style="-|>"):
        _arrow(ax, xy_from, xy_to, col[part], lw=lw, style=style, zorder=2)

    # dh_t arrives from the loss at t (above) and from step t+1 (right), goes down into ⊗
    back((11.2, Y_Z), (8.3, Y_Z), "output")
    back((9.6, 7.4), (9.6, Y_Z + 0.05), "output", style="-")
    back((8.3, Y_Z), (8.3, Y_GATE - 0.3), "output")
    back((8.0, Y_GATE), (6.8 + 0.48, Y_GATE), "output")                 # do_t
    back((8.3, Y_GATE + 0.3), (8.3, Y_C - 0.05), "output")              # through tanh to c_t
    # dc_t along the cell-state line, through ⊗ f_t, out to c_{t-1}
    back((11.2, Y_C), (4.4 + 0.3, Y_C), "state", lw=3.0)
    back((4.4 - 0.3, Y_C), (2.0 + 0.3, Y_C), "state", lw=3.0)
    back((2.0 - 0.3, Y_C), (-1.2, Y_C), "state", lw=3.0)
    back((4.4, Y_C - 0.3), (4.4, 4.2), "input")                          # into I_t = i_t ⊗ c̃_t
    back((4.2, 3.7), (3.7, Y_GATE + 0.32), "input")                      # di_t
    back((4.6, 3.7), (5.1, Y_GATE + 0.32), "input")                      # dc̃_t
    back((2.0, Y_C - 0.3), (2.0, Y_GATE + 0.32), "forget")               # df_t
    for x, _, part in LAYERS.values():                                   # into the pre-activations
        back((x, Y_GATE - 0.32), (x, Y_Z + 0.05), part)
    back((6.8, Y_Z), (-1.2, Y_Z), "sum")                                 # dh_{t-1}
    back((0.6, Y_Z), (0.6, -0.75), "sum")                                # dx_t
    ax.text(0.75, -0.6, r"$dx_t$", ha="left", va="center", fontsize=LABEL_PT, color=INK)
    for x, y, tex, name, part, ha in GRADIENT_LABELS:
        color = _gradient_color(part, text=True)
        ax.text(x, y, tex, ha=ha, va="bottom", fontsize=LABEL_PT, color=color)
        if grads is not None:
            on_line = [yl for yl in LINES_Y if 0 < y - yl < 0.2]
            yv = on_line[0] - 0.12 if on_line else y - 0.06
            # on white, so that no line of the diagram crosses a digit or a minus sign
            ax.text(x, yv, fmt(scale * np.asarray(getattr(grads, name))[unit]), ha=ha, va="top",
                    fontsize=VALUE_PT, color=color, zorder=5,
                    bbox=dict(facecolor="white", edgecolor="none", pad=1))
    _finish(ax, (x0, x1), (y0, y1))
    # the key, one entry after the other as wide as its text
    renderer, xk = ax.figure.canvas.get_renderer(), x0 + 0.2
    for part, text in GRADIENT_KEY:
        ax.add_line(mpl.lines.Line2D([xk, xk + 0.5], [-1.6] * 2, color=col[part], lw=2.5))
        label = ax.text(xk + 0.6, -1.6, text, ha="left", va="center", fontsize=VALUE_PT, color=GREY)
        right = ax.transData.inverted().transform(label.get_window_extent(renderer))[1, 0]
        xk = right + 0.35
    top = title if title is not None else (None if grads is None else f"values of unit {unit}")
    if top and scale != 1:
        top += rf", $\times\,10^{{{round(power)}}}$"
    if top:
        # dark and as large as a label: with a scale, every value depends on it
        ax.text(x0 + 0.05, y1 - 0.05, top, ha="left", va="top", fontsize=LABEL_PT - 1, color=INK)
    return ax


def _faint_cell(ax):
    """The cell of `draw_cell` in grey: its box, lines, layers and operations, no labels."""
    ax.add_patch(FancyBboxPatch((0, 0.2), 10, 6.2, boxstyle="round,pad=0.1", fc="#f7f7f7",
                                ec="#888888", lw=1.2))
    for (xa, ya), (xb, yb) in (((-1.2, Y_C), (11.2, Y_C)), ((-1.2, Y_Z), (6.8, Y_Z)),
                               ((8.3, Y_Z), (11.2, Y_Z)), ((9.6, Y_Z), (9.6, 7.4)),
                               ((8.3, Y_C), (8.3, Y_Z))):
        ax.add_line(mpl.lines.Line2D([xa, xb], [ya, yb], color=FAINT, lw=1.2, zorder=1))
    for x, label, _ in LAYERS.values():
        _layer(ax, x, Y_GATE, label, FAINT, "white")
    for x, y, symbol, _ in OPS.values():
        _op(ax, x, y, symbol, GREY)
    ax.add_patch(FancyBboxPatch((7.8, 3.45), 1.0, 0.55, boxstyle="round,pad=0.02", fc="white",
                                ec=FAINT, lw=1.6, zorder=3))
    ax.text(8.3, 3.72, r"$\tanh$", ha="center", va="center", fontsize=11, color=GREY, zorder=4)


def _strength(s, widest=4.0):
    """Line width, opacity and dash of a path that carries `s` (0: erased, 1: all of it)."""
    return {"lw": 1.2 + (widest - 1.2) * s, "alpha": 0.45 + 0.55 * s,
            "linestyle": (0, (2, 2)) if s < 0.05 else "-"}


# --- long-term knowledge and working memory -------------------------------------------------------

def draw_long_short(ax=None):
    """Draw what an LSTM keeps and for how long, in the book's analogy: the weights W and biases b
    are the long-term knowledge (the method learned in class), the same in every step; the cell
    state c_t is the working memory (the running figure); h_t is what is shown (written on the
    paper). Returns the Axes.
    """
    W, H = COLUMN_WIDTH, 3.3
    ax = _axes(ax, W, H, "draw_long_short")
    gap, w, steps = 0.38, 0.75, 3
    y_box, h_box, y_c, y_h, y_x = 0.75, 1.35, 1.85, 2.95, 0.3
    for t in range(1, steps + 1):
        x0 = gap + (t - 1) * (w + gap)
        xm = x0 + w / 2
        ax.add_patch(FancyBboxPatch((x0, y_box), w, h_box, boxstyle="round,pad=0.02", fc="#f7f7f7",
                                    ec=INK, lw=1.4))
        ax.text(xm, y_box + 0.4, "$W$, $b$", ha="center", va="center", fontsize=LABEL_PT - 1)
        ax.text(x0 - gap / 2, y_c + 0.08, f"$c_{{{t - 1}}}$", ha="center", va="bottom",
                fontsize=VALUE_PT, color=STATE_TEXT)
        _arrow(ax, (x0 - gap, y_box + 0.4), (x0, y_box + 0.4), COLORS["output"], lw=1.6)
        _arrow(ax, (xm, y_x + 0.15), (xm, y_box), INK)
        ax.text(xm + 0.08, y_x + 0.05, f"$x_{{{t}}}$", ha="left", va="center", fontsize=LABEL_PT - 1)
        _arrow(ax, (xm, y_box + h_box), (xm, y_h - 0.2), COLORS["output"])
        ax.text(xm, y_h - 0.12, f"$h_{{{t}}}$", ha="center", va="bottom", fontsize=LABEL_PT - 1,
                color=COLORS["output"])
    x_end = gap + steps * (w + gap)
    # the working memory runs through every step
    _arrow(ax, (0, y_c), (x_end - 0.05, y_c), COLORS["state"], lw=2.6, zorder=3)
    ax.text(x_end - gap / 2, y_c + 0.08, f"$c_{{{steps}}}$", ha="center", va="bottom",
            fontsize=VALUE_PT, color=STATE_TEXT)
    xt = x_end + 0.15
    notes = (
        (y_h, COLORS["output"], r"$h_t$: what is shown", "the answer written on the paper"),
        (y_c, STATE_TEXT, r"$c_t$: working memory", "the running figure, kept, changed\n"
                                                      "or wiped at every step"),
        (y_box + 0.4, INK, r"$W$, $b$: long-term knowledge", "the method learned in class,\n"
                                                              "the same at every step"),
        (y_x + 0.05, INK, r"$x_t$: the question", "read one piece at a time"),
    )
    for y, color, head, text in notes:
        ax.text(xt, y + 0.02, head, ha="left", va="bottom", fontsize=LABEL_PT - 1, color=color)
        ax.text(xt, y - 0.02, text, ha="left", va="top", fontsize=VALUE_PT, color=GREY,
                linespacing=1.15)
    return _finish(ax, (0, W), (0, H))


# --- the LSTM's family ----------------------------------------------------------------------------
# Each variant of the cell is drawn as the cell of `draw_cell` with its change marked: what it
# removes is faded and struck through (and its symbols are gone), what it adds or changes is drawn
# in its gate's colour, and the equation that changes is written under the cell.
RESET_COLOR = "#7b5ea7"  # the GRU's reset gate r_t: a gate the LSTM does not have
_FAMILY_LIMITS = ((-1.6, 12.6), (-2.7, 7.8))  # draw_cell's, with room below for the equation
VARIANT_CHANGES = {  # name: (removed parts, symbols no longer on the cell, equation under it)
    "vanilla": ((), (), r"$c_t = f_t \otimes c_{t-1} + i_t \otimes \tilde{c}_t$,"
                        r"   $h_t = o_t \otimes \tanh(c_t)$"),
    "peepholes": ((), (), r"$f_t = \sigma(W_f \cdot [h_{t-1}, x_t] + p_f \otimes c_{t-1} + b_f)$,"
                          r" $i_t$ alike with $p_i$" "\n"
                          r"$o_t = \sigma(W_o \cdot [h_{t-1}, x_t] + p_o \otimes c_t + b_o)$"),
    "coupled": (("i",), (r"$i_t$",), r"$c_t = f_t \otimes c_{t-1} + (1 - f_t) \otimes \tilde{c}_t$"),
    "no forget gate": (("f", "F"), (r"$f_t$", r"$F_t$"), r"$c_t = c_{t-1} + i_t \otimes \tilde{c}_t$"),
    "no input gate": (("i", "I"), (r"$i_t$", r"$I_t$"), r"$c_t = f_t \otimes c_{t-1} + \tilde{c}_t$"),
    "no output gate": (("o", "h"), (r"$o_t$",), r"$h_t = \tanh(c_t)$"),
    "no input activation": (("c_tilde",), (),
                            r"$\tilde{c}_t = W_c \cdot [h_{t-1}, x_t] + b_c$   (no $\tanh$)"),
    "no output activation": (("tanh_c",), (r"$c'_t$",), r"$h_t = o_t \otimes c_t$   (no $\tanh$)"),
}
_PART_XY = {  # where each removable piece of draw_cell sits: a layer, an op or the tanh box
    "f": (2.0, Y_GATE), "i": (3.7, Y_GATE), "c_tilde": (5.1, Y_GATE), "o": (6.8, Y_GATE),
    "F": OPS["F"][:2], "I": OPS["I"][:2], "h": OPS["h"][:2], "tanh_c": (8.3, 3.72),
}
_PART_WIRES = {  # the wires that only serve a removed piece: (from, to) as draw_cell draws them
    "f": [((2.0, Y_Z), (2.0, Y_GATE - 0.32)), ((2.0, Y_GATE + 0.32), (2.0, Y_C - 0.3))],
    "i": [((3.7, Y_Z), (3.7, Y_GATE - 0.32)), ((3.7, Y_GATE + 0.32), (4.2, 3.7))],
    "c_tilde": [], "F": [], "I": [], "h": [], "tanh_c": [],
    "o": [((6.8, Y_Z), (6.8, Y_GATE - 0.32)), ((6.8 + 0.48, Y_GATE), (8.0, Y_GATE))],
}
_STRIKE = "#555555"


def _fade_piece(ax, part):
    """Fade the layer, op or box of `part` drawn by draw_cell, its wires, and strike it through."""
    x, y = _PART_XY[part]
    for p in ax.patches:
        if isinstance(p, FancyArrowPatch):
            if any(np.allclose(p._posA_posB, w) for w in _PART_WIRES[part]):
                p.set_color(FAINT)
            continue
        if isinstance(p, Circle):
            here = p.center
        else:
            here = (p.get_x() + p.get_width() / 2, p.get_y() + p.get_height() / 2)
        if np.allclose(here, (x, y), atol=0.05):
            p.set_edgecolor(FAINT)
            p.set_facecolor("white")
    for t in ax.texts:
        if np.allclose(t.get_position(), (x, y), atol=0.05):
            t.set_color(FAINT)
    ax.plot([x - 0.55, x + 0.55], [y - 0.45, y + 0.45], color=_STRIKE, lw=2.2, zorder=6)
    ax.plot([x - 0.55, x + 0.55], [y + 0.45, y - 0.45], color=_STRIKE, lw=2.2, zorder=6)


def _peepholes(ax):
    """The peephole wires: c_{t-1} into the σ layers of f and i, c_t into that of o."""
    wires = (((0.9, Y_C), (0.9, 3.05), (1.55, 2.55), "forget", r"$p_f$", (0.45, 3.6)),
             ((0.9, 4.6), (3.3, 4.6), (3.45, 2.62), "input", r"$p_i$", (2.55, 4.75)),
             ((7.6, Y_C), (7.6, 3.1), (7.05, 2.62), "output", r"$p_o$", (7.7, 4.3)))
    for a, b, end, part, label, at in wires:
        ax.plot(*zip(a, b, strict=True), color=COLORS[part], lw=1.6, ls=(0, (4, 2)), zorder=2)
        _arrow(ax, b, end, COLORS[part], ls=(0, (4, 2)))
        ax.text(*at, label, fontsize=LABEL_PT, color=COLORS[part])


def _coupling(ax):
    """The coupled gates: 1 − f_t, taken from the forget gate's output, in the input gate's place."""
    _op(ax, 3.1, 3.55, r"$1{-}$", COLORS["input"], r=0.34)
    _arrow(ax, (2.0, 3.55), (2.76, 3.55), COLORS["input"])
    _arrow(ax, (3.44, 3.62), (4.12, 3.78), COLORS["input"])
    ax.text(2.45, 4.15, r"$1 - f_t$", fontsize=LABEL_PT, color=COLORS["input"])


def _family_key(ax, removed, added):
    """The key under the equation: what struck-through and coloured pieces mean (`added`: the
    colours of the added pieces)."""
    y, x = -2.35, -1.2
    if removed:
        ax.plot([x, x + 0.5], [y - 0.2, y + 0.2], color=_STRIKE, lw=2.2)
        ax.plot([x, x + 0.5], [y + 0.2, y - 0.2], color=_STRIKE, lw=2.2)
        ax.text(x + 0.7, y, "removed (faded, struck through)", va="center", fontsize=VALUE_PT,
                color=GREY)
        x += 6.6
    if added:
        for k, color in enumerate(added):
            ax.add_line(mpl.lines.Line2D([x + 0.3 * k, x + 0.3 * k + 0.22], [y, y], color=color,
                                         lw=2.2))
        x += 0.3 * len(added) + 0.1
        ax.text(x, y, "added, in its gate's colour", va="center", fontsize=VALUE_PT,
                color=GREY)


def draw_variant(name, ax=None):
    """Draw one member of the LSTM's family: the cell of `draw_cell` with the variant's change.

    name: a key of VARIANT_CHANGES ("vanilla", "peepholes", "coupled", "no forget gate", "no input
    gate", "no output gate", "no input activation", "no output activation") or "GRU" (drawn by
    `draw_gru`). A removed gate is faded and struck through and its symbols are left off; added
    wires (peepholes, 1 − f_t) are drawn in their gate's colour; the equation that changes is
    written under the cell, with a key. Returns the Axes.
    """
    if name == "GRU":
        return draw_gru(ax)
    if name not in VARIANT_CHANGES:
        raise ValueError(f"name must be one of {[*VARIANT_CHANGES, 'GRU']}; got {name!r}")
    (x0, x1), (y0, y1) = _FAMILY_LIMITS
    ax = _axes(ax, COLUMN_WIDTH, COLUMN_WIDTH * (y1 - y0) / (x1 - x0), "draw_variant")
    draw_cell(ax)
    removed, gone, equation = VARIANT_CHANGES[name]
    for t in [t for t in ax.texts if t.get_text() in gone]:
        t.remove()
    for part in removed:
        _fade_piece(ax, part)
    added = ()
    if name == "peepholes":
        _peepholes(ax)
        added = (COLORS["forget"], COLORS["input"], COLORS["output"])
    elif name == "coupled":
        _coupling(ax)
        added = (COLORS["input"],)
    ax.text(5.0, -1.45, equation, ha="center", va="center", fontsize=LABEL_PT - 1, color=INK)
    ax.text(-1.5, y1 - 0.1, name, ha="left", va="top", fontsize=LABEL_PT, color=INK,
            fontweight="bold")
    _family_key(ax, bool(removed), added)
    return _finish(ax, (x0, x1), (y0, y1))


def draw_gru(ax=None):
    """Draw the GRU cell (torch.nn.GRU's form) in the style of `draw_cell`.

    The memory line along the top is h itself: z_t keeps z_t ⊗ h_{t-1} of it (the forget gate's
    part, in its colour) and 1 − z_t writes (1 − z_t) ⊗ n_t (the input gate's part); r_t, a
    reset gate the LSTM lacks, scales the recurrent part of n_t. Returns the Axes.
    """
    (x0, x1), (y0, y1) = _FAMILY_LIMITS
    ax = _axes(ax, COLUMN_WIDTH, COLUMN_WIDTH * (y1 - y0) / (x1 - x0), "draw_gru")
    fc, ic = COLORS["forget"], COLORS["input"]
    ax.add_patch(FancyBboxPatch((0, 0.2), 10, 6.2, boxstyle="round,pad=0.1", fc="#f7f7f7",
                                ec="#888888", lw=1.2))
    # the memory line: h_{t-1} → ⊗ z_t → ⊕ (1 − z_t) n_t → h_t
    _arrow(ax, (-1.2, Y_C), (11.2, Y_C), INK, lw=2.0)
    ax.text(-1.25, Y_C + 0.3, r"$h_{t-1}$", ha="left", fontsize=LABEL_PT)
    ax.text(11.25, Y_C + 0.3, r"$h_t$", fontsize=LABEL_PT)
    # the bus [h_{t-1}, x_t]: h_{t-1} comes down from the memory line
    _arrow(ax, (-0.6, Y_C), (-0.6, Y_Z), INK, style="-")
    _arrow(ax, (-0.6, Y_Z), (6.2, Y_Z), INK, style="-")
    _arrow(ax, (0.6, -0.9), (0.6, Y_Z), INK)
    ax.text(0.75, -0.8, r"$x_t$", fontsize=LABEL_PT)
    ax.text(1.0, Y_Z - 0.5, r"$[h_{t-1}, x_t]$", fontsize=VALUE_PT)
    layers = ((2.0, r"$\sigma$", RESET_COLOR), (3.7, r"$\sigma$", fc), (6.2, r"$\tanh$", ic))
    for x, label, color in layers:
        _arrow(ax, (x, Y_Z), (x, Y_GATE - 0.32), color)
        _layer(ax, x, Y_GATE, label, color, "white")
    # r_t scales the recurrent part of n_t, inside the layer
    _arrow(ax, (2.0, Y_GATE + 0.32), (2.0, 3.2), RESET_COLOR, style="-")
    _arrow(ax, (2.0, 3.2), (5.0, 3.2), RESET_COLOR, style="-")
    _arrow(ax, (5.0, 3.2), (5.0, Y_GATE + 0.3), RESET_COLOR)
    _arrow(ax, (5.0, Y_Z), (5.0, Y_GATE - 0.3), INK)  # W_n^h h_{t-1} + b_hn, scaled by r_t
    _op(ax, 5.0, Y_GATE, r"$\times$", RESET_COLOR)
    _arrow(ax, (5.3, Y_GATE), (6.2 - 0.48, Y_GATE), RESET_COLOR)
    ax.text(1.45, 3.45, r"$r_t$", fontsize=LABEL_PT, color=RESET_COLOR)
    # z_t keeps the old memory, 1 − z_t writes the candidate n_t
    _arrow(ax, (3.7, Y_GATE + 0.32), (3.7, Y_C - 0.3), fc)
    _op(ax, 3.7, Y_C, r"$\times$", fc)
    ax.text(3.1, 4.1, r"$z_t$", fontsize=LABEL_PT, color=fc)
    _arrow(ax, (3.7, 3.9), (4.75, 3.9), ic)
    _op(ax, 5.05, 3.9, r"$1{-}$", ic)
    _arrow(ax, (5.35, 3.9), (5.9, 3.9), ic)
    _op(ax, 6.2, 3.9, r"$\times$", ic)
    _arrow(ax, (6.2, Y_GATE + 0.32), (6.2, 3.6), ic)
    _arrow(ax, (6.2, 4.2), (6.2, Y_C - 0.3), ic)
    _op(ax, 6.2, Y_C, r"$+$", ic)
    ax.text(6.55, Y_GATE + 0.45, r"$n_t$", fontsize=LABEL_PT, color=ic)
    ax.text(4.3, 4.35, r"$1 - z_t$", fontsize=LABEL_PT, color=ic)
    # the output is the memory itself
    _arrow(ax, (9.6, Y_C), (9.6, 7.4), INK)
    ax.text(9.75, 7.2, r"$h_t$", fontsize=LABEL_PT)
    ax.text(5.0, -1.45, r"$h_t = z_t \otimes h_{t-1} + (1 - z_t) \otimes n_t$,   "
            r"$n_t = \tanh(W_n^x x_t + b_n + r_t \otimes (W_n^h h_{t-1} + b_{hn}))$",
            ha="center", va="center", fontsize=LABEL_PT - 2, color=INK)
    ax.text(-1.5, y1 - 0.1, "GRU", ha="left", va="top", fontsize=LABEL_PT, color=INK,
            fontweight="bold")
    key = ((fc, r"$z_t$: keeps (as $f_t$)"), (ic, r"$1 - z_t$: writes (as $i_t$)"),
           (RESET_COLOR, r"$r_t$: resets, inside $n_t$"))
    for k, (color, text) in enumerate(key):
        x = -1.2 + 4.6 * k
        ax.add_line(mpl.lines.Line2D([x, x + 0.5], [-2.35, -2.35], color=color, lw=2.2))
        ax.text(x + 0.7, -2.35, text, va="center", fontsize=VALUE_PT, color=GREY)
    return _finish(ax, (x0, x1), (y0, y1))
