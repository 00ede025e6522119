"""The build is idempotent: building again, fully or incrementally, gives the same pages, with one
static fallback image per slider control.

The book is copied to a temporary folder and built there twice with the same command as
`make book`: from clean, then again after one chapter was touched, an incremental build that
rewrites that page and leaves every other page as it was (the old post-build pass then added one
more copy of every fallback to all of them).
"""

import json
import re
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
JB = Path(sys.executable).parent / "jupyter-book"
VIEW = re.compile(r'<script type="application/vnd.jupyter.widget-view\+json">(.*?)</script>', re.S)
STATE = re.compile(r'<script type="application/vnd.jupyter.widget-state\+json">(.*?)</script>', re.S)
FALLBACK = '<img class="jupyter-widget lstm-fallback" '


def _build(src):
    proc = subprocess.run([str(JB), "build", str(src), "--builder", "html", "-W", "-n", "--keep-going"],
                          capture_output=True, text=True, cwd=src)
    assert proc.returncode == 0, proc.stdout[-3000:] + proc.stderr[-3000:]
    return {p.relative_to(src / "_build" / "html").as_posix(): p.read_text(encoding="utf-8")
            for p in sorted((src / "_build" / "html").rglob("*.html"))}


def _controls(html):
    """(views of slider controls, fallback images) on one page: a control is a view whose model
    tree holds a frame (an <img class="lstm-frame">)."""
    state = STATE.search(html)
    if not state:
        return 0, html.count(FALLBACK)
    models = json.loads(state.group(1))["state"]

    def has_frame(model_id):
        m = models.get(model_id)
        if m is None:
            return False
        if m["model_name"] == "HTMLModel" and "lstm-frame" in m["state"].get("value", ""):
            return True
        return any(has_frame(c.removeprefix("IPY_MODEL_")) for c in m["state"].get("children", []))

    views = [json.loads(v)["model_id"] for v in VIEW.findall(html)]
    return sum(has_frame(v) for v in views), html.count(FALLBACK)


@pytest.fixture(scope="module")
def builds(tmp_path_factory):
    src = tmp_path_factory.mktemp("book")
    # the checkout's files (tracked, and new ones not ignored): what a fresh clone would build
    files = subprocess.run(["git", "ls-files", "-co", "--exclude-standard", "-z"], cwd=ROOT,
                           capture_output=True, text=True, check=True).stdout.split("\0")
    for name in filter(None, files):
        if (ROOT / name).is_file():
            (src / name).parent.mkdir(parents=True, exist_ok=True)
            shutil.copy2(ROOT / name, src / name)
    vendor = ROOT / "_build" / "vendor"
    if vendor.exists():  # the widget manager fetched by an earlier build: no second download
        shutil.copytree(vendor, src / "_build" / "vendor")
    first = _build(src)
    touched = next(p for p in sorted((src / "book").glob("*.ipynb"))
                   if _controls(first[f"book/{p.stem}.html"])[0])
    touched.touch()                                     # one chapter is rewritten, the rest not
    second = _build(src)
    return first, second, f"book/{touched.stem}.html"


# Sphinx adds a checksum to the links of its static files (style.css?v=8cd3d715) once they are in
# the output folder, that is from the second build on: not ours to change, and left out here.
CHECKSUM = re.compile(r"\?v=[0-9a-f]{8}")


def test_rebuilding_gives_identical_pages(builds):
    first, second, touched = builds
    assert set(first) == set(second)
    for name in first:
        assert CHECKSUM.sub("", second[name]) == CHECKSUM.sub("", first[name]), \
            f"{name} changed on an incremental rebuild" + (" (rewritten)" if name == touched else "")


def test_one_fallback_per_control_on_every_page(builds):
    first, second, touched = builds
    with_controls = 0
    for name, html in second.items():
        controls, fallbacks = _controls(html)
        assert fallbacks == controls, f"{name}: {fallbacks} fallback images for {controls} controls"
        with_controls += controls > 0
    assert with_controls >= 1 and _controls(second[touched])[0] >= 1


def test_the_fallback_pass_itself_is_idempotent():
    spec = __import__("importlib.util").util.spec_from_file_location(
        "offline_widgets", ROOT / "_ext" / "offline_widgets.py")
    mod = __import__("importlib.util").util.module_from_spec(spec)
    spec.loader.exec_module(mod)
    models = {
        "s": {"model_name": "VBoxModel", "state": {"children": ["IPY_MODEL_k"]}},
        "k": {"model_name": "StackModel", "state": {"children": ["IPY_MODEL_a", "IPY_MODEL_b"],
                                                    "selected_index": 1}},
        "a": {"model_name": "HTMLModel", "state": {"value": '<img class="lstm-frame" src="A" alt="a">'}},
        "b": {"model_name": "HTMLModel", "state": {"value": '<img class="lstm-frame" src="B" alt="b">'}},
    }
    view = '<script type="application/vnd.jupyter.widget-view+json">{"model_id": "s"}</script>'
    page = ('<script type="application/vnd.jupyter.widget-state+json">'
            + json.dumps({"state": models}) + "</script><p>x</p>" + view + view)
    once = mod.add_fallbacks(page)
    assert once.count(FALLBACK) == 2 and 'src="B"' in once and 'src="A"' not in once
    assert mod.add_fallbacks(once) == once
    assert mod.with_fallbacks(mod.with_fallbacks(page, models), models) == once
