"""Sphinx extension: the API reference (book/api.md) shows lstmlib's docstrings as they are written.

lstmlib's docstrings are plain text, the way `help()` shows them: equations such as e^{-|z|},
signatures such as `sample(batch_size, *, seed)`, and shape lines aligned in columns. Read as
reStructuredText, `|z|` would be a substitution, `*` would start emphasis and the columns would
collapse into one run-on line. So before autodoc renders a docstring:

- a paragraph laid out in columns (a run of three or more spaces inside a line) or indented under
  the text above it is shown as preformatted text, exactly as written;
- everywhere else `*`, `|` and backslashes are escaped, so they print as themselves; `name` in
  backquotes stays code (the book's `default_role: literal`).

A class whose `__new__` comes from a library (an ipywidgets widget has traitlets' `__new__(*args,
**kwargs)`) is shown with the signature of its own `__init__`, which is how it is called.
"""

import inspect
import re

COLUMNS = re.compile(r"\S {3,}\S")  # text, three or more spaces, text: columns
CODE = re.compile(r"(`[^`]*`)")     # a `name` span, left as it is
SPECIAL = re.compile(r"([\\*|])")


def _paragraphs(lines):
    block = []
    for line in lines:
        if line.strip():
            block.append(line)
        elif block:
            yield block
            block = []
    if block:
        yield block


def _escape(line):
    parts = CODE.split(line)
    return "".join(p if k % 2 else SPECIAL.sub(r"\\\1", p) for k, p in enumerate(parts))


def plain_text(lines):
    """Docstring lines (as autodoc gives them, dedented) -> reST that shows them as written."""
    out = []
    for block in _paragraphs(lines):
        indent = min(len(line) - len(line.lstrip()) for line in block)
        if indent or any(COLUMNS.search(line.strip()) for line in block):
            out += [".. code-block:: text", ""] + ["    " + line[indent:] for line in block] + [""]
        else:
            out += [_escape(line) for line in block] + [""]
    return out


def on_process_docstring(app, what, name, obj, options, lines):
    if name == "lstmlib" or name.startswith("lstmlib."):
        lines[:] = plain_text(lines)


def on_process_signature(app, what, name, obj, options, signature, return_annotation):
    if what != "class" or not name.startswith("lstmlib."):
        return None
    new = getattr(obj, "__new__", None)
    foreign = inspect.isfunction(new) and not (new.__module__ or "").startswith("lstmlib")
    if foreign and "__init__" in vars(obj):
        sig = inspect.signature(obj.__init__)
        params = list(sig.parameters.values())[1:]  # without self
        return str(sig.replace(parameters=params, return_annotation=inspect.Signature.empty)), None
    return None


def on_config_inited(app, config):
    # _config.yml can only give nitpick_ignore's pairs as lists; Sphinx looks them up as tuples
    config.nitpick_ignore = [tuple(pair) for pair in config.nitpick_ignore]


def _tolerate_untitled_sections():
    """sphinx-exercise wraps an exercise's body in a section without a title, and
    sphinx-codeautolink 0.20 pops a title for every section it leaves (IndexError: pop from empty
    list): pop only for a section that starts with its title, the one its visit_title pushed."""
    from docutils import nodes
    from sphinx_codeautolink.extension.block import CodeBlockAnalyser

    def depart_section(self, node):
        if node.children and type(node.children[0]) is nodes.title:
            self.title_stack.pop()

    CodeBlockAnalyser.depart_section = depart_section


def setup(app):
    _tolerate_untitled_sections()
    app.connect("config-inited", on_config_inited)
    app.connect("autodoc-process-docstring", on_process_docstring)
    app.connect("autodoc-process-signature", on_process_signature)
    return {"parallel_read_safe": True, "parallel_write_safe": True}
