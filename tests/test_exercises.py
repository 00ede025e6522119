"""The exercise convention of every chapter, checked on the notebooks' structure.

Chapters are the notebooks listed in _toc.yml under the parts CHAPTER_PARTS. Each has 2 to 4
`{exercise}` directives under a `## Exercises` heading, labelled `<notebook name>-<short name>`
(unique in the book); each exercise is followed by its solution, `{solution-start} <label>` with
`:class: dropdown`, closed by `{solution-end}`. A code cell tagged `exercise-check` defines
`check_<name>` functions and nothing that runs on import; every check is called by a solution; the
notebook's last code cell is tagged `remove-cell` and feeds every check a wrong answer, failing if
one accepts it. Plotting cells carry `hide-input` (see `plotting_cells` for the exact rule).

`convention_problems(nb, name)` lists what a notebook gets wrong; the tests on the chapters assert
that the list is empty, and the tests on SAMPLE show the rule on a small notebook that follows it
and on broken copies of it.
"""

import ast
import copy
import re
from pathlib import Path

import nbformat
import pytest
import yaml
from IPython.core.inputtransformer2 import TransformerManager

ROOT = Path(__file__).resolve().parents[1]
CHAPTER_PARTS = ("The cell, gate by gate", "Beyond the walkthrough")
MIN_EXERCISES, MAX_EXERCISES = 2, 4


def chapter_notebooks():
    """Paths of the chapter notebooks in the parts CHAPTER_PARTS of _toc.yml, in reading order."""
    toc = yaml.safe_load((ROOT / "_toc.yml").read_text())
    parts = {part.get("caption"): part for part in toc.get("parts", [])}
    missing = [caption for caption in CHAPTER_PARTS if caption not in parts]
    assert not missing, f"_toc.yml has no part {missing}; parts are {list(parts)}"
    return [ROOT / f"{entry['file']}.ipynb" for caption in CHAPTER_PARTS
            for entry in parts[caption]["chapters"]]


CHAPTERS = chapter_notebooks()

# --- reading the directives of the markdown cells ---------------------------------------------------
# ```{name} argument   or   :::{name} argument, then :option: value lines
FENCE = re.compile(r"^(?P<fence>`{3,}|:{3,})\{(?P<name>[\w-]+)\}[ \t]*(?P<arg>.*)$")
OPTION = re.compile(r"^:(?P<key>[\w-]+):[ \t]*(?P<value>.*)$")


def directives(source):
    """[(name, argument, {option: value})] of the MyST directives in a markdown cell, in order."""
    found, lines = [], source.splitlines()
    for k, line in enumerate(lines):
        m = FENCE.match(line.strip())
        if not m:
            continue
        options = {}
        for following in lines[k + 1:]:
            o = OPTION.match(following.strip())
            if not o:
                break
            options[o["key"]] = o["value"].strip()
        found.append((m["name"], m["arg"].strip(), options))
    return found


def tags(cell):
    return set(cell.get("metadata", {}).get("tags", []))


def python_of(cell):
    """The cell's code as Python (IPython magics turned into calls), parsed."""
    return ast.parse(TransformerManager().transform_cell(cell.source))


# --- what makes a cell a plotting cell ---------------------------------------------------------------
# A plotting cell is a code cell that makes a figure: its code calls one of these pyplot functions (on
# the name pyplot is imported as), a lstmlib.viz diagram (`draw_...` imported from lstmlib.viz), or a
# control (`frame_slider`, `frame_slider2`), anywhere in the cell, also inside a function it
# defines; or its outputs hold a figure (image/png) or a control (a widget view). Cells of a solution
# and `exercise-check` cells are not held to it (their code is what the reader asked to see), nor
# cells whose input the book never shows (`remove-cell`, `remove-input`).
PYPLOT_FIGURE_CALLS = {"figure", "subplots", "subplot", "subplot_mosaic", "axes", "plot", "bar",
                       "barh", "hist", "scatter", "imshow", "step", "fill_between", "stem", "show"}
CONTROLS = {"frame_slider", "frame_slider2"}


def names_bound(nb):
    """{local name: what it is} for pyplot and lstmlib.viz's draw_ functions, from the imports."""
    bound = {}
    for cell in nb.cells:
        if cell.cell_type != "code":
            continue
        for node in ast.walk(python_of(cell)):
            if isinstance(node, ast.Import):
                for alias in node.names:
                    if alias.name == "matplotlib.pyplot":
                        bound[alias.asname or alias.name] = "pyplot"
            elif isinstance(node, ast.ImportFrom) and node.module:
                for alias in node.names:
                    if node.module == "matplotlib" and alias.name == "pyplot":
                        bound[alias.asname or "pyplot"] = "pyplot"
                    elif node.module == "lstmlib.viz" and alias.name.startswith("draw_"):
                        bound[alias.asname or alias.name] = "diagram"
                    elif node.module == "lstmlib.widgets" and alias.name in CONTROLS:
                        bound[alias.asname or alias.name] = "control"
    return bound


