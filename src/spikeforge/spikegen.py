"""Spike encoders and spike-train targets, with snnTorch 1.0.0's signatures and numerics.

All outputs are time-major: an encoder turns ``data`` of shape ``[*S]`` into ``[T, *S]``.

* Rate code: ``S[t] ~ Bernoulli(clamp(gain·x + offset, 0, 1))``, independently per step.
  Values outside ``[0, 1]`` are **clamped** to probabilities, silently, as in snnTorch
  (a NaN raises instead).
* Latency code, logarithmic (an RC circuit charged by ``x`` reaching ``threshold``):
  ``t = tau·ln(x' / (x' − threshold))`` with ``x' = max(x, threshold + epsilon)``;
  linear: ``t = min(tau·(1 − x), tau·(1 − threshold))``. Both add ``first_spike_time``;
  ``t`` is rounded half-to-even and a single spike is placed at that step.
* Delta modulation: ``S[t] = 1`` where ``x[t] − x[t−1] >= threshold`` (and ``−1`` where it is
  ``<= −threshold`` with ``off_spike``); ``x[−1]`` is 0, or ``x[0]`` with ``padding``.

Random encoders take a keyword ``generator`` (a ``torch.Generator``) for reproducible trains;
without one they draw from torch's global generator in the same order as snnTorch, so the same
``torch.manual_seed`` gives the same spikes.

Example::

    >>> import torch
    >>> from spikeforge import spikegen
    >>> spikegen.latency(torch.tensor([1.0, 0.02, 0.0]), num_steps=13).argmax(0).tolist()
    [0, 1, 12]
"""

from __future__ import annotations

import numbers

import torch
from torch import Tensor

__all__ = [
    "delta",
    "from_one_hot",
    "latency",
    "latency_code",
    "latency_code_linear",
    "latency_code_log",
    "latency_interpolate",
    "rate",
    "rate_conv",
    "rate_interpolate",
    "target_rate_code",
    "targets_convert",
    "targets_latency",
    "targets_rate",
    "to_one_hot",
    "to_one_hot_inverse",
]

_FIRING_PATTERNS = ("regular", "uniform", "poisson")


# ---------------------------------------------------------------------------- checks
def _require_tensor(name: str, value: object, floating: bool = False) -> Tensor:
    if not isinstance(value, Tensor):
        raise TypeError(f"`{name}` must be a torch.Tensor, got {type(value).__name__}")
    if floating and not value.is_floating_point():
        raise TypeError(f"`{name}` must be a floating-point tensor, got dtype {value.dtype}")
    if value.is_floating_point() and value.numel() and torch.isnan(value).any():
        raise ValueError(f"`{name}` contains NaN")
    return value


def _steps_given(num_steps: object) -> bool:
    """snnTorch uses ``num_steps=False`` for "not given"; ``None`` means the same here."""
    return num_steps is not None and num_steps is not False


def _require_num_steps(num_steps: object, why: str = "") -> int:
    if not _steps_given(num_steps):
        raise ValueError(f"`num_steps` is required{why}, got {num_steps!r}")
    if isinstance(num_steps, bool) or not isinstance(num_steps, numbers.Integral):
        raise TypeError(f"`num_steps` must be a positive int, got {num_steps!r}")
    if num_steps <= 0:
        raise ValueError(f"`num_steps` must be a positive int, got {num_steps}")
    return int(num_steps)


def _require_first_spike_time(first_spike_time: object, num_steps: int | None) -> int:
    if isinstance(first_spike_time, bool) or not isinstance(first_spike_time, numbers.Integral):
        raise TypeError(f"`first_spike_time` must be an int >= 0, got {first_spike_time!r}")
    if first_spike_time < 0:
        raise ValueError(f"`first_spike_time` must be >= 0, got {first_spike_time}")
    if num_steps is not None and first_spike_time > num_steps - 1:
        raise ValueError(
            f"`first_spike_time` must be <= num_steps - 1 = {num_steps - 1}, got {first_spike_time}"
        )
    return int(first_spike_time)


def _float_dtype(data: Tensor) -> torch.dtype:
    return data.dtype if data.is_floating_point() else torch.get_default_dtype()


