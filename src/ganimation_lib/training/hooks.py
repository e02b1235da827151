"""The [`Callback`][ganimation_lib.training.hooks.Callback] base class: the hooks a
[`Trainer`][ganimation_lib.training.trainer.Trainer] calls, and their order.

Order of the hooks in one ``fit``: ``on_fit_start``; then per iteration ``on_phase_end`` for the critic
phase (and for the generator phase on generator iterations), then ``on_step_end``; ``on_validation_end``
after each validation; finally ``on_fit_end`` — or ``on_exception`` instead when training fails. Among
themselves callbacks run in ascending `Callback.order`
([`arrange_callbacks`][ganimation_lib.training.hooks.arrange_callbacks]). The built-in callbacks are in
[`callbacks`][ganimation_lib.training.callbacks].
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from typing import TYPE_CHECKING, Any, ClassVar

if TYPE_CHECKING:
    from .trainer import Trainer

__all__ = ["Callback", "arrange_callbacks"]


class Callback:
    """Base class: every hook is a no-op; override the ones you need.

    ``metrics`` are plain ``{name: float}`` dicts. ``state_dict`` must return checkpoint-safe values
    (tensors, numbers, strings, lists, dicts); the key under which it is saved is ``state_key``
    (the class name by default; override it to use two instances of one class). ``order`` places it
    among the trainer's callbacks (ascending; 0 by default,
    [`Checkpointing`][ganimation_lib.training.callbacks.Checkpointing] 100).

    Examples:
        >>> class CountSteps(Callback):
        ...     def __init__(self) -> None:
        ...         self.steps = 0
        ...     def on_step_end(self, trainer, metrics):
        ...         self.steps += 1
        ...     def state_dict(self):
        ...         return {"steps": self.steps}
        ...     def load_state_dict(self, state):
        ...         self.steps = state["steps"]
        >>> CountSteps().state_key, CountSteps().order
        ('CountSteps', 0)
    """

    #: Where this callback runs among the trainer's: ascending, ties in the order given.
    order: ClassVar[int] = 0

    @property
    def state_key(self) -> str:
        """The name of this callback's state in the checkpoint."""
        return type(self).__name__

    def on_fit_start(self, trainer: Trainer) -> None:
        """Called once before the first step (after a resume has been restored)."""

    def on_phase_end(self, trainer: Trainer, phase: str, metrics: Mapping[str, float]) -> None:
        """Called after each phase (``"critic"`` or ``"generator"``) with that phase's losses."""

    def on_step_end(self, trainer: Trainer, metrics: Mapping[str, float]) -> None:
        """Called after each iteration; ``trainer.step`` already counts it."""

    def on_validation_end(self, trainer: Trainer, metrics: Mapping[str, float]) -> None:
        """Called after each validation with its figures."""

    def on_fit_end(self, trainer: Trainer) -> None:
        """Called once when training ends normally (limits reached or time budget spent)."""

    def on_exception(self, trainer: Trainer, error: BaseException) -> None:
        """Called instead of ``on_fit_end`` when training raises."""

    def state_dict(self) -> dict[str, Any]:
        """This callback's state, saved in the training checkpoint."""
        return {}

    def load_state_dict(self, state: dict[str, Any]) -> None:
        """Restore [`state_dict`][ganimation_lib.training.hooks.Callback.state_dict]."""


def arrange_callbacks(callbacks: Iterable[Callback]) -> list[Callback]:
    """``callbacks`` sorted by `Callback.order` (ties keep their order), refusing shared ``state_key`` s.

    Examples:
        >>> class Saves(Callback):
        ...     order = 100
        >>> class Counts(Callback):
        ...     pass
        >>> [type(cb).__name__ for cb in arrange_callbacks([Saves(), Counts()])]
        ['Counts', 'Saves']
    """
    ordered = sorted(callbacks, key=lambda cb: cb.order)
    keys = [cb.state_key for cb in ordered]
    duplicates = sorted({k for k in keys if keys.count(k) > 1})
    if duplicates:
        raise ValueError(f"two callbacks share the state_key(s) {duplicates}; override state_key on one of them")
    return ordered
