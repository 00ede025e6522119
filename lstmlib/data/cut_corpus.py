"""Cut the character model's corpus from the standard library of the running Python.

Run with CPython 3.11.7: `python lstmlib/data/cut_corpus.py`. It writes python-stdlib.txt, the
files below concatenated in this order, each as it is in the standard library (ASCII only, no
tabs, no carriage returns: checked). Other versions of Python give other text.
"""

import sys
import sysconfig
from pathlib import Path

VERSION = (3, 11, 7)
FILES = (  # modules of the standard library's top level, in alphabetical order
    "argparse", "ast", "calendar", "configparser", "contextlib", "copy", "csv", "dataclasses",
    "difflib", "enum", "glob", "inspect", "numbers", "operator", "pprint", "queue", "random",
    "selectors", "string", "textwrap", "tokenize", "traceback",
)

if __name__ == "__main__":
    if sys.version_info[:3] != VERSION:
        sys.exit(f"run this with Python {'.'.join(map(str, VERSION))}; this is {sys.version.split()[0]}")
    stdlib = Path(sysconfig.get_paths()["stdlib"])
    parts = []
    for name in FILES:
        text = (stdlib / f"{name}.py").read_bytes().decode("ascii")
        assert "\t" not in text and "\r" not in text, name
        parts.append(text)
    out = Path(__file__).with_name("python-stdlib.txt")
    out.write_text("".join(parts), encoding="ascii", newline="\n")
    print(f"{out.name}: {sum(map(len, parts))} characters from {len(FILES)} files")