# ---------------------------------------------------------------------------- rate
def rate_conv(data: Tensor, *, generator: torch.Generator | None = None) -> Tensor:
    """One Bernoulli draw per element: ``S ~ Bernoulli(clamp(data, 0, 1))`` (same shape)."""
    data = _require_tensor("data", data, floating=True)
    return torch.bernoulli(data.clamp(0, 1), generator=generator)


def rate(
    data: Tensor,
    num_steps: int | bool | None = False,
    gain: float = 1,
    offset: float = 0,
    first_spike_time: int = 0,
    time_var_input: bool = False,
    *,
    generator: torch.Generator | None = None,
) -> Tensor:
    """Rate-code ``data`` into ``[T, *data.shape]`` spikes, ``P(spike) = clamp(gain·x+offset)``.

    Static input (default) is repeated over ``num_steps`` steps, and the first
    ``first_spike_time`` steps are zeroed. With ``time_var_input=True`` the first axis of
    ``data`` is already time, ``num_steps`` must not be given, and ``first_spike_time`` steps of
    zeros are prepended. Probabilities outside ``[0, 1]`` are clamped silently (snnTorch's
    behaviour, kept for compatibility).
    """
    data = _require_tensor("data", data, floating=True)
    if time_var_input:
        if _steps_given(num_steps):
            raise ValueError(
                "`num_steps` must not be given when time_var_input=True (the first axis of "
                f"`data` is time), got num_steps={num_steps!r}"
            )
        if data.dim() == 0:
            raise ValueError("time_var_input=True needs `data` with a time axis, got a 0-d tensor")
        fst = _require_first_spike_time(first_spike_time, None)
        spikes = rate_conv(data * gain + offset, generator=generator)
        if fst:
            zeros = spikes.new_zeros((fst, *spikes.shape[1:]))
            spikes = torch.cat((zeros, spikes))
        return spikes
    steps = _require_num_steps(num_steps, " for static input (or set time_var_input=True)")
    fst = _require_first_spike_time(first_spike_time, steps)
    probs = data.unsqueeze(0).expand(steps, *data.shape) * gain + offset
    spikes = rate_conv(probs, generator=generator)
    spikes[:fst] = 0
    return spikes


# ---------------------------------------------------------------------------- latency
def _check_latency_args(data, num_steps, threshold, tau, first_spike_time, normalize) -> None:
    data = _require_tensor("data", data, floating=True)
    if data.numel() and (data.min() < 0 or data.max() > 1):
        raise ValueError(
            f"`data` must lie in [0, 1] for latency coding, got range "
            f"[{data.min().item():.4g}, {data.max().item():.4g}]"
        )
    if not 0 < threshold < 1:
        raise ValueError(f"`threshold` must lie in (0, 1), got {threshold}")
    if not tau > 0:
        raise ValueError(f"`tau` must be > 0, got {tau}")
    steps = _require_num_steps(num_steps) if _steps_given(num_steps) else None
    _require_first_spike_time(first_spike_time, steps)
    if normalize and steps is None:
        raise ValueError("`num_steps` is required when normalize=True")


def latency_code_log(
    data: Tensor,
    num_steps: int | bool | None = False,
    threshold: float = 0.01,
    tau: float = 1,
    first_spike_time: int = 0,
    normalize: bool = False,
    epsilon: float = 1e-7,
) -> Tensor:
    """Spike times ``tau·ln(x'/(x'−threshold)) + first_spike_time`` (module docstring).

    With ``normalize`` the times are rescaled so the latest spike lands on step ``T − 1``.
    """
    _check_latency_args(data, num_steps, threshold, tau, first_spike_time, normalize)
    charged = data.clamp(min=threshold + epsilon)
    spike_time = tau * torch.log(charged / (charged - threshold)) + first_spike_time
    if normalize:
        shifted = spike_time - first_spike_time
        spike_time = shifted * (num_steps - first_spike_time - 1) / shifted.max()
        spike_time = spike_time + first_spike_time
    return spike_time


