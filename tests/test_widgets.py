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
    assert repr(control).splitlines()[0].startswith("FrameSlider(a: 3 frames): the slider ")
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
    assert repr(control).splitlines()[0].startswith("FrameSlider(a, b: 2 x 3 frames): the sliders ")
    outer = control.children[2]
    assert outer.selected_index == 1 and all(row.selected_index == 0 for row in outer.children)


def links_from(slider):
    """(source trait, target model, target trait) of every jslink whose source is `slider`, read
    from the widget state a page embeds (what the browser links), not from Python objects."""
    state = widgets.Widget.get_manager_state(drop_defaults=True)["state"]
    found = []
    for model in state.values():
        if model["model_name"] != "LinkModel":
            continue
        (source, s_trait), (target, t_trait) = model["state"]["source"], model["state"]["target"]
        if source == f"IPY_MODEL_{slider.model_id}":
            found.append((s_trait, target.removeprefix("IPY_MODEL_"), t_trait))
    return found


def alt_of(stack):
    return [ALT.search(frame.value).group(1) for frame in stack.children]


def test_the_slider_drives_its_own_stack_frame_k_for_value_k(draw):
    control = frame_slider(draw, [0.1, 0.2, 0.3, 0.4], label="a", caption="C", default=0.2)
    slider, stack = control.children[0], control.children[1]
    assert links_from(slider) == [("index", stack.model_id, "selected_index")]
    labels = [label for label, _ in slider.options]
    assert [index for _, index in slider.options] == [0, 1, 2, 3]
    assert alt_of(stack) == [f"C (a = {label})" for label in labels] == [
        f"C (a = {v})" for v in ("0.10", "0.20", "0.30", "0.40")]
    assert slider.index == stack.selected_index == 1


def test_two_sliders_outer_stack_follows_a_and_every_row_follows_b(draw):
    control = frame_slider2(draw, [0.0, 1.0, 2.0], [0.0, 0.5], labels=("a", "b"), caption="T")
    sa, sb, outer = control.children[:3]
    assert links_from(sa) == [("index", outer.model_id, "selected_index")]
    rows = outer.children
    assert sorted(links_from(sb)) == sorted(("index", row.model_id, "selected_index") for row in rows)
    for j, row in enumerate(rows):  # row j is a = values_a[j], frame k in it is b = values_b[k]
        assert alt_of(row) == [f"T (a = {j:.2f}, b = {b})" for b in ("0.00", "0.50")]


@pytest.mark.parametrize("n, opens_on", [(2, 1), (3, 1), (4, 2), (5, 2), (6, 3)])
def test_a_control_opens_on_the_middle_value_by_default(draw, n, opens_on):
    values = [k / 10 for k in range(n)]
    control = frame_slider(draw, values, label="a", caption="C")
    slider, stack = control.children[0], control.children[1]
    assert slider.index == stack.selected_index == opens_on
    assert slider.value == opens_on and slider.label == f"{values[opens_on]:.2f}"
    control = frame_slider2(draw, values, values[:3], labels=("a", "b"), caption="T")
    sa, sb, outer = control.children[:3]
    assert sa.index == outer.selected_index == opens_on
    assert sb.index == 1 and all(row.selected_index == 1 for row in outer.children)


def test_repr_tells_a_reader_what_to_do(draw):
    control = frame_slider2(draw, [0.0, 1.0], [0.0, 0.5, 1.0], labels=("f", "i"), caption="T")
    text = repr(control)
    assert len(text.splitlines()) == 2 and text == repr(control)  # stable, two lines
    first, second = text.splitlines()
    assert first == ("FrameSlider(f, i: 2 x 3 frames): the sliders and figure appear here once "
                     "the notebook's cells have run.")
    assert second.startswith("If this text stays after running them, reload the page")
    assert "front end" in second
    assert "0x" not in text and control.model_id not in text


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


def test_a_control_of_names_opens_on_the_named_default(draw):
    names = ["forget", "input", "output", "state"]
    control = frame_slider(lambda v: draw(0.0), names, label="part", caption="C", fmt="{}",
                           default="forget")
    assert control.children[0].index == control.children[1].selected_index == 0
    with pytest.raises(ValueError, match=r"default 'memory' for part is not one of its values"):
        frame_slider(lambda v: draw(0.0), names, label="part", caption="C", fmt="{}",
                     default="memory")
