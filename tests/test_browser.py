"""The built book in a real browser, as a reader without a kernel gets it.

Serves _build/html on 127.0.0.1 and drives Debian's Chromium headless with Playwright. Every request
to another host is aborted and counted as a failure: the book must be complete offline. Run after a
strict build (`make browser` does both); screenshots go to _build/screenshots/ for a person to see.

Figures are measured as a reader sees them in a 1200 px wide window: every image of every page
(figures, static fallbacks, each control's frame before and after its sliders move, and every frame
in the widget state) must show at
least MIN_PX_PER_PT CSS px per point, (dpi / 72) x displayed width / natural width, with the dpi and
the smallest font size read from the PNG itself (lstmlib.viz.png_info), and no text under 10 pt.
The smallest value per page is written to figure-sizes.json beside the build (_build/ for
_build/html). BOOK_HTML=<dir> measures another build (for example an older one kept for comparison).
"""

import base64
import functools
import html
import http.server
import json
import os
import re
import tempfile
import threading
import time
from pathlib import Path

import pytest
import yaml

from lstmlib.viz import MIN_FONT_PT, png_info

pytestmark = pytest.mark.browser

ROOT = Path(__file__).resolve().parents[1]
SITE = Path(os.environ.get("BOOK_HTML", ROOT / "_build" / "html")).resolve()
SHOTS = ROOT / "_build" / "screenshots"
SIZES = SITE.parent / "figure-sizes.json"  # _build/figure-sizes.json for the book in _build/html
WINDOW = {"width": 1200, "height": 900}  # a laptop's window: the book's column is about 700 px
MIN_PX_PER_PT = 1.2  # 10 pt text then shows at 12 CSS px or more (body text is 16 px)
CHROMIUM = "/usr/bin/chromium"
PAGE_TIMEOUT_MS = 180_000
QUIET_S = 0.5  # a page has settled when none of its requests started or ended for this long
FLAGS = ["--headless", "--no-sandbox", "--disable-gpu", "--disable-background-networking",
         "--disable-component-update", "--no-first-run", "--disable-sync", "--disable-quic"]


def toc_pages():
    """Every page of the book in reading order, as doc names (book/gate, ...), from _toc.yml."""
    toc = yaml.safe_load((ROOT / "_toc.yml").read_text())
    pages = [toc["root"]]
    for part in toc.get("parts", [toc]):
        pages += [entry["file"] for entry in part["chapters"]]
    return pages


PAGES = toc_pages()


class Quiet(http.server.SimpleHTTPRequestHandler):
    def log_message(self, *args):
        pass


class Server(http.server.ThreadingHTTPServer):
    request_queue_size = 128  # the listen backlog (5 by default): a page opens many connections at once


@pytest.fixture(scope="session")
def server():
    if not (SITE / "index.html").exists():
        pytest.fail("no built book in _build/html: run `make book` first (`make browser` does)")
    httpd = Server(("127.0.0.1", 0), functools.partial(Quiet, directory=str(SITE)))
    thread = threading.Thread(target=httpd.serve_forever, daemon=True)
    thread.start()
    yield f"http://127.0.0.1:{httpd.server_address[1]}"
    httpd.shutdown()


@pytest.fixture(scope="session")
def chromium():
    from playwright.sync_api import sync_playwright

    with sync_playwright() as pw:
        yield pw.chromium


def _context(chromium, **options):
    profile = tempfile.TemporaryDirectory()  # a fresh profile for every browser
    context = chromium.launch_persistent_context(
        profile.name, executable_path=CHROMIUM, args=FLAGS, headless=True,
        viewport=WINDOW, **options)
    # Playwright waits 30 s by default. In `make test` the clean-venv run executes notebooks on the
    # same two cores: the waits here are for a page to settle, never a measure of speed.
    context.set_default_timeout(PAGE_TIMEOUT_MS)
    context.set_default_navigation_timeout(PAGE_TIMEOUT_MS)
    return context, profile


@pytest.fixture(scope="session")
def browser(chromium):
    context, profile = _context(chromium)
    yield context
    context.close()
    profile.cleanup()