def latency_code_linear(
    data: Tensor,
    num_steps: int | bool | None = False,
    threshold: float = 0.01,
    tau: float = 1,
    first_spike_time: int = 0,
    normalize: bool = False,
) -> Tensor:
    """Spike times ``min(tau·(1−x), tau·(1−threshold)) + first_spike_time``.

    With ``normalize``, ``tau = T − 1 − first_spike_time`` so ``x = 0`` fires on the last step.
    """
    _check_latency_args(data, num_steps, threshold, tau, first_spike_time, normalize)
    if normalize:
        tau = num_steps - 1 - first_spike_time
    return (tau * (1 - data)).clamp(max=tau * (1 - threshold)) + first_spike_time


def latency_code(
    data: Tensor,
    num_steps: int | bool | None = False,
    threshold: float = 0.01,
    tau: float = 1,
    first_spike_time: int = 0,
    normalize: bool = False,
    linear: bool = False,
    epsilon: float = 1e-7,
) -> tuple[Tensor, Tensor]:
    """Return ``(spike_time, below_threshold)`` where ``below_threshold = data < threshold``."""
    if linear:
        spike_time = latency_code_linear(
            data, num_steps, threshold, tau, first_spike_time, normalize
        )
    else:
        spike_time = latency_code_log(
            data, num_steps, threshold, tau, first_spike_time, normalize, epsilon
        )
    return spike_time, data < threshold


def latency(
    data: Tensor,
    num_steps: int | bool | None = False,
    threshold: float = 0.01,
    tau: float = 1,
    first_spike_time: int = 0,
    on_target: float = 1,
    off_target: float = 0,
    clip: bool = False,
    normalize: bool = False,
    linear: bool = False,
    interpolate: bool = False,
    bypass: bool = False,
    epsilon: float = 1e-7,
) -> Tensor:
    """Latency-code ``data`` in ``[0, 1]`` into ``[T, *data.shape]``: one spike per element.

    Bright inputs fire early. The spike is ``on_target`` and silence ``off_target`` (output
    ``max(S·on_target, off_target)``, as snnTorch). ``clip`` drops spikes of inputs below
    ``threshold``. Without ``num_steps``, ``bypass=True`` sets ``T = round(max t) + 1``;
    a spike time past ``T − 1`` raises unless ``bypass`` (then that spike is dropped).
    ``interpolate`` returns :func:`latency_interpolate`'s ramps instead.
    """
    _require_tensor("data", data, floating=True)
    if not _steps_given(num_steps) and not bypass:
        raise ValueError(
            "`num_steps` is required for latency coding (or set bypass=True to use the "
            f"latest spike time + 1), got {num_steps!r}"
        )
    spike_time, below = latency_code(
        data, num_steps, threshold, tau, first_spike_time, normalize, linear, epsilon
    )
    rounded = torch.round(spike_time).long()
    if _steps_given(num_steps):
        steps = int(num_steps)
    else:
        steps = int(rounded.max().item()) + 1 if rounded.numel() else 1
    if rounded.numel() and rounded.max() > steps - 1 and not bypass:
        raise ValueError(
            f"latest spike time {int(rounded.max())} is out of range for num_steps={steps}; "
            "raise `num_steps`, lower `tau`, set normalize=True, or bypass=True to drop it"
        )
    if interpolate:
        return latency_interpolate(spike_time, steps, on_target=on_target, off_target=off_target)
    fires = rounded <= steps - 1
    if clip:
        fires = fires & ~below
    step_index = torch.arange(steps, device=data.device).view(steps, *([1] * data.dim()))
    spikes = ((step_index == rounded) & fires).to(_float_dtype(data))
    return torch.clamp(spikes * on_target, min=off_target)


# ---------------------------------------------------------------------------- delta
def _check_delta_threshold(threshold: object) -> None:
    """A change size: a real number (or tensor) >= 0; negative would fire on falls too."""
    if isinstance(threshold, Tensor):
        if threshold.dtype == torch.bool:
            raise TypeError(f"`threshold` must be a real number >= 0, got {threshold!r}")
        if threshold.numel() and not bool((threshold >= 0).all()):
            raise ValueError(f"`threshold` must be >= 0 (a change size), got {threshold.tolist()}")
        return
    if isinstance(threshold, bool) or not isinstance(threshold, numbers.Real):
        raise TypeError(f"`threshold` must be a real number >= 0, got {threshold!r}")
    if not threshold >= 0:
        raise ValueError(f"`threshold` must be >= 0 (a change size), got {threshold}")


