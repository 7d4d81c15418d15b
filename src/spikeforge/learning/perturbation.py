"""Perturbation learning: estimate the gradient from how the loss changes under noise.

No backward pass is needed; the closure only evaluates the loss.

**Weight perturbation.** Draw ``ξ ~ N(0, σ² I)`` for every weight, measure
``ΔL = L(θ + ξ) − L(θ)`` and step

.. math::
    θ \\leftarrow θ - η \\, \\frac{ΔL}{σ^2} \\, ξ

(``E[ΔL ξ]/σ² ≈ ∇L``). ``rule="greedy"`` is the seed's accept/reject variant: keep
``θ + ξ`` if the loss fell, otherwise undo it.

**Node perturbation.** Add ``ψ ~ N(0, σ² I)`` to the outputs (pre-activations) of chosen
``nn.Linear`` layers instead; with that layer's input ``x``,

.. math::
    W \\leftarrow W - η \\, \\frac{ΔL}{σ^2} \\sum ψ x^T, \\qquad
    b \\leftarrow b - η \\, \\frac{ΔL}{σ^2} \\sum ψ

summed over every call of the layer (each time step) and the batch. When the closure
returns per-sample losses ``[B]``, each sample's own ``ΔL_b`` weighs its own ``ψ_b x_b^T``
(a far less noisy estimate); the batch axis is then the second-to-last axis of ``x``.
Node perturbation has fewer noise sources than weights, so its estimate is less noisy.

Example::

    >>> import torch
    >>> from spikeforge.learning import WeightPerturbation
    >>> w = torch.nn.Parameter(torch.tensor([3.0]))
    >>> opt = WeightPerturbation([w], lr=0.1, sigma=0.01, seed=0)
    >>> for _ in range(200):
    ...     _ = opt.step(lambda: (w - 1).pow(2).sum())
    >>> abs(w.item() - 1) < 0.1
    True
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Sequence

import torch
from torch import Tensor, nn

__all__ = ["NodePerturbation", "WeightPerturbation"]

Closure = Callable[[], Tensor]


def _check_positive(name: str, value: float) -> None:
    if isinstance(value, bool) or not isinstance(value, (int, float)):
        raise TypeError(f"{name} must be a positive number, got {value!r}")
    if not value > 0:
        raise ValueError(f"{name} must be > 0, got {value}")


def _seeded_generator(seed: int | None) -> torch.Generator:
    """A CPU generator seeded with ``seed``, or from fresh entropy when it is None."""
    generator = torch.Generator()
    if seed is None:
        generator.seed()
    else:
        generator.manual_seed(seed)
    return generator


def _scalar_loss(closure: Closure, name: str) -> Tensor:
    loss = closure()
    if not isinstance(loss, Tensor):
        raise TypeError(f"{name}: closure must return a loss tensor, got {type(loss).__name__}")
    return loss.detach()


class WeightPerturbation(torch.optim.Optimizer):
    """Weight perturbation as an optimiser: ``opt.step(closure)`` with ``closure() -> loss``.

    Args:
        params: parameters to train.
        lr: step size ``η`` (``rule="estimate"`` only).
        sigma: noise scale ``σ``.
        rule: ``"estimate"`` (the gradient estimate above) or ``"greedy"`` (accept/reject).
        seed: seed of the noise generator (None: a fresh random one).
    """

    def __init__(
        self,
        params: Iterable[Tensor],
        lr: float = 1e-2,
        sigma: float = 1e-2,
        rule: str = "estimate",
        seed: int | None = None,
    ) -> None:
        _check_positive("lr", lr)
        _check_positive("sigma", sigma)
        if rule not in ("estimate", "greedy"):
            raise ValueError(f"rule must be 'estimate' or 'greedy', got {rule!r}")
        super().__init__(params, {"lr": lr, "sigma": sigma})
        self.rule = rule
        self.generator = _seeded_generator(seed)

    def _draw(self, p: Tensor, sigma: float) -> Tensor:
        noise = torch.randn(p.shape, generator=self.generator, dtype=p.dtype)
        return (noise * sigma).to(p.device)

    @torch.no_grad()
    def step(self, closure: Closure) -> Tensor:  # type: ignore[override]
        """Evaluate ``L(θ)`` and ``L(θ + ξ)``, update, and return ``L(θ)``."""
        if closure is None:
            raise TypeError("WeightPerturbation.step needs a closure that returns the loss")
        base = _scalar_loss(closure, "WeightPerturbation").sum()
        noises = []
        for group in self.param_groups:
            for p in group["params"]:
                xi = self._draw(p, group["sigma"])
                p.add_(xi)
                noises.append((p, xi, group))
        delta = _scalar_loss(closure, "WeightPerturbation").sum() - base
        for p, xi, group in noises:
            p.sub_(xi)
            if self.rule == "greedy":
                if delta < 0:
                    p.add_(xi)
            else:
                p.add_(xi, alpha=-group["lr"] * float(delta) / group["sigma"] ** 2)
        return base


class NodePerturbation:
    """Node perturbation of ``nn.Linear`` layers: ``opt.step(closure)``.

    Args:
        layers: the linear layers whose outputs are perturbed and whose weights are trained.
        lr: step size ``η``.
        sigma: noise scale ``σ``.
        seed: seed of the noise generator.
    """

    def __init__(
        self,
        layers: Sequence[nn.Linear],
        lr: float = 1e-2,
        sigma: float = 1e-2,
        seed: int | None = None,
    ) -> None:
        _check_positive("lr", lr)
        _check_positive("sigma", sigma)
        for k, layer in enumerate(layers):
            if not isinstance(layer, nn.Linear):
                raise TypeError(f"layers[{k}] must be nn.Linear, got {type(layer).__name__}")
        self.layers = list(layers)
        self.lr = lr
        self.sigma = sigma
        self.generator = _seeded_generator(seed)
        self._records: dict[int, list[tuple[Tensor, Tensor]]] = {}

    def _hook(self, index: int):
        def add_noise(module: nn.Linear, inputs: tuple[Tensor, ...], output: Tensor) -> Tensor:
            noise = torch.randn(output.shape, generator=self.generator, dtype=output.dtype)
            noise = noise.to(output.device) * self.sigma
            self._records[index].append((inputs[0].detach(), noise))
            return output + noise

        return add_noise

    @torch.no_grad()
    def step(self, closure: Closure) -> Tensor:
        """Evaluate the clean and the perturbed loss, update the weights, return the clean one."""
        base = _scalar_loss(closure, "NodePerturbation")
        self._records = {k: [] for k in range(len(self.layers))}
        handles = [
            layer.register_forward_hook(self._hook(k)) for k, layer in enumerate(self.layers)
        ]
        try:
            noisy = _scalar_loss(closure, "NodePerturbation")
        finally:
            for handle in handles:
                handle.remove()
        if noisy.shape != base.shape or noisy.dim() > 1:
            raise ValueError(
                "NodePerturbation: the closure must return a scalar or per-sample [B] loss of "
                f"the same shape each call, got {tuple(base.shape)} then {tuple(noisy.shape)}"
            )
        delta = noisy - base
        for k, layer in enumerate(self.layers):
            self._update(layer, self._records[k], delta)
        self._records = {}
        return base.mean() if base.dim() else base

    def _update(self, layer: nn.Linear, records: list[tuple[Tensor, Tensor]], delta: Tensor):
        scale = -self.lr / self.sigma**2
        grad_w = torch.zeros_like(layer.weight)
        grad_b = layer.weight.new_zeros(layer.out_features)
        for x, psi in records:
            if delta.dim() == 1:
                if x.dim() < 2 or x.shape[-2] != delta.shape[0]:
                    raise ValueError(
                        f"NodePerturbation: per-sample loss has {delta.shape[0]} entries but "
                        f"the layer input has shape {tuple(x.shape)} (batch on axis -2)"
                    )
                psi = psi * delta.unsqueeze(-1)
            else:
                psi = psi * delta
            flat_psi = psi.reshape(-1, psi.shape[-1])
            grad_w += flat_psi.t() @ x.reshape(-1, x.shape[-1]).to(psi.dtype)
            grad_b += flat_psi.sum(0)
        layer.weight.add_(grad_w, alpha=scale)
        if layer.bias is not None:
            layer.bias.add_(grad_b, alpha=scale)
