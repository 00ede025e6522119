"""Sphinx extension: serve the widget manager from the book itself (filled in by the offline work)."""


def setup(app):
    return {"parallel_read_safe": True, "parallel_write_safe": True}
