"""``import spikeforge`` loads torch and nothing heavy."""

import subprocess
import sys

HEAVY = ["triton", "numba", "matplotlib", "nir", "nirtorch", "pandas", "tqdm", "snntorch", "scipy"]

CODE = f"""
import sys
import torch
before = set(sys.modules)
import spikeforge
print(sorted(m for m in {HEAVY!r} if m in sys.modules and m not in before))
"""


def test_import_loads_nothing_heavy_beyond_torch():
    out = subprocess.run(
        [sys.executable, "-c", CODE], capture_output=True, text=True, check=True
    ).stdout.strip()
    assert out == "[]"
