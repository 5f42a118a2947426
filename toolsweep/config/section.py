"""The base of every section of the sweep file's typed configs: strict, frozen, unknown keys rejected."""

from __future__ import annotations

from pydantic import BaseModel, ConfigDict

__all__ = ["Section"]


class Section(BaseModel):
    # allow_inf_nan=False: YAML reads .inf and .nan as floats, and no field means them (a learning rate of
    # .inf trains to NaN at step 1, a weight of .nan poisons the mix); reject them here, naming the field.
    model_config = ConfigDict(extra="forbid", strict=True, validate_default=True, frozen=True, allow_inf_nan=False)