class Visit:
    """One page load with every request, failure and page error recorded."""

    def __init__(self, context, base, doc):
        self.base, self.outside, self.failed, self.errors = base, [], [], []
        self.page = context.new_page()
        self.page.route("**/*", self._route)
        self.page.on("pageerror", lambda exc: self.errors.append(str(exc)))
        self.page.on("console", lambda m: m.type == "error" and self.errors.append(m.text))
        self.page.on("requestfailed", lambda r: self.failed.append(f"{r.url}: {r.failure}"))
        self.page.on("response", lambda r: r.status >= 400 and self.failed.append(f"{r.url}: {r.status}"))
        self.pending, self.events = {}, 0
        self.page.on("request", self._started)
        self.page.on("requestfinished", self._ended)
        self.page.on("requestfailed", self._ended)
        self.page.goto(f"{base}/{doc}.html", wait_until="load")
        self.wait_until_quiet()
        # MathJax 3 (loaded only on pages with math) typesets asynchronously: wait for it
        self.page.wait_for_function("() => !document.querySelector('.math') || "
                                    "(window.MathJax && MathJax.startup && MathJax.startup.promise)")
        self.page.evaluate("() => window.MathJax && MathJax.startup && MathJax.startup.promise")

    def _started(self, request):
        self.pending[id(request)] = request.url
        self.events += 1

    def _ended(self, request):
        self.pending.pop(id(request), None)
        self.events += 1

    def wait_until_quiet(self, quiet_s=QUIET_S, timeout_s=PAGE_TIMEOUT_MS / 1000):
        """Wait until no request of the page has been pending, started or ended for quiet_s.

        Playwright's own "networkidle" wait once never ended on a page whose requests had all
        ended (a known flake of it); this one counts the page's requests itself and, when it
        gives up, names the requests still pending.
        """
        deadline, seen, since = time.monotonic() + timeout_s, -1, time.monotonic()
        while True:
            now = time.monotonic()
            if self.events != seen or self.pending:
                seen, since = self.events, now
            elif now - since >= quiet_s:
                return
            if now > deadline:
                pytest.fail(f"the page never went quiet in {timeout_s:g} s; requests pending: "
                            f"{sorted(self.pending.values())}")
            self.page.wait_for_timeout(50)  # lets Playwright deliver the page's events

    def _route(self, route):
        if route.request.url.startswith(self.base + "/"):
            route.continue_()
        else:
            self.outside.append(route.request.url)
            route.abort()

    def close(self):
        self.page.close()


@pytest.fixture
def visit(browser, server):
    opened = []

    def open_(doc):
        v = Visit(browser, server, doc)
        opened.append(v)
        return v

    yield open_
    for v in opened:
        v.close()


@pytest.fixture(scope="session")
def loaded(browser, server):
    """Each page loaded once and kept open, for the tests that only read it (none of them moves a
    control or follows a link); a test that changes a page opens its own with `visit`."""
    pages = {}

    def open_(doc):
        if doc not in pages:
            pages[doc] = Visit(browser, server, doc)
        return pages[doc]

    yield open_
    for v in pages.values():
        v.close()


def png_of(page, img, base):
    """The bytes of an <img>: decoded from a data: URI, read from the built book, or fetched."""
    src = img.evaluate("(img) => img.currentSrc || img.src")
    if src.startswith("data:"):
        return base64.b64decode(src.split(",", 1)[1])
    if src.startswith(base + "/"):
        return (SITE / src[len(base) + 1:].split("#")[0].split("?")[0]).read_bytes()
    data = page.evaluate("""async (src) => {
        const bytes = new Uint8Array(await (await fetch(src)).arrayBuffer());
        let s = ''; for (const b of bytes) s += String.fromCharCode(b); return btoa(s); }""", src)
    return base64.b64decode(data)


def measure(page, img, base, where):
    """How one shown image reads: CSS px per point and its smallest font, from its own PNG."""
    shown = img.evaluate("""(img) => ({width: img.getBoundingClientRect().width,
                                       natural: img.naturalWidth, alt: img.alt || ''})""")
    png = png_of(page, img, base)
    info = png_info(png) if png[:8] == b"\x89PNG\r\n\x1a\n" else {"dpi": None, "min_font_pt": None}
    scale = shown["width"] / shown["natural"] if shown["natural"] else None
    px_per_pt = info["dpi"] / 72 * scale if info["dpi"] and scale else None
    return {"where": where, "alt": shown["alt"][:120], "png": png[:8] == b"\x89PNG\r\n\x1a\n",
            "dpi": info["dpi"], "natural_px": shown["natural"], "shown_px": round(shown["width"], 1),
            "scale": round(scale, 4) if scale else None,
            "px_per_pt": round(px_per_pt, 3) if px_per_pt else None, "min_font_pt": info["min_font_pt"]}


