"""Stateful shells with snnTorch's interface over the pure step functions in ``ops``.

A neuron keeps its hidden state on the instance (never in a class-level registry). Each
subclass names its states (``state_names``) and implements ``_step(x, states) -> (spk,
states)``, a pure function of its arguments; this module does the bookkeeping: validation,
lazy zero initialisation, storing the state, and snnTorch's return conventions.

``step_mode="multi"`` makes a call take a whole time-major sequence ``[T, B, ...]`` and
return sequences (``spk_seq, mem_seq = lif(x_seq)``), storing the final state as a single
step would. A neuron with fused kernels names its ``recurrence`` (``ops.registry.Recurrence``)
and its ``_params()``; ``_step``/``_scan`` then ask ``ops.registry.select`` for the backend
and call the recurrence's one entry (no backend branches here). A neuron without one
implements ``_step``; the default ``_scan`` loops it.
"""

from __future__ import annotations

import functools
import inspect
from typing import Any, ClassVar, NamedTuple

import torch
from torch import Tensor, nn

from .. import surrogate as _surrogate
from ..ops import registry
from ..ops.codes import RESET_CODES, RESET_MODES
from ..ops.config import NeuronConfig
from ._snntorch_methods import SnnTorchMethods
from ._stale_graph import guard_stale_state
from ._state_shapes import broadcast_state, fits_by_broadcast

__all__ = ["LIF", "SpikingNeuron"]

STEP_MODES = ("single", "multi")
# One step of a CPU layer smaller than this runs faster as plain torch ops than through the
# general fused op (bench/README.md, "Small steps"), unless the CPU kernel's single-step fast
# path can run it.
SMALL_STEP_ELEMENTS = 1 << 15


def as_float_tensor(name: str, value: Any, owner: str = "", check_nan: bool = True) -> Tensor:
    """``torch.as_tensor`` that insists on real numbers and returns a floating tensor.

    ``owner`` prefixes the error messages (``"Owner: name must …"``); ``check_nan=False``
    lets NaN through.
    """
    must = f"{owner}: {name} must" if owner else f"{name} must"
    if isinstance(value, bool):
        raise TypeError(f"{must} be a number or a tensor, got bool")
    try:
        tensor = torch.as_tensor(value)
    except (TypeError, ValueError, RuntimeError) as err:
        raise TypeError(f"{must} be a number or a tensor, got {type(value).__name__}") from err
    if not tensor.is_floating_point():
        tensor = tensor.to(torch.get_default_dtype())
    if check_nan and torch.isnan(tensor).any():
        raise ValueError(f"{must} not be NaN, got {value}")
    return tensor


def check_unit_interval(name: str, tensor: Tensor) -> None:
    """Decay rates of fixed parameters must lie in [0, 1]."""
    if ((tensor < 0) | (tensor > 1)).any():
        raise ValueError(
            f"{name} must lie in [0, 1] (a fixed decay rate), got {tensor.tolist()}; "
            f"set learn_{name}=True to let training move it (it is clamped in the forward pass)"
        )


