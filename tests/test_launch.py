"""Binder and Colab: what the launch buttons of the built book open, and what Binder builds.

Binder (repo2docker) reads the repository root when there is no binder/ or .binder/ folder:
runtime.txt for Python, requirements.txt for the packages, and, since pyproject.toml declares a
package with a build system, `pip install .` for lstmlib at the launched commit. The buttons are
checked in the built HTML (`-m built`, after `make book`).
"""

import re
import tomllib
from html import unescape
from pathlib import Path

import pytest
import yaml
from packaging.specifiers import SpecifierSet
from test_notebooks import NOTEBOOKS

ROOT = Path(__file__).resolve().parents[1]
CONFIG = yaml.safe_load((ROOT / "_config.yml").read_text())
PYPROJECT = tomllib.loads((ROOT / "pyproject.toml").read_text())
SITE = ROOT / "_build" / "html"


def repository():
    """(owner, name, branch) of the book's repository, from _config.yml."""
    url, branch = CONFIG["repository"]["url"], CONFIG["repository"]["branch"]
    owner, name = re.fullmatch(r"https://github\.com/([^/]+)/([^/]+?)/?", url).groups()
    return owner, name, branch


def expected_launch_urls(notebook):
    owner, name, branch = repository()
    path = notebook.relative_to(ROOT).as_posix()
    return {
        "Binder": f"https://mybinder.org/v2/gh/{owner}/{name}/{branch}?urlpath=lab/tree/{path}",
        "Colab": f"https://colab.research.google.com/github/{owner}/{name}/blob/{branch}/{path}",
    }


def test_binder_gets_python_311_and_the_repository_root():
    runtime = (ROOT / "runtime.txt").read_text().strip()
    assert re.fullmatch(r"python-3\.\d+", runtime), runtime
    version = runtime.removeprefix("python-")
    assert version in SpecifierSet(PYPROJECT["project"]["requires-python"]), (
        f"runtime.txt asks for Python {version}; pyproject.toml requires "
        f"{PYPROJECT['project']['requires-python']}")
    # a binder/ or .binder/ folder would make repo2docker ignore runtime.txt and requirements.txt
    assert not (ROOT / "binder").exists() and not (ROOT / ".binder").exists()
    # and `pip install .` needs both tables to count the repository as a package
    assert "build-system" in PYPROJECT and "project" in PYPROJECT
    pins = (ROOT / "requirements.txt").read_text()
    for needed in ("ipykernel==", "ipywidgets=="):
        assert needed in pins, f"Binder's kernel needs {needed.rstrip('=')} (requirements.txt)"


def test_launch_buttons_open_jupyterlab():
    launch = CONFIG["launch_buttons"]
    # in Notebook 7 the arrow keys on a slider go to its own shortcuts (the page scrolls)
    assert launch["notebook_interface"] == "jupyterlab"
    assert launch["binderhub_url"] == "https://mybinder.org"
    assert launch["colab_url"] == "https://colab.research.google.com"


@pytest.mark.built
@pytest.mark.parametrize("notebook", NOTEBOOKS, ids=lambda p: p.name)
def test_built_page_launches_its_notebook(notebook):
    page = SITE / notebook.relative_to(ROOT).with_suffix(".html")
    assert page.exists(), f"{page.name} is not built: run `make book` first"
    html = page.read_text(encoding="utf-8")
    links = {unescape(href) for href in re.findall(r'href="([^"]+)"', html)}
    for service, url in expected_launch_urls(notebook).items():
        assert url in links, f"no {service} button for {url} in {page.name}"
    others = [u for u in links if "mybinder.org" in u or "colab.research.google.com" in u]
    assert sorted(others) == sorted(expected_launch_urls(notebook).values())
