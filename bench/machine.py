"""What the numbers were measured on, and how busy the machine was while measuring."""

import os
import platform
import time

import numpy as np


def _cpu_model():
    """Model name, family/model numbers and the widest vector extension, from /proc/cpuinfo."""
    try:
        with open("/proc/cpuinfo") as fh:
            info = dict(line.split(":", 1) for line in fh.read().split("\n\n")[0].splitlines()
                        if ":" in line)
    except OSError:
        return platform.processor() or "unknown"
    info = {k.strip(): v.strip() for k, v in info.items()}
    flags = set(info.get("flags", "").split())
    simd = next((name for flag, name in (("avx512f", "AVX-512"), ("avx2", "AVX2"), ("avx", "AVX"))
                 if flag in flags), "no AVX")
    return (f"{info.get('model name', 'unknown')} (family {info.get('cpu family', '?')}, "
            f"model {info.get('model', '?')}, {simd})")


def _physical_cores():
    """Distinct (physical id, core id) pairs in /proc/cpuinfo; None where it is not readable."""
    try:
        with open("/proc/cpuinfo") as fh:
            text = fh.read()
    except OSError:
        return None
    cores, phys = set(), "0"
    for line in text.splitlines():
        key, _, val = line.partition(":")
        key = key.strip()
        if key == "physical id":
            phys = val.strip()
        elif key == "core id":
            cores.add((phys, val.strip()))
    return len(cores) or None


def _memory_gib():
    try:
        with open("/proc/meminfo") as fh:
            kib = int(fh.readline().split()[1])
        return round(kib / 2**20, 1)
    except (OSError, ValueError, IndexError):
        return None


def _blas():
    """The BLAS numpy calls at run time (threadpoolctl shows the kernel OpenBLAS picked)."""
    try:
        from threadpoolctl import threadpool_info
    except ImportError:
        return [{"note": "threadpoolctl is not installed; see numpy_config"}]
    keep = ("user_api", "internal_api", "prefix", "version", "num_threads", "architecture",
            "threading_layer")
    return [{k: v for k, v in info.items() if k in keep} for info in threadpool_info()]


def _numpy_blas_config():
    try:
        cfg = np.show_config(mode="dicts")
        blas = cfg["Build Dependencies"]["blas"]
        return {k: blas.get(k) for k in ("name", "version", "openblas configuration")}
    except Exception as exc:  # noqa: BLE001 (only a description; its absence must not stop a run)
        return {"error": repr(exc)}


def describe(unset_env):
    """A dict describing this machine and the libraries in this process."""
    try:
        import torch
        torch_info = {"version": torch.__version__, "threads": torch.get_num_threads(),
                      "blas": "MKL" if torch.backends.mkl.is_available() else "other",
                      "cpu_capability": torch.backends.cpu.get_cpu_capability()}
    except ImportError:
        torch_info = None
    affinity = len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else os.cpu_count()
    return {
        "cpu": _cpu_model(),
        "logical_cpus": os.cpu_count(),
        "cpus_usable": affinity,
        "physical_cores": _physical_cores(),
        "memory_gib": _memory_gib(),
        "os": platform.platform(),
        "python": platform.python_version(),
        "numpy": np.__version__,
        "numpy_blas_build": _numpy_blas_config(),
        "blas_runtime": _blas(),
        "torch": torch_info,
        "unset_for_this_run": unset_env,
    }


class LoadMeter:
    """CPU time that other processes used while a section ran, as a share of the machine.

    Reads /proc/stat (all CPUs) and this process's own CPU time, children included; a share well
    above 0 means the timings of that section were disturbed by other work on the machine.
    """

    def __init__(self):
        self.ok = os.path.exists("/proc/stat")

    @staticmethod
    def _busy_seconds():
        with open("/proc/stat") as fh:
            fields = [int(v) for v in fh.readline().split()[1:]]
        idle = fields[3] + fields[4]  # idle + iowait
        return (sum(fields[:8]) - idle) / os.sysconf("SC_CLK_TCK")

    @staticmethod
    def _own_seconds():
        t = os.times()
        return t.user + t.system + t.children_user + t.children_system

    def __enter__(self):
        if self.ok:
            self._t0, self._busy0, self._own0 = time.perf_counter(), self._busy_seconds(), self._own_seconds()
        return self

    def __exit__(self, *exc):
        if self.ok:
            wall = time.perf_counter() - self._t0
            other = (self._busy_seconds() - self._busy0) - (self._own_seconds() - self._own0)
            self.other_share = max(0.0, other) / (wall * (os.cpu_count() or 1)) if wall > 0 else 0.0
        else:
            self.other_share = None
        return False
