"""Slider controls that work in Jupyter and in the static HTML book alike.

Every frame is drawn by Python when the notebook runs; the slider and the frames are linked in
the browser (`jslink`), so moving the slider needs no kernel. A chapter calls one function:

    frame_slider(draw, values, label="t", caption="...")          # one slider
    frame_slider2(draw, values_a, values_b, labels=("f", "i"), caption="...")  # two sliders

`draw(value)` (or `draw(a, b)`) updates one matplotlib figure in place and returns
`png_bytes(fig)`: one figure per control, never one per frame.
"""

import base64
import html
import io

import ipywidgets as widgets
import numpy as np
from PIL import Image as PILImage

from lstmlib.viz import DPI, _check_drawn, tag_png

_UNCHECKED = object()
FRAME_COLORS = 96  # palette size of a frame: plots use few colours, and pages stay light


def png_bytes(fig, *, dpi=DPI, colors=FRAME_COLORS):
    """The figure as compact, reproducible PNG bytes (palette PNG, no timestamp metadata).

    The figure is checked first (`lstmlib.viz.check_figure`: a FigureStyleError names any text under
    10 pt, or a figure wider than the column). The PNG records its DPI (pHYs) and its smallest
    font size (a tEXt chunk read by `lstmlib.viz.png_info`), so a browser test can tell how many
    CSS pixels one point of it gets on the page.
    """
    buf = io.BytesIO()
    fig._lstm_min_font = _UNCHECKED
    fig.savefig(buf, format="png", dpi=dpi, metadata={"Software": None})
    # checked after the draw, so tick labels have their text; a figure made under use_style() was
    # already checked by its draw hook during savefig
    min_pt = fig._lstm_min_font
    if min_pt is _UNCHECKED:
        min_pt = _check_drawn(fig)
    buf.seek(0)
    # a fast octree palette and no extra zlib passes: a frame costs little more than its render
    img = PILImage.open(buf).convert("RGB").quantize(colors=colors, method=PILImage.Quantize.FASTOCTREE,
                                                     dither=PILImage.Dither.NONE)
    out = io.BytesIO()
    img.save(out, format="png", dpi=(dpi, dpi))
    return tag_png(out.getvalue(), min_pt)


class FrameSlider(widgets.VBox):
    """A control built by `frame_slider`/`frame_slider2`: a VBox that also keeps its `draw`
    function and slider `values`, so benchmarks and tests can redraw any frame."""

    def __init__(self, children, *, draw, values):
        super().__init__(children)
        self.draw = draw      # value(s) -> PNG bytes
        self.values = values  # list of values, or (values_a, values_b) for two sliders

    def __repr__(self):
        # The text/plain output: what a notebook shows before its cells run (or where the widget
        # front end is missing), and what nbval compares. Stable: no model ids, no frame bytes.
        sliders = [c for c in self.children if isinstance(c, widgets.SelectionSlider)]
        shape = " x ".join(str(len(s.options)) for s in sliders)
        names = ", ".join(s.description for s in sliders)
        return (f"FrameSlider({names}: {shape} frames): the slider{'s' if len(sliders) > 1 else ''} "
                f"and figure appear here once the notebook's cells have run.\n"
                f"If this text stays after running them, reload the page: the widget front end "
                f"was installed after the page was opened.")


def _labels(values, fmt):
    labels = [fmt.format(v) for v in values]
    if len(set(labels)) != len(labels):
        raise ValueError(f"slider labels must be distinct; format {fmt!r} gives {labels}")
    return labels


def _index(values, default, name):
    """The index a slider opens on: that of `default`, or with no default the middle value,
    index len(values) // 2 (for an even number of values, the upper of the two middle ones)."""
    values = list(values)
    if len(values) < 2:
        raise ValueError(f"{name} needs at least two values; got {len(values)}")
    if default is None:
        return len(values) // 2
    if not all(isinstance(v, int | float | np.number) for v in values):  # e.g. names: by equality
        if default not in values:
            raise ValueError(f"default {default!r} for {name} is not one of its values {values}")
        return values.index(default)
    k = int(np.argmin([abs(v - default) for v in values]))
    if not np.isclose(values[k], default):
        raise ValueError(f"default {default!r} for {name} is not one of its values {values}")
    return k


