"""ExpNet's teachers: the Wav2Lip architecture and its checkpoint format, the Wav2Lip + recon net
teacher on a short clip (random weights stand in for the user's wav2lip.pth), and the target files."""
from __future__ import annotations

import shutil

import numpy as np
import pytest
import torch

from sadtalker_core.errors import InputError
from sadtalker_core.networks.recon_net import load_recon_net
from training.data.shards import ClipData, ClipShard, PreparedData, write_shard
from training.data.teacher import Wav2LipTeacher, load_targets, make_targets, mouth_box, write_targets
from training.data.wav2lip import FACE_SIZE, Wav2Lip, audio_encoder_state, load_wav2lip


@pytest.fixture(scope="module")
def wav2lip_file(tmp_path_factory):
    """A random Wav2Lip generator saved the way Wav2Lip's training saves it (DataParallel keys)."""
    torch.manual_seed(2)
    state = {f"module.{k}": v for k, v in Wav2Lip().state_dict().items()}
    path = tmp_path_factory.mktemp("wav2lip") / "wav2lip.pth"
    torch.save({"state_dict": state, "global_step": 1}, path)
    return path


def test_wav2lip_loads_its_checkpoint_and_makes_96px_faces(wav2lip_file):
    net = load_wav2lip(wav2lip_file)
    faces = net(torch.randn(2, 1, 80, 16), torch.rand(2, 6, FACE_SIZE, FACE_SIZE))
    assert faces.shape == (2, 3, 96, 96) and (faces >= 0).all() and (faces <= 1).all()
    encoder = audio_encoder_state(wav2lip_file)
    assert all(torch.equal(v, net.audio_encoder.state_dict()[k]) for k, v in encoder.items())


def test_audio_encoder_weights_come_from_official_files_too(fake_checkpoints):
    from_exp = audio_encoder_state(fake_checkpoints.path("auido2exp_00300-model.pth"))
    from_pose = audio_encoder_state(fake_checkpoints.path("auido2pose_00140-model.pth"))
    assert from_exp.keys() == from_pose.keys() and "0.conv_block.0.weight" in from_exp


def test_wav2lip_teacher_gives_lip_expressions_per_frame(wav2lip_file, recon_checkpoint, prepared, tmp_path):
    source = PreparedData(prepared).shards[0]
    index = [0, 1, 2]
    short = ClipData(source.frames(index), source.array("coeffs")[index], source.array("coeffs_full")[index],
                     source.array("landmarks")[index], source.array("mels")[index])
    write_shard(tmp_path / "short.safetensors", short, {"clip_id": "short"})
    teacher = Wav2LipTeacher(load_wav2lip(wav2lip_file), load_recon_net(recon_checkpoint), batch=2)
    expressions = teacher.lip_expressions(ClipShard(tmp_path / "short.safetensors"))
    assert expressions.shape == (3, 64) and np.isfinite(expressions).all()


def test_mouth_box_reaches_the_forehead_and_below_the_chin():
    landmarks = np.array([[50.0, 100.0], [150.0, 200.0]])
    assert mouth_box(landmarks, 256) == (50, 80, 150, 210)
    assert mouth_box(landmarks, 205) == (50, 80, 150, 205)


class ConstantTeacher:
    def lip_expressions(self, shard: ClipShard) -> np.ndarray:
        return np.full((shard.num_frames, 64), 0.5, np.float32)


def test_targets_are_made_once_per_clip_and_checked_for_length(prepared, tmp_path):
    data = tmp_path / "data"
    shutil.copytree(prepared, data, ignore=shutil.ignore_patterns("targets"))
    folder = make_targets(data, ConstantTeacher(), progress=False)
    targets = load_targets(folder, PreparedData(data))
    assert sorted(targets) == ["spk_a__clip", "spk_b__clip"] and (targets["spk_a__clip"] == 0.5).all()
    write_targets(folder, "spk_a__clip", np.zeros((3, 64)))
    with pytest.raises(InputError, match="the clip has 34 frames"):
        load_targets(folder, PreparedData(data))
    with pytest.raises(InputError, match=r"\(T, 64\)"):
        write_targets(folder, "x", np.zeros((3, 63)))
