"""Quantisation: post-training (weights, membrane state) and quantisation-aware training.

Only torch is imported. See ``ptq`` (post-training) and ``qat`` (straight-through training).
Mixed precision needs nothing extra: run a spiking net under
``torch.autocast(device_type, dtype=torch.bfloat16)`` (tested in ``tests/learning``).
"""

from .ptq import (
    QuantizedTensor,
    StateQuantizer,
    fake_quantize,
    quantize,
    quantize_state,
    quantize_weights_,
)
from .qat import (
    SCHEMES,
    BinaryWeight,
    IntWeight,
    TernaryWeight,
    freeze_quantization,
    make_quantizer,
    quantize_aware,
    straight_through,
)

__all__ = [
    "SCHEMES",
    "BinaryWeight",
    "IntWeight",
    "QuantizedTensor",
    "StateQuantizer",
    "TernaryWeight",
    "fake_quantize",
    "freeze_quantization",
    "make_quantizer",
    "quantize",
    "quantize_aware",
    "quantize_state",
    "quantize_weights_",
    "straight_through",
]
