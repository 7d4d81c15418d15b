"""snnTorch's shared constructor options, declared once for every neuron.

snnTorch's neurons all end their constructors with the same options in the same order
(``threshold, spike_grad, …, output``), each neuron taking a subset. A neuron's
``__init__`` names only its own parameters and collects the rest in ``**options``;
``snntorch_signature`` builds the full public signature (names, order, defaults and
annotations as snnTorch has them), binds each call to it, and hands the options over::

    @snntorch_signature("alpha", "beta", graded=False)
    def __init__(self, alpha: float | Tensor, beta: float | Tensor, **options: Any) -> None:
        learn_alpha = options.pop("learn_alpha")
        super().__init__(beta, **options)
"""

from __future__ import annotations

import functools
import inspect
from collections.abc import Callable
from inspect import Parameter
from typing import Any, TypeVar

__all__ = ["pop_recurrence_options", "snntorch_signature"]

Init = TypeVar("Init", bound=Callable[..., None])

# Each shared option's (annotation, default) as snnTorch spells them; ``option_names`` gives
# their order. A ``learn_<rate>`` option (a bool, off) is made for each decay rate declared.
OPTIONS: dict[str, tuple[str, Any]] = {
    "threshold": ("float | Tensor", 1.0),
    "spike_grad": ("Any", None),
    "surrogate_disable": ("bool", False),
    "init_hidden": ("bool", False),
    "inhibition": ("bool", False),
    "learn_threshold": ("bool", False),
    "learn_recurrent": ("bool", True),
    "reset_mechanism": ("str", "subtract"),
    "state_quant": ("Any", False),
    "output": ("bool", False),
    "graded_spikes_factor": ("float | Tensor", 1.0),
    "learn_graded_spikes_factor": ("bool", False),
    "reset_delay": ("bool", True),
    "kernel_truncation_steps": ("int | None", None),
    # A recurrent neuron's connection (``RECURRENT_ARGUMENTS``).
    "V": ("float | Tensor", 1.0),
    "all_to_all": ("bool", True),
    "linear_features": ("int | None", None),
    "conv2d_channels": ("int | None", None),
    "kernel_size": ("int | tuple[int, int] | None", None),
}

# A recurrent neuron's connection arguments (``RLeaky``, ``RSynaptic``): they follow its
# decay rates, before the shared options.
RECURRENT_ARGUMENTS = ("V", "all_to_all", "linear_features", "conv2d_channels", "kernel_size")


def pop_recurrence_options(options: dict[str, Any]) -> dict[str, Any]:
    """Take the arguments of ``RecurrentMixin._init_recurrence`` out of ``options``."""
    return {name: options.pop(name) for name in (*RECURRENT_ARGUMENTS, "learn_recurrent")}


def option_names(
    rates: tuple[str, ...],
    *,
    stateful: bool = True,
    recurrent: bool = False,
    graded: bool = True,
    delay: bool = True,
    truncation: bool = False,
) -> list[str]:
    """The options a neuron takes, in snnTorch's order.

    ``rates``: decay rates with a ``learn_<rate>`` option; ``stateful``: it keeps hidden
    state (``init_hidden``, ``inhibition``, ``reset_mechanism``, ``reset_delay``);
    ``recurrent``: ``learn_recurrent`` (``snntorch_signature`` adds the connection's
    ``RECURRENT_ARGUMENTS`` too); ``graded``: the graded-spike pair; ``delay``:
    ``reset_delay``; ``truncation``: ``kernel_truncation_steps``.
    """
    hidden = ["init_hidden", "inhibition"] if stateful else []
    names = ["threshold", "spike_grad", "surrogate_disable", *hidden]
    names += [f"learn_{rate}" for rate in rates] + ["learn_threshold"]
    names += ["learn_recurrent"] if recurrent else []
    names += ["reset_mechanism"] if stateful else []
    names += ["state_quant", "output"]
    names += ["graded_spikes_factor", "learn_graded_spikes_factor"] if graded else []
    names += ["reset_delay"] if stateful and delay else []
    names += ["kernel_truncation_steps"] if truncation else []
    return names


def _parameter(name: str, defaults: dict[str, Any]) -> Parameter:
    annotation, default = OPTIONS.get(name, ("bool", False))  # ``learn_<rate>``: off
    default = defaults.get(name, default)
    return Parameter(name, Parameter.POSITIONAL_OR_KEYWORD, default=default, annotation=annotation)


def snntorch_signature(
    *rates: str,
    stateful: bool = True,
    recurrent: bool = False,
    graded: bool = True,
    delay: bool = True,
    truncation: bool = False,
    **defaults: Any,
) -> Callable[[Init], Init]:
    """Give a neuron's ``__init__(self, <own>, [*, <keyword-only>], **options)`` snnTorch's
    signature: its own positional parameters, then the options ``option_names`` picks (with
    ``defaults`` overriding the shared ones), then its keyword-only parameters.

    A call is bound to that signature (positional options work, unknown names raise) and
    ``__init__`` receives every option, defaults filled in, in ``options``.
    """

    def decorate(init: Init) -> Init:
        own = inspect.signature(init).parameters.values()
        names = option_names(
            rates,
            stateful=stateful,
            recurrent=recurrent,
            graded=graded,
            delay=delay,
            truncation=truncation,
        )
        unknown = set(defaults) - set(names)
        if unknown:
            raise TypeError(f"{init.__qualname__}: defaults for options it lacks: {unknown}")
        connection = RECURRENT_ARGUMENTS if recurrent else ()
        signature = inspect.Signature(
            [p for p in own if p.kind is Parameter.POSITIONAL_OR_KEYWORD]
            + [_parameter(name, defaults) for name in (*connection, *names)]
            + [p for p in own if p.kind is Parameter.KEYWORD_ONLY],
            return_annotation=inspect.signature(init).return_annotation,
        )

        @functools.wraps(init)
        def __init__(*args: Any, **kwargs: Any) -> None:
            try:
                bound = signature.bind(*args, **kwargs)
            except TypeError as err:
                raise TypeError(f"{init.__qualname__}() {err}") from None
            bound.apply_defaults()
            init(**bound.arguments)

        __init__.__signature__ = signature  # type: ignore[attr-defined]
        return __init__  # type: ignore[return-value]

    return decorate
