"""``spikeforge train``: train a spiking classifier on MNIST and write a run folder.

Default: snnTorch tutorial 5's network (784-1000-10, ``Leaky(beta=0.95)``, T=25, batch 128,
Adam lr 5e-4) and its loss, the cross-entropy of the output membrane summed over steps:
``L = Σ_t CE(U_t, y)``.

:func:`train` runs the named steps in order: restore a checkpoint (``--resume``), set up data,
network and optimiser, announce the run, then per epoch train, test and save; finally count
operations and draw plots. :func:`run_train` is the command: it checks and locks the run folder
before any data loads and turns Ctrl-C into a one-line message.
"""

from __future__ import annotations

import argparse
import logging
import signal
import sys
import time
from dataclasses import dataclass, field, replace
from pathlib import Path

import torch
from torch import Tensor

from .checkpoint import FORMAT, check_fits_config, check_fits_model, read_checkpoint
from .data import batches, encode, load_split, num_train_batches
from .devices import resolve_device
from .errors import CLIError, Interrupted, Reported, Terminated, TrainingDiverged
from .evaluate import EvalResult, evaluate_model, layer_names, predictions, read_run_config
from .loss import make_loss
from .memory import keep_freed_memory
from .model import SpikingClassifier, build_model
from .options import TrainConfig, config_from_args, resume_config
from .progress import Progress
from .rundir import claim_run_folder
from .runfiles import CHECKPOINT, CONFIG, METRICS, save_checkpoint, write_json
from .schedule import make_scheduler

__all__ = ["TrainResult", "make_loss", "resolve_device", "run_train", "train"]


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


class NonFiniteLoss(Exception):
    """Raised by :func:`train_epoch` when a batch's loss is NaN or infinite."""

    def __init__(self, batch: int, lr: float, loss: float) -> None:
        super().__init__(f"loss {loss} at batch {batch + 1} (learning rate {lr:g})")
        self.batch, self.lr, self.loss = batch, lr, loss


def _first_non_finite(first_bad: Tensor, world: int) -> int:
    """The first batch (from 0) whose loss was not finite, or -1; replicas agree on it."""
    if world > 1:
        import torch.distributed as dist

        flag = torch.where(first_bad < 0, torch.full_like(first_bad, 2**62), first_bad)
        dist.all_reduce(flag, op=dist.ReduceOp.MIN)
        return -1 if int(flag) == 2**62 else int(flag)
    return int(first_bad)


def train_epoch(
    model, optimizer, loss_fn, images, labels, config, device, generator, bar, scheduler=None
):
    """One pass over the training images; returns the epoch's statistics.

    Raises :class:`NonFiniteLoss` when a loss is NaN or infinite: checked on the device after
    every batch, read at each progress update (every 10 batches, as the bar already syncs)
    and at the end of the epoch (with replicas, only there, all together).
    """
    model.train()
    names = layer_names(getattr(model, "module", model))  # DDP wraps the classifier
    loss_sum = torch.zeros((), device=device)
    correct = torch.zeros((), device=device, dtype=torch.long)
    spikes = torch.zeros(len(names), device=device)
    first_bad = torch.full((), -1, device=device, dtype=torch.long)
    sizes = [0] * len(names)
    batch_losses, rates_used, seen = [], [], 0
    _sync(device)
    start = time.perf_counter()
    rank, world = _rank_and_world()
    usable = num_train_batches(len(labels), config.batch_size) // world * world

    def check() -> None:
        bad = _first_non_finite(first_bad, world)
        if bad >= 0:
            raise NonFiniteLoss(bad, rates_used[bad], float(batch_losses[bad]))

    for b, (x, y) in enumerate(batches(images, labels, config.batch_size, generator)):
        if world > 1 and (b % world != rank or b >= usable):
            continue  # this replica's shard; equal batch counts keep DDP's all-reduces paired
        x, y = x.to(device, non_blocking=True), y.to(device, non_blocking=True)
        inputs, static = encode(x, config.encoding, config.steps)
        record = model(inputs, config.steps, static)
        loss = loss_fn(record, y)
        rates_used.append(optimizer.param_groups[0]["lr"])
        optimizer.zero_grad(set_to_none=True)
        loss.backward()
        optimizer.step()
        if scheduler is not None:
            scheduler.step()
        with torch.no_grad():
            finite = torch.isfinite(loss.detach())
            index = len(batch_losses)
            first_bad = torch.where((first_bad < 0) & ~finite, index, first_bad)
            loss_sum += loss.detach() * len(y)
            correct += (predictions(record) == y).sum()
            for i, spk in enumerate(record.spikes):
                spikes[i] += spk.sum()
                sizes[i] = spk[0, 0].numel()
        batch_losses.append(loss.detach())
        seen += len(y)
        if b % 10 == 0 or b + 1 == bar.total:
            if world == 1:
                check()
            hidden = float(spikes[0]) / (seen * sizes[0])
            bar.update(
                b + 1 - bar.done,
                loss=f"{float(loss.detach()):.3f}",
                acc=f"{100 * int(correct) / seen:.1f}%",
                spk_per_neuron=f"{hidden:.2f}",
            )
    check()
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


