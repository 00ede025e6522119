"""lstmlib as a reader gets it: its declared dependencies, the release the install cell pins, the
examples of the README and the API reference, and every notebook run in a clean environment.

The clean-environment test (`-m install`, `make clean-venv`) builds a new venv holding only a kernel
(ipykernel, nbconvert), makes a git repository of lstmlib tagged like the release the install cell
names, and executes every chapter there with nbconvert: the first chapter's install cell installs
lstmlib from that repository (not editable, with exactly the dependencies pyproject.toml declares),
the others find it installed. A dependency missing from pyproject.toml fails the chapter that
imports it. Package versions come from constraints.txt, so the run is the same on every machine.
"""

import ast
import importlib.metadata
import json
import os
import re
import shutil
import subprocess
import sys
import time
import tomllib
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import nbformat
import pytest
from packaging.requirements import Requirement
from packaging.utils import canonicalize_name
from test_notebooks import NOTEBOOKS, REPOSITORY

ROOT = Path(__file__).resolve().parents[1]
PROJECT = tomllib.loads((ROOT / "pyproject.toml").read_text())["project"]
VERSION = PROJECT["version"]
TAG = f"v{VERSION}"
DECLARED = {canonicalize_name(Requirement(r).name): Requirement(r) for r in PROJECT["dependencies"]}
KERNEL = ["ipykernel", "nbconvert", "nbclient"]  # what runs a notebook, and nothing of lstmlib's
INSTALLED_LINE = f"Installed lstmlib {VERSION} (tag {TAG}) from the book's repository."
FOUND_LINE = f"Using the lstmlib {VERSION} installed here (the book was built with {VERSION})."


# --- the metadata ----------------------------------------------------------------------------

def imported_packages(package_dir):
    """Top-level names of every absolute import in the package's modules, in functions too."""
    names = set()
    for path in sorted(package_dir.glob("*.py")):
        for node in ast.walk(ast.parse(path.read_text(), filename=str(path))):
            if isinstance(node, ast.Import):
                names |= {alias.name.split(".")[0] for alias in node.names}
            elif isinstance(node, ast.ImportFrom) and node.level == 0:
                names.add(node.module.split(".")[0])
    return names - set(sys.stdlib_module_names) - {package_dir.name}


def test_every_import_of_lstmlib_is_a_declared_dependency():
    providers = importlib.metadata.packages_distributions()
    imported = imported_packages(ROOT / "lstmlib")
    unknown = sorted(name for name in imported if name not in providers)
    assert not unknown, f"imported by lstmlib but not installed here: {unknown}"
    needed = {canonicalize_name(dist) for name in imported for dist in providers[name]}
    assert needed == set(DECLARED), (
        f"pyproject.toml declares {sorted(DECLARED)}; lstmlib imports {sorted(needed)}")


def test_every_dependency_has_a_lower_bound_that_the_pins_satisfy():
    pins = {}
    for line in (ROOT / "requirements.txt").read_text().splitlines():
        if "==" in line and not line.startswith("#"):
            name, version = line.split("#")[0].strip().split("==")
            pins[canonicalize_name(name)] = version
    for name, req in DECLARED.items():
        assert any(s.operator == ">=" for s in req.specifier), f"{name}: no lower bound"
        assert name in pins, f"{name} is not pinned in requirements.txt"
        assert req.specifier.contains(pins[name]), f"{name}=={pins[name]} is outside {req.specifier}"


def test_release_tag_holds_this_code():
    """The install cell installs tag v<version>: once that tag exists, lstmlib must not have changed
    since (a change needs a new version, and `make notebooks` with the new install cell)."""
    if not (ROOT / ".git").exists():
        pytest.skip("not a git checkout")
    tags = subprocess.run(["git", "tag", "--list", TAG], cwd=ROOT, capture_output=True, text=True,
                          check=True).stdout.split()
    if TAG not in tags:
        pytest.skip(f"no tag {TAG} yet: tag the commit the book is published from (CONTRIBUTING.md)")
    diff = subprocess.run(["git", "diff", "--stat", TAG, "--", "lstmlib", "pyproject.toml"],
                          cwd=ROOT, capture_output=True, text=True, check=True).stdout
    assert not diff, f"lstmlib changed since {TAG}; raise the version:\n{diff}"


def code_blocks(path):
    return re.findall(r"^```python\n(.*?)^```", path.read_text(), flags=re.S | re.M)


@pytest.mark.parametrize("doc", ["README.md", "book/api.md"])
def test_examples_in_the_docs_run(doc):
    blocks = code_blocks(ROOT / doc)
    assert blocks, f"{doc} has no python example"
    for block in blocks:
        exec(compile(block, doc, "exec"), {})


# --- a clean environment -----------------------------------------------------------------------

def clean_env(tmp, constraints=True):
    """The environment of a new machine: no PYTHONPATH, no Jupyter or IPython settings of ours."""
    env = {k: v for k, v in os.environ.items()
           if k not in {"PYTHONPATH", "PYTHONHOME", "PYTHONSTARTUP", "VIRTUAL_ENV"}
           and not k.startswith(("JUPYTER", "IPYTHON", "MPL"))}
    for var in ("JUPYTER_CONFIG_DIR", "JUPYTER_DATA_DIR", "JUPYTER_RUNTIME_DIR", "IPYTHONDIR",
                "MPLCONFIGDIR"):
        env[var] = str(tmp / "home" / var.lower())
    env["PATH"] = f"{tmp / 'venv' / 'bin'}{os.pathsep}{env['PATH']}"
    if constraints:  # the exact versions the tests ran with
        env["PIP_CONSTRAINT"] = str(ROOT / "constraints.txt")
    return env