def makes_figure(cell, bound):
    """Whether a code cell makes a figure (see the rule above)."""
    for node in ast.walk(python_of(cell)):
        if not isinstance(node, ast.Call):
            continue
        f = node.func
        if isinstance(f, ast.Name) and bound.get(f.id) in ("diagram", "control"):
            return True
        if isinstance(f, ast.Attribute) and isinstance(f.value, ast.Name):
            owner = bound.get(f.value.id)
            if owner == "pyplot" and f.attr in PYPLOT_FIGURE_CALLS:
                return True
            if f.value.id in ("viz", "lstmlib") and f.attr.startswith("draw_"):
                return True
    for out in cell.get("outputs", []):
        data = out.get("data", {})
        if "image/png" in data or "application/vnd.jupyter.widget-view+json" in data:
            return True
    return False


def solution_cells(nb):
    """Indices of the cells between a {solution-start} and its {solution-end}."""
    inside, found = False, set()
    for k, cell in enumerate(nb.cells):
        names = [d[0] for d in directives(cell.source)] if cell.cell_type == "markdown" else []
        if "solution-start" in names:
            inside = True
        elif "solution-end" in names:
            inside = False
        elif inside:
            found.add(k)
    return found


def plotting_cells(nb):
    """Indices of the code cells held to the hide-input rule."""
    bound, in_solution = names_bound(nb), solution_cells(nb)
    return [k for k, cell in enumerate(nb.cells)
            if cell.cell_type == "code" and k not in in_solution
            and not tags(cell) & {"exercise-check", "remove-cell", "remove-input"}
            and makes_figure(cell, bound)]


# --- the convention -----------------------------------------------------------------------------------

def check_functions(tree):
    return [node.name for node in tree.body
            if isinstance(node, ast.FunctionDef) and node.name.startswith("check_")]


def names_used(tree):
    return {node.id for node in ast.walk(tree) if isinstance(node, ast.Name)}


def convention_problems(nb, name):
    """Every way the notebook `nb` (file name `name`, no suffix) breaks the exercise convention."""
    problems = []
    # the exercises and their solutions, in the order of the markdown
    seq = []  # (cell index, directive name, argument, options)
    heading = None
    for k, cell in enumerate(nb.cells):
        if cell.cell_type != "markdown":
            continue
        if heading is None and re.search(r"^##\s+Exercises\s*$", cell.source, re.M):
            heading = k
        seq += [(k, *d) for d in directives(cell.source)
                if d[0] in ("exercise", "solution-start", "solution-end", "solution")]
    exercises = [(k, opts.get("label", "")) for k, kind, _, opts in seq if kind == "exercise"]
    if not MIN_EXERCISES <= len(exercises) <= MAX_EXERCISES:
        problems.append(f"{len(exercises)} {{exercise}} directives; a chapter has "
                        f"{MIN_EXERCISES} to {MAX_EXERCISES}")
    if exercises and (heading is None or heading > exercises[0][0]):
        problems.append("the exercises are not under a '## Exercises' heading")
    for k, label in exercises:
        if not label:
            problems.append(f"the {{exercise}} in cell {k} has no :label:")
        elif not label.startswith(f"{name}-"):
            problems.append(f"exercise label {label!r} does not start with the notebook's name "
                            f"{name + '-'!r}")
    labels = [label for _, label in exercises]
    if len(set(labels)) != len(labels):
        problems.append(f"exercise labels repeat: {labels}")
    if any(kind == "solution" for _, kind, _, _ in seq):
        problems.append("a plain {solution} directive: use the gated {solution-start}/{solution-end}")
    # each exercise is followed by its solution, opened and closed before the next exercise
    for n, (k, label) in enumerate(exercises):
        end = exercises[n + 1][0] if n + 1 < len(exercises) else len(nb.cells)
        after = [(j, kind, arg, opts) for j, kind, arg, opts in seq if k <= j < end]
        starts = [(j, arg, opts) for j, kind, arg, opts in after if kind == "solution-start"]
        if [arg for _, arg, _ in starts] != [label]:
            problems.append(f"exercise {label!r} is followed by solution-start(s) "
                            f"{[arg for _, arg, _ in starts]}, not one labelled {label!r}")
            continue
        j, _, opts = starts[0]
        if opts.get("class") != "dropdown":
            problems.append(f"the solution of {label!r} is not ':class: dropdown' (hidden by default)")
        if not any(kind == "solution-end" and i > j for i, kind, _, _ in after):
            problems.append(f"the solution of {label!r} has no {{solution-end}} before the next exercise")
    # the checks, the solutions that call them, the last cell that feeds them wrong answers
    code = [(k, cell) for k, cell in enumerate(nb.cells) if cell.cell_type == "code"]
    defined = {}
    for k, cell in code:
        tree = python_of(cell)
        names = check_functions(tree)
        if "exercise-check" in tags(cell):
            if not names:
                problems.append(f"cell {k} is tagged exercise-check but defines no check_ function")
            others = [type(node).__name__ for node in tree.body
                      if not isinstance(node, (ast.FunctionDef, ast.Import, ast.ImportFrom))
                      and not (isinstance(node, ast.Expr) and isinstance(node.value, ast.Constant))]
            if others:
                problems.append(f"the exercise-check cell {k} runs more than definitions: {others}")
        elif names:
            problems.append(f"cell {k} defines {names} but is not tagged exercise-check")
        defined.update(dict.fromkeys(names, k))
    in_solution = solution_cells(nb)
    called = set()
    for k, cell in code:
        if k in in_solution:
            called |= {node.func.id for node in ast.walk(python_of(cell))
                       if isinstance(node, ast.Call) and isinstance(node.func, ast.Name)}
    for check in defined:
        if check not in called:
            problems.append(f"no solution calls {check}")
    if defined:
        k, last = code[-1]
        if "remove-cell" not in tags(last):
            problems.append(f"the last code cell ({k}) is not tagged remove-cell")
        tree = python_of(last)
        fed = names_used(tree) & set(defined)
        if set(defined) - fed:
            problems.append(f"the last code cell feeds no wrong answer to {sorted(set(defined) - fed)}")
        handlers = [h for node in ast.walk(tree) if isinstance(node, ast.Try) for h in node.handlers]
        if not any(isinstance(h.type, ast.Name) and h.type.id == "AssertionError" for h in handlers) \
                or not any(isinstance(node, ast.Raise) for node in ast.walk(tree)):
            problems.append("the last code cell does not fail when a check accepts a wrong answer "
                            "(try: check(wrong) / except AssertionError / raise)")
    # plotting cells show their figure, not their code
    for k in plotting_cells(nb):
        if "hide-input" not in tags(nb.cells[k]):
            first = nb.cells[k].source.strip().splitlines()[0][:60]
            problems.append(f"plotting cell {k} ({first!r}) is not tagged hide-input")
    return problems