@dataclass
class Session:
    """Everything one training run works with, built by :func:`_set_up`."""

    config: TrainConfig
    device: torch.device
    model: SpikingClassifier
    trained: torch.nn.Module  # the model, or its DDP wrapper
    optimizer: torch.optim.Optimizer
    scheduler: torch.optim.lr_scheduler.LRScheduler | None
    generator: torch.Generator
    loss_fn: object
    train_x: Tensor
    train_y: Tensor
    test_x: Tensor
    test_y: Tensor
    n_batches: int
    world: int
    main_process: bool
    saved_epoch: int | None = None  # the epoch the checkpoint on disk holds

    @property
    def folder(self) -> Path:
        return Path(self.config.out)


def _resumed(config: TrainConfig, device: torch.device, state: dict | None):
    """Step 1: the checkpoint to continue and the config it fixes (the saved plan, with the
    given epochs, device and folder)."""
    folder = Path(config.out)
    path = folder / CHECKPOINT
    if state is None:
        state = read_checkpoint(path, device)
    try:
        saved = TrainConfig.from_dict(state["config"])
    except ValueError as err:
        raise CLIError(f"{path}: its saved config is damaged ({err})") from None
    if (folder / CONFIG).is_file():
        check_fits_config(state, read_run_config(folder).to_dict(), path)
    resumed = replace(
        saved,
        epochs=config.epochs,
        device=config.device,
        out=config.out,
        data_root=config.data_root if config.data_root is not None else saved.data_root,
    )
    return resumed, state