def delta(
    data: Tensor, threshold: float = 0.1, padding: bool = False, off_spike: bool = False
) -> Tensor:
    """Delta modulation along dim 0: spike where ``x[t] − x[t−1] >= threshold`` (``>= 0``).

    ``x[−1]`` is 0 (``padding=False``) or ``x[0]`` (``padding=True``, so step 0 never
    fires). With ``off_spike`` a fall of ``>= threshold`` gives ``−1``. Same shape as ``data``.
    """
    data = _require_tensor("data", data)
    if data.dim() == 0:
        raise ValueError("`data` needs a time axis (dim 0), got a 0-d tensor")
    _check_delta_threshold(threshold)
    if data.shape[0] == 0:
        return data.to(_float_dtype(data))
    first = data[:1] if padding else torch.zeros_like(data[:1])
    change = data - torch.cat((first, data[:-1]))
    dtype = _float_dtype(data)
    out = (change >= threshold).to(dtype)
    if off_spike:
        out = out - (change <= -threshold).to(dtype)
    return out


# ---------------------------------------------------------------------------- one-hot helpers
def to_one_hot(targets: Tensor, num_classes: int) -> Tensor:
    """Class indices ``[B]`` to a float32 one-hot matrix ``[B, num_classes]``."""
    targets = _require_tensor("targets", targets)
    if targets.dim() != 1:
        raise ValueError(
            f"`targets` must be 1-D class indices [B], got shape {tuple(targets.shape)}"
        )
    if isinstance(num_classes, bool) or not isinstance(num_classes, numbers.Integral):
        raise TypeError(f"`num_classes` must be a positive int, got {num_classes!r}")
    if num_classes <= 0:
        raise ValueError(f"`num_classes` must be a positive int, got {num_classes}")
    if targets.is_floating_point() and not torch.equal(targets, targets.round()):
        raise ValueError("`targets` must hold whole class indices, got fractional values")
    index = targets.long()
    if index.numel() and (index.min() < 0 or index.max() > num_classes - 1):
        raise ValueError(
            f"`targets` must lie in [0, {num_classes - 1}] for num_classes={num_classes}, "
            f"got range [{int(index.min())}, {int(index.max())}]"
        )
    one_hot = torch.zeros(len(index), num_classes, device=targets.device)
    return one_hot.scatter(1, index.unsqueeze(-1), 1)


def to_one_hot_inverse(one_hot_targets: Tensor) -> Tensor:
    """Swap zero and non-zero entries: 1 where the input is 0, else 0 (same dtype)."""
    one_hot_targets = _require_tensor("one_hot_targets", one_hot_targets)
    return (one_hot_targets == 0).to(one_hot_targets.dtype)


def from_one_hot(one_hot_label: Tensor) -> Tensor:
    """Indices where ``one_hot_label == 1`` along its first axis (``torch.where(...)[0]``)."""
    one_hot_label = _require_tensor("one_hot_label", one_hot_label)
    return torch.where(one_hot_label == 1)[0]


# ---------------------------------------------------------------------------- targets
def target_rate_code(
    num_steps: int,
    first_spike_time: int = 0,
    rate: float = 1,
    firing_pattern: str = "regular",
    *,
    generator: torch.Generator | None = None,
) -> tuple[Tensor, Tensor]:
    """One spike train ``[T]`` firing at ``rate`` from ``first_spike_time``; returns (train, times).

    ``regular``: every ``1/rate`` steps; ``uniform``: as many spikes as ``regular`` at uniformly
    random steps; ``poisson``: a Bernoulli(rate) draw per step.
    """
    steps = _require_num_steps(num_steps)
    if not 0 <= rate <= 1:
        raise ValueError(f"`rate` must lie in [0, 1], got {rate}")
    if first_spike_time < 0 or first_spike_time > steps:
        raise ValueError(f"`first_spike_time` must lie in [0, {steps}], got {first_spike_time}")
    pattern = _check_pattern(firing_pattern)
    if rate == 0:
        return torch.zeros(steps), torch.Tensor()
    if pattern == "poisson":
        probs = torch.cat(
            (torch.zeros(first_spike_time), torch.full((steps - first_spike_time,), rate))
        )
        train = torch.bernoulli(probs, generator=generator)
        return train, torch.where(train == 1)[0]
    count = len(torch.arange(first_spike_time, steps, 1 / rate))
    if pattern == "regular":
        times = torch.arange(first_spike_time, steps, 1 / rate)
    else:
        times = torch.rand(count, generator=generator) * (steps - first_spike_time)
        times = times + first_spike_time
    # float32 rounding can lift ``u · (T − t0) + t0`` (u < 1) to exactly T: keep it in range
    times = times.long().clamp_(max=steps - 1)
    return torch.zeros(steps).scatter(0, times, 1), times


