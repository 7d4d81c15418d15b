"""The LIF family's model flags: which terms a member of the one recurrence has.

``SYN`` a synaptic current ``I_t = α I_{t−1} + …`` feeding the membrane; ``REC`` a
one-to-one recurrent input ``v·S_{t−1}``; ``KEEP`` the zero reset keeps the step's input
(``U_t = β (1 − R_t) U_{t−1} + X_t``, Leaky's form) instead of dropping it.
"""

from __future__ import annotations

__all__ = ["KEEP", "LAPICQUE", "LEAKY", "REC", "RLEAKY", "RSYNAPTIC", "SYN", "SYNAPTIC"]

SYN = 1
REC = 2
KEEP = 4

LEAKY = KEEP  # and IAF (β = 1)
LAPICQUE = 0  # Leaky's equations with the zero reset of the updated membrane
SYNAPTIC = SYN
RLEAKY = REC
RSYNAPTIC = SYN | REC
