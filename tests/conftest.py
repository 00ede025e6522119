import numpy as np
import pytest


@pytest.fixture
def rng():
    """A seeded generator, fresh for every test."""
    return np.random.default_rng(20260)


def pytest_configure(config):
    config.addinivalue_line("markers", "browser: drives the built book in headless Chromium")


def _central_differences(loss, arr, eps):
    """d loss / d arr by central differences, perturbing `arr` in place (restored afterwards).

    Error O(eps²) from truncation plus O(ulp / eps) from rounding: eps = 1e-6 in float64 keeps
    both near 1e-10, far below the 1e-6 the tests allow.
    """
    grad = np.zeros(arr.shape)
    for idx in np.ndindex(arr.shape):
        old = arr[idx]
        arr[idx] = old + eps
        up = loss()
        arr[idx] = old - eps
        down = loss()
        arr[idx] = old
        grad[idx] = (up - down) / (2 * eps)
    return grad


@pytest.fixture(scope="session")
def numgrad():
    """numgrad(loss, arr, eps=1e-6): central-difference gradient of loss() with respect to arr."""
    return lambda loss, arr, eps=1e-6: _central_differences(loss, arr, eps)


def _relative_error(a, b):
    """‖a - b‖ / max(‖a‖, ‖b‖), 0 when both vanish: one number per array, scale-free."""
    scale = max(np.linalg.norm(a), np.linalg.norm(b))
    return 0.0 if scale == 0 else float(np.linalg.norm(np.asarray(a) - np.asarray(b)) / scale)


@pytest.fixture(scope="session")
def rel_err():
    return _relative_error
