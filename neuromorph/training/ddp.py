"""Distributed data parallel plumbing: process group from torchrun's environment, samplers, reductions.

A process started by ``torchrun`` (``python -m torch.distributed.run``) finds ``RANK``, ``WORLD_SIZE``,
``LOCAL_RANK``, ``MASTER_ADDR`` and ``MASTER_PORT`` in its environment. :func:`init_distributed` reads them and
initialises the default process group with backend ``"nccl"`` when CUDA is used and ``"gloo"`` otherwise. Without
those variables (or with ``WORLD_SIZE=1``) nothing is initialised and the helpers below act as single-process no-ops,
so the same training loop runs both ways.
"""

from __future__ import annotations

import os
import sys
from dataclasses import dataclass
from typing import Any, NoReturn, Sequence

import torch
import torch.distributed as dist
from torch import Tensor, nn
from torch.utils.data import DataLoader, Dataset, DistributedSampler

from neuromorph.utils import check_positive_int


@dataclass(frozen=True)
class DistEnv:
    """Where this process sits in the job.

    >>> env = DistEnv()
    >>> env.distributed, env.is_main, env.device
    (False, True, device(type='cpu'))
    """

    rank: int = 0
    world_size: int = 1
    local_rank: int = 0
    backend: str | None = None
    device: torch.device = torch.device("cpu")

    @property
    def distributed(self) -> bool:
        return self.world_size > 1

    @property
    def is_main(self) -> bool:
        return self.rank == 0


def _env_int(name: str, default: int) -> int:
    raw = os.environ.get(name)
    if raw is None or raw == "":
        return default
    try:
        return int(raw)
    except ValueError as err:
        raise ValueError(f"environment variable {name} must be an integer, got {raw!r}") from err


def init_distributed(device: str = "auto", backend: str | None = None) -> DistEnv:
    """Initialise the default process group from torchrun's environment variables.

    ``device``: "auto" (CUDA if available), "cpu" or "cuda". ``backend``: None picks "nccl" for CUDA and "gloo" for
    CPU. Returns the :class:`DistEnv`; when ``WORLD_SIZE`` is unset or 1 no group is created. If a default group
    already exists it is reused.

    >>> env = init_distributed("cpu")        # WORLD_SIZE unset: a single process, no group created
    >>> env.world_size, env.device.type
    (1, 'cpu')
    """
    if device not in ("auto", "cpu", "cuda"):
        raise ValueError(f"device must be 'auto', 'cpu' or 'cuda', got {device!r}")
    if backend is not None and backend not in ("gloo", "nccl"):
        raise ValueError(f"backend must be None, 'gloo' or 'nccl', got {backend!r}")
    use_cuda = torch.cuda.is_available() if device == "auto" else device == "cuda"
    if use_cuda and not torch.cuda.is_available():
        raise ValueError("device='cuda' was requested but CUDA is not available")
    world_size = _env_int("WORLD_SIZE", 1)
    rank = _env_int("RANK", 0)
    local_rank = _env_int("LOCAL_RANK", 0)
    if world_size < 1 or not 0 <= rank < world_size:
        raise ValueError(f"inconsistent torchrun environment: RANK={rank}, WORLD_SIZE={world_size}")
    dev = torch.device("cuda", local_rank) if use_cuda else torch.device("cpu")
    if use_cuda:
        torch.cuda.set_device(dev)
    if world_size == 1:
        return DistEnv(0, 1, 0, None, dev)
    backend = backend or ("nccl" if use_cuda else "gloo")
    if backend == "nccl" and not use_cuda:
        raise ValueError("backend='nccl' needs CUDA; use 'gloo' on CPU")
    if not dist.is_initialized():
        kwargs: dict[str, Any] = {"backend": backend, "rank": rank, "world_size": world_size}
        if use_cuda:
            kwargs["device_id"] = dev
        store = _attempt_store(rank, world_size)
        if store is not None:
            kwargs["store"] = store
        dist.init_process_group(**kwargs)
    return DistEnv(rank, world_size, local_rank, backend, dev)


