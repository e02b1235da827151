"""One rank of the distributed training tests: ``python distributed_worker.py SPEC.json``.

Started by ``tests/training/test_distributed.py`` with ``torchrun``'s environment variables (``RANK``,
``WORLD_SIZE``, ``LOCAL_RANK``, ``MASTER_ADDR``, ``MASTER_PORT``) on the CPU. The spec names the recipe
overrides, the critic, the data, where the trainer writes (``{rank}`` in it is this rank) and where this rank
saves what the test compares: its final weights, the indices of the items each step read, and its metrics.
"""

from __future__ import annotations

import json
import os
import sys
from pathlib import Path
from typing import Any

import torch
from torch.utils.data import Dataset

from ganimation_lib import AUSample


class Recorded(Dataset[AUSample]):
    """The faces of ``base`` (a ``RandomAUData``), recording which items are read.

    With ``fixed`` each item's target is another item's AUs, drawn from no RNG (so runs with other random
    states read the same items); else the target is ``base``'s random one.
    """

    def __init__(self, base: Any, fixed: bool) -> None:
        self.base = base
        self.fixed = fixed
        self.read: list[int] = []

    def __len__(self) -> int:
        return len(self.base)

    def __getitem__(self, index: int) -> AUSample:
        self.read.append(index)
        if self.fixed:
            aus = self.base.aus
            return AUSample(self.base.images[index], aus[index], aus[-1 - index], "", f"item{index}")
        item: AUSample = self.base[index]
        return item


def main(spec_path: str) -> None:
    """Train as the spec says and save this rank's results."""
    sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
    from ganimation_lib import CriticConfig, LossWeights, Trainer
    from ganimation_lib.training import Callback
    from training.helpers import RandomAUData, tiny_config, tiny_models

    spec: dict[str, Any] = json.loads(Path(spec_path).read_text())
    data = Recorded(RandomAUData(length=spec["length"]), spec["fixed_targets"])
    steps: list[list[int]] = []
    metrics: list[dict[str, float]] = []

    class Record(Callback):
        def on_fit_start(self, trainer: Any) -> None:
            data.read.clear()  # the sample-grid faces are read before the run

        def on_step_end(self, trainer: Any, step_metrics: Any) -> None:
            steps.append(list(data.read))
            data.read.clear()
            metrics.append(dict(step_metrics))

    settings = dict(spec["config"])
    if "loss_weights" in settings:
        settings["loss_weights"] = LossWeights(**settings["loss_weights"])
    models = tiny_models()
    if spec.get("critic"):
        models["critic"] = CriticConfig(**spec["critic"])
    calls: list[int] = []

    def poison(step: Any) -> torch.Tensor:
        """A NaN loss with a finite gradient (a constant) on the ``poison_rank``'s first critic phase; 0 elsewhere."""
        calls.append(1)
        if len(calls) == 1 and os.environ["RANK"] == str(spec.get("poison_rank")):
            return torch.tensor(float("nan"))
        return step.real.sum() * 0

    trainer = Trainer(
        **models,
        critic_losses={"poison": poison} if spec.get("poison_rank") is not None else None,
        config=tiny_config(**settings),
        output_dir=spec["output"].format(rank=os.environ["RANK"]) if spec.get("output") else None,
        callbacks=[Record()],
        progress=False,
    )
    trainer.fit(data, resume_from=spec.get("resume"))
    result = {
        "rank": trainer.rank,
        "world_size": trainer.world_size,
        "generator": trainer.generator.state_dict(),
        "critic": trainer.critic.state_dict(),
        "ema": trainer.ema.state_dict() if trainer.ema is not None else {},
        "generator_optimizer": trainer.generator_optimizer.state_dict(),
        "critic_optimizer": trainer.critic_optimizer.state_dict(),
        "steps": steps,
        "metrics": metrics,
        "position": [trainer.step, trainer.epoch, trainer.batch_in_epoch, trainer.epoch_items],
    }
    torch.save(result, Path(spec["results"]) / f"rank{trainer.rank}.pt")
    torch.distributed.destroy_process_group()


if __name__ == "__main__":
    main(sys.argv[1])