def record(doc, kind, sizes):
    """Write the page's smallest px per point (and every measurement) to _build/figure-sizes.json."""
    SIZES.parent.mkdir(parents=True, exist_ok=True)
    table = json.loads(SIZES.read_text()) if SIZES.exists() else {}
    entry = table.setdefault(doc, {})
    entry[kind] = sizes
    every = [m for k in ("figures", "frames", "fallbacks", "all_frames") for m in entry.get(k, [])]
    entry["min_px_per_pt"] = min((m["px_per_pt"] for m in every if m["px_per_pt"]), default=None)
    entry["min_scale"] = min((m["scale"] for m in every if m["scale"]), default=None)
    entry["without_dpi"] = sum(m["dpi"] is None for m in every)
    fonts = [m["min_font_pt"] for m in every if m["min_font_pt"] is not None]
    entry["min_font_pt"] = min(fonts, default=None)
    entry["unrecorded_fonts"] = sum(m["min_font_pt"] is None for m in every)
    SIZES.write_text(json.dumps(table, indent=1, sort_keys=True))
    print(f"{doc} {kind}: smallest {entry['min_px_per_pt']} px/pt over {len(sizes)} image(s)")


def assert_readable(sizes):
    problems = []
    for m in sizes:
        if not m["png"]:
            problems.append(f"{m['where']}, image {m['alt']!r}: not a PNG, so its size cannot be measured")
            continue
        if m["dpi"] is None:
            problems.append(f"{m['where']}, image {m['alt']!r}: the PNG records no dpi (pHYs); draw it "
                            f"with lstmlib.viz's style or png_bytes")
        elif m["px_per_pt"] < MIN_PX_PER_PT:
            problems.append(f"{m['where']}, image {m['alt']!r}: {m['px_per_pt']:.2f} CSS px per point "
                            f"(dpi {m['dpi']:g}, {m['natural_px']} px shown at {m['shown_px']} px); "
                            f"at least {MIN_PX_PER_PT} needed")
        if m["min_font_pt"] is None:
            problems.append(f"{m['where']}, image {m['alt']!r}: no smallest-font record in the PNG "
                            f"(draw it after lstmlib.viz.use_style(), or with png_bytes)")
        elif m["min_font_pt"] < MIN_FONT_PT:
            problems.append(f"{m['where']}, image {m['alt']!r}: text at {m['min_font_pt']:g} pt, "
                            f"under {MIN_FONT_PT} pt")
    assert not problems, "figures too small to read:\n" + "\n".join(problems)


@pytest.mark.parametrize("doc", PAGES)
def test_page_loads_offline_with_math_typeset(loaded, doc):
    v = loaded(doc)
    SHOTS.mkdir(parents=True, exist_ok=True)
    v.page.screenshot(path=SHOTS / f"{Path(doc).name}.png", full_page=True)
    assert v.outside == [], f"requests to other hosts: {v.outside}"
    assert v.failed == [], f"failed requests: {v.failed}"
    assert v.errors == [], f"page errors: {v.errors}"
    math = v.page.evaluate("""() => {
        const nodes = [...document.querySelectorAll('main .math')];
        return {total: nodes.length,
                typeset: nodes.filter(n => n.querySelector('mjx-container')).length,
                errors: document.querySelectorAll('mjx-merror').length};
    }""")
    assert math["typeset"] == math["total"], f"math left as raw TeX: {math}"
    assert math["errors"] == 0, f"MathJax errors: {math}"
    text = v.page.inner_text("main")
    assert "$$" not in text and "\\(" not in text and "\\begin{" not in text


