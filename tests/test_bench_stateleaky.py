"""The StateLeaky benchmark workloads build and run at tiny sizes, and only for the two
libraries that have the neuron."""

import sys
from pathlib import Path

import pytest

BENCH = Path(__file__).resolve().parents[1] / "bench"


@pytest.fixture(scope="module")
def bench_modules():
    sys.path.insert(0, str(BENCH))
    try:
        import cases
        import floor

        yield cases, floor
    finally:
        sys.path.remove(str(BENCH))


def test_stateleaky_cases_run_and_have_a_floor(bench_modules):
    cases, floor = bench_modules
    sizes = cases.Sizes(s1_t=7, s1_b=2, s2_t=9, s2_b=1, s_c=3)
    assert {"S1", "S2"} <= set(cases.WORKLOADS)
    for workload in ("S1", "S2"):
        case = cases.build("spikeforge", workload, sizes)
        case.forward()
        case.train()
        assert ("sinabs", workload) in cases.SKIP and ("snntorch", workload) not in cases.SKIP
    assert floor.work("S1", sizes)["fwd"]["bytes"] == 12 * 7 * 2 * 3
    assert floor.work("S2", sizes)["train"]["bytes"] == 20 * 9 * 1 * 3
    with pytest.raises(ValueError, match="runs"):
        cases.build("norse", "S1", sizes)
