"""HEEstimator: official keys, and the official yaw/roll head swap is kept."""
from __future__ import annotations

import json

import torch
from paths import MANIFESTS

from sadtalker_core.networks.he_estimator import HEEstimator

LEGACY = "facevid2vid_00189-model.pth.tar"


def test_state_dict_keys_and_shapes_are_the_official_ones():
    manifest = json.loads((MANIFESTS / f"{LEGACY}.json").read_text())["tensors"]
    official = {k.removeprefix("he_estimator."): v["shape"] for k, v in manifest.items() if k.startswith("he_estimator.")}
    ours = {k: list(v.shape) for k, v in HEEstimator().state_dict().items()}
    assert ours == official


def test_yaw_is_read_from_fc_roll_and_roll_from_fc_yaw():
    net = HEEstimator().eval()
    for layer, value in ((net.fc_roll, 1.0), (net.fc_pitch, 2.0), (net.fc_yaw, 3.0)):
        torch.nn.init.zeros_(layer.weight)
        torch.nn.init.constant_(layer.bias, value)
    with torch.inference_mode():
        pose = net(torch.rand(1, 3, 64, 64))
    assert pose.yaw.shape == (1, 66) and pose.t.shape == (1, 3) and pose.exp.shape == (1, 45)
    assert torch.all(pose.yaw == 1.0) and torch.all(pose.pitch == 2.0) and torch.all(pose.roll == 3.0)
