"""The bounds and choices of the model configs, in one place.

Every field of a model config is bounded to what the architecture can build (a ``config.json`` is data from
anywhere: ``conv_dim`` 10**30 or ``image_size`` 400000 must be a clear error naming the field, not a
``TypeError`` from ``torch.empty`` or a 1.9 TB allocation). The limits:

* ``image_size`` up to [`MAX_IMAGE_SIZE`][ganimation_lib.models.config.MAX_IMAGE_SIZE] (2048 px);
* ``conv_dim`` (and the regressor's ``width``) up to [`MAX_CONV_DIM`][ganimation_lib.models.config.MAX_CONV_DIM] (1024
  channels);
* ``num_residual_blocks`` up to [`MAX_RESIDUAL_BLOCKS`][ganimation_lib.models.config.MAX_RESIDUAL_BLOCKS] (64);
  ``num_aus`` up to [`MAX_NUM_AUS`][ganimation_lib.models.config.MAX_NUM_AUS] (128);
* kernel sizes up to [`MAX_KERNEL_SIZE`][ganimation_lib.models.config.MAX_KERNEL_SIZE] (7); a critic's ``depth`` up to
  11 (2048 = 2**11).

The choices shared by the generator, the critic and the blocks ([`WeightInit`][ganimation_lib.models.config.WeightInit],
[`PaddingMode`][ganimation_lib.models.config.PaddingMode]) are defined here too.
[`ConfigMixin`][ganimation_lib.config_mixin.ConfigMixin] and the field checks are not model-specific and live in
[`ganimation_lib.config_mixin`][ganimation_lib.config_mixin]; they are re-exported here for older imports.

Examples:
    >>> PADDING_MODES, WEIGHT_INITS
    (('zeros', 'reflect', 'replicate', 'circular'), ('official', 'pytorch'))
"""

from __future__ import annotations

from typing import Literal, get_args

from ..config_mixin import ConfigMixin as ConfigMixin
from ..config_mixin import check_bool as check_bool
from ..config_mixin import check_choice as check_choice
from ..config_mixin import check_int_range as check_int_range
from ..config_mixin import check_positive_int as check_positive_int
from ..config_mixin import is_finite_number as is_finite_number
from ..config_mixin import read_json as read_json
from ..config_mixin import short_repr as short_repr

__all__ = [
    "MAX_CONV_DIM",
    "MAX_IMAGE_SIZE",
    "MAX_KERNEL_SIZE",
    "MAX_NUM_AUS",
    "MAX_RESIDUAL_BLOCKS",
    "PADDING_MODES",
    "WEIGHT_INITS",
    "ConfigMixin",
    "PaddingMode",
    "WeightInit",
    "check_bool",
    "check_choice",
    "check_int_range",
    "check_positive_int",
    "is_finite_number",
    "read_json",
    "short_repr",
]

#: The largest image side a config may describe (px).
MAX_IMAGE_SIZE = 2048
#: The most channels of a network's first convolution.
MAX_CONV_DIM = 1024
#: The most residual blocks of a generator's bottleneck.
MAX_RESIDUAL_BLOCKS = 64
#: The longest AU vector (OpenFace measures 17; FACS defines a few dozen).
MAX_NUM_AUS = 128
#: The largest convolution kernel a config may ask for.
MAX_KERNEL_SIZE = 7

#: How a network's convolutions start: ``"official"`` (weights N(0, 0.02), biases 0) or ``"pytorch"`` (defaults).
WeightInit = Literal["official", "pytorch"]
WEIGHT_INITS: tuple[str, ...] = get_args(WeightInit)

#: Padding of the stride-1 convolutions (``Conv2d(padding_mode=...)``): ``"zeros"`` official, ``"reflect"`` CycleGAN.
PaddingMode = Literal["zeros", "reflect", "replicate", "circular"]
PADDING_MODES: tuple[str, ...] = get_args(PaddingMode)