def _attempt_store(rank: int, world_size: int) -> dist.Store | None:
    """Under torchrun: the rendezvous store seen through the prefix ``neuromorph/attempt_<k>/``, ``k`` being
    ``TORCHELASTIC_RESTART_COUNT``; None outside torchrun (``init_process_group`` then uses ``env://``).

    Workers restarted by torchrun (``--max-restarts``) reconnect to the same agent store, which still holds the
    gloo addresses published by the previous, dead workers under the same keys; a new worker that reads such a
    stale key first tries to connect to a dead port and fails ("Gloo connectFullMesh failed ... Connection
    refused"). A per-attempt prefix keeps every attempt on its own keys.
    """
    attempt = os.environ.get("TORCHELASTIC_RESTART_COUNT")
    if attempt is None or attempt.strip() == "":
        return None
    attempt_no = _env_int("TORCHELASTIC_RESTART_COUNT", 0)
    store, _, _ = next(dist.rendezvous("env://", rank=rank, world_size=world_size))
    return dist.PrefixStore(f"neuromorph/attempt_{attempt_no}/", store)


def cleanup(synchronize: bool = False) -> None:
    """Destroy the default process group if one exists.

    ``synchronize=True`` first waits at a barrier, so that no rank tears down its connections while a peer is
    still running (rank 0 writing its outputs, say). Use it only on the normal exit path, where every rank gets
    here; after a failure on one rank the others would wait at the barrier until the group's timeout.

    >>> cleanup(synchronize=True)            # no group: nothing to wait for or destroy
    >>> dist.is_initialized()
    False
    """
    if dist.is_available() and dist.is_initialized():
        if synchronize:
            dist.barrier()
        dist.destroy_process_group()


def exit_worker(code: int = 0) -> NoReturn:
    """End a torchrun worker now: flush stdout and stderr, then ``os._exit(code)``, skipping the interpreter's
    teardown and the C++ static destructors.

    Why: with torch 2.13 on CPU, a gloo worker that had destroyed its process group (:func:`cleanup`), returned
    from its main function and run its ``atexit`` handlers still aborted now and then in the teardown that
    follows ("terminate called without an active exception", SIGABRT, no Python frame on the stack). torchrun
    then failed the whole job although every output had been written: 2 of 91 runs of the 2-process command of
    ``tests/training/test_ddp.py`` on the 2-core development machine, and once in CI. Call it last, after
    :func:`cleanup`, and only in a worker whose outputs are all written (files are closed by then; anything
    left to ``atexit`` would not run).

    >>> exit_worker  # doctest: +ELLIPSIS
    <function exit_worker at ...>
    """
    for stream in (sys.stdout, sys.stderr):
        stream.flush()
    os._exit(code)


def barrier(env: DistEnv) -> None:
    """Wait for every rank (no-op for one process).

    >>> barrier(DistEnv()) is None
    True
    """
    if env.distributed:
        dist.barrier()


def all_reduce_sum(tensor: Tensor, env: DistEnv) -> Tensor:
    """Sum ``tensor`` over ranks in place (no-op for one process); returns it.

    >>> all_reduce_sum(torch.tensor([2.0, 4.0]), DistEnv()).tolist()
    [2.0, 4.0]
    """
    if env.distributed:
        dist.all_reduce(tensor, op=dist.ReduceOp.SUM)
    return tensor


def all_reduce_mean(tensor: Tensor, env: DistEnv) -> Tensor:
    """Average ``tensor`` over ranks in place (no-op for one process); returns it.

    >>> all_reduce_mean(torch.tensor([2.0, 4.0]), DistEnv()).tolist()
    [2.0, 4.0]
    """
    if env.distributed:
        dist.all_reduce(tensor, op=dist.ReduceOp.SUM)
        tensor.div_(env.world_size)
    return tensor


