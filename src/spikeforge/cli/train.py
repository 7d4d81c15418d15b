"""``spikeforge train``: train a spiking classifier on MNIST and write a run folder.

Default: snnTorch tutorial 5's network (784-1000-10, ``Leaky(beta=0.95)``, T=25, batch 128,
Adam lr 5e-4) and its loss, the cross-entropy of the output membrane summed over steps:
``L = Σ_t CE(U_t, y)``.
"""

from __future__ import annotations

import argparse
import time
from dataclasses import dataclass, field
from pathlib import Path

import torch
import torch.nn.functional as F
from torch import Tensor

from .data import batches, encode, load_split, num_train_batches
from .evaluate import EvalResult, evaluate_model, layer_names, predictions
from .model import Record, SpikingClassifier, build_model
from .options import TrainConfig, config_from_args
from .progress import Progress
from .runfiles import CHECKPOINT, CONFIG, METRICS, load_checkpoint, save_checkpoint, write_json
from .schedule import make_scheduler

__all__ = ["TrainResult", "make_loss", "resolve_device", "run_train", "train"]


def resolve_device(name: str) -> torch.device:
    """``auto`` is CUDA when available, else CPU; asking for a missing CUDA is an error."""
    if name == "auto":
        return torch.device("cuda" if torch.cuda.is_available() else "cpu")
    try:
        device = torch.device(name)
    except RuntimeError as err:
        raise ValueError(f"--device must be auto, cpu, cuda or cuda:N, got {name!r}") from err
    if device.type == "cuda" and not torch.cuda.is_available():
        raise ValueError(f"--device {name}: CUDA is not available on this machine")
    return device


def make_loss(config: TrainConfig):
    """``loss(record, labels) -> scalar`` for ``config.loss``."""
    if config.loss == "membrane":

        def membrane_loss(record: Record, labels: Tensor) -> Tensor:
            mem = record.mems[-1]  # [T, B, C]; Σ_t mean_b CE(U_t, y)
            steps = mem.shape[0]
            return F.cross_entropy(mem.flatten(0, 1), labels.repeat(steps)) * steps

        return membrane_loss
    from .. import functional as SF

    if config.loss == "rate":
        fn = SF.ce_rate_loss()
    elif config.loss == "count":
        fn = SF.mse_count_loss(correct_rate=0.8, incorrect_rate=0.2)
    else:
        raise ValueError(f"loss must be membrane, rate or count; got {config.loss!r}")
    return lambda record, labels: fn(record.spikes[-1], labels)


@dataclass
class TrainResult:
    config: TrainConfig
    history: list[dict] = field(default_factory=list)
    batch_loss: list[float] = field(default_factory=list)
    test: EvalResult | None = None
    folder: Path = Path(".")
    files: list[str] = field(default_factory=list)
    operations: dict | None = None

    @property
    def train_seconds(self) -> float:
        return sum(e["train_seconds"] for e in self.history)


def _sync(device: torch.device) -> None:
    if device.type == "cuda":
        torch.cuda.synchronize(device)


def _rank_and_world() -> tuple[int, int]:
    import torch.distributed as dist

    if dist.is_available() and dist.is_initialized():
        return dist.get_rank(), dist.get_world_size()
    return 0, 1


def train_epoch(
    model, optimizer, loss_fn, images, labels, config, device, generator, bar, scheduler=None
):
    """One pass over the training images; returns the epoch's statistics."""
    model.train()
    names = layer_names(getattr(model, "module", model))  # DDP wraps the classifier
    loss_sum = torch.zeros((), device=device)
    correct = torch.zeros((), device=device, dtype=torch.long)
    spikes = torch.zeros(len(names), device=device)
    sizes = [0] * len(names)
    batch_losses, seen = [], 0
    _sync(device)
    start = time.perf_counter()
    rank, world = _rank_and_world()
    usable = num_train_batches(len(labels), config.batch_size) // world * world
    for b, (x, y) in enumerate(batches(images, labels, config.batch_size, generator)):
        if world > 1 and (b % world != rank or b >= usable):
            continue  # this replica's shard; equal batch counts keep DDP's all-reduces paired
        x, y = x.to(device, non_blocking=True), y.to(device, non_blocking=True)
        inputs, static = encode(x, config.encoding, config.steps)
        record = model(inputs, config.steps, static)
        loss = loss_fn(record, y)
        optimizer.zero_grad(set_to_none=True)
        loss.backward()
        optimizer.step()
        if scheduler is not None:
            scheduler.step()
        with torch.no_grad():
            loss_sum += loss.detach() * len(y)
            correct += (predictions(record) == y).sum()
            for i, spk in enumerate(record.spikes):
                spikes[i] += spk.sum()
                sizes[i] = spk[0, 0].numel()
        batch_losses.append(loss.detach())
        seen += len(y)
        if b % 10 == 0 or b + 1 == bar.total:
            hidden = float(spikes[0]) / (seen * sizes[0])
            bar.update(
                b + 1 - bar.done,
                loss=f"{float(loss.detach()):.3f}",
                acc=f"{100 * int(correct) / seen:.1f}%",
                spk_per_neuron=f"{hidden:.2f}",
            )
    _sync(device)
    seconds = time.perf_counter() - start
    rates = {n: float(spikes[i]) / (seen * config.steps * sizes[i]) for i, n in enumerate(names)}
    return {
        "train_seconds": seconds,
        "train_loss": float(loss_sum) / seen,
        "train_accuracy": 100.0 * int(correct) / seen,
        "train_firing_rates": rates,
        "batches": len(batch_losses),
    }, torch.stack(batch_losses).cpu().tolist()


