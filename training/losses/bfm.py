"""Differentiable 68-point landmarks of the Basel Face Model, for ExpNet's landmark losses.

The recon net's coefficients live in Deep3DFaceRecon's BFM (``BFM_model_front.mat``: mean shape,
80 identity and 64 expression basis vectors of 35709 vertices, and the 68 landmark vertices).
Only the landmark vertices are kept, so a projection costs a few small matrix products.  The
camera is Deep3DFaceRecon's: rotation Rz·Ry·Rx of the (pitch, yaw, roll) angles, translation,
the camera 10 units away on the z axis, a pinhole with focal length 1015 and centre 112, giving
pixels of the 224x224 aligned face (y downward here).

``BFM_model_front.mat`` is built by Deep3DFaceRecon_pytorch from the Basel Face Model 2009
(``01_MorphableModel.mat``, from https://faces.dmi.unibas.ch/bfm/ after registration) and the
expression basis ``Exp_Pca.bin`` (from the Deep3DFaceRecon / 3DDFA releases); see that project's
README.  The BFM's licence does not allow redistribution, so users supply the file.
"""
from __future__ import annotations

import os
from dataclasses import dataclass

import numpy as np
import torch
from scipy.io import loadmat
from torch import nn

from sadtalker_core.errors import CheckpointError

FOCAL = 1015.0
CENTER = 112.0
CAMERA_DISTANCE = 10.0
IMAGE_SIZE = 224
#: upper / lower eyelid landmarks (0-based iBUG indices) whose gaps measure eye opening
UPPER_LIDS = (37, 38, 43, 44)
LOWER_LIDS = (41, 40, 47, 46)


@dataclass(frozen=True)
class BFMLandmarks:
    """The BFM restricted to its 68 landmark vertices: ``mean`` (68, 3), ``id_basis``
    (68, 3, 80), ``exp_basis`` (68, 3, 64); the mean is centred on the whole face's centroid."""

    mean: torch.Tensor
    id_basis: torch.Tensor
    exp_basis: torch.Tensor


def load_bfm(path: str | os.PathLike) -> BFMLandmarks:
    """Read ``BFM_model_front.mat`` (keys ``meanshape``, ``idBase``, ``exBase``, ``keypoints``)."""
    try:
        model = loadmat(str(path))
    except (OSError, ValueError) as exc:
        raise CheckpointError(f"{path}: cannot read the BFM file ({exc}); give Deep3DFaceRecon's "
                              "BFM_model_front.mat") from exc
    missing = [k for k in ("meanshape", "idBase", "exBase", "keypoints") if k not in model]
    if missing:
        raise CheckpointError(f"{path}: not a BFM_model_front.mat (missing {missing})")
    mean = np.asarray(model["meanshape"], np.float32).reshape(-1, 3)
    mean = mean - mean.mean(axis=0, keepdims=True)
    keypoints = np.asarray(model["keypoints"]).reshape(-1).astype(np.int64) - 1
    id_basis = np.asarray(model["idBase"], np.float32).reshape(-1, 3, model["idBase"].shape[1])[keypoints]
    exp_basis = np.asarray(model["exBase"], np.float32).reshape(-1, 3, model["exBase"].shape[1])[keypoints]
    return BFMLandmarks(torch.from_numpy(mean[keypoints]), torch.from_numpy(id_basis), torch.from_numpy(exp_basis))


def rotation(angles: torch.Tensor) -> torch.Tensor:
    """(B, 3) angles (x, y, z in radians) -> (B, 3, 3) Rz @ Ry @ Rx."""
    x, y, z = angles.unbind(-1)
    one, zero = torch.ones_like(x), torch.zeros_like(x)
    rx = torch.stack([one, zero, zero, zero, x.cos(), -x.sin(), zero, x.sin(), x.cos()], -1)
    ry = torch.stack([y.cos(), zero, y.sin(), zero, one, zero, -y.sin(), zero, y.cos()], -1)
    rz = torch.stack([z.cos(), -z.sin(), zero, z.sin(), z.cos(), zero, zero, zero, one], -1)
    return rz.view(-1, 3, 3) @ ry.view(-1, 3, 3) @ rx.view(-1, 3, 3)


class LandmarkProjector(nn.Module):
    """(identity (B, 80), expression (B, 64), angles (B, 3), translation (B, 3)) -> (B, 68, 2)
    landmark pixels of the aligned 224x224 face."""

    def __init__(self, bfm: BFMLandmarks) -> None:
        super().__init__()
        self.register_buffer("mean", bfm.mean, persistent=False)
        self.register_buffer("id_basis", bfm.id_basis, persistent=False)
        self.register_buffer("exp_basis", bfm.exp_basis, persistent=False)

    def forward(self, identity: torch.Tensor, expression: torch.Tensor, angles: torch.Tensor,
                translation: torch.Tensor) -> torch.Tensor:
        shape = (self.mean + torch.einsum("kcn,bn->bkc", self.id_basis, identity)
                 + torch.einsum("kcn,bn->bkc", self.exp_basis, expression))
        posed = shape @ rotation(angles).transpose(1, 2) + translation.unsqueeze(1)
        depth = CAMERA_DISTANCE - posed[..., 2]
        u = FOCAL * posed[..., 0] / depth + CENTER
        v = FOCAL * posed[..., 1] / depth + CENTER
        return torch.stack([u, IMAGE_SIZE - v], dim=-1)


def landmark_loss(predicted: torch.Tensor, target: torch.Tensor) -> torch.Tensor:
    """Mean squared pixel distance between (B, 68, 2) landmark sets."""
    return (predicted - target).pow(2).sum(-1).mean()


def eye_openings(landmarks: torch.Tensor) -> torch.Tensor:
    """(B, 68, 2) -> (B, 4) vertical eyelid gaps (two per eye)."""
    return (landmarks[:, LOWER_LIDS, 1] - landmarks[:, UPPER_LIDS, 1])


def eye_blink_loss(predicted: torch.Tensor, target: torch.Tensor) -> torch.Tensor:
    """L1 between the eyelid gaps of two landmark sets: how open the eyes are, frame by frame."""
    return (eye_openings(predicted) - eye_openings(target)).abs().mean()
