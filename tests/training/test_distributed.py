"""Training in several processes on the CPU (Gloo): two ranks started as ``torchrun`` starts them.

Each rank is ``distributed_worker.py`` with torchrun's environment (``RANK``, ``WORLD_SIZE``, ``LOCAL_RANK``,
``MASTER_ADDR=127.0.0.1``, a free ``MASTER_PORT``), so the trainer joins the group as under ``torchrun``; the
command line is checked under ``torchrun`` itself. What is checked: the ranks end with identical weights (with
the gradient penalty's and the AU penalty's double backward, the generator phases and the EMA); two processes
on half batches train as one process on the whole batch (the same losses, and the same gradients through
Adam's moments); only rank 0 writes; a checkpoint of two processes
resumes in one and continues the same global data order, and in two exactly.
"""

from __future__ import annotations

import json
import os
import socket
import subprocess
import sys
import warnings
from pathlib import Path
from typing import Any

import pytest
import torch

from ganimation_lib import LossWeights, Trainer
from ganimation_lib.cli import main
from ganimation_lib.data.synthetic import SyntheticFaces
from ganimation_lib.models.pretrained import CheckpointError
from ganimation_lib.training import Callback, ResumableSampler, load_training_state
from ganimation_lib.training.distributed import DistributedContext, init_distributed, training_device

from . import distributed_worker
from .distributed_worker import Recorded
from .helpers import OWN_TRUNK as OWN_TRUNK_CONFIG
from .helpers import RandomAUData, tiny_config, tiny_models

WORKER = str(Path(distributed_worker.__file__))

# Mean-form losses (a mean over two equal half batches is the mean over the whole one); penalties off where runs
# are compared, since each rank draws its own interpolation.
MEAN_LOSSES: dict[str, Any] = {
    "loss_weights": {"gradient_penalty": 0.0},
    "expression_form": "mean",
    "smoothness_form": "squared_mean",
    "gradient_penalty_mode": "critic_step",
    "ema_decay": 0.9,
}
# The AU reading's own trunk, with both penalties' double backward and the penalty's separate critic step.
OWN_TRUNK: dict[str, Any] = OWN_TRUNK_CONFIG.to_dict()  # passed to the worker processes as JSON
PENALTIES: dict[str, Any] = {
    "loss_weights": {"gradient_penalty": 10.0, "au_gradient_penalty": 10.0},
    "gradient_penalty_mode": "separate_step",
    "ema_decay": 0.9,
    "grad_clip": 100.0,
    "checkpoint_every": 2,
}


def _free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


def _env(*, cuda: bool = False, **extra: str) -> dict[str, str]:
    env = {**os.environ, "OMP_NUM_THREADS": "1", "CUDA_VISIBLE_DEVICES": "", **extra}
    if cuda:
        del env["CUDA_VISIBLE_DEVICES"]
    return env


def _launch(
    tmp: Path, name: str, spec: dict[str, Any], world_size: int = 2, cuda: bool = False
) -> list[dict[str, Any]]:
    """Run the worker as ``world_size`` ranks (on the CPU unless ``cuda``); return each rank's results."""
    results = tmp / name
    results.mkdir()
    spec_path = tmp / f"{name}.json"
    spec_path.write_text(json.dumps({**spec, "results": str(results)}))
    port = str(_free_port())
    ranks = [
        subprocess.Popen(
            [sys.executable, WORKER, str(spec_path)],
            env=_env(
                cuda=cuda,
                RANK=str(r),
                LOCAL_RANK=str(r),
                WORLD_SIZE=str(world_size),
                MASTER_ADDR="127.0.0.1",
                MASTER_PORT=port,
            ),
            stdout=subprocess.PIPE,
            stderr=subprocess.STDOUT,
            text=True,
        )
        for r in range(world_size)
    ]
    outputs = []
    for process in ranks:
        try:
            out, _ = process.communicate(timeout=180)
        except subprocess.TimeoutExpired:
            for other in ranks:
                other.kill()
            raise
        outputs.append(out)
    failed = [
        f"rank {r} (exit {p.returncode}):\n{o[-3000:]}"
        for r, (p, o) in enumerate(zip(ranks, outputs, strict=True))
        if p.returncode
    ]
    assert not failed, "\n".join(failed)
    return [torch.load(results / f"rank{r}.pt", map_location="cpu") for r in range(world_size)]


