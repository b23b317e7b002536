"""Training configuration: frozen dataclasses filled from YAML files and ``--set key=value`` overrides.

Every trainer has one config dataclass whose fields are other dataclasses (the shared
:class:`RunConfig`, the network's ``sadtalker_core.config`` dataclass, loss weights ...).  A YAML
file only lists what differs from the defaults (which are the paper's values); unknown keys are
errors that name the valid ones, so a typo never passes silently.  A key given no value (``bfm:``
in a file, ``--set bfm=``) is unset: it keeps its default (for an optional file, "not given").
"""
from __future__ import annotations

import dataclasses
import types
import typing
from pathlib import Path
from typing import Any, TypeVar

import yaml

from sadtalker_core.errors import SettingError
from sadtalker_core.precision import Precision

T = TypeVar("T")


@dataclasses.dataclass(frozen=True)
class RunConfig:
    """What every trainer shares: where data and outputs live, the step budget and bookkeeping.

    ``batch_size`` is the global batch: under ``torchrun`` each of the N processes takes
    ``batch_size / N`` samples, so a run gives the same updates on any number of processes.
    """

    data: str = "data/prepared"  # a folder written by ``python -m training.data.prepare``
    out: str = "runs/default"  # checkpoints/, logs/, samples/, export/ go here
    steps: int = 100_000
    batch_size: int = 32
    seed: int = 0
    log_every: int = 50
    checkpoint_every: int = 5_000
    sample_every: int = 5_000
    keep_checkpoints: int = 3  # older step checkpoints are deleted (0 keeps all)
    resume: str = "auto"  # "auto": latest checkpoint in out/checkpoints, "never", or a checkpoint path
    num_workers: int = 2  # DataLoader worker processes per training process
    # sadtalker_core's precision words: "auto" (fast on a CUDA GPU, exact elsewhere), "exact" (float32),
    # "fast" (autocast in the device's native bfloat16, or float16 with a gradient scaler on older GPUs)
    precision: str = "auto"
    tensorboard: bool = True  # also log to TensorBoard when the package is installed
    progress: bool = True  # progress bar on the terminal
    device: str = "auto"  # "auto" (CUDA when available), "cpu" or "cuda"
    lr_milestones: tuple[int, ...] = ()  # steps at which every learning rate is divided by 10
    dtype: str = "float32"  # the networks' dtype; "float64" (precision exact): to debug, to check multi-process runs

    def __post_init__(self) -> None:
        if self.steps < 1 or self.batch_size < 1:
            raise SettingError(f"steps and batch_size must be >= 1, got {self.steps} and {self.batch_size}")
        if self.precision not in {p.value for p in Precision}:
            raise SettingError(f"precision must be 'auto', 'exact' or 'fast', got {self.precision!r}")
        if self.dtype not in ("float32", "float64"):
            raise SettingError(f"dtype must be 'float32' or 'float64', got {self.dtype!r}")
        if self.device not in ("auto", "cpu", "cuda"):
            raise SettingError(f"device must be 'auto', 'cpu' or 'cuda', got {self.device!r}")


class ConfigError(SettingError):
    """A config file or override does not fit the trainer's config dataclass."""


def _field_types(cls: type) -> dict[str, Any]:
    return typing.get_type_hints(cls)


def _accepts_none(kind: Any) -> bool:
    return typing.get_origin(kind) in (typing.Union, types.UnionType) and type(None) in typing.get_args(kind)


def _without_unset(cls: type, values: dict[str, Any]) -> dict[str, Any]:
    """``values`` less the keys given no value (YAML's null) that cannot hold None, in nested sections
    too: those keep their defaults."""
    kinds = _field_types(cls)
    kept = {}
    for key, value in values.items():
        kind = kinds.get(key)
        if value is None and kind is not None and not _accepts_none(kind):
            continue
        if isinstance(value, dict) and dataclasses.is_dataclass(kind):
            value = _without_unset(kind, value)
        kept[key] = value
    return kept


