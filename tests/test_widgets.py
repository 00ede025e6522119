"""lstmlib.widgets, and the static figure the book writes before each control."""

import base64
import importlib.util
import json
import re
from pathlib import Path

import ipywidgets as widgets
import matplotlib
import pytest

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402

from lstmlib.widgets import FrameSlider, frame_slider, frame_slider2, png_bytes  # noqa: E402

ROOT = Path(__file__).resolve().parents[1]
spec = importlib.util.spec_from_file_location("offline_widgets", ROOT / "_ext" / "offline_widgets.py")
offline_widgets = importlib.util.module_from_spec(spec)
spec.loader.exec_module(offline_widgets)
ALT = re.compile(r'alt="([^"]*)"')


@pytest.fixture
def draw():
    fig, ax = plt.subplots(figsize=(2, 1.5))
    (line,) = ax.plot([0, 1], [0, 0])

    def draw(a, b=0.0):
        line.set_ydata([a, b])
        return png_bytes(fig)

    yield draw
    plt.close(fig)


def frames(widget):
    if isinstance(widget, widgets.HTML) and "lstm-frame" in widget.value:
        return [widget]
    return [f for child in getattr(widget, "children", ()) for f in frames(child)]


def test_png_bytes_is_a_reproducible_palette_png(draw):
    png = draw(0.3)
    assert png[:8] == b"\x89PNG\r\n\x1a\n"
    assert draw(0.3) == png and draw(0.7) != png
    assert b"tIME" not in png  # no timestamp: re-executing a notebook gives the same bytes


def test_frame_slider_keeps_draw_values_and_alt_text(draw):
    control = frame_slider(draw, [0.0, 0.5, 1.0], label="a", caption="A <line>")
    assert isinstance(control, FrameSlider) and control.values == [0.0, 0.5, 1.0]
    assert repr(control) == "FrameSlider(a: 3 frames)"
    fs = frames(control)
    assert len(fs) == 3 and len({f.value for f in fs}) == 3
    assert [ALT.search(f.value).group(1) for f in fs] == [
        f"A &lt;line&gt; (a = {v})" for v in ("0.00", "0.50", "1.00")]
    slider, stack = control.children[0], control.children[1]
    assert stack.selected_index == slider.index == 1  # the middle value by default


def test_frame_slider2_has_a_frame_per_pair(draw):
    control = frame_slider2(draw, [0.0, 1.0], [0.0, 0.5, 1.0], labels=("a", "b"), caption="Two",
                            defaults=(1.0, 0.0))
    assert len(frames(control)) == 6 and control.values == ([0.0, 1.0], [0.0, 0.5, 1.0])
    assert repr(control) == "FrameSlider(a, b: 2 x 3 frames)"
    outer = control.children[2]
    assert outer.selected_index == 1 and all(row.selected_index == 0 for row in outer.children)


def test_bad_values_are_named(draw):
    with pytest.raises(ValueError, match="at least two values; got 1"):
        frame_slider(draw, [0.0], label="a", caption="c")
    with pytest.raises(ValueError, match="not one of its values"):
        frame_slider(draw, [0.0, 1.0], label="a", caption="c", default=0.3)
    with pytest.raises(ValueError, match="labels must be distinct"):
        frame_slider(draw, [0.001, 0.002], label="a", caption="c")


def page_with(control):
    """A page as myst-nb writes it: the widget state in a script, then one view of the control."""
    state = json.dumps(widgets.Widget.get_manager_state()).replace("</", "<\\/")
    view = json.dumps({"model_id": control.model_id, "version_major": 2, "version_minor": 0})
    return (f'<script type="application/vnd.jupyter.widget-state+json">{state}</script>'
            f'<div><script type="application/vnd.jupyter.widget-view+json">{view}</script></div>')


def test_static_figure_is_the_default_frame(draw):
    control = frame_slider(draw, [0.0, 0.5, 1.0], label="a", caption="A line", default=1.0)
    page = offline_widgets.add_fallbacks(page_with(control))
    assert page.count('class="jupyter-widget lstm-fallback"') == 1
    assert 'alt="A line (a = 1.00)"' in page
    assert f'src="data:image/png;base64,{base64.b64encode(draw(1.0)).decode()}"' in page
    assert page.index("lstm-fallback") < page.index("widget-view+json")


def test_static_figure_follows_both_sliders(draw):
    control = frame_slider2(draw, [0.0, 1.0], [0.0, 0.5, 1.0], labels=("a", "b"), caption="T",
                            defaults=(0.0, 0.5))
    assert 'alt="T (a = 0.00, b = 0.50)"' in offline_widgets.add_fallbacks(page_with(control))


def test_page_without_widgets_is_unchanged():
    assert offline_widgets.add_fallbacks("<p>$x$</p>") == "<p>$x$</p>"


def test_vendoring_refuses_a_package_with_another_checksum(tmp_path, monkeypatch):
    pkg = dict(offline_widgets.VENDOR["html-manager"], integrity="sha512-" + "A" * 86 + "==")
    monkeypatch.setitem(offline_widgets.VENDOR, "html-manager", pkg)
    with pytest.raises(RuntimeError, match="does not match the recorded"):
        offline_widgets.vendor_html_manager(tmp_path / "widgets")
    assert not (tmp_path / "widgets" / "embed.js").exists()