# --- the chapters ---------------------------------------------------------------------------------

def test_the_chapter_parts_are_notebooks():
    assert CHAPTERS, "no chapter under the parts " + repr(CHAPTER_PARTS)
    missing = [p.relative_to(ROOT).as_posix() for p in CHAPTERS if not p.exists()]
    assert not missing, f"chapters without a notebook: {missing}"


@pytest.mark.parametrize("path", CHAPTERS, ids=[p.stem for p in CHAPTERS])
def test_chapter_follows_the_exercise_convention(path):
    problems = convention_problems(nbformat.read(path, as_version=4), path.stem)
    assert not problems, f"{path.relative_to(ROOT).as_posix()}:\n  " + "\n  ".join(problems)


def test_exercise_labels_are_unique_across_the_book():
    seen = {}
    for path in CHAPTERS:
        for cell in nbformat.read(path, as_version=4).cells:
            if cell.cell_type == "markdown":
                for name, _, opts in directives(cell.source):
                    if name == "exercise" and opts.get("label"):
                        seen.setdefault(opts["label"], []).append(path.stem)
    assert not {label: where for label, where in seen.items() if len(where) > 1}


# --- the rule on a sample notebook that follows it, and on broken copies --------------------------

def md(text, **meta):
    return nbformat.v4.new_markdown_cell(text, metadata=meta)


def code(text, *tags_, outputs=()):
    cell = nbformat.v4.new_code_cell(text, metadata={"tags": list(tags_)} if tags_ else {})
    cell.outputs = [nbformat.from_dict(o) for o in outputs]
    return cell


PNG_OUTPUT = {"output_type": "display_data", "metadata": {},
              "data": {"image/png": "iVBORw0KGgo=", "text/plain": "<Figure>"}}


