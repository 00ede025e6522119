"""The widget manager the book serves: fetched from the npm registry without node, and only when
its bytes match the checksum pinned in _ext/vendor.json."""

import copy
import importlib.util
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]


def load_extension():
    spec = importlib.util.spec_from_file_location("offline_widgets_vendor",
                                                  ROOT / "_ext" / "offline_widgets.py")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def test_widget_manager_is_fetched_and_checked_without_node(tmp_path, monkeypatch):
    ext = load_extension()
    monkeypatch.setenv("PATH", str(tmp_path / "empty"))  # no node, no npm, no other program
    ext.vendor_html_manager(tmp_path / "widgets")
    files = {p.name for p in (tmp_path / "widgets").iterdir()}
    assert {"embed.js", "embed.js.LICENSE.txt", ".version"} <= files
    assert any(name.endswith(".woff2") for name in files), "the widget fonts are served too"
    assert (tmp_path / "widgets" / ".version").read_text() == ext.VENDOR["html-manager"]["integrity"]
    assert (tmp_path / "widgets" / "embed.js").stat().st_size > 1_000_000


def test_a_checksum_that_does_not_match_stops_the_build(tmp_path, monkeypatch):
    ext = load_extension()
    vendor = copy.deepcopy(ext.VENDOR)
    vendor["html-manager"]["integrity"] = "sha512-" + "A" * 86 + "=="
    monkeypatch.setattr(ext, "VENDOR", vendor)
    with pytest.raises(RuntimeError, match="integrity"):
        ext.vendor_html_manager(tmp_path / "widgets")
    assert not (tmp_path / "widgets").exists(), "nothing is unpacked from an unchecked tarball"


def test_a_tarball_whose_bytes_differ_is_refused(tmp_path, monkeypatch):
    import io
    import urllib.request

    ext = load_extension()
    real = urllib.request.urlopen

    def tampered(url, *args, **kwargs):
        response = real(url, *args, **kwargs)
        if not str(url).endswith(".tgz"):
            return response
        with response:
            return io.BytesIO(response.read() + b"\0")  # one byte more, same registry metadata

    monkeypatch.setattr(urllib.request, "urlopen", tampered)
    with pytest.raises(RuntimeError, match="checksum"):
        ext.vendor_html_manager(tmp_path / "widgets")
    assert not (tmp_path / "widgets").exists()