def _convert(value: Any, kind: Any, where: str) -> Any:
    """``value`` (plain YAML data) as an instance of the annotated type ``kind``."""
    origin = typing.get_origin(kind)
    if dataclasses.is_dataclass(kind):
        if not isinstance(value, dict):
            raise ConfigError(f"{where}: expected a mapping of {kind.__name__} fields, got {value!r}")
        return build(kind, value, where)
    if origin in (typing.Union, types.UnionType):
        options = [a for a in typing.get_args(kind) if a is not type(None)]
        if value is None:
            return None
        return _convert(value, options[0], where)
    if origin is tuple:
        if not isinstance(value, (list, tuple)):
            raise ConfigError(f"{where}: expected a list, got {value!r}")
        args = typing.get_args(kind)
        item = args[0] if args else Any
        return tuple(_convert(v, item, f"{where}[{i}]") for i, v in enumerate(value))
    if kind is float and not isinstance(value, bool) and isinstance(value, (int, str)):
        try:  # YAML reads 1e-3 (no dot) as a string
            return float(value)
        except ValueError:
            raise ConfigError(f"{where}: expected a number, got {value!r}") from None
    if kind in (int, float, str, bool) and not isinstance(value, kind):
        raise ConfigError(f"{where}: expected {kind.__name__}, got {value!r}")
    return value


def build(cls: type[T], values: dict[str, Any], where: str = "config") -> T:
    """An instance of dataclass ``cls`` from a (nested) mapping; what it leaves out keeps the
    defaults of ``cls`` (also inside nested sections)."""
    kinds = _field_types(cls)
    unknown = sorted(set(values) - set(kinds))
    if unknown:
        raise ConfigError(f"{where}: unknown keys {unknown}; {cls.__name__} has: {', '.join(kinds)}")
    merged = _deep_merge(to_dict(_default(cls)), _without_unset(cls, values))
    try:
        return cls(**{name: _convert(merged[name], kind, f"{where}.{name}") for name, kind in kinds.items()})
    except (TypeError, ValueError) as exc:
        if isinstance(exc, ConfigError):
            raise
        raise ConfigError(f"{where}: {exc}") from exc


def _deep_merge(base: dict[str, Any], over: dict[str, Any]) -> dict[str, Any]:
    merged = dict(base)
    for key, value in over.items():
        if isinstance(value, dict) and isinstance(merged.get(key), dict):
            value = _deep_merge(merged[key], value)
        merged[key] = value
    return merged


def _default(cls: type[T]) -> T:
    try:
        return cls()
    except TypeError as exc:
        raise ConfigError(f"{cls.__name__} needs defaults for every field to be read from YAML") from exc


def to_dict(config: Any) -> dict[str, Any]:
    """Plain YAML-ready data of a config dataclass (tuples become lists)."""
    def plain(value: Any) -> Any:
        if isinstance(value, (tuple, list)):
            return [plain(v) for v in value]
        if isinstance(value, dict):
            return {k: plain(v) for k, v in value.items()}
        return value

    return plain(dataclasses.asdict(config))


def parse_override(text: str) -> tuple[list[str], Any]:
    """``"run.steps=10"`` -> (["run", "steps"], 10); the value is read as YAML (nothing: None, unset)."""
    if "=" not in text:
        raise ConfigError(f"override {text!r} must look like section.key=value")
    key, raw = text.split("=", 1)
    try:
        return key.strip().split("."), yaml.safe_load(raw)
    except yaml.YAMLError as exc:
        raise ConfigError(f"override {text!r}: the value is not YAML ({exc})") from exc


def load_config(cls: type[T], path: str | Path | None = None, overrides: typing.Sequence[str] = ()) -> T:
    """``cls`` from the YAML file at ``path`` (optional) with ``overrides`` applied on top."""
    values: dict[str, Any] = {}
    if path is not None:
        try:
            with open(path, encoding="utf-8") as handle:
                loaded = yaml.safe_load(handle) or {}
        except (OSError, yaml.YAMLError) as exc:
            raise ConfigError(f"config file {path}: cannot read it ({exc})") from exc
        if not isinstance(loaded, dict):
            raise ConfigError(f"{path}: expected a YAML mapping at the top level")
        values = loaded
    for text in overrides:
        keys, value = parse_override(text)
        node = values
        for key in keys[:-1]:
            node = node.setdefault(key, {})
            if not isinstance(node, dict):
                raise ConfigError(f"override {text!r}: {key} is not a section")
        node[keys[-1]] = value
    return build(cls, values, str(path) if path else "config")


def save_config(config: Any, path: str | Path) -> None:
    """Write ``config`` as YAML (what a run was started with, beside its checkpoints)."""
    Path(path).parent.mkdir(parents=True, exist_ok=True)
    with open(path, "w", encoding="utf-8") as handle:
        yaml.safe_dump(to_dict(config), handle, sort_keys=False)