@pytest.fixture
def sample():
    """A small chapter that follows the convention (named `sample`)."""
    nb = nbformat.v4.new_notebook()
    nb.cells = [
        md("# Sample\n\nA chapter."),
        code("try:\n    import lstmlib\nexcept ImportError:\n    %pip install --quiet lstmlib"),
        code("import matplotlib.pyplot as plt\nimport numpy as np\n"
             "from lstmlib.viz import draw_cell, use_style\nfrom lstmlib.widgets import frame_slider\n"
             "use_style()"),
        code("fig, ax = plt.subplots()\nax.plot([0, 1]);", "hide-input", outputs=[PNG_OUTPUT]),
        code("draw_cell(highlight='forget');", "hide-input"),
        code("x = np.arange(3)\nprint(x.sum())"),
        md("## Exercises\n\n```{exercise}\n:label: sample-halve\nHalve 3.\n```"),
        code("def check_halve(answer):\n    \"\"\"Half of 3.\"\"\"\n"
             "    assert answer == 3 / 2, f\"half of 3 is 1.5, got {answer}\"", "exercise-check"),
        md("```{solution-start} sample-halve\n:class: dropdown\n```"),
        code("answer = 3 / 2\ncheck_halve(answer)\nprint(answer)"),
        md("```{solution-end}\n```"),
        md(":::{exercise}\n:label: sample-plot\nPlot the forget gate.\n:::"),
        code("def check_gate(value):\n    assert 0 <= value <= 1, f\"a gate is in [0, 1], got {value}\"\n\n"
             "def check_plot(fig):\n    assert fig.axes, \"the figure has no axes\"", "exercise-check"),
        md(":::{solution-start} sample-plot\n:class: dropdown\n:::"),
        code("fig, ax = plt.subplots()\ncheck_plot(fig)\ncheck_gate(0.5)"),
        md(":::{solution-end}\n:::"),
        code("for check, wrong in [(check_halve, 1.0), (check_gate, 2.0), (check_plot, plt.figure())]:\n"
             "    try:\n        check(wrong)\n    except AssertionError:\n        continue\n"
             "    raise AssertionError(f\"{check.__name__} accepted {wrong!r}\")\n"
             "print(\"every check rejects a wrong answer\")", "remove-cell"),
    ]
    return nb


def test_the_sample_follows_the_convention(sample):
    assert convention_problems(sample, "sample") == []
    assert plotting_cells(sample) == [3, 4]  # not the solution's figure, not the last cell's


def broken(nb, k, source=None, tags_=None):
    nb = copy.deepcopy(nb)
    if source is not None:
        nb.cells[k].source = source
    if tags_ is not None:
        nb.cells[k].metadata["tags"] = list(tags_)
    return nb


@pytest.mark.parametrize("change, problem", [
    (lambda nb: broken(nb, 3, tags_=[]), "plotting cell 3 ('fig, ax = plt.subplots()') is not tagged"),
    (lambda nb: broken(nb, 4, tags_=[]), "plotting cell 4"),
    (lambda nb: broken(nb, 5, source="import matplotlib.pyplot as P\nfig = P.figure()"),
     "plotting cell 5"),
    (lambda nb: broken(nb, 5, source="control = frame_slider(f, [0, 1], label='a', caption='c')"),
     "plotting cell 5"),
    (lambda nb: broken(nb, 5, source="fig"), None),  # no figure made, no figure shown: fine
    (lambda nb: broken(nb, 6, source="## Exercises\n\n```{exercise}\n:label: halve\nHalve 3.\n```"),
     "'halve' does not start with the notebook's name"),
    (lambda nb: broken(nb, 8, source="```{solution-start} sample-halve\n```"),
     "is not ':class: dropdown'"),
    (lambda nb: broken(nb, 8, source="```{solution-start} sample-plot\n:class: dropdown\n```"),
     "not one labelled 'sample-halve'"),
    (lambda nb: broken(nb, 10, source="The end."), "'sample-halve' has no {solution-end}"),
    (lambda nb: broken(nb, 7, tags_=[]), "defines ['check_halve'] but is not tagged exercise-check"),
    (lambda nb: broken(nb, 7, source="x = 1"), "defines no check_ function"),
    (lambda nb: broken(nb, 7, source=nb.cells[7].source + "\ncheck_halve(1.5)"),
     "runs more than definitions"),
    (lambda nb: broken(nb, 9, source="print(3 / 2)"), "no solution calls check_halve"),
    (lambda nb: broken(nb, 16, tags_=[]), "the last code cell (16) is not tagged remove-cell"),
    (lambda nb: broken(nb, 16, source=nb.cells[16].source.replace("(check_gate, 2.0), ", "")),
     "feeds no wrong answer to ['check_gate']"),
    (lambda nb: broken(nb, 16, source="for check in [check_halve, check_gate, check_plot]:\n"
                                      "    check(0)"), "does not fail when a check accepts"),
    (lambda nb: broken(nb, 11, source="Plot the forget gate."), "1 {exercise} directives"),
])
def test_a_broken_sample_is_caught(sample, change, problem):
    problems = convention_problems(change(sample), "sample")
    if problem is None:
        assert problems == []
    else:
        assert any(problem in p for p in problems), problems


def test_too_many_exercises_are_caught(sample):
    extra = [md(f"```{{exercise}}\n:label: sample-more{n}\nMore.\n```") for n in range(3)]
    nb = copy.deepcopy(sample)
    nb.cells[11:11] = extra
    assert any("5 {exercise} directives" in p for p in convention_problems(nb, "sample"))