def _check_pattern(firing_pattern: str) -> str:
    if not isinstance(firing_pattern, str) or firing_pattern.lower() not in _FIRING_PATTERNS:
        raise ValueError(
            f"`firing_pattern` must be one of {_FIRING_PATTERNS}, got {firing_pattern!r}"
        )
    return firing_pattern.lower()


def targets_rate(
    targets: Tensor,
    num_classes: int,
    num_steps: int | bool | None = False,
    first_spike_time: int = 0,
    correct_rate: float = 1,
    incorrect_rate: float = 0,
    on_target: float = 1,
    off_target: float = 0,
    firing_pattern: str = "regular",
    interpolate: bool = False,
    epsilon: float = 1e-7,
    *,
    generator: torch.Generator | None = None,
) -> Tensor:
    """Rate-coded targets from class indices ``[B]``.

    With ``correct_rate=1, incorrect_rate=0`` and no ``first_spike_time``: a static
    ``[B, C]`` matrix holding ``on_target`` at the label and ``off_target`` elsewhere.
    Otherwise ``[T, B, C]`` trains from :func:`target_rate_code` (correct classes at
    ``correct_rate``, the rest at ``incorrect_rate``), ramped with :func:`rate_interpolate`
    when ``interpolate``.
    """
    for name, value in (("correct_rate", correct_rate), ("incorrect_rate", incorrect_rate)):
        if not 0 <= value <= 1:
            raise ValueError(f"`{name}` must lie in [0, 1], got {value}")
    if incorrect_rate > correct_rate:
        raise ValueError(
            f"`correct_rate` ({correct_rate}) must be >= `incorrect_rate` ({incorrect_rate})"
        )
    _check_pattern(firing_pattern)
    if _steps_given(num_steps):
        _require_num_steps(num_steps)
    one_hot = to_one_hot(targets, num_classes)
    if correct_rate == 1 and incorrect_rate == 0 and first_spike_time == 0:
        return torch.where(one_hot.bool(), on_target, off_target).to(one_hot.dtype)
    steps = _require_num_steps(num_steps, " for time-varying rate targets")
    if correct_rate == 1 and incorrect_rate == 0:
        fst = _require_first_spike_time(first_spike_time, steps)
        static = torch.where(one_hot.bool(), on_target, off_target).to(one_hot.dtype)
        trains = static.unsqueeze(0).repeat(steps, 1, 1)
        trains[:fst] = off_target
        return trains
    per_class = []
    for rate in (correct_rate, incorrect_rate):
        train, times = target_rate_code(
            steps, first_spike_time, rate, firing_pattern, generator=generator
        )
        if interpolate:
            train = rate_interpolate(times, steps, on_target, off_target, epsilon)
        else:
            train = torch.where(train.bool(), on_target, off_target)
        per_class.append(train.to(one_hot).view(steps, 1, 1))
    return torch.where(one_hot.bool(), per_class[0], per_class[1])


def targets_latency(
    targets: Tensor,
    num_classes: int,
    num_steps: int | bool | None = False,
    first_spike_time: int = 0,
    on_target: float = 1,
    off_target: float = 0,
    interpolate: bool = False,
    threshold: float = 0.01,
    tau: float = 1,
    clip: bool = False,
    normalize: bool = False,
    linear: bool = False,
    epsilon: float = 1e-7,
    bypass: bool = False,
) -> Tensor:
    """Latency-coded targets ``[T, B, C]``: :func:`latency` of the one-hot labels."""
    return latency(
        to_one_hot(targets, num_classes),
        num_steps=num_steps,
        threshold=threshold,
        tau=tau,
        first_spike_time=first_spike_time,
        on_target=on_target,
        off_target=off_target,
        clip=clip,
        normalize=normalize,
        linear=linear,
        interpolate=interpolate,
        bypass=bypass,
        epsilon=epsilon,
    )