def _set_up(config: TrainConfig, device: torch.device) -> Session:
    """Step 2: seeds, data, network, optimiser, schedule and loss."""
    torch.manual_seed(config.seed)
    if device.type == "cuda":
        torch.backends.cudnn.benchmark = True
    train_x, train_y = load_split(config, train=True)
    test_x, test_y = load_split(config, train=False)
    model = build_model(config).to(device)
    rank, world = _rank_and_world()
    optimizer = torch.optim.Adam(model.parameters(), lr=config.lr, betas=(0.9, 0.999))
    n_batches = num_train_batches(len(train_y), config.batch_size)
    # stepped after every batch this replica trains: K = its batches over all epochs
    steps_total = max(n_batches // world, 1) * config.epochs
    trained = model
    if world > 1:  # data-parallel replicas; neuron states stay per replica
        from ..distributed import wrap_ddp

        trained = wrap_ddp(model)
    return Session(
        config=config,
        device=device,
        model=model,
        trained=trained,
        optimizer=optimizer,
        scheduler=make_scheduler(optimizer, config.schedule, steps_total),
        generator=torch.Generator().manual_seed(config.seed),
        loss_fn=make_loss(config),
        train_x=train_x,
        train_y=train_y,
        test_x=test_x,
        test_y=test_y,
        n_batches=n_batches,
        world=world,
        main_process=rank == 0,
    )


def _restore(session: Session, state: dict, result: TrainResult) -> None:
    """Step 3 (``--resume``): weights, optimiser, schedule, random streams and history."""
    path = session.folder / CHECKPOINT
    check_fits_model(state, session.model, path)
    try:
        session.model.load_state_dict(state["model"])
        session.optimizer.load_state_dict(state["optimizer"])
        if session.scheduler is not None and "scheduler" in state:
            session.scheduler.load_state_dict(state["scheduler"])
        session.generator.set_state(state["generator"])
        torch.set_rng_state(state["torch_rng"])
    except (RuntimeError, ValueError, KeyError, TypeError) as err:
        reason = str(err).splitlines()[0]
        raise CLIError(f"{path} is damaged: its training state does not load ({reason})") from None
    result.history = list(state["history"])
    result.batch_loss = list(state["batch_loss"])
    session.saved_epoch = len(result.history)


def _write(session: Session, name: str, write) -> None:
    """Write one run file; a full disk or a lost permission is a one-line error."""
    try:
        write(session.folder / name)
    except OSError as err:
        reason = err.strerror or str(err)
        if session.saved_epoch:
            kept = (
                f"the checkpoint of epoch {session.saved_epoch} is kept; free the space and "
                f"continue with `spikeforge train --resume --out {session.folder}`"
            )
        else:
            kept = "no checkpoint was saved; free the space and train again"
        raise CLIError(f"could not write {session.folder / name} ({reason}); {kept}") from None


def _announce(session: Session) -> None:
    """Step 4: ``config.json`` and the two lines that describe the run."""
    config, device = session.config, session.device
    _write(session, CONFIG, lambda path: write_json(path, config.to_dict()))
    print(describe(config, session.model))
    print(
        f"data: {config.dataset} {len(session.train_y)} train / {len(session.test_y)} test "
        f"images, batch {config.batch_size}, Adam lr {config.lr:g} ({config.schedule}), "
        f"device {device}" + (f", {session.world} processes" if session.world > 1 else "")
    )


def _train_and_test_epoch(session: Session, epoch: int, progress: bool, result: TrainResult):
    """Step 5a: one epoch of training, then the test pass; appends to ``result``."""
    config = session.config
    desc = f"epoch {epoch + 1}/{config.epochs}"
    enabled = progress and session.main_process
    try:
        with Progress(session.n_batches // session.world, desc, enabled=enabled) as bar:
            stats, losses = train_epoch(
                session.trained,
                session.optimizer,
                session.loss_fn,
                session.train_x,
                session.train_y,
                config,
                session.device,
                session.generator,
                bar,
                session.scheduler,
            )
    except NonFiniteLoss as bad:
        if session.saved_epoch:
            kept = (
                f"the checkpoint of epoch {session.saved_epoch} stays in {session.folder}; "
                "train again with a smaller --lr and --overwrite"
            )
        else:
            kept = "no checkpoint was saved; train again with a smaller --lr"
        raise TrainingDiverged(
            f"training diverged: the loss became {bad.loss} at epoch {epoch + 1}, batch "
            f"{bad.batch + 1} (learning rate {bad.lr:g}); nothing of this epoch was saved "
            f"and {kept}"
        ) from None
    result.test = evaluate_model(
        session.model, session.test_x, session.test_y, config, session.loss_fn, session.device
    )
    stats.update(
        epoch=epoch + 1,
        test_loss=result.test.loss,
        test_accuracy=result.test.accuracy,
        test_firing_rates=result.test.firing_rates,
    )
    result.history.append(stats)
    result.batch_loss.extend(losses)
    return stats, desc


def _save_epoch(session: Session, result: TrainResult) -> None:
    """Step 5b: the checkpoint (atomically), then ``metrics.json``."""
    state = {
        "format": FORMAT,
        "model": session.model.state_dict(),
        "optimizer": session.optimizer.state_dict(),
        **({"scheduler": session.scheduler.state_dict()} if session.scheduler else {}),
        "generator": session.generator.get_state(),
        "torch_rng": torch.get_rng_state(),
        "history": result.history,
        "batch_loss": result.batch_loss,
        "config": session.config.to_dict(),
    }
    _write(session, CHECKPOINT, lambda path: save_checkpoint(path, state))
    session.saved_epoch = len(result.history)
    _write(session, METRICS, lambda path: write_json(path, metrics(result, session.device)))


def _finish(session: Session, result: TrainResult, plots: bool) -> None:
    """Step 6: operation counts, plots and the final ``metrics.json``."""
    model, device = session.model, session.device
    result.operations = count_operations(model, session.test_x, session.config, device)
    if plots:
        from .plots import write_plots

        result.files = write_plots(
            session.folder, model, session.test_x, session.test_y, session.config, result, device
        )
    _write(session, METRICS, lambda path: write_json(path, metrics(result, device)))


def train(
    config: TrainConfig,
    resume: bool = False,
    plots: bool = True,
    progress: bool = True,
    state: dict | None = None,
) -> TrainResult:
    """Train as ``config`` says; writes ``config.out`` and returns what it measured.

    ``resume``: continue from ``config.out``'s checkpoint (or ``state``, already read) with its
    saved options; ``config`` gives the epochs, device and folder.
    """
    device = resolve_device(config.device)
    if device.type == "cpu":
        keep_freed_memory()  # reuse the step's pages instead of faulting them in again
    if resume:
        config, state = _resumed(config, device, state)
    session = _set_up(config, device)
    result = TrainResult(config=session.config, folder=session.folder)
    if resume:
        _restore(session, state, result)
    if session.main_process:
        _announce(session)
    for epoch in range(len(result.history), config.epochs):
        stats, desc = _train_and_test_epoch(session, epoch, progress, result)
        if not session.main_process:
            continue
        _save_epoch(session, result)
        print(
            f"{desc}: loss {stats['train_loss']:.3f}, train {stats['train_accuracy']:.2f}%, "
            f"test {result.test.accuracy:.2f}%, {stats['train_seconds']:.1f} s"
        )
    if result.test is None:  # resumed a run that had already done all its epochs
        result.test = evaluate_model(
            session.model, session.test_x, session.test_y, config, session.loss_fn, device
        )
    if session.main_process:
        _finish(session, result, plots)
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


def _prepare(args: argparse.Namespace) -> tuple[TrainConfig, dict | None]:
    """Check what can be checked before any data loads: the device, the run folder's files
    and, for ``--resume``, the checkpoint and the saved plan against the given options."""
    config = config_from_args(args)
    device = resolve_device(config.device)
    if not args.resume:
        return config, None
    folder = Path(config.out)
    path = folder / CHECKPOINT
    state = read_checkpoint(path, device)
    saved = read_run_config(folder)
    check_fits_config(state, saved.to_dict(), path)
    try:
        config = resume_config(saved, args, len(state["history"]))
    except ValueError as err:
        raise CLIError(str(err)) from None
    return config, state


def _saved_epoch(folder: Path) -> int | None:
    try:
        return len(read_checkpoint(folder / CHECKPOINT, "cpu", keys=("history",))["history"])
    except CLIError:
        return None


def _interrupted(folder: Path, signum: int) -> Interrupted:
    epoch = _saved_epoch(folder)
    if epoch is None:
        where = f"no checkpoint was saved in {folder}; start again with `spikeforge train`"
    else:
        where = (
            f"last checkpoint (epoch {epoch}) in {folder}; continue with "
            f"`spikeforge train --resume --out {folder}`"
        )
    return Interrupted(f"interrupted; {where}", code=128 + signum)


def run_train(args: argparse.Namespace) -> int:
    """``spikeforge train``: claim ``--out``, train, print the summary."""
    given = config_from_args(args)
    resolve_device(given.device)  # before the folder is made
    folder = Path(given.out)
    overwrite = args.overwrite or (getattr(args, "replaces_run", False) and not args.resume)
    lock = claim_run_folder(folder, resume=args.resume, overwrite=overwrite)
    try:
        config, state = _prepare(args)
        options = (config, args.resume, not args.no_plots, not args.no_progress)
        if args.nproc > 1:
            import torch.multiprocessing as mp

            from ..distributed import launch

            # the launcher logs a warning as it stops the other replicas after one failed
            logging.getLogger("torch.multiprocessing.spawn").setLevel(logging.ERROR)
            try:
                launch(_train_replica, args.nproc, *options)
            except mp.ProcessExitedException as err:  # a replica printed its CLIError
                raise Reported(str(err), code=err.exit_code or 1) from None
            return 0
        print(summary(train(*options, state=state)))
        return 0
    except KeyboardInterrupt:
        raise _interrupted(folder, signal.SIGINT) from None
    except Terminated:
        raise _interrupted(folder, signal.SIGTERM) from None
    finally:
        lock.release()


def _train_replica(rank: int, nproc: int, config, resume, plots, progress) -> None:
    """One process of ``--nproc N``: rank 0 writes the run folder and prints the summary.

    A :class:`CLIError` is printed here (once for a divergence, which every replica sees) and
    ends the process with its exit code, which the launcher passes on.
    """
    try:
        result = train(config, resume, plots, progress)
    except CLIError as err:
        if rank == 0 or not isinstance(err, TrainingDiverged):
            print(f"spikeforge train: error: {err}", file=sys.stderr, flush=True)
        raise SystemExit(err.code) from None
    if rank == 0:
        print(summary(result))
