"""`make lab`: JupyterLab on 127.0.0.1 with the book's notebooks, started as a reader starts it.

One server serves book/ itself and is only read: its address, its kernel, a notebook fetched over
HTTP. Another serves a copy of book/, where Chromium opens a chapter and saves it from the File
menu: the file must come back byte for byte (the metadata is what Jupyter writes). Run with
`make lab-check` (JupyterLab from requirements-lab.txt, Debian's chromium).
"""

import json
import os
import re
import shutil
import signal
import socket
import subprocess
import time
import urllib.request
from pathlib import Path

import nbformat
import pytest
from test_notebooks import KERNELSPEC, NOTEBOOKS

pytestmark = pytest.mark.lab

ROOT = Path(__file__).resolve().parents[1]
TOKEN = "lab-test-token"
CHROMIUM = "/usr/bin/chromium"


def free_port():
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


class Lab:
    """`make lab` in the background, with a fixed token and port; stopped with its process group."""

    def __init__(self, home, root=None):
        self.port = free_port()
        self.url = f"http://127.0.0.1:{self.port}"
        env = {k: v for k, v in os.environ.items() if not k.startswith(("JUPYTER", "IPYTHON"))}
        env["JUPYTER_TOKEN"] = TOKEN
        for var in ("JUPYTER_CONFIG_DIR", "JUPYTER_DATA_DIR", "JUPYTER_RUNTIME_DIR",
                    "JUPYTERLAB_SETTINGS_DIR", "JUPYTERLAB_WORKSPACES_DIR", "IPYTHONDIR"):
            env[var] = str(home / var.lower())
        cmd = ["make", "--no-print-directory", "lab",
               f"LAB_FLAGS=--no-browser --port={self.port} --ServerApp.port_retries=0"]
        if root is not None:
            cmd.append(f"LAB_ROOT={root}")
        self.log = home / "lab.log"
        self.proc = subprocess.Popen(cmd, cwd=ROOT, env=env, stdout=self.log.open("w"),
                                     stderr=subprocess.STDOUT, start_new_session=True)
        deadline = time.monotonic() + 120
        while time.monotonic() < deadline:
            assert self.proc.poll() is None, f"make lab exited:\n{self.log.read_text()[-3000:]}"
            try:
                self.get("/api/status")
                return
            except OSError:
                time.sleep(0.5)
        self.stop()
        pytest.fail(f"JupyterLab did not answer within 120 s:\n{self.log.read_text()[-3000:]}")

    def get(self, path):
        request = urllib.request.Request(self.url + path, headers={"Authorization": f"token {TOKEN}"})
        with urllib.request.urlopen(request, timeout=30) as response:
            return response.status, response.read().decode()

    def stop(self):
        if self.proc.poll() is None:
            os.killpg(self.proc.pid, signal.SIGTERM)
            try:
                self.proc.wait(timeout=30)
            except subprocess.TimeoutExpired:
                os.killpg(self.proc.pid, signal.SIGKILL)
                self.proc.wait()


@pytest.fixture(scope="module")
def lab(tmp_path_factory):
    server = Lab(tmp_path_factory.mktemp("lab"))
    yield server
    server.stop()


def test_lab_listens_on_127_0_0_1_only(lab):
    log = lab.log.read_text()
    assert f"http://127.0.0.1:{lab.port}/lab" in log, log[-2000:]
    assert not re.search(rf"http://(?!127\.0\.0\.1)[^/\s]+:{lab.port}/", log), "another address"


def test_lab_serves_every_notebook_of_the_book(lab):
    status, body = lab.get("/api/contents/")
    names = {item["name"] for item in json.loads(body)["content"]}
    assert status == 200 and {p.name for p in NOTEBOOKS} <= names, sorted(names)

    notebook = NOTEBOOKS[0]
    status, body = lab.get(f"/api/contents/{notebook.name}?content=1&type=notebook")
    served = json.loads(body)["content"]
    on_disk = nbformat.read(notebook, as_version=4)
    assert status == 200
    assert [c["source"] for c in served["cells"]] == [c.source for c in on_disk.cells]

    status, page = lab.get(f"/lab/tree/{notebook.name}")
    assert status == 200 and "<title>JupyterLab</title>" in page


def test_lab_kernel_is_the_one_the_notebooks_name(lab):
    _, body = lab.get("/api/kernelspecs")
    specs = json.loads(body)
    spec = specs["kernelspecs"][KERNELSPEC["name"]]["spec"]
    assert specs["default"] == KERNELSPEC["name"]
    assert {k: spec[k] for k in ("display_name", "language")} == {
        k: KERNELSPEC[k] for k in ("display_name", "language")}


def test_opening_and_saving_a_chapter_in_jupyterlab_changes_nothing(tmp_path):
    from playwright.sync_api import sync_playwright

    book = tmp_path / "book"
    shutil.copytree(ROOT / "book", book)
    chapter = book / NOTEBOOKS[0].name
    before = chapter.read_bytes()
    server = Lab(tmp_path, root=book)
    outside = []
    try:
        with sync_playwright() as pw:
            browser = pw.chromium.launch(executable_path=CHROMIUM, headless=True,
                                         args=["--no-sandbox", "--disable-gpu"])
            page = browser.new_page(viewport={"width": 1280, "height": 900})

            def route(r):
                if r.request.url.startswith("http://127.0.0.1:"):
                    return r.continue_()
                outside.append(r.request.url)
                return r.abort()

            page.route("**/*", route)
            page.goto(f"{server.url}/lab/tree/{chapter.name}?token={TOKEN}")
            # the kernel has started and answered (the status bar says so): Jupyter now has all it
            # writes into the metadata; and every cell of the chapter is on the page
            status = f"{KERNELSPEC['display_name']} | Idle"
            page.get_by_text(status, exact=True).wait_for(timeout=120_000)
            cells = len(nbformat.read(chapter, as_version=4).cells)
            page.wait_for_function(f"document.querySelectorAll('.jp-Notebook .jp-Cell').length"
                                   f" === {cells}", timeout=60_000)
            saved = len(re.findall("Saving file", server.log.read_text()))
            page.get_by_role("menuitem", name="File", exact=True).click()
            page.locator("li.lm-Menu-item[data-command='docmanager:save']").click()
            deadline = time.monotonic() + 60
            while len(re.findall("Saving file", server.log.read_text())) == saved:
                if time.monotonic() > deadline:
                    page.screenshot(path=tmp_path / "not-saved.png")
                    pytest.fail(f"JupyterLab did not save the notebook (see {tmp_path}/not-saved.png)")
                page.wait_for_timeout(200)  # (not time.sleep: the route above runs only in here)
            page.wait_for_timeout(1000)  # the file is written right after the log line
            browser.close()
    finally:
        server.stop()
    after = chapter.read_bytes()
    if after != before:
        old, new = json.loads(before), json.loads(after)
        changed = [k for k in sorted(set(old["metadata"]) | set(new["metadata"]))
                   if old["metadata"].get(k) != new["metadata"].get(k)]
        pytest.fail(f"saving {chapter.name} in JupyterLab changed it; metadata keys: {changed}")
    assert not outside, f"JupyterLab asked for outside addresses: {outside}"