def _assert_same(a: dict[str, torch.Tensor], b: dict[str, torch.Tensor], **tolerance: float) -> None:
    assert a.keys() == b.keys()
    for key in a:
        if tolerance:
            torch.testing.assert_close(a[key], b[key], **tolerance, msg=lambda m, k=key: f"{k}: {m}")
        else:
            assert torch.equal(a[key], b[key]), key


class _Metrics(Callback):
    def __init__(self) -> None:
        self.steps: list[dict[str, float]] = []

    def on_step_end(self, trainer: Trainer, metrics: Any) -> None:
        self.steps.append(dict(metrics))


def test_two_processes_on_half_batches_train_as_one_on_the_whole_batch(tmp_path: Path) -> None:
    spec = {
        "length": 12,
        "fixed_targets": True,
        "config": {**MEAN_LOSSES, "max_steps": 4},
        "output": str(tmp_path / "run-{rank}"),
    }
    ranks = _launch(tmp_path, "two", spec)
    for part in ("generator", "critic", "ema"):
        _assert_same(ranks[0][part], ranks[1][part])  # bit for bit: every rank took the same steps

    # One process, the whole global batch (2 per rank x 2 ranks) in the same order.
    metrics = _Metrics()
    single = Trainer(
        **tiny_models(),
        config=tiny_config(**MEAN_LOSSES, max_steps=4, batch_size=4),
        callbacks=[metrics],
        progress=False,
    )
    single.fit(Recorded(RandomAUData(length=12), fixed=True))
    # The gradients are those of the whole batch: compared through Adam's moments (running means of the gradient
    # and its square). Not the weights: Adam's first steps move each weight by about lr whatever the gradient's
    # size, so float rounding in a gradient near 0 moves a weight by up to 2 lr.
    for name in ("critic_optimizer", "generator_optimizer"):
        moments, expected = ranks[0][name]["state"], getattr(single, name).state_dict()["state"]
        assert moments.keys() == expected.keys() and len(expected) > 0
        for index, state in expected.items():
            for moment in ("exp_avg", "exp_avg_sq"):
                difference = (moments[index][moment] - state[moment]).abs().max()
                assert difference <= 1e-3 * state[moment].abs().max(), (name, index, moment)
    # The logged metrics are averaged over the ranks: those of the whole batch.
    for averaged, whole in zip(ranks[0]["metrics"], metrics.steps, strict=True):
        assert averaged.keys() == whole.keys()
        for name in whole:
            assert averaged[name] == pytest.approx(whole[name], rel=1e-4, abs=1e-5), name
    assert ranks[0]["metrics"] == ranks[1]["metrics"]

    # Rank 0 alone wrote: its folder has the checkpoint, logs and grid, rank 1's does not exist.
    assert not (tmp_path / "run-1").exists()
    assert sorted(p.name for p in (tmp_path / "run-0").iterdir()) == ["checkpoints", "logs", "samples"]
    logged = [json.loads(line) for line in (tmp_path / "run-0" / "logs" / "metrics.jsonl").read_text().splitlines()]
    assert [r["step"] for r in logged] == [1, 2, 3, 4]
    assert logged[-1]["critic/total"] == pytest.approx(metrics.steps[-1]["critic/total"], rel=1e-4)
    state = load_training_state(tmp_path / "run-0" / "checkpoints")
    assert (state["world_size"], state["epoch"], state["batch_in_epoch"], state["epoch_items"]) == (2, 1, 1, 4)
    assert len(state["rank_rng"]) == 1