@pytest.mark.parametrize("doc", PAGES)
def test_every_figure_is_readable_at_a_1200_px_window(loaded, doc):
    """Every image shown in the page's content (figures and each control's opening frame)."""
    v = loaded(doc)
    page = v.page
    if controls_of(doc):
        page.wait_for_function("() => document.querySelectorAll('.widget-subarea img.lstm-frame')"
                               ".length > 0")
        page.wait_for_timeout(300)
    images = [img for img in page.query_selector_all("main img") if img.is_visible()]
    for img in images:
        img.scroll_into_view_if_needed()
    sizes = [measure(page, img, v.base, doc) for img in images]
    record(doc, "figures", sizes)
    assert_readable(sizes)


@pytest.mark.parametrize("doc, following", list(zip(PAGES, PAGES[1:], strict=False)))
def test_next_link_reaches_the_next_chapter(loaded, doc, following):
    v = loaded(doc)
    # where the link leads, as the browser resolves it (following it would load a second page)
    target = v.page.eval_on_selector("a.right-next", "(a) => a.href")
    assert target.split("#")[0] == f"{v.base}/{following}.html"
    assert (SITE / f"{following}.html").exists()


def controls_of(built_doc):
    """Doc names whose built page has at least one widget control."""
    return "application/vnd.jupyter.widget-view+json" in (SITE / f"{built_doc}.html").read_text()


WITH_CONTROLS = [d for d in PAGES if (SITE / f"{d}.html").exists() and controls_of(d)]


def visible_frame(control):
    frames = [f for f in control.query_selector_all("img.lstm-frame") if f.is_visible()]
    assert len(frames) == 1, f"expected one visible frame in the control, found {len(frames)}"
    return frames[0]


@pytest.mark.parametrize("doc", WITH_CONTROLS)
def test_every_slider_changes_its_figure_without_a_kernel(visit, doc):
    v = visit(doc)
    page = v.page
    n_views = page.evaluate("""() => document.querySelectorAll(
        'script[type="application/vnd.jupyter.widget-view+json"]').length""")
    page.wait_for_function(f"() => document.querySelectorAll('.widget-subarea .noUi-handle').length"
                           f" > 0 && document.querySelectorAll('.widget-subarea').length == {n_views}")
    page.wait_for_timeout(300)  # let the last views attach their frames
    fallbacks = page.query_selector_all("img.lstm-fallback")
    assert len(fallbacks) == n_views, "every control should carry its static fallback in the page"
    assert not any(f.is_visible() for f in fallbacks), "a static fallback is still shown"
    controls = page.query_selector_all(".widget-subarea")
    assert len(controls) == n_views
    moved, sizes = 0, []
    for k, control in enumerate(controls):
        control.scroll_into_view_if_needed()
        handles = control.query_selector_all(".noUi-handle")
        assert handles, f"control {k} on {doc} has no slider"
        for j, handle in enumerate(handles):
            frame = visible_frame(control)
            before_img, before_alt = frame.screenshot(), frame.get_attribute("alt")
            readout = control.query_selector_all(".widget-readout")[j]
            before_value = readout.inner_text()
            handle.focus()
            # move right; at the right end the handle cannot, so move left instead
            page.keyboard.press("ArrowRight")
            page.wait_for_timeout(100)
            if readout.inner_text() == before_value:
                page.keyboard.press("ArrowLeft")
                page.wait_for_timeout(100)
            assert readout.inner_text() != before_value, f"slider {j} of control {k} did not move"
            frame = visible_frame(control)
            assert frame.get_attribute("alt") != before_alt, f"slider {j} of control {k}: same alt"
            assert frame.screenshot() != before_img, f"slider {j} of control {k}: the figure did not change"
            sizes.append(measure(page, frame, v.base, f"{doc}, control {k} after slider {j} moved"))
            moved += 1
    SHOTS.mkdir(parents=True, exist_ok=True)
    page.screenshot(path=SHOTS / f"{Path(doc).name}-moved.png", full_page=True)
    assert v.errors == [], f"page errors: {v.errors}"
    assert v.outside == [] and v.failed == []
    assert moved >= 1
    record(doc, "frames", sizes)
    assert_readable(sizes)


FRAME_SRC = re.compile(r'class="lstm-frame" src="data:image/png;base64,([^"]+)" alt="([^"]*)"')