def targets_convert(
    targets: Tensor,
    num_classes: int,
    code: str = "rate",
    num_steps: int | bool | None = False,
    first_spike_time: int = 0,
    correct_rate: float = 1,
    incorrect_rate: float = 0,
    on_target: float = 1,
    off_target: float = 0,
    firing_pattern: str = "regular",
    interpolate: bool = False,
    epsilon: float = 1e-7,
    threshold: float = 0.01,
    tau: float = 1,
    clip: bool = False,
    normalize: bool = False,
    linear: bool = False,
    bypass: bool = False,
) -> Tensor:
    """Dispatch to :func:`targets_rate` (``code="rate"``) or :func:`targets_latency`."""
    if code == "rate":
        return targets_rate(
            targets, num_classes, num_steps, first_spike_time, correct_rate, incorrect_rate,
            on_target, off_target, firing_pattern, interpolate, epsilon,
        )  # fmt: skip
    if code == "latency":
        # snnTorch passes neither on/off targets nor interpolate here; neither do we.
        return targets_latency(
            targets, num_classes, num_steps=num_steps, first_spike_time=first_spike_time,
            threshold=threshold, tau=tau, clip=clip, normalize=normalize, linear=linear,
            bypass=bypass,
        )  # fmt: skip
    raise ValueError(f"`code` must be 'rate' or 'latency', got {code!r}")


# ---------------------------------------------------------------------------- ramps
def rate_interpolate(
    spike_time: Tensor,
    num_steps: int,
    on_target: float = 1,
    off_target: float = 0,
    epsilon: float = 1e-7,
) -> Tensor:
    """Ramp target ``[T]`` rising linearly from ``off_target`` to ``on_target`` at each spike.

    Between two spikes the value climbs evenly, reaching ``on_target`` exactly at the spike;
    after the last spike it stays at ``off_target``. No spikes: all ``off_target``.
    """
    spike_time = _require_tensor("spike_time", spike_time)
    steps = _require_num_steps(num_steps)
    if not spike_time.numel():
        return torch.ones(steps) * off_target
    spike_steps = {int(t) for t in spike_time.flatten().tolist()}
    pieces, last = [], -1
    for step in range(steps):
        if step not in spike_steps:
            continue
        gap = step - last - 1
        if gap == 0:
            pieces.append(torch.tensor([float(on_target)]))
        else:
            if on_target == off_target:
                raise ValueError("`on_target` and `off_target` must differ to build a ramp")
            pieces.append(
                torch.arange(off_target, on_target + epsilon, (on_target - off_target) / gap)
            )
        last = step
    latest = int(spike_time.max().item())
    tail = max(steps - 1 - latest, 0)
    pieces.append(torch.full((tail,), float(off_target)))
    return torch.cat(pieces).float()


def latency_interpolate(
    spike_time: Tensor, num_steps: int, on_target: float = 1, off_target: float = 0
) -> Tensor:
    """Ramp targets ``[T, *spike_time.shape]``: ``off + (on−off)·t/t_spike`` up to the spike.

    Steps after the spike (where the ratio exceeds 1) and spikes past ``T`` read
    ``off_target``; a spike at step 0 gives ``on_target`` at step 0.
    """
    spike_time = _require_tensor("spike_time", spike_time)
    steps = _require_num_steps(num_steps)
    if on_target < off_target:
        raise ValueError(f"`on_target` ({on_target}) must be >= `off_target` ({off_target})")
    rounded = torch.round(spike_time).float()
    at_zero = rounded == 0
    denom = torch.where((rounded > steps) | at_zero, torch.full_like(rounded, 0.5), rounded)
    index = torch.arange(steps, dtype=torch.float, device=spike_time.device)
    ratio = index.view(steps, *([1] * rounded.dim())) / denom
    ratio[0] = at_zero.float()
    ramp = ratio * (on_target - off_target) + off_target
    return torch.where(ramp > on_target, torch.full_like(ramp, off_target), ramp)