@pytest.mark.slow  # about 17 s on 2 cores: three launches of two processes
def test_penalties_keep_the_ranks_identical_and_a_checkpoint_resumes_at_one_and_two_processes(tmp_path: Path) -> None:
    spec = {
        "length": 12,
        "fixed_targets": False,
        "critic": OWN_TRUNK,
        "config": {**PENALTIES, "max_steps": 4},
        "output": str(tmp_path / "run-{rank}"),
    }
    full = _launch(tmp_path, "full", spec)
    for part in ("generator", "critic", "ema"):
        _assert_same(full[0][part], full[1][part])
    for step in full[0]["metrics"]:
        assert step["critic/gradient_penalty"] > 0 and step["critic/au_gradient_penalty"] > 0
        assert "nonfinite" not in step
    assert "generator/total" in full[0]["metrics"][1]  # n_critic 2: generator phases ran
    assert full[0]["steps"] != full[1]["steps"]  # each rank read its own share
    checkpoint = tmp_path / "run-0" / "checkpoints" / "step-000000002.pt"
    assert load_training_state(checkpoint)["epoch_items"] == 8  # two steps of 2 ranks x 2 items

    # The same world size: each rank's random state comes back, so the resumed run is the uninterrupted one.
    again = _launch(tmp_path, "again", {**spec, "resume": str(checkpoint), "output": str(tmp_path / "again-{rank}")})
    for part in ("generator", "critic", "ema"):
        _assert_same(again[0][part], full[0][part])
        _assert_same(again[1][part], full[1][part])
    assert [again[r]["steps"] for r in (0, 1)] == [full[r]["steps"][2:] for r in (0, 1)]

    # One process: the rest of epoch 0's global order (items 8 to 11), then epoch 1; max_epochs counts the
    # batches left at this world size.
    seen: list[int] = []

    class Reads(RandomAUData):
        def __getitem__(self, index: int) -> Any:
            seen.append(index)
            return super().__getitem__(index)

    data = Reads(length=12)
    single = Trainer(
        **{**tiny_models(), "critic": OWN_TRUNK_CONFIG},
        config=tiny_config(
            **{**PENALTIES, "loss_weights": LossWeights(**PENALTIES["loss_weights"])}, max_steps=None, max_epochs=1
        ),
        progress=False,
    )
    seen_before = len(seen)
    single.fit(data, resume_from=checkpoint)
    order = ResumableSampler(12, seed=0).indices()
    read = seen[seen_before + 8 :]  # after the 8 sample-grid faces
    assert read == order[8:12]
    assert sorted([i for step in full[0]["steps"][:2] + full[1]["steps"][:2] for i in step] + read) == list(range(12))
    # The epoch limit as a step limit: the 2 batches left at this world size (not 1 epoch x 6 batches).
    assert (single.planned_steps, single.step, single.epoch_items, single.stop_reason) == (4, 4, 12, "max_steps")


def test_a_nan_on_one_rank_skips_the_step_on_every_rank(tmp_path: Path) -> None:
    spec = {"length": 12, "fixed_targets": True, "poison_rank": 1, "config": {**MEAN_LOSSES, "max_steps": 2}}
    ranks = _launch(tmp_path, "nan", spec)
    for rank in ranks:
        assert rank["metrics"][0]["nonfinite"] == 1.0 and "nonfinite" not in rank["metrics"][1]
        assert rank["metrics"][0]["critic/poison"] != rank["metrics"][0]["critic/poison"]  # NaN: averaged over ranks
        assert len(rank["critic_optimizer"]["state"]) > 0  # the second step was taken
    for part in ("generator", "critic", "ema"):
        _assert_same(ranks[0][part], ranks[1][part])
    # Only the second step moved the critic: Adam's step count is 1 on both ranks.
    assert {int(s["step"]) for r in ranks for s in r["critic_optimizer"]["state"].values()} == {1}


def test_a_one_process_checkpoint_resumes_in_two_processes_in_the_same_global_order(tmp_path: Path) -> None:
    config = {**MEAN_LOSSES, "max_steps": 1, "checkpoint_every": 1}
    first = Trainer(**tiny_models(), config=tiny_config(**config), output_dir=tmp_path / "one", progress=False)
    first.fit(Recorded(RandomAUData(length=12), fixed=True))
    spec = {
        "length": 12,
        "fixed_targets": True,
        "config": {**config, "max_steps": 3},
        "resume": str(tmp_path / "one" / "checkpoints"),
    }
    ranks = _launch(tmp_path, "two", spec)
    order = ResumableSampler(12, seed=0).indices()  # 2 items read in one process; 10 left, 5 per rank
    assert ranks[0]["steps"] == [order[2:5:2], order[6:9:2]] and ranks[1]["steps"] == [order[3:6:2], order[7:10:2]]
    assert ranks[0]["position"][::3] == [3, 10]  # step 3, 10 items of the epoch read by both runs together