@pytest.mark.parametrize("doc", WITH_CONTROLS)
def test_every_frame_of_every_control_is_readable(visit, doc):
    """All frames, also those no slider position reached above: each frame's PNG from the widget
    state the page embeds, shown as the browser shows a frame, at min(natural width, the width a
    frame gets in this page's controls)."""
    v = visit(doc)
    page = v.page
    page.wait_for_function("() => document.querySelectorAll('.widget-subarea img.lstm-frame')"
                           ".length > 0")
    # the width a frame may take (its max-width is 100 %): as wide as a shown frame that is scaled
    # down, else its control's content box
    room = page.evaluate("""() => {
        const shrunk = [...document.querySelectorAll('.widget-subarea img.lstm-frame')]
            .filter(i => i.offsetParent && i.naturalWidth > i.getBoundingClientRect().width + 0.5)
            .map(i => i.getBoundingClientRect().width);
        const boxes = [...document.querySelectorAll('.widget-subarea')].map(c => {
            const s = getComputedStyle(c);
            return c.clientWidth - parseFloat(s.paddingLeft) - parseFloat(s.paddingRight); });
        return Math.min(...(shrunk.length ? shrunk : boxes)); }""")
    state = page.evaluate("""() => document.querySelector(
        'script[type="application/vnd.jupyter.widget-state+json"]').textContent""")
    models = json.loads(state)["state"].values()
    frames = [f for m in models if m["model_name"] == "HTMLModel"
              for f in FRAME_SRC.findall(m["state"].get("value", ""))]
    assert frames, f"{doc}: no frames in the page's widget state"
    sizes = []
    for data, alt in dict(frames).items():
        info = png_info(base64.b64decode(data))
        shown = min(info["width"], room)
        px_per_pt = info["dpi"] / 72 * shown / info["width"] if info["dpi"] else None
        sizes.append({"where": f"{doc}, a frame in the widget state", "alt": html.unescape(alt)[:120],
                      "png": True, "dpi": info["dpi"], "natural_px": info["width"],
                      "shown_px": round(shown, 1), "scale": round(shown / info["width"], 4),
                      "px_per_pt": round(px_per_pt, 3) if px_per_pt else None,
                      "min_font_pt": info["min_font_pt"]})
    record(doc, "all_frames", sizes)
    assert_readable(sizes)


@pytest.fixture(scope="session")
def browser_without_scripts(chromium):
    context, profile = _context(chromium, java_script_enabled=False)
    yield context
    context.close()
    profile.cleanup()


@pytest.mark.parametrize("doc", WITH_CONTROLS)
def test_every_control_shows_a_figure_before_any_script(browser_without_scripts, server, doc):
    """What a reader sees before the scripts run, or with them off: each control's default frame."""
    page = browser_without_scripts.new_page()
    outside = []
    page.route("**/*", lambda route: route.continue_() if route.request.url.startswith(server)
               else (outside.append(route.request.url), route.abort()))
    page.goto(f"{server}/{doc}.html", wait_until="load")
    n_views = len(page.query_selector_all('script[type="application/vnd.jupyter.widget-view+json"]'))
    figures = page.query_selector_all("img.lstm-fallback")
    assert len(figures) == n_views > 0
    sizes = []
    for figure in figures:
        assert figure.is_visible()
        assert figure.get_attribute("alt").strip(), "a static figure without alt text"
        assert page.evaluate("(img) => img.complete && img.naturalWidth > 0", figure)
        sizes.append(measure(page, figure, server, f"{doc} without scripts"))
    page.screenshot(path=SHOTS / f"{Path(doc).name}-no-scripts.png", full_page=True)
    page.close()
    assert outside == []
    record(doc, "fallbacks", sizes)
    assert_readable(sizes)


def test_every_page_with_widget_state_is_checked():
    """The controls test covers exactly the chapters whose notebooks display a control."""
    import nbformat

    with_views = set()
    for doc in PAGES:
        path = ROOT / f"{doc}.ipynb"
        if path.exists() and any("application/vnd.jupyter.widget-view+json" in o.get("data", {})
                                 for c in nbformat.read(path, as_version=4).cells
                                 if c.cell_type == "code" for o in c.outputs):
            with_views.add(doc)
    assert with_views, "no notebook displays a control"
    assert set(WITH_CONTROLS) == with_views