class SpikingNeuron(nn.Module, SnnTorchMethods):
    """Base class: threshold, surrogate, reset mechanism, graded spikes, hidden state."""

    state_names: ClassVar[tuple[str, ...]] = ("mem",)
    # The fused recurrence (``ops.<family>``'s entry) that runs this neuron, if any.
    recurrence: ClassVar[registry.Recurrence | None] = None
    fused_op: ClassVar[str | None] = None  # the op name in ops.registry when no recurrence
    # Parameters that must not be wider than the input for a kernel to run (the reference
    # would then promote the state): auto takes the reference, a named backend raises.
    dtype_checked_params: ClassVar[tuple[str, ...]] = (
        "threshold", "graded_spikes_factor", "beta", "alpha",
    )  # fmt: skip

    def __init_subclass__(cls, **kwargs: Any) -> None:
        """Give every neuron class the keyword-only ``step_mode`` and ``backend`` arguments.

        A subclass whose ``__init__`` lists neither them nor ``**kwargs`` gets a thin wrapper
        that accepts both and sets them after its own initialisation, so neuron authors need
        not thread them through by hand.
        """
        super().__init_subclass__(**kwargs)
        init = cls.__dict__.get("__init__")
        if init is None:
            return
        params = inspect.signature(init).parameters
        if "step_mode" in params or any(p.kind is p.VAR_KEYWORD for p in params.values()):
            return

        @functools.wraps(init)
        def __init__(self, *args: Any, step_mode: str = "single", backend: str = "auto", **kw):
            init(self, *args, **kw)
            self.step_mode = step_mode
            self.backend = backend

        cls.__init__ = __init__

    State: ClassVar[type] = NamedTuple("State", [("mem", Tensor)])

    def __init__(
        self,
        threshold: float | Tensor = 1.0,
        spike_grad: Any = None,
        surrogate_disable: bool = False,
        init_hidden: bool = False,
        inhibition: bool = False,
        learn_threshold: bool = False,
        reset_mechanism: str = "subtract",
        state_quant: Any = False,
        output: bool = False,
        graded_spikes_factor: float | Tensor = 1.0,
        learn_graded_spikes_factor: bool = False,
        reset_delay: bool = True,
        *,
        step_mode: str = "single",
        backend: str = "auto",
    ) -> None:
        super().__init__()
        self.step_mode = step_mode
        self.backend = backend
        threshold_t = as_float_tensor("threshold", threshold)
        if (threshold_t < 0).any():
            raise ValueError(f"threshold must be >= 0, got {threshold_t.tolist()}")
        self._register_tensor("threshold", threshold_t, learn_threshold)
        self._register_tensor(
            "graded_spikes_factor",
            as_float_tensor("graded_spikes_factor", graded_spikes_factor),
            learn_graded_spikes_factor,
        )
        self.register_buffer("reset_mechanism_val", torch.as_tensor(0))
        self.reset_mechanism = reset_mechanism
        self.spike_grad = _surrogate.resolve(spike_grad, surrogate_disable)
        self.surrogate_disable = surrogate_disable
        self.init_hidden = init_hidden
        self.inhibition = inhibition
        self.output = output
        self.reset_delay = reset_delay
        if state_quant is not False and state_quant is not None and not callable(state_quant):
            raise TypeError(f"state_quant must be False or a callable, got {state_quant!r}")
        self.state_quant = state_quant
        if inhibition:
            import warnings

            warnings.warn(
                "inhibition=True lets only the largest membrane along dim 1 spike; "
                "it is meant for dense (batch, features) layers",
                UserWarning,
                stacklevel=2,
            )
        for name in self.state_names:
            self.register_buffer(name, torch.zeros(0), persistent=False)

    # -- parameters -----------------------------------------------------------------------

    def _register_tensor(self, name: str, value: Tensor, learnable: bool) -> None:
        if learnable:
            setattr(self, name, nn.Parameter(value))
        else:
            self.register_buffer(name, value)

    def _register_rate(self, name: str, value: Any, learnable: bool) -> None:
        """Register decay rate ``name``; a fixed one must lie in [0, 1]."""
        tensor = as_float_tensor(name, value)
        if not learnable:
            check_unit_interval(name, tensor)
        self._register_tensor(name, tensor, learnable)

    @property
    def reset_mechanism(self) -> str:
        return self._reset_mechanism

    @reset_mechanism.setter
    def reset_mechanism(self, value: str) -> None:
        if value not in RESET_MODES:
            raise ValueError(f"reset_mechanism must be one of {RESET_MODES}, got {value!r}")
        self._reset_mechanism = value
        self.reset_mechanism_val.fill_(RESET_CODES[value])

    def _load_from_state_dict(self, state_dict, prefix, *args, **kwargs) -> None:
        super()._load_from_state_dict(state_dict, prefix, *args, **kwargs)
        # Keep the string in step with the loaded buffer.
        self._reset_mechanism = RESET_MODES[int(self.reset_mechanism_val)]

    @property
    def step_mode(self) -> str:
        """``"single"``: one step per call (snnTorch); ``"multi"``: a ``[T, ...]`` sequence."""
        return self._step_mode

    @step_mode.setter
    def step_mode(self, value: str) -> None:
        if value not in STEP_MODES:
            raise ValueError(f"step_mode must be one of {STEP_MODES}, got {value!r}")
        self._step_mode = value

    @property
    def backend(self) -> str:
        """Kernel backend: ``"auto"`` or one of ``ops.registry.BACKENDS``."""
        return self._backend

    @backend.setter
    def backend(self, value: str) -> None:
        self._backend = registry.check_backend_name(value)

    def select_backend(self, x: Tensor, cfg: NeuronConfig, single_step: bool = False) -> str:
        """The backend that runs this neuron on ``x`` (raises if a named one cannot).

        ``single_step``: ``x`` is one step of the step API; below ``SMALL_STEP_ELEMENTS``
        on the CPU, ``auto`` then runs the reference (faster than the general fused op),
        unless a kernel's single-step fast path runs it.
        """
        op = self.kernel_op()
        reason = self.unfusable_reason(x, cfg, single_step)
        small = single_step and x.numel() < SMALL_STEP_ELEMENTS and not self._fast_step_runs(x)
        return registry.select(op, self._backend, x.device, x.dtype, reason, small)

    def _fast_step_runs(self, x: Tensor) -> bool:
        """A kernel's single-step fast path can run one step on ``x`` (then ``auto`` keeps
        small steps fused: the path is as cheap as the reference's torch ops)."""
        fast = registry.fast_step(self.kernel_op())
        return fast is not None and fast.runs(x, self._params())

    def active_recurrence(self) -> registry.Recurrence | None:
        """The recurrence that runs this neuron as configured (``recurrence`` by default)."""
        return self.recurrence

    def kernel_op(self) -> str:
        """The name of this neuron's fused op in ``ops.registry``."""
        recurrence = self.active_recurrence()
        if recurrence is not None:
            return recurrence.op
        return self.fused_op or type(self).__name__.lower()

    def unfusable_reason(self, x: Tensor, cfg: NeuronConfig, single_step: bool) -> str | None:
        """Why this configuration needs the reference on ``x``, or None if kernels can run it.
        Subclasses add their own limits."""
        reason = registry.unfusable_reason(cfg.spike_fn, cfg.state_quant, cfg.inhibition)
        if reason is not None:
            return reason
        for name in self.dtype_checked_params:
            p = self._own_tensor(name)
            if p is None or p.dtype == x.dtype:
                continue
            if torch.promote_types(p.dtype, x.dtype) != x.dtype:
                return f"{name} has dtype {p.dtype}, wider than the input's {x.dtype}"
        return None

    def _own_tensor(self, name: str) -> Tensor | None:
        """Parameter, buffer or plain tensor attribute ``name`` (None if absent), without
        ``nn.Module.__getattr__``'s exception for a missing name (a step reads several)."""
        for table in (self._parameters, self._buffers, self.__dict__):
            value = table.get(name)
            if isinstance(value, Tensor):
                return value
        return None

    def config(self) -> NeuronConfig:
        """The static options the step functions read."""
        quant = self.state_quant if callable(self.state_quant) else None
        return NeuronConfig(
            self.spike_grad, self.reset_mechanism, self.reset_delay, quant, self.inhibition
        )

    # -- pure step ------------------------------------------------------------------------

    def _params(self) -> tuple[Any, ...]:
        """The tensors the recurrence reads, in its order (see ``ops.<family>``)."""
        raise NotImplementedError

    def _step(self, x: Tensor, states: tuple[Tensor, ...]) -> tuple[Tensor, tuple[Tensor, ...]]:
        """One step ``(x, states) -> (spk, new states)`` on the selected backend."""
        recurrence = self.active_recurrence()
        if recurrence is None:
            raise NotImplementedError
        cfg = self.config()
        backend = self.select_backend(x, cfg, single_step=True)
        return recurrence.step(x, states, self._params(), cfg, backend)

    def _scan(
        self, x_seq: Tensor, states: tuple[Tensor, ...], need_seqs: bool
    ) -> tuple[Tensor, tuple[Tensor, ...] | None, tuple[Tensor, ...]]:
        """All steps of ``x_seq [T, ...]``: ``(spk_seq, state sequences or None, final states)``.

        The recurrence's scan on the selected backend; without a recurrence, ``_step`` T times
        (so multi-step equals single-step by construction).
        """
        recurrence = self.active_recurrence()
        if recurrence is not None:
            cfg = self.config()
            backend = self.select_backend(x_seq, cfg)
            return recurrence.scan(x_seq, states, self._params(), cfg, backend, need_seqs)
        spikes: list[Tensor] = []
        seqs: list[list[Tensor]] = [[] for _ in states]
        for x in x_seq:
            spk, states = self._step(x, states)
            spikes.append(spk)
            for seq, value in zip(seqs, states):
                seq.append(value)
        stacked = tuple(torch.stack(seq) for seq in seqs) if need_seqs else None
        return torch.stack(spikes), stacked, tuple(states)

    def _outputs(self, spk: Tensor, states: tuple[Tensor, ...]) -> tuple[Tensor, ...]:
        """What a call returns besides init_hidden's bare spikes: ``(spk, *states)``."""
        return (spk, *states)

    def state_shape(self, x: Tensor) -> torch.Size:
        """The shape each hidden state takes for input ``x``."""
        return x.shape

    def zero_state(self, x: Tensor) -> tuple[Tensor, ...]:
        """A zero initial state for input ``x``, as the neuron's ``State`` tuple."""
        shape = self.state_shape(x)
        return self.State(*(x.new_zeros(shape) for _ in self.state_names))

    def step(self, x: Tensor, state: tuple[Tensor, ...] | None = None):
        """Stateless step: ``(x, state) -> (spk, new_state)``; the instance is not touched.

        ``state=None`` starts from zeros. Returns the same types whatever the flags.
        """
        self._check_input(x)
        if state is None:
            state = self.zero_state(x)
        else:
            shape = self.state_shape(x)
            for name, value in zip(self.state_names, state):
                self._check_state(name, value, x, shape, allow_empty=False)
            state = tuple(broadcast_state(value, shape) for value in state)
        spk, new = self._step(x, tuple(state))
        self._check_not_broadcast(new, self.state_shape(x))
        return spk, self.State(*new)

    # -- stateful snnTorch-style call -----------------------------------------------------

    def _stateful_forward(self, input_: Tensor, given: tuple[Tensor | None, ...]):
        if self._step_mode == "single":
            fast = self._fast_forward(input_, given)
            if fast is not None:
                return fast
        self._check_input(input_)
        multi = self._step_mode == "multi"
        if multi:
            if input_.dim() < 1 or input_.shape[0] == 0:
                raise ValueError(
                    f"{type(self).__name__}: step_mode='multi' takes a time-major input "
                    f"[T, ...] with T >= 1, got shape {tuple(input_.shape)}"
                )
            shape = self.state_shape(input_[0])
        else:
            shape = self.state_shape(input_)
        if any(g is not None for g in given):
            if self.init_hidden:
                names = ", ".join(f"`{n}`" for n in self.state_names)
                raise TypeError(
                    f"{type(self).__name__} has init_hidden=True: it keeps {names} itself, "
                    "so do not pass states to forward"
                )
            for name, value in zip(self.state_names, given):
                if value is not None:
                    self._check_state(name, value, input_, shape, allow_empty=True)
        states = []
        for name, value in zip(self.state_names, given):
            current = self._buffers[name] if value is None else value
            if value is not None and value.numel() > 0:
                current = broadcast_state(current, shape)  # a passed state that broadcasts
            elif current.shape != shape:
                # Never run, reset, or a new batch size: start from zero (documented).
                current = input_.new_zeros(shape)
            elif multi and value is None:  # a stored state on a graph backward() freed
                current = guard_stale_state(type(self).__name__, name, current)
            states.append(current)
        spikes_only = self.init_hidden and not self.output
        if multi:
            spk, seqs, new = self._scan(input_, tuple(states), not spikes_only)
        else:
            spk, new = self._step(input_, tuple(states))
            seqs = new
        self._check_not_broadcast(new, shape)
        for name, value in zip(self.state_names, new):
            self._buffers[name] = value  # a registered buffer: skip nn.Module.__setattr__
        if spikes_only:
            return spk
        return self._outputs(spk, seqs)

    def _fast_forward(self, input_: Tensor, given: tuple[Tensor | None, ...]):
        """One step on the CPU kernel's single-step fast path, with the shell's bookkeeping
        cut to what this case needs; None when the general path must run it (and report
        any error)."""
        fast = registry.fast_step(self.kernel_op())
        if fast is None or type(self)._step is not SpikingNeuron._step:
            return None  # (a subclass with its own step takes the general path)
        if self.init_hidden and any(g is not None for g in given):
            return None
        names = self.state_names
        states = tuple(self._buffers[n] if g is None else g for n, g in zip(names, given))
        if not fast.fits(input_, states):
            return None
        plan = self._fast_plan(fast, input_, states)
        if plan is None:
            return None
        spk, new = fast.run(input_, states, plan)
        for name, value in zip(names, new):
            self._buffers[name] = value
        return spk if self.init_hidden and not self.output else (spk, *new)

    def _fast_plan(self, fast: Any, x: Tensor, states: tuple[Tensor, ...]) -> Any:
        """The fast path's plan for this call, or None. Kept between calls under its
        ``plan_key``; made only when ``select`` picks the kernel that owns the path."""
        params = self._params()
        options = (self.spike_grad, self._reset_mechanism, self.reset_delay, self.state_quant,
                   self.inhibition, self._backend)  # fmt: skip
        key = fast.plan_key(x, params, options)
        if key is None:
            return None
        cached = self.__dict__.get("_fast_step_plan")
        if cached is not None and cached[0] == key:
            return cached[1]
        cfg = self.config()
        plan = None
        if registry.fast_step(self.kernel_op(), self.select_backend(x, cfg, True)) is fast:
            plan = fast.plan_step(x, states, params, cfg)
        self._fast_step_plan = (key, plan)
        return plan

    def _check_not_broadcast(self, new: tuple[Tensor, ...], shape: torch.Size) -> None:
        """Per-neuron parameters must fit the input, never silently widen it."""
        if new[-1].shape != shape:
            params = {n: tuple(p.shape) for n, p in self.named_parameters(recurse=False)} | {
                n: tuple(b.shape) for n, b in self.named_buffers(recurse=False) if b.dim() > 0
            }
            raise ValueError(
                f"{type(self).__name__}: parameters of shapes {params} broadcast the state "
                f"from {tuple(shape)} to {tuple(new[-1].shape)}; per-neuron parameters must "
                "match the input's trailing dimensions"
            )

    def _check_input(self, x: Any) -> None:
        if not isinstance(x, Tensor):
            raise TypeError(
                f"{type(self).__name__}: input_ must be a torch.Tensor, got {type(x).__name__}"
            )
        if not x.is_floating_point():
            raise TypeError(
                f"{type(self).__name__}: input_ must be a floating-point tensor, got {x.dtype}; "
                "convert it with .float()"
            )
        for child_name, child in self.named_children():
            weight = next(child.parameters(), None)
            if weight is not None and weight.dtype != x.dtype:
                raise TypeError(
                    f"{type(self).__name__}: input_ has dtype {x.dtype} but its {child_name} "
                    f"layer holds {weight.dtype} weights; convert one with .to(dtype)"
                )

    def _check_state(
        self, name: str, value: Any, x: Tensor, shape: torch.Size, allow_empty: bool
    ) -> None:
        cls = type(self).__name__
        if not isinstance(value, Tensor):
            raise TypeError(f"{cls}: {name} must be a torch.Tensor, got {type(value).__name__}")
        if allow_empty and value.numel() == 0:
            return
        if value.shape != shape and not fits_by_broadcast(value.shape, shape):
            raise ValueError(
                f"{cls}: {name} has shape {tuple(value.shape)} but input_ {tuple(x.shape)} needs "
                f"{tuple(shape)} (or a shape that broadcasts to it); pass the state returned "
                "by the previous call, or call reset_mem() to start again from zero"
            )
        if value.device != x.device:
            raise ValueError(f"{cls}: {name} is on {value.device} but input_ is on {x.device}")
        if value.dtype != x.dtype:
            raise ValueError(f"{cls}: {name} has dtype {value.dtype} but input_ has {x.dtype}")

    # -- hidden-state management (this instance only) -------------------------------------

    def reset_mem(self):
        """Forget the state; returns empty tensors that size themselves on the next call."""
        for name in self.state_names:
            old = getattr(self, name)
            setattr(self, name, torch.zeros(0, dtype=old.dtype, device=old.device))
        states = tuple(getattr(self, n) for n in self.state_names)
        return states[0] if len(states) == 1 else states

    def reset_hidden(self) -> None:
        """Zero this neuron's hidden state, keeping its shape."""
        for name in self.state_names:
            setattr(self, name, torch.zeros_like(getattr(self, name)))

    def detach_hidden(self) -> None:
        """Cut the hidden state from the autograd graph (truncated BPTT)."""
        for name in self.state_names:
            setattr(self, name, getattr(self, name).detach())

    def reset_state(self) -> None:
        """Zero and detach the hidden state (the ``reset_state()`` protocol of
        ``spikeforge.nn.stateful`` that ``utils.reset`` uses)."""
        self.reset_hidden()
        self.detach_hidden()

    def extra_repr(self) -> str:
        text = f"reset_mechanism={self.reset_mechanism!r}, init_hidden={self.init_hidden}"
        if self._step_mode != "single":
            text += f", step_mode={self._step_mode!r}"
        if self._backend != "auto":
            text += f", backend={self._backend!r}"
        return text


class LIF(SpikingNeuron):
    """Adds the membrane decay rate ``beta`` (fixed buffer or learnable parameter)."""

    def __init__(self, beta: float | Tensor, *args: Any, learn_beta: bool = False, **kwargs: Any):
        super().__init__(*args, **kwargs)
        self._register_rate("beta", beta, learn_beta)