def test_the_command_line_trains_under_torchrun_and_its_checkpoint_resumes_in_one_process(tmp_path: Path) -> None:
    torchrun = Path(sys.executable).with_name("torchrun")
    if not torchrun.is_file():
        pytest.skip(f"torchrun not found beside {sys.executable}")
    data = SyntheticFaces(num_identities=3, items_per_identity=4, image_size=32).write(tmp_path / "data")
    out = tmp_path / "run"
    tiny = ["--image-size", "32", "--generator-conv-dim", "8", "--generator-num-residual-blocks", "1"]
    tiny += ["--critic-conv-dim", "8", "--critic-depth", "4", "--batch-size", "2", "--device", "cpu", "--no-progress"]
    args = [str(data), "--output", str(out), "--max-steps", "2", "--n-critic", "2", "--val-fraction", "0.25", *tiny]
    launcher = [
        str(torchrun),
        "--nproc-per-node",
        "2",
        "--master-addr",
        "127.0.0.1",
        "--master-port",
        str(_free_port()),
    ]
    done = subprocess.run(
        [*launcher, "-m", "ganimation_lib", "train", *args], env=_env(), capture_output=True, text=True, timeout=240
    )
    assert done.returncode == 0, done.stdout[-3000:] + done.stderr[-3000:]
    assert done.stdout.count("generator saved to") == 1  # rank 0 alone speaks
    assert (out / "generator" / "model.safetensors").is_file()
    logged = [json.loads(line) for line in (out / "logs" / "metrics.jsonl").read_text().splitlines()]
    assert [(r["kind"], r["step"]) for r in logged] == [("validation", 0), ("validation", 2)]  # once: by rank 0
    state = load_training_state(out / "checkpoints")
    assert (state["step"], state["world_size"], state["generator_step"]) == (2, 2, 1)

    assert main(["train", *args[: -len(tiny)], *tiny, "--max-steps", "3", "--resume"]) == 0
    state = load_training_state(out / "checkpoints")
    assert (state["step"], state["world_size"]) == (3, 1)


def test_an_altered_global_position_is_refused_by_name(tmp_path: Path) -> None:
    trainer = Trainer(**tiny_models(), config=tiny_config(max_steps=1), output_dir=tmp_path, progress=False)
    trainer.fit(RandomAUData(length=4))
    path = tmp_path / "checkpoints" / "step-000000001.pt"
    state = torch.load(path, weights_only=True)
    assert (state["epoch_items"], state["world_size"]) == (2, 1) and "rank_rng" not in state
    torch.save({**state, "epoch_items": "2"}, path)
    with pytest.raises(CheckpointError, match="'epoch_items' is '2', not a whole number"):
        load_training_state(path)


def test_own_sampler_mid_epoch_at_another_world_size_is_warned_about(tmp_path: Path) -> None:
    data = RandomAUData(length=8)
    Trainer(**tiny_models(), config=tiny_config(max_steps=1), output_dir=tmp_path, progress=False).fit(data)
    path = tmp_path / "checkpoints" / "step-000000001.pt"
    torch.save({**torch.load(path, weights_only=True), "world_size": 2}, path)  # as if written by two processes
    resumed = Trainer(**tiny_models(), config=tiny_config(max_steps=2), progress=False)
    with pytest.warns(UserWarning, match="from a checkpoint written at world size 2 with your own sampler"):
        resumed.fit(data, resume_from=path, sampler=ResumableSampler(8, seed=3))
    with warnings.catch_warnings():
        warnings.simplefilter("error")  # the default sampler continues the global order: nothing to say
        Trainer(**tiny_models(), config=tiny_config(max_steps=2), progress=False).fit(data, resume_from=path)


def test_one_process_is_left_alone() -> None:
    assert init_distributed("cpu", environ={}) == DistributedContext()
    assert init_distributed("cpu", environ={"WORLD_SIZE": "1"}) == DistributedContext()
    with pytest.raises(
        ValueError, match=r"WORLD_SIZE=2 but \['RANK', 'MASTER_PORT'\] are not set: launch with torchrun"
    ):
        init_distributed("cpu", environ={"WORLD_SIZE": "2", "LOCAL_RANK": "0", "MASTER_ADDR": "127.0.0.1"})
    with pytest.raises(ValueError, match="RANK='one' is not a whole number"):
        init_distributed(
            "cpu", environ={"WORLD_SIZE": "2", "RANK": "one", "LOCAL_RANK": "0", "MASTER_ADDR": "h", "MASTER_PORT": "1"}
        )
    assert training_device("auto", DistributedContext()) == "auto"
    context = DistributedContext()
    grads = torch.ones(3)
    assert context.average(grads) is grads and context.gather_objects(1) == [1] and context.max_int(2) == 2


@pytest.mark.gpu
@pytest.mark.skipif(torch.cuda.device_count() < 2, reason="needs 2 CUDA devices (NCCL)")
def test_two_gpus_keep_identical_weights(tmp_path: Path) -> None:
    spec = {
        "length": 12,
        "fixed_targets": False,
        "critic": OWN_TRUNK,
        "config": {**PENALTIES, "max_steps": 4, "device": "cuda"},
    }
    ranks = _launch(tmp_path, "gpu", spec, cuda=True)
    for part in ("generator", "critic", "ema"):
        _assert_same(ranks[0][part], ranks[1][part])