def count_operations(
    model: SpikingClassifier,
    images: Tensor,
    config: TrainConfig,
    device: torch.device,
    samples: int = 1000,
) -> dict:
    """Synaptic operations, firing rates and sparsity per layer (NeuroBench's definitions)
    on the first ``samples`` test images, per sample. A first layer computed once for a
    static input counts once, as it runs."""
    from ..metrics import OpCounter

    x = images[:samples].to(device)
    model.eval()
    with torch.no_grad(), OpCounter(model) as counter:
        inputs, static = encode(x, config.encoding, config.steps)
        model(inputs, config.steps, static)
    return counter.summary(num_samples=len(x))


def describe(config: TrainConfig, model: SpikingClassifier) -> str:
    arch = f"784-{config.hidden}-10" if config.model == "fc" else "12C5-MP2-64C5-MP2-FC10"
    params = sum(p.numel() for p in model.parameters())
    return (
        f"{config.model} {arch} ({params:,} parameters), {config.neuron} neurons "
        f"(beta={config.beta}, surrogate={config.surrogate}), {config.encoding} encoding, "
        f"T={config.steps}, loss={config.loss}"
    )


def train(
    config: TrainConfig, resume: bool = False, plots: bool = True, progress: bool = True
) -> TrainResult:
    """Train as ``config`` says; writes ``config.out`` and returns what it measured."""
    folder = Path(config.out)
    device = resolve_device(config.device)
    state = None
    if resume:
        state = load_checkpoint(folder / CHECKPOINT, device)
        saved = TrainConfig.from_dict(state["config"])
        saved.epochs, saved.device, saved.out = config.epochs, config.device, config.out
        config = saved
    torch.manual_seed(config.seed)
    if device.type == "cuda":
        torch.backends.cudnn.benchmark = True
    train_x, train_y = load_split(config, train=True)
    test_x, test_y = load_split(config, train=False)
    model = build_model(config).to(device)
    rank, world = _rank_and_world()
    main_process = rank == 0
    optimizer = torch.optim.Adam(model.parameters(), lr=config.lr, betas=(0.9, 0.999))
    generator = torch.Generator().manual_seed(config.seed)
    n_batches = num_train_batches(len(train_y), config.batch_size)
    # stepped after every batch this replica trains: K = its batches over all epochs
    steps_total = max(n_batches // world, 1) * config.epochs
    scheduler = make_scheduler(optimizer, config.schedule, steps_total)
    result = TrainResult(config=config, folder=folder)
    if state is not None:
        model.load_state_dict(state["model"])
        optimizer.load_state_dict(state["optimizer"])
        if scheduler is not None and "scheduler" in state:
            scheduler.load_state_dict(state["scheduler"])
        generator.set_state(state["generator"])
        torch.set_rng_state(state["torch_rng"])
        result.history = list(state["history"])
        result.batch_loss = list(state["batch_loss"])
    loss_fn = make_loss(config)
    trained = model
    if world > 1:  # data-parallel replicas; neuron states stay per replica
        from ..distributed import wrap_ddp

        trained = wrap_ddp(model)
    if main_process:
        write_json(folder / CONFIG, config.to_dict())
        print(describe(config, model))
        print(
            f"data: {config.dataset} {len(train_y)} train / {len(test_y)} test images, batch "
            f"{config.batch_size}, Adam lr {config.lr:g} ({config.schedule}), device {device}"
            + (f", {world} processes" if world > 1 else "")
        )
    for epoch in range(len(result.history), config.epochs):
        desc = f"epoch {epoch + 1}/{config.epochs}"
        with Progress(n_batches // world, desc, enabled=progress and main_process) as bar:
            stats, losses = train_epoch(
                trained,
                optimizer,
                loss_fn,
                train_x,
                train_y,
                config,
                device,
                generator,
                bar,
                scheduler,
            )
        result.test = evaluate_model(model, test_x, test_y, config, loss_fn, device)
        stats.update(
            epoch=epoch + 1,
            test_loss=result.test.loss,
            test_accuracy=result.test.accuracy,
            test_firing_rates=result.test.firing_rates,
        )
        result.history.append(stats)
        result.batch_loss.extend(losses)
        if not main_process:
            continue
        save_checkpoint(
            folder / CHECKPOINT,
            {
                "model": model.state_dict(),
                "optimizer": optimizer.state_dict(),
                **({"scheduler": scheduler.state_dict()} if scheduler is not None else {}),
                "generator": generator.get_state(),
                "torch_rng": torch.get_rng_state(),
                "history": result.history,
                "batch_loss": result.batch_loss,
                "config": config.to_dict(),
            },
        )
        write_json(folder / METRICS, metrics(result, device))
        print(
            f"{desc}: loss {stats['train_loss']:.3f}, train {stats['train_accuracy']:.2f}%, "
            f"test {result.test.accuracy:.2f}%, {stats['train_seconds']:.1f} s"
        )
    if result.test is None:  # resumed a run that had already done all its epochs
        result.test = evaluate_model(model, test_x, test_y, config, loss_fn, device)
    if not main_process:
        return result
    result.operations = count_operations(model, test_x, config, device)
    if plots:
        from .plots import write_plots

        result.files = write_plots(folder, model, test_x, test_y, config, result, device)
    write_json(folder / METRICS, metrics(result, device))
    return result


def metrics(result: TrainResult, device: torch.device) -> dict:
    test = result.test
    return {
        "test_accuracy": test.accuracy if test else None,
        "test_loss": test.loss if test else None,
        "train_seconds": result.train_seconds,
        "epochs": len(result.history),
        **(test.other_accuracies if test else {}),
        "spikes_per_inference": test.spikes_per_inference if test else None,
        "firing_rates": test.firing_rates if test else None,
        "output_spikes_by_class": test.class_counts if test else None,
        "history": result.history,
        "batch_loss": result.batch_loss,
        "device": str(device),
        "torch": torch.__version__,
        "plots": result.files,
        "operations": result.operations,
    }


def summary(result: TrainResult) -> str:
    """The one-screen report printed at the end of ``spikeforge train``."""
    c, test = result.config, result.test
    lines = [
        "",
        "=" * 72,
        f" spikeforge train: {c.model} / {c.neuron} / {c.encoding} encoding / T={c.steps}",
        "=" * 72,
        f" {'epoch':>5}  {'loss':>8}  {'train acc':>9}  {'test acc':>8}  {'seconds':>8}",
    ]
    for e in result.history:
        lines.append(
            f" {e['epoch']:>5}  {e['train_loss']:>8.3f}  {e['train_accuracy']:>8.2f}%"
            f"  {e['test_accuracy']:>7.2f}%  {e['train_seconds']:>8.1f}"
        )
    lines += [
        "-" * 72,
        f" test accuracy      {test.accuracy:.2f}%  (most output spikes; ties by membrane)",
        "   other readouts   "
        + ", ".join(
            f"{k.removeprefix('accuracy_')} {v:.2f}%" for k, v in test.other_accuracies.items()
        ),
        f" training time      {result.train_seconds:.1f} s ({len(result.history)} epochs)",
        f" spikes / inference {test.spikes_per_inference:.1f}",
        " firing rates       "
        + ", ".join(f"{k} {v:.4f}" for k, v in test.firing_rates.items())
        + " (spikes per neuron per step)",
    ]
    if c.model == "fc" and c.neuron == "leaky" and c.encoding == "direct" and c.limit is None:
        lines.append(" snnTorch tutorial 5 (same net, 1 epoch, count_first_index): 93.87%")
    if result.operations is not None:
        from ..metrics import format_energy, format_summary

        lines += ["-" * 72, format_summary(result.operations), format_energy(result.operations)]
    lines += [
        "-" * 72,
        f" results in {result.folder}/",
        f"   {METRICS}, {CONFIG}, {CHECKPOINT}",
    ]
    if result.files:
        lines.append("   " + ", ".join(result.files))
    lines.append(f" re-test with: spikeforge evaluate {result.folder}")
    lines.append("=" * 72)
    return "\n".join(lines)


def run_train(args: argparse.Namespace) -> int:
    config = config_from_args(args)
    options = (config, args.resume, not args.no_plots, not args.no_progress)
    if args.nproc > 1:
        from ..distributed import launch

        launch(_train_replica, args.nproc, *options)
        return 0
    print(summary(train(*options)))
    return 0


def _train_replica(rank: int, nproc: int, config, resume, plots, progress) -> None:
    """One process of ``--nproc N``: rank 0 writes the run folder and prints the summary."""
    result = train(config, resume, plots, progress)
    if rank == 0:
        print(summary(result))
