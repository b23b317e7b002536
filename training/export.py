"""Trained networks -> the official SadTalker files the project's loaders (and the nodes / CLI) read.

Every file is written in the container and key layout ``sadtalker_core.checkpoints`` describes
for its official name (``OFFICIAL_LAYOUTS``), so a trained network drops in unchanged:

* ``auido2pose_00140-model.pth`` ({"model": PoseVAE}), ``auido2exp_00300-model.pth``
  ({"model": ExpNet}), ``mapping_00229-model.pth.tar`` / ``mapping_00109-model.pth.tar``
  ({"mapping": MappingNet}, 70 / 73 coefficients), ``facevid2vid_00189-model.pth.tar``
  ({"generator", "kp_detector", "he_estimator"}): each trainer writes its own into
  ``<run>/export/``.  Like the official files, each also holds ``epoch`` (here: the training
  step), which the official loaders (``load_cpk``, ``load_cpk_facevid2vid``,
  ``load_cpk_mapping``) read and return after their strict ``load_state_dict``;
* ``SadTalker_V0.0.2_<size>.safetensors``: the bundle, assembled by this module's command line
  from trained runs and an official model folder (for the sections not trained, e.g. the 3DMM
  recon net).

``python -m training.export --base OFFICIAL_DIR --out NEW_DIR [--posevae RUN] [--expnet RUN]
[--facevid2vid RUN] [--mapping RUN ...]`` writes a complete model folder: the bundle with the
trained sections replacing the official ones, and the mapping file(s).
"""
from __future__ import annotations

import argparse
import os
import shutil
import sys
from collections.abc import Mapping
from pathlib import Path

import torch
from safetensors.torch import save as safetensors_bytes

from sadtalker_core.checkpoints import CheckpointError, layout_for, read_section
from sadtalker_core.config import PoseVAEConfig
from sadtalker_core.errors import InputError, SettingError
from sadtalker_core.io.atomic import write_atomically
from sadtalker_core.models import MAPPING_FILES, MappingVariant, bundle_name
from sadtalker_core.networks.posevae import STYLE_TABLE

from .command import run_command

POSEVAE_FILE = "auido2pose_00140-model.pth"
EXPNET_FILE = "auido2exp_00300-model.pth"
FACEVID2VID_FILE = "facevid2vid_00189-model.pth.tar"
#: the bundle sections each official single-network file can fill
SECTIONS_FROM = {POSEVAE_FILE: ("audio2pose",), EXPNET_FILE: ("audio2exp",),
                 FACEVID2VID_FILE: ("kp_detector", "generator")}


def mapping_file(coeff_nc: int) -> str:
    """``mapping_00229-model.pth.tar`` for 70 coefficients, ``mapping_00109-model.pth.tar`` for 73."""
    if coeff_nc not in (70, 73):
        raise SettingError(f"MappingNet has 70 or 73 input coefficients, got {coeff_nc}")
    return MAPPING_FILES[MappingVariant.STILL if coeff_nc == 73 else MappingVariant.FACE]


def write_official(path: str | os.PathLike, sections: Mapping[str, Mapping[str, torch.Tensor]],
                   epoch: int | None = None) -> Path:
    """Write ``{section: state_dict}`` as the official file ``path`` names (atomically).  The file
    name picks the layout; every section must be one that file holds.  Torch files also get the
    ``epoch`` entry the official loaders return (``epoch``: the training step); the safetensors
    bundle has none."""
    path = Path(path)
    layout = layout_for(path)
    extra = sorted(set(sections) - set(layout.sections))
    if extra:
        raise CheckpointError(f"{path.name} holds {sorted(layout.sections)}, not {extra}")
    tensors = {name: {k: v.detach().cpu().contiguous() for k, v in state.items()} for name, state in sections.items()}
    path.parent.mkdir(parents=True, exist_ok=True)
    if layout.container == "safetensors":
        flat = {layout.sections[name] + key: value for name, state in tensors.items() for key, value in state.items()}
        return write_atomically(path, lambda handle: handle.write(safetensors_bytes(flat, metadata={"format": "pt"})))
    if layout.container != "torch":
        raise CheckpointError(f"{path.name}: writing {layout.container} files is not supported")
    if epoch is None:
        raise CheckpointError(f"{path.name}: the official loaders read its 'epoch' entry: give the training step")
    payload = {**{layout.sections[name]: state for name, state in tensors.items()}, "epoch": int(epoch)}
    return write_atomically(path, lambda handle: torch.save(payload, handle))


