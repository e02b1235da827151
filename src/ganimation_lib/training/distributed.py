"""Training on several processes: the process group from ``torchrun``'s environment, and what the ranks share.

A [`Trainer`][ganimation_lib.training.trainer.Trainer] calls
[`init_distributed`][ganimation_lib.training.distributed.init_distributed] when it is built. Launched by
``torchrun`` (``WORLD_SIZE`` > 1, with ``RANK``, ``LOCAL_RANK``, ``MASTER_ADDR`` and ``MASTER_PORT`` set), it
joins the process group (NCCL when training on CUDA, each process on ``cuda:LOCAL_RANK``; Gloo on the CPU); a
group the caller already initialised is used as it is; otherwise nothing happens and the
[`DistributedContext`][ganimation_lib.training.distributed.DistributedContext] is the single-process one, whose
operations all do nothing.

Gradients are synchronised by hand, as stylegan3 does, rather than by ``DistributedDataParallel``: the weights
are broadcast from rank 0 once, and after each backward pass the gradients of the parameters that have one are
flattened, all-reduced and divided by the world size
([`average_gradients`][ganimation_lib.training.distributed.DistributedContext.average_gradients]), before the
gradient norm, clipping, the ``GradScaler`` and the optimizer step, so every rank takes the same step. Why
(the phases' ``requires_grad`` switching, the frozen critic in the generator phase and the penalties' double
backward) is in ``docs/design.md``.

Examples:
    >>> context = init_distributed("cpu")  # not launched by torchrun: a single process
    >>> context.rank, context.world_size, context.enabled
    (0, 1, False)
"""

from __future__ import annotations

import os
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from typing import Any

import torch
import torch.distributed as dist
from torch import Tensor, nn

__all__ = ["DistributedContext", "init_distributed", "rank_seed", "shutdown_distributed", "training_device"]

#: The variables ``torchrun`` sets that a process needs to join the group.
_REQUIRED = ("RANK", "LOCAL_RANK", "MASTER_ADDR", "MASTER_PORT")


def _int_env(environ: Mapping[str, str], name: str) -> int:
    value = environ.get(name, "")
    try:
        return int(value)
    except ValueError:
        raise ValueError(
            f"the environment variable {name}={value!r} is not a whole number; launch with torchrun, which sets it"
        ) from None


def _wants_cuda(device: str) -> bool:
    return device.startswith("cuda") or (device == "auto" and torch.cuda.is_available())


@dataclass(frozen=True)
class DistributedContext:
    """This process's place among the training processes, and the collective operations the trainer uses.

    With ``world_size`` 1 every operation does nothing (and costs nothing), so the trainer calls them
    unconditionally.

    Attributes:
        rank: This process's rank (0 writes the files).
        world_size: The number of processes.
        local_rank: Its rank on its node (its GPU index under ``torchrun``).
        owns_group: Whether [`init_distributed`][ganimation_lib.training.distributed.init_distributed] created the
            process group (then [`shutdown_distributed`][ganimation_lib.training.distributed.shutdown_distributed]
            destroys it).
    """

    rank: int = 0
    world_size: int = 1
    local_rank: int = 0
    owns_group: bool = False

    @property
    def enabled(self) -> bool:
        """Whether there is more than one process."""
        return self.world_size > 1

    def broadcast_module(self, module: nn.Module) -> None:
        """Copy rank 0's parameters and buffers into ``module`` on every rank (the same start everywhere)."""
        if not self.enabled:
            return
        with torch.no_grad():
            for tensor in [*module.parameters(), *module.buffers()]:
                dist.broadcast(tensor.data, src=0)

    def average_gradients(self, parameters: Iterable[Tensor]) -> None:
        """Replace each gradient by its mean over the ranks, in one all-reduce of the flattened gradients.

        Only parameters that have a gradient take part; every rank runs the same phase, so they are the
        same parameters everywhere.
        """
        if not self.enabled:
            return
        grads = [p.grad for p in parameters if p.grad is not None]
        if not grads:
            return
        flat = torch.cat([g.reshape(-1) for g in grads])
        dist.all_reduce(flat)
        flat.div_(self.world_size)
        offset = 0
        for grad in grads:
            grad.copy_(flat[offset : offset + grad.numel()].view_as(grad))
            offset += grad.numel()

    def average(self, values: Tensor) -> Tensor:
        """The mean of ``values`` over the ranks (a new tensor; a NaN or inf on any rank makes its entry non-finite).

        The trainer reads a phase's losses and gradient norm through this, so the logged metrics are
        averaged over the ranks and the non-finite guard takes the same decision on every rank.
        """
        if not self.enabled:
            return values
        total = values.detach().clone()
        dist.all_reduce(total)
        return total / self.world_size

    def max_int(self, value: int) -> int:
        """The largest of the ranks' ``value`` (e.g. a stop decision any rank took), on every rank."""
        if not self.enabled:
            return value
        device = torch.device("cuda", torch.cuda.current_device()) if dist.get_backend() == "nccl" else None
        box = torch.tensor([value], dtype=torch.int64, device=device)
        dist.all_reduce(box, op=dist.ReduceOp.MAX)
        return int(box.item())

    def barrier(self) -> None:
        """Wait until every rank gets here (e.g. until rank 0 has written a file the others read)."""
        if self.enabled:
            dist.barrier()

    def broadcast_object(self, value: Any) -> Any:
        """Rank 0's ``value`` on every rank (pickled; for small objects and checkpoints read by rank 0)."""
        if not self.enabled:
            return value
        box = [value if self.rank == 0 else None]
        dist.broadcast_object_list(box, src=0)
        return box[0]

    def gather_objects(self, value: Any) -> list[Any]:
        """Every rank's ``value``, in rank order, on every rank."""
        if not self.enabled:
            return [value]
        out: list[Any] = [None] * self.world_size
        dist.all_gather_object(out, value)
        return out


