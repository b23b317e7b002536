"""Speakers -> PoseVAE pose-style slots.

PoseVAE conditions on a pose style: a row of its style table, 46 rows in the official file.  The
speaker of each prepared clip is its style; by default the speakers, in sorted order, take slots
0, 1, ...  More speakers than slots is refused before training starts, with two ways out:

* ``style_map``: a YAML (or JSON) file of ``speaker: slot`` lines giving every speaker a slot
  (several speakers may share one).  The table keeps the official width, so the export stays a
  file the official SadTalker loads;
* ``num_styles``: a wider table, e.g. one slot per speaker.  Its export loads with this project's
  loaders only (they read the width from the file); the official code rejects it.
"""
from __future__ import annotations

import os
from collections.abc import Sequence

import yaml

from sadtalker_core.errors import SettingError


def read_style_map(path: str | os.PathLike) -> dict[str, int]:
    """A style map file -> {speaker: slot}."""
    try:
        with open(path, encoding="utf-8") as handle:
            loaded = yaml.safe_load(handle)
    except (OSError, yaml.YAMLError) as exc:
        raise SettingError(f"style_map {path}: cannot read it ({exc})") from exc
    if not isinstance(loaded, dict) or not all(isinstance(v, int) and not isinstance(v, bool) for v in loaded.values()):
        raise SettingError(f"style_map {path}: expected 'speaker: slot' lines with whole-number slots, "
                           "e.g. 'id10001: 0'")
    return {str(speaker): slot for speaker, slot in loaded.items()}


def pose_styles(speakers: Sequence[str], num_styles: int, style_map: str | os.PathLike = "") -> dict[str, int]:
    """Every speaker's slot in a style table of ``num_styles`` rows: from ``style_map`` when given,
    else the speakers' sorted order.  A :class:`SettingError` when a speaker has no slot (more
    speakers than slots, or none in the map) or the map is unreadable."""
    speakers = sorted(set(speakers))
    if style_map:
        mapping = read_style_map(style_map)
        unmapped = [s for s in speakers if s not in mapping]
        if unmapped:
            raise SettingError(f"style_map {style_map} gives no slot to {len(unmapped)} of the {len(speakers)} "
                               f"speakers (e.g. {', '.join(unmapped[:3])}); add a 'speaker: slot' line for each")
        outside = [f"{s}: {mapping[s]}" for s in speakers if not 0 <= mapping[s] < num_styles]
        if outside:
            raise SettingError(f"style_map {style_map}: slots must be 0..{num_styles - 1} (num_styles {num_styles}); "
                               f"found {', '.join(outside[:3])}")
        return {s: mapping[s] for s in speakers}
    if len(speakers) > num_styles:
        raise SettingError(
            f"the prepared data has {len(speakers)} speakers (each is a pose style) but PoseVAE has {num_styles} "
            f"style slots (the official file has 46). Either give style_map: a YAML file of 'speaker: slot' lines "
            f"(slots 0..{num_styles - 1}, several speakers may share one; the export stays official), or set "
            f"num_styles={len(speakers)} to train a wider style table (its export loads only with this project's "
            "loaders, not the official SadTalker)")
    return {speaker: slot for slot, speaker in enumerate(speakers)}
