"""Checks on the committed chapters that nbval does not make: the install cell, captions and alt text,
and slider controls whose saved widget state works without a kernel."""

import base64
import json
import re
import tomllib
from pathlib import Path

import nbformat
import pytest
import yaml

ROOT = Path(__file__).resolve().parents[1]
# The first code cell of every chapter, exactly. Where lstmlib is missing (Colab, a notebook
# downloaded alone) it installs the release the book was built with, the tag v<version> of
# pyproject.toml; elsewhere (a clone, Binder, `make lab`) it says which lstmlib it uses. Either way
# it prints one line, and the line a clone prints is what nbval compares.
INSTALL_CELL = "\n".join([
    "# lstmlib, the book's code: where it is missing (on Colab, or in a notebook downloaded",
    "# alone), install the version this book was built with from the book's repository.",
    "try:",
    "    import lstmlib",
    "except ImportError:",
    "    %pip install -q git+https://github.com/lstm-gate-by-gate/lstm-gate-by-gate@v0.1.0",
    "    import lstmlib",
    "",
    '    print(f"Installed lstmlib {lstmlib.__version__} (tag v0.1.0) "',
    '          "from the book\'s repository.")',
    "else:",
    '    print(f"Using the lstmlib {lstmlib.__version__} installed here "',
    '          "(the book was built with 0.1.0).")',
])
REPOSITORY = "https://github.com/lstm-gate-by-gate/lstm-gate-by-gate"
# What Jupyter (JupyterLab 4, Notebook 7) writes into a notebook it saves with ipykernel's kernel:
# committed this way, opening and saving a chapter changes nothing.
KERNELSPEC = {"display_name": "Python 3 (ipykernel)", "language": "python", "name": "python3"}
WIDGET_STATE = "application/vnd.jupyter.widget-state+json"
WIDGET_VIEW = "application/vnd.jupyter.widget-view+json"
FRAME = re.compile(r'<img [^>]*src="data:image/png;base64,(?P<png>[A-Za-z0-9+/=]+)"[^>]*'
                   r'\balt="(?P<alt>[^"]*)"[^>]*>')
FRAME_BUDGET = 2_000_000  # bytes of PNG frames per chapter: base64 in the page keeps it under 3 MB


def toc_files():
    toc = yaml.safe_load((ROOT / "_toc.yml").read_text())
    entries = [toc["root"]]

    def walk(items):
        for item in items:
            if "file" in item:
                entries.append(item["file"])
            walk(item.get("chapters", []) + item.get("sections", []))
            for part in item.get("parts", []):
                walk(part.get("chapters", []))

    walk(toc.get("chapters", []))
    for part in toc.get("parts", []):
        walk(part.get("chapters", []))
    return entries


NOTEBOOKS = [ROOT / f"{f}.ipynb" for f in toc_files() if (ROOT / f"{f}.ipynb").exists()]


def read(path):
    return nbformat.read(path, as_version=4)


def test_every_toc_entry_exists():
    missing = [f for f in toc_files() if not any((ROOT / f"{f}{ext}").exists() for ext in (".ipynb", ".md"))]
    assert not missing, f"_toc.yml lists files that do not exist: {missing}"


@pytest.mark.parametrize("path", NOTEBOOKS, ids=lambda p: p.name)
def test_first_code_cell_installs_lstmlib(path):
    first = next(c for c in read(path).cells if c.cell_type == "code")
    assert first.source == INSTALL_CELL


def test_install_cell_pins_the_version_of_this_repository():
    import lstmlib

    version = tomllib.loads((ROOT / "pyproject.toml").read_text())["project"]["version"]
    assert lstmlib.__version__ == version, "lstmlib.__version__ and pyproject.toml disagree"
    assert f"git+{REPOSITORY}@v{version}\n" in INSTALL_CELL, f"the install cell must pin tag v{version}"
    assert INSTALL_CELL.count(f"v{version}") == 2 and INSTALL_CELL.count(f"with {version})") == 1
    assert not re.search(r"\d+\.\d+\.\d+", INSTALL_CELL.replace(version, "")), "another version"


def test_kernelspec_is_ipykernels():
    from ipykernel.kernelspec import get_kernel_dict

    spec = get_kernel_dict()
    assert {k: spec[k] for k in ("display_name", "language")} == {
        k: KERNELSPEC[k] for k in ("display_name", "language")}