def init_distributed(device: str = "auto", environ: Mapping[str, str] | None = None) -> DistributedContext:
    """Join the process group ``torchrun`` describes in the environment; the single-process context otherwise.

    Args:
        device: The trainer's device setting (``TrainerConfig.device``): NCCL when it means CUDA, else Gloo.
        environ: The environment (default ``os.environ``).

    Returns:
        The context of this process: from an already initialised group as it is, from ``torchrun``'s
        variables when ``WORLD_SIZE`` > 1, else rank 0 of 1.

    Raises:
        ValueError: When ``WORLD_SIZE`` > 1 but a variable the group needs is missing or not a number (named).
    """
    environ = os.environ if environ is None else environ
    if dist.is_available() and dist.is_initialized():
        rank, world_size = dist.get_rank(), dist.get_world_size()
        local = environ.get("LOCAL_RANK")
        local_rank = int(local) if local and local.isdigit() else rank % max(1, torch.cuda.device_count())
        return DistributedContext(rank, world_size, local_rank)
    world_size = _int_env(environ, "WORLD_SIZE") if environ.get("WORLD_SIZE") else 1
    if world_size <= 1:
        return DistributedContext()
    missing = [name for name in _REQUIRED if not environ.get(name)]
    if missing:
        raise ValueError(
            f"WORLD_SIZE={world_size} but {missing} are not set: launch with torchrun (it sets RANK, LOCAL_RANK, "
            "MASTER_ADDR and MASTER_PORT), or unset WORLD_SIZE to train in one process"
        )
    if not dist.is_available():
        raise RuntimeError(f"WORLD_SIZE={world_size} but this PyTorch build has no torch.distributed")
    rank, local_rank = _int_env(environ, "RANK"), _int_env(environ, "LOCAL_RANK")
    cuda = _wants_cuda(device)
    if cuda:
        if local_rank >= torch.cuda.device_count():
            raise ValueError(
                f"LOCAL_RANK={local_rank} but this node has {torch.cuda.device_count()} CUDA device(s): start at most "
                "that many processes per node (torchrun --nproc-per-node), or train on the CPU (--device cpu)"
            )
        torch.cuda.set_device(local_rank)
    dist.init_process_group("nccl" if cuda else "gloo", init_method="env://", rank=rank, world_size=world_size)
    return DistributedContext(rank, world_size, local_rank, owns_group=True)


def training_device(device: str, context: DistributedContext) -> str:
    """The device this process trains on: ``"auto"`` and ``"cuda"`` mean ``cuda:LOCAL_RANK`` under several processes.

    Examples:
        >>> training_device("cuda", DistributedContext(rank=3, world_size=4, local_rank=1))
        'cuda:1'
        >>> training_device("cpu", DistributedContext(rank=3, world_size=4, local_rank=1))
        'cpu'
    """
    if context.enabled and (device == "cuda" or (device == "auto" and torch.cuda.is_available())):
        return f"cuda:{context.local_rank}"
    return device


def rank_seed(seed: int, rank: int, step: int = 0) -> int:
    """The seed of rank ``rank``'s random draws (targets, flips, penalty interpolation): ``seed`` itself on rank 0.

    Each rank draws its own numbers (the same draws on every rank would pair the same random values with
    every rank's faces). ``step`` > 0 reseeds a rank whose random state a resume does not have (a checkpoint
    written at a smaller world size), away from the start of its stream.

    Examples:
        >>> rank_seed(7, 0), rank_seed(7, 1) != rank_seed(7, 2), rank_seed(7, 1, step=10) != rank_seed(7, 1)
        (7, True, True)
    """
    if rank == 0 and step == 0:
        return seed
    return (seed + 1_000_003 * rank + 7_919 * step) % 2**32


def shutdown_distributed(context: DistributedContext) -> None:
    """Destroy the process group if ``context`` created it (at the end of ``ganimation train``)."""
    if context.owns_group and dist.is_initialized():
        dist.destroy_process_group()
