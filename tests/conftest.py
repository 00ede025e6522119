import numpy as np
import pytest


@pytest.fixture
def rng():
    """A seeded generator, fresh for every test."""
    return np.random.default_rng(20260)


def pytest_configure(config):
    config.addinivalue_line("markers", "browser: drives the built book in headless Chromium")