def run(cmd, **kw):
    done = subprocess.run(cmd, capture_output=True, text=True, **kw)
    command = " ".join(map(str, cmd))
    assert done.returncode == 0, f"{command} failed:\n{done.stdout[-3000:]}{done.stderr[-3000:]}"
    return done.stdout


def release_repository(tmp):
    """lstmlib as the book's repository holds it, tagged v<version>, for `pip install git+file://`."""
    repo = tmp / "repo"
    repo.mkdir()
    for name in ("pyproject.toml", "README.md", "LICENSE"):
        shutil.copy(ROOT / name, repo / name)
    shutil.copytree(ROOT / "lstmlib", repo / "lstmlib", ignore=shutil.ignore_patterns("__pycache__"))
    git = ["git", "-C", str(repo), "-c", "user.name=release", "-c", "user.email=release@localhost"]
    run(["git", "init", "-q", str(repo)])
    run([*git, "add", "-A"])
    run([*git, "commit", "-q", "-m", f"lstmlib {VERSION}"])
    run([*git, "tag", TAG])
    return repo, run([*git, "rev-parse", "HEAD"]).strip()


def run_book_in_clean_venv(tmp, preinstall=(), constraints=True):
    """Execute every chapter in a new venv (a kernel, plus `preinstall`); return what happened.

    With constraints=False, pip picks versions as it would for a reader (e.g. on Colab, where the
    packages of `preinstall` are there before the install cell runs).
    """
    env = clean_env(tmp, constraints)
    repo, commit = release_repository(tmp)
    timings = {}
    start = time.perf_counter()
    run([sys.executable, "-m", "venv", str(tmp / "venv")], env=env)
    pip = [str(tmp / "venv" / "bin" / "python"), "-m", "pip", "install", "--quiet"]
    run([*pip, *KERNEL, *preinstall], env=env)
    timings["venv"] = time.perf_counter() - start

    book = tmp / "book"
    shutil.copytree(ROOT / "book", book)
    for path in NOTEBOOKS:
        nb = nbformat.read(book / path.name, as_version=4)
        first = next(c for c in nb.cells if c.cell_type == "code")
        assert f"git+{REPOSITORY}@{TAG}" in first.source, f"{path.name}: install cell without {TAG}"
        first.source = first.source.replace(f"git+{REPOSITORY}@", f"git+file://{repo}@")
        nbformat.write(nb, book / path.name)

    def execute(path):
        t0 = time.perf_counter()
        done = subprocess.run(
            [str(tmp / "venv" / "bin" / "jupyter"), "nbconvert", "--to", "notebook", "--execute",
             "--output-dir", str(tmp / "out"), "--ExecutePreprocessor.timeout=600",
             "--ExecutePreprocessor.kernel_name=python3", path.name],
            cwd=book, env=env, capture_output=True, text=True)
        timings[path.name] = time.perf_counter() - t0
        return path, done

    # the smallest chapter installs lstmlib; then the rest, largest first, two at a time
    order = sorted(NOTEBOOKS, key=lambda p: p.stat().st_size)
    results = [execute(order[0])]
    with ThreadPoolExecutor(max_workers=2) as pool:
        results += list(pool.map(execute, reversed(order[1:])))
    timings["total"] = time.perf_counter() - start
    for path, done in results:
        assert done.returncode == 0, f"{path.name} failed in the clean venv:\n{done.stderr[-4000:]}"

    python = str(tmp / "venv" / "bin" / "python")
    where = run([python, "-c", "import lstmlib, importlib.metadata as m; print(lstmlib.__file__); "
                 "print(m.distribution('lstmlib').read_text('direct_url.json'))"], env=env, cwd=tmp)
    location, direct_url = where.split("\n", 1)
    installed = set(run([python, "-m", "pip", "list", "--format=freeze"], env=env).split())
    return {
        "first": order[0].name,
        "outputs": {p.name: nbformat.read(tmp / "out" / p.name, as_version=4) for p, _ in results},
        "location": Path(location),
        "direct_url": json.loads(direct_url),
        "commit": commit,
        "pip_check": subprocess.run([python, "-m", "pip", "check"], env=env, capture_output=True,
                                    text=True),
        "installed": installed,
        "timings": timings,
    }


def first_output(nb):
    first = next(c for c in nb.cells if c.cell_type == "code")
    text = "".join(o.get("text", "") for o in first.outputs if o.get("name") == "stdout")
    return text.strip().splitlines()


@pytest.mark.install
def test_every_notebook_runs_in_a_clean_venv(tmp_path):
    got = run_book_in_clean_venv(tmp_path)
    print("seconds:", json.dumps({k: round(v, 1) for k, v in got["timings"].items()}))

    # the first chapter installed lstmlib from the tagged repository, not editable, ...
    assert first_output(got["outputs"][got["first"]])[-1:] == [INSTALLED_LINE]
    assert got["location"].is_relative_to(tmp_path / "venv"), got["location"]
    vcs = got["direct_url"].get("vcs_info", {})
    assert vcs.get("requested_revision") == TAG and vcs.get("commit_id") == got["commit"]
    assert not got["direct_url"].get("dir_info", {}).get("editable")
    # ... with dependencies that agree, and the other chapters used it as it was
    assert got["pip_check"].returncode == 0, got["pip_check"].stdout
    for name, nb in got["outputs"].items():
        if name != got["first"]:
            assert first_output(nb) == [FOUND_LINE], name
        errors = [o for c in nb.cells if c.cell_type == "code" for o in c.outputs
                  if o.output_type == "error"]
        assert not errors, f"{name}: {[e.ename for e in errors]}"