def _slider(values, default, label, fmt):
    k = _index(values, default, label)
    return widgets.SelectionSlider(
        options=list(zip(_labels(values, fmt), range(len(values)), strict=True)),
        value=k, description=label, continuous_update=True,
        layout=widgets.Layout(width="420px"), style={"description_width": "initial"},
    )


def _image(png, alt):
    """One frame: an <img> with real alt text (and the same title for readers who hover).

    Not `widgets.Image(tooltip=...)`: @jupyter-widgets/html-manager fails to render an Image that
    has a tooltip (its view reads a `description` that Image lacks), and Image has no alt text.
    """
    src = base64.b64encode(png).decode("ascii")
    alt = html.escape(alt)
    return widgets.HTML(f'<img class="lstm-frame" src="data:image/png;base64,{src}" alt="{alt}" '
                        f'title="{alt}" style="max-width: 100%; height: auto">')


def _caption(caption):
    return widgets.HTML(f'<p class="lstm-caption">{html.escape(caption)}</p>')


def frame_slider(draw, values, *, label, caption, default=None, fmt="{:.2f}", alt=None):
    """One slider over `values`, showing the precomputed frame `draw(value)` for each.

    The control opens on `default` (which must be one of `values`); with no default, on the middle
    value, index len(values) // 2: of 5 values the 3rd, of 4 values the 3rd (the upper middle one).
    The slider's index is linked in the browser (`jslink`) to the Stack of frames, frame k for
    values[k].

    alt(value) -> str describes one frame (default: the caption and the slider's value).
    Returns a FrameSlider (a VBox: slider, frames, caption) that works with or without a kernel.
    """
    values = list(values)
    slider = _slider(values, default, label, fmt)
    alt = alt or (lambda v: f"{caption} ({label} = {fmt.format(v)})")
    frames = widgets.Stack([_image(draw(v), alt(v)) for v in values], selected_index=slider.value)
    widgets.jslink((slider, "index"), (frames, "selected_index"))
    return FrameSlider([slider, frames, _caption(caption)], draw=draw, values=values)


def frame_slider2(draw, values_a, values_b, *, labels, caption, defaults=(None, None),
                  fmts=("{:.2f}", "{:.2f}"), alt=None):
    """Two sliders: frames `draw(a, b)` for every pair, nested Stacks switched in the browser.

    The first slider picks a row of frames (the outer Stack follows slider a), the second a frame
    within every row (every row's Stack follows slider b): frame [j][k] is draw(values_a[j],
    values_b[k]). Each slider opens on its default, or with none on its middle value, index
    len(values) // 2 (the upper middle one for an even number of values), as in `frame_slider`.
    """
    values_a, values_b = list(values_a), list(values_b)
    sa = _slider(values_a, defaults[0], labels[0], fmts[0])
    sb = _slider(values_b, defaults[1], labels[1], fmts[1])
    alt = alt or (lambda a, b: f"{caption} ({labels[0]} = {fmts[0].format(a)}, "
                               f"{labels[1]} = {fmts[1].format(b)})")
    rows = []
    for a in values_a:
        row = widgets.Stack([_image(draw(a, b), alt(a, b)) for b in values_b],
                            selected_index=sb.value)
        widgets.jslink((sb, "index"), (row, "selected_index"))
        rows.append(row)
    outer = widgets.Stack(rows, selected_index=sa.value)
    widgets.jslink((sa, "index"), (outer, "selected_index"))
    return FrameSlider([sa, sb, outer, _caption(caption)], draw=draw, values=(values_a, values_b))
