"""``bench/first_run.py`` counts numba compilations from numba's own compile events."""

from __future__ import annotations

import importlib.util
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]


def _first_run():
    spec = importlib.util.spec_from_file_location("first_run", ROOT / "bench" / "first_run.py")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def test_summarise_counts_every_compile_and_times_only_the_outermost():
    fr = _first_run()
    compiles = [
        {"fn": "a.kernel", "sig": "(f4,)", "s": 2.0, "cpu_s": 1.5, "nested": False},
        {"fn": "a.row", "sig": "(f4,)", "s": 0.5, "cpu_s": 0.5, "nested": True},
        {"fn": "a.kernel", "sig": "(f8,)", "s": 1.0, "cpu_s": 1.0, "nested": False},
    ]
    s = fr.summarise(compiles)
    assert (s["specialisations"], s["outermost"]) == (3, 2)
    assert s["compile_s"] == 3.0 and s["compile_cpu_s"] == 2.5  # the nested 0.5 s is inside
    assert s["per_function"]["a.kernel"] == {"count": 2, "s": 3.0, "cpu_s": 2.5}
    assert s["per_function"]["a.row"]["count"] == 1


@pytest.mark.slow
def test_child_records_a_compile_on_a_cold_cache_and_none_on_a_warm_one(tmp_path):
    pytest.importorskip("numba")
    fr = _first_run()
    (tmp_path / "plus.py").write_text(
        "import numba\n\n@numba.njit(cache=True)\ndef plus_one(x):\n    return x + 1\n"
    )
    code = (
        f"import time, json, sys\nsys.path.insert(0, {str(tmp_path)!r})\n{fr._RECORDER}"
        "from plus import plus_one\nplus_one(1); plus_one(1.5); plus_one(2)\n"
        "print(json.dumps({'compiles': _compiles.done}))\n"
    )
    cache = str(tmp_path / "cache")
    cold = fr.summarise(fr.run_child(code, cache)["compiles"])
    warm = fr.summarise(fr.run_child(code, cache)["compiles"])
    assert cold["specialisations"] == 2  # int64 and float64; the second int call reuses one
    assert list(cold["per_function"]) == ["plus.plus_one"]
    assert warm["specialisations"] == 0  # both loaded from the cache
