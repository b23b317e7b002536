"""Official-format export: each file round-trips through the project's checkpoint reader, and a
model folder assembled from trained runs + the official files loads with ``load_models`` and
generates motion with the trained networks."""
from __future__ import annotations

import pytest
import torch

from sadtalker_core.checkpoints import CheckpointError, read_section
from sadtalker_core.models import MappingVariant, bundle_name, load_models
from sadtalker_core.motion.audio import load_audio_features
from sadtalker_core.motion.coefficients import audio_to_motion
from training.export import main, mapping_file, run_exports, write_official


def test_files_are_written_in_the_layout_their_name_says(tmp_path):
    state = {"weight": torch.arange(4.0).view(2, 2), "bias": torch.ones(2)}
    for name, section in (("auido2exp_00300-model.pth", "audio2exp"), ("mapping_00109-model.pth.tar", "mapping"),
                          (bundle_name(256), "audio2pose")):
        path = write_official(tmp_path / name, {section: state})
        back = read_section(path, section)
        assert back.keys() == state.keys() and all(torch.equal(back[k], state[k]) for k in state)
    raw = torch.load(tmp_path / "mapping_00109-model.pth.tar", weights_only=True)
    assert list(raw) == ["mapping"]
    with pytest.raises(CheckpointError, match="holds"):
        write_official(tmp_path / "auido2exp_00300-model.pth", {"mapping": state})
    assert mapping_file(70) == "mapping_00229-model.pth.tar" and mapping_file(73) == "mapping_00109-model.pth.tar"
    with pytest.raises(FileNotFoundError, match="no exported files"):
        run_exports(tmp_path / "unfinished")


def test_assembled_model_folder_drives_the_pipeline(weights_dir, trained, tmp_path, media_dir, capsys):
    posevae_run, expnet_run, mapping_run = trained("posevae"), trained("expnet"), trained("mapping")
    out = tmp_path / "models"
    assert main(["--base", str(weights_dir), "--out", str(out), "--posevae", str(posevae_run.out),
                 "--expnet", str(expnet_run.out), "--mapping", str(mapping_run.out)]) == 0
    assert str(out / bundle_name(256)) in capsys.readouterr().out
    models = load_models(out, device="cpu")
    trained = {**posevae_run.parameters(posevae_run.steps), **expnet_run.parameters(expnet_run.steps),
               **mapping_run.parameters(mapping_run.steps)}
    for prefix, net in (("audio2pose", models.motion.posevae), ("audio2exp", models.motion.expnet),
                        ("mapping", models.mappings[MappingVariant.FACE])):
        assert all(torch.equal(v, trained[f"{prefix}.{k}"]) for k, v in net.state_dict().items())
    untouched = read_section(weights_dir / bundle_name(256), "face_3drecon")
    assert all(torch.equal(v, untouched[k]) for k, v in models.recon.state_dict().items() if k in untouched)
    mels = load_audio_features(media_dir / "RD_Radio31_000_first640ms.wav").mel_batch()
    motion = audio_to_motion(models.motion, mels, torch.zeros(70), generator=torch.Generator().manual_seed(1))
    assert motion.num_frames == mels.shape[1] and torch.isfinite(motion.pose).all()