@pytest.mark.parametrize("path", NOTEBOOKS, ids=lambda p: p.name)
def test_metadata_is_what_jupyter_saves(path):
    nb = read(path)
    assert nb.metadata.get("kernelspec") == KERNELSPEC, "kernelspec differs from what Jupyter writes"
    assert nb.metadata.get("language_info", {}).get("name") == "python"
    assert (nb.nbformat, nb.nbformat_minor) == (4, 5), "Jupyter saves nbformat 4.5"
    assert all(c.get("id") for c in nb.cells), "a cell without an id (Jupyter would add one)"


@pytest.mark.parametrize("path", NOTEBOOKS, ids=lambda p: p.name)
def test_notebook_is_executed_without_errors(path):
    cells = [c for c in read(path).cells if c.cell_type == "code"]
    assert all(c.execution_count is not None for c in cells), "notebook is not executed"
    errors = [o for c in cells for o in c.outputs if o.output_type == "error"]
    assert not errors, f"error outputs: {[e.ename for e in errors]}"


@pytest.mark.parametrize("path", NOTEBOOKS, ids=lambda p: p.name)
def test_figures_have_caption_and_alt_text(path):
    for k, cell in enumerate(read(path).cells):
        if cell.cell_type != "code":
            continue
        if any("image/png" in o.get("data", {}) for o in cell.outputs):
            meta = cell.metadata.get("mystnb", {})
            assert meta.get("figure", {}).get("caption"), f"cell {k}: figure without a caption"
            assert meta.get("image", {}).get("alt"), f"cell {k}: figure without alt text"


def _state(nb):
    return nb.metadata.get("widgets", {}).get(WIDGET_STATE, {}).get("state", {})


def _ref(model_id):
    return f"IPY_MODEL_{model_id}"


def _views(nb):
    return [o.data[WIDGET_VIEW]["model_id"] for c in nb.cells if c.cell_type == "code"
            for o in c.outputs if WIDGET_VIEW in o.get("data", {})]


WITH_CONTROLS = [p for p in NOTEBOOKS if _views(read(p))]


@pytest.mark.parametrize("path", WITH_CONTROLS, ids=lambda p: p.name)
def test_controls_work_without_a_kernel(path):
    nb = read(path)
    views = _views(nb)
    state = _state(nb)
    assert all(v in state for v in views), "a control's widget state was not saved with the notebook"

    models = {_ref(k): m for k, m in state.items()}
    links = {tuple(m["state"]["target"]): tuple(m["state"]["source"]) for m in models.values()
             if m["model_name"] == "LinkModel"}
    for ref, m in models.items():
        if m["model_name"] != "StackModel":
            continue
        # each Stack of frames is switched in the browser by a slider's index, not by Python
        source = links.get((ref, "selected_index"))
        assert source is not None, f"Stack {ref} is not linked to a slider"
        slider = models[source[0]]
        assert slider["model_name"] == "SelectionSliderModel" and source[1] == "index"
        n_options = len(slider["state"]["_options_labels"])
        assert len(m["state"]["children"]) == n_options, "one frame (or row) per slider position"
        assert m["state"]["selected_index"] == slider["state"]["index"], "default frame != slider"

    # html-manager cannot render an Image that has a tooltip: frames are <img> in HTML widgets
    tipped = [m for m in models.values() if m["model_name"] == "ImageModel" and m["state"].get("tooltip")]
    assert not tipped, "an Image widget with a tooltip (html-manager fails to render it)"
    frames = [FRAME.search(m["state"]["value"]) for m in models.values()
              if m["model_name"] == "HTMLModel" and "data:image/png" in m["state"]["value"]]
    assert frames and all(frames), "every frame is one <img> with a PNG and alt text"
    assert all(f["alt"].strip() for f in frames), "a frame has empty alt text"
    size = sum(len(base64.b64decode(f["png"])) for f in frames)
    assert size < FRAME_BUDGET, f"{path.name}: {size} bytes of frames (budget {FRAME_BUDGET})"


@pytest.mark.parametrize("path", sorted((ROOT / "book").glob("*")), ids=lambda p: p.name)
def test_no_paths_of_the_build_machine(path):
    text = path.read_text(errors="replace") if path.is_file() else ""
    if path.suffix == ".ipynb":  # images are base64; look at sources and text outputs only
        nb = read(path)
        text = json.dumps([c.source for c in nb.cells]) + json.dumps(
            [o.get("text", "") + json.dumps(o.get("data", {}).get("text/plain", ""))
             for c in nb.cells if c.cell_type == "code" for o in c.outputs])
    for marker in (f"/{top}/" for top in ("work", "tmp", "home", "root")):
        assert marker not in text, f"{path.name} mentions {marker}"