def all_gather_objects(obj: Any, env: DistEnv) -> list[Any]:
    """List of ``obj`` from every rank, in rank order (``[obj]`` for one process).

    >>> all_gather_objects({"acc": 0.9}, DistEnv())
    [{'acc': 0.9}]
    """
    if not env.distributed:
        return [obj]
    out: list[Any] = [None] * env.world_size
    dist.all_gather_object(out, obj)
    return out


def broadcast_object(obj: Any, env: DistEnv, src: int = 0) -> Any:
    """``obj`` as held by rank ``src``, on every rank.

    >>> broadcast_object([1, 2], DistEnv())
    [1, 2]
    """
    if not env.distributed:
        return obj
    box = [obj]
    dist.broadcast_object_list(box, src=src)
    return box[0]


def average_buffers(model: nn.Module, env: DistEnv) -> None:
    """Average floating-point buffers (e.g. BatchNorm running statistics) over ranks so all ranks hold the same ones.

    >>> bn = nn.BatchNorm1d(2)
    >>> average_buffers(bn, DistEnv())        # one process: unchanged
    >>> bn.running_mean.tolist()
    [0.0, 0.0]
    """
    if not env.distributed:
        return
    for buf in model.buffers():
        if buf.is_floating_point():
            all_reduce_mean(buf.data, env)


def make_sampler(
    dataset: Dataset, env: DistEnv, shuffle: bool, seed: int, drop_last: bool = False
) -> DistributedSampler:
    """A :class:`DistributedSampler` for this rank (also used with one process, so the shuffling order depends only
    on ``seed`` and the epoch set with ``sampler.set_epoch`` — which makes exact resume simple).

    >>> from torch.utils.data import TensorDataset
    >>> sampler = make_sampler(TensorDataset(torch.arange(6.0)), DistEnv(), shuffle=True, seed=0)
    >>> sorted(sampler)
    [0, 1, 2, 3, 4, 5]
    """
    return DistributedSampler(
        dataset, num_replicas=env.world_size, rank=env.rank, shuffle=shuffle, seed=seed, drop_last=drop_last
    )


def make_loader(
    dataset: Dataset, batch_size: int, env: DistEnv, shuffle: bool, seed: int, drop_last: bool = False
) -> DataLoader:
    """DataLoader over this rank's shard (``batch_size`` is per rank).

    >>> from torch.utils.data import TensorDataset
    >>> loader = make_loader(TensorDataset(torch.arange(10.0)), batch_size=4, env=DistEnv(), shuffle=False, seed=0)
    >>> [len(batch[0]) for batch in loader]
    [4, 4, 2]
    """
    check_positive_int("batch_size", batch_size)
    sampler = make_sampler(dataset, env, shuffle=shuffle, seed=seed, drop_last=drop_last)
    return DataLoader(dataset, batch_size=batch_size, sampler=sampler, drop_last=drop_last, num_workers=0)


def shard_indices(n: int, env: DistEnv) -> Sequence[int]:
    """Indices ``rank, rank + world, ...`` of ``range(n)``: a disjoint, padding-free split for evaluation.

    >>> list(shard_indices(7, DistEnv(rank=1, world_size=3)))
    [1, 4]
    """
    return range(env.rank, n, env.world_size)


def wrap_ddp(model: nn.Module, env: DistEnv) -> nn.Module:
    """Wrap ``model`` in :class:`~torch.nn.parallel.DistributedDataParallel` when distributed, else return it.

    >>> net = nn.Linear(2, 2)
    >>> wrap_ddp(net, DistEnv()) is net          # one process: no wrapper
    True
    """
    if not env.distributed:
        return model
    device_ids = [env.device.index] if env.device.type == "cuda" else None
    return nn.parallel.DistributedDataParallel(model, device_ids=device_ids)


def unwrap(model: nn.Module) -> nn.Module:
    """The module inside a DDP wrapper (or ``model`` itself).

    >>> net = nn.Linear(2, 2)
    >>> unwrap(wrap_ddp(net, DistEnv())) is net
    True
    """
    return model.module if isinstance(model, nn.parallel.DistributedDataParallel) else model