def style_table_warning(styles: int, subject: str) -> str | None:
    """What to tell the user when ``subject`` (a PoseVAE being trained, or an exported file) has a
    style table of ``styles`` rows instead of the official width (None when it has that width)."""
    official = PoseVAEConfig().num_classes
    if styles == official:
        return None
    return (f"{subject} has {styles} pose styles, the official one {official}: only this project's loaders "
            "(sadtalker_core, its CLI and ComfyUI nodes) load it; the official SadTalker code cannot (its strict "
            "load_state_dict rejects a style table of another width)")


def run_exports(run: str | os.PathLike) -> dict[str, Path]:
    """The official files a training run exported (``<run>/export/*``), by file name."""
    folder = Path(run) / "export"
    found = {p.name: p for p in folder.glob("*") if p.is_file()} if folder.is_dir() else {}
    if not found:
        raise InputError(f"{folder}: no exported files; finish (or resume) the training run first")
    return found


def assemble_model_folder(base: str | os.PathLike, out: str | os.PathLike, runs: list[str | os.PathLike],
                          size: int = 256) -> list[Path]:
    """A model folder the loaders accept: the ``size`` bundle of ``base`` with every section a run
    trained replaced, plus the mapping files (trained ones over those of ``base``)."""
    base, out = Path(base), Path(out)
    bundle = base / bundle_name(size)
    if not bundle.is_file():
        raise CheckpointError(f"{base}: no {bundle.name}: give the official model folder as --base")
    sections = {name: read_section(bundle, name) for name in layout_for(bundle).sections}
    mappings = {name: base / name for name in MAPPING_FILES.values() if (base / name).is_file()}
    for run in runs:
        for name, path in run_exports(run).items():
            if name in MAPPING_FILES.values():
                mappings[name] = path
            for section in SECTIONS_FROM.get(name, ()):
                sections[section] = read_section(path, section)
    written = [write_official(out / bundle.name, sections)]
    warning = style_table_warning(sections["audio2pose"][STYLE_TABLE].shape[0], f"the PoseVAE in {written[0]}")
    if warning:
        print(f"warning: {warning}", file=sys.stderr)
    for name, path in mappings.items():
        if path.resolve() != (out / name).resolve():
            shutil.copyfile(path, out / name)
        written.append(out / name)
    return written


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m training.export", description=__doc__.split("\n\n")[0])
    parser.add_argument("--base", required=True, help="official model folder (SadTalker_V0.0.2_<size>.safetensors ...)")
    parser.add_argument("--out", required=True, help="new model folder")
    parser.add_argument("--size", type=int, default=256, choices=(256, 512))
    parser.add_argument("--posevae", help="PoseVAE training run folder")
    parser.add_argument("--expnet", help="ExpNet training run folder")
    parser.add_argument("--facevid2vid", help="face-vid2vid training run folder")
    parser.add_argument("--mapping", action="append", default=[], help="MappingNet training run folder (repeatable)")
    args = parser.parse_args(argv)
    runs = [r for r in (args.posevae, args.expnet, args.facevid2vid) if r] + args.mapping

    def assemble() -> int:
        for path in assemble_model_folder(args.base, args.out, runs, args.size):
            print(path)
        return 0

    return run_command(assemble)


if __name__ == "__main__":
    sys.exit(main())
