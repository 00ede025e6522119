"""Sphinx extension: the book's widgets work offline, and show a figure before any script runs.

1. The ipywidgets HTML manager is served from the book itself: the standalone `dist/embed.js` of
   `@jupyter-widgets/html-manager` (no require.js, no CDN), taken from the npm registry at the
   version and checksum recorded in `vendor.json`, and loaded only on pages with widget state
   (myst-nb's `nb_ipywidgets_js`).
2. Every slider control gets a static fallback: the frame it shows at its default position is
   written into the page as an `<img class="jupyter-widget">` right before the control's view,
   so a reader sees the figure before (or without) JavaScript; CSS hides it once the live
   control has been drawn beside it (static/lstm-widgets.css). It is added while Sphinx writes
   the page (html-page-context), so every build, full or incremental, leaves one per control.
"""

import base64
import hashlib
import json
import re
import shutil
import tarfile
from pathlib import Path

HERE = Path(__file__).parent
VENDOR = json.loads((HERE / "vendor.json").read_text())
# fonts the widget CSS asks for first (woff2), with the older formats it falls back to
KEEP = re.compile(r"^package/dist/(embed\.js|embed\.js\.LICENSE\.txt|[0-9a-f]{20}\.(woff2|woff|ttf))$")


def vendor_html_manager(dest):
    """Fetch the pinned html-manager tarball from the npm registry, check it, unpack what we serve.

    No node or npm: the registry's metadata for the pinned version names the tarball (as npm reads
    it), and the tarball's bytes must match the sha512 recorded in vendor.json before anything is
    unpacked. `npm_config_registry` points elsewhere, as it does for npm; the checksum still holds.
    """
    import io
    import os
    import urllib.request

    pkg = VENDOR["html-manager"]
    stamp = dest / ".version"
    if stamp.exists() and stamp.read_text() == pkg["integrity"]:
        return
    registry = os.environ.get("npm_config_registry", "https://registry.npmjs.org").rstrip("/")
    meta = f"{registry}/{pkg['name'].replace('/', '%2F')}/{pkg['version']}"
    with urllib.request.urlopen(meta, timeout=60) as response:
        dist = json.load(response)["dist"]
    if dist.get("integrity") != pkg["integrity"]:
        raise RuntimeError(f"{meta}: the registry's integrity {dist.get('integrity')} does not "
                           f"match the recorded {pkg['integrity']} (vendor.json)")
    with urllib.request.urlopen(dist["tarball"], timeout=120) as response:
        tarball = response.read()
    algo, want = pkg["integrity"].split("-", 1)
    got = base64.b64encode(hashlib.new(algo, tarball).digest()).decode()
    if got != want:
        raise RuntimeError(f"{dist['tarball']}: {algo} checksum {got} does not match the recorded {want}")
    if dest.exists():
        shutil.rmtree(dest)
    dest.mkdir(parents=True)
    with tarfile.open(fileobj=io.BytesIO(tarball), mode="r:gz") as tar:
        for member in tar.getmembers():
            if member.isfile() and KEEP.match(member.name):
                (dest / Path(member.name).name).write_bytes(tar.extractfile(member).read())
    stamp.write_text(pkg["integrity"])


def on_config_inited(app, config):
    static = Path(app.confdir) / "_build" / "vendor"
    vendor_html_manager(static / "widgets")
    # registered here, not in _config.yml: Jupyter Book adds every *.js of a configured static
    # folder to every page, and the widget manager belongs only on pages with widgets
    config.html_static_path = [*config.html_static_path, str(static), str(HERE / "static")]
    config.nb_ipywidgets_js = {"widgets/embed.js": {}}
    app.add_js_file("mathjax-hub.js", defer="defer", priority=900)
    app.add_css_file("lstm-widgets.css")
    # sphinx-book-theme leaves the colour mode empty on a first visit, and pydata-sphinx-theme's
    # script then logs an error ("Got invalid theme mode"): start from "auto", the theme's default
    app.add_js_file(None, body='if (!document.documentElement.dataset.mode) '
                               '{ document.documentElement.dataset.mode = "auto"; }')


def drop_thebe(app, pagename, templatename, context, doctree):
    """The book launches notebooks on Binder and Colab, not in the page: no Thebe scripts.

    sphinx-thebe (always loaded by Jupyter Book) adds its inline configuration twice, which is a
    page error ("THEBE_JS_URL has already been declared"), and points at a CDN.
    """
    context["script_files"] = [js for js in context.get("script_files", [])
                               if "sphinx-thebe" not in str(js)
                               and "THEBE_JS_URL" not in js.attributes.get("body", "")]


# --- static fallback ---------------------------------------------------------------------------

STATE = re.compile(r'<script type="application/vnd.jupyter.widget-state\+json">(.*?)</script>', re.S)
FRAME_IMG = re.compile(r'<img class="lstm-frame" ([^>]*?)/?>')  # its src, alt, title and style
# a control's view, with the fallback written before it by an earlier pass, if there was one
VIEW = re.compile(r'(?:<img class="jupyter-widget lstm-fallback" [^>]*>)?'
                  r'(<script type="application/vnd.jupyter.widget-view\+json">(.*?)</script>)', re.S)


def default_frame(models, model_id):
    """The HTML of the frame a control shows at rest: follow each Stack's selected child."""
    model = models.get(model_id)
    if model is None:
        return None
    name, state = model["model_name"], model["state"]
    if name == "HTMLModel" and "lstm-frame" in state.get("value", ""):
        return state["value"]
    children = [c.removeprefix("IPY_MODEL_") for c in state.get("children", [])]
    if name == "StackModel":
        k = state.get("selected_index")
        children = [children[k]] if k is not None and 0 <= k < len(children) else []
    for child in children:
        found = default_frame(models, child)
        if found:
            return found
    return None


def with_fallbacks(html, models):
    """`html` with exactly one fallback image right before each slider control's view.

    Idempotent: a fallback already there (from an earlier pass over the same HTML) is replaced,
    never added to, so f(f(x)) == f(x).
    """
    def one(match):
        view = match.group(1)
        frame = default_frame(models, json.loads(match.group(2))["model_id"])
        if frame is None:
            return view
        img = FRAME_IMG.search(frame)
        return f'<img class="jupyter-widget lstm-fallback" {img.group(1)}>' + view

    return VIEW.sub(one, html)


def add_fallbacks(html):
    """A whole page with its widget state inside: the fallbacks added (idempotent)."""
    state = STATE.search(html)
    if not state:
        return html
    return with_fallbacks(html, json.loads(state.group(1))["state"])


def page_fallbacks(app, pagename, templatename, context, doctree):
    """Add the fallbacks while Sphinx writes the page, from the widget state myst-nb keeps for
    it. A page is transformed exactly when it is written: a page that an incremental
    build leaves alone is not touched again (the old build-finished pass over every page on disk
    added one more copy per rebuild)."""
    if "body" not in context or app.builder.format != "html":
        return
    from myst_nb.sphinx_ import NbMetadataCollector

    state = NbMetadataCollector.get_js_files(app.env, pagename).get("ipywidgets_state")
    if not state:
        return
    models = json.loads(state[1]["body"])["state"]
    context["body"] = with_fallbacks(context["body"], models)


def setup(app):
    app.connect("config-inited", on_config_inited)
    app.connect("html-page-context", drop_thebe)
    app.connect("html-page-context", page_fallbacks)
    return {"parallel_read_safe": True, "parallel_write_safe": True}
