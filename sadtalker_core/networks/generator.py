"""OcclusionAwareSPADEGenerator: SadTalker's face renderer (face-vid2vid with a SPADE decoder).

The source image is encoded into a 3D feature volume, warped by the dense motion between the
source and driving keypoints, masked by the predicted occlusion map and decoded to an image.

Everything that depends on the source image alone (the 2D encoder, the 3D residual blocks, the
dense-motion input compression) is split out as :meth:`encode_source`, so a video renders the
source once and calls :meth:`animate` per batch of frames; ``forward`` = encode + animate and
gives the same result.  State-dict keys equal the official ``generator.*``.
"""
from __future__ import annotations

import os
from dataclasses import dataclass

import torch
import torch.nn.functional as F
from torch import nn

from ..checkpoints import load_network
from ..config import GeneratorConfig
from .blocks import DownBlock2d, ResBlock3d, SameBlock2d, SPADEResnetBlock, fold_spectral_norm
from .dense_motion import DenseMotionNetwork


@dataclass(frozen=True)
class SourceEncoding:
    """Source-only tensors: ``feature_3d`` (bs, reshape_channel, depth, h, w) the volume that gets
    warped; ``motion_feature`` its compressed form the dense motion is estimated from."""

    feature_3d: torch.Tensor
    motion_feature: torch.Tensor


@dataclass(frozen=True)
class GeneratorOutput:
    """``prediction`` (bs, 3, H, W) in [0, 1]; ``mask`` (bs, num_kp + 1, d, h, w) dense-motion
    softmax; ``occlusion_map`` (bs, 1, h, w) or None."""

    prediction: torch.Tensor
    mask: torch.Tensor
    occlusion_map: torch.Tensor | None


class SPADEDecoder(nn.Module):
    """Warped 256-channel 64x64 features -> 3x256x256 image; the features are also the SPADE
    segmentation map of every block (resized by nearest neighbour to each block's resolution)."""

    def __init__(self, in_channels: int = 256, out_channels: int = 64):
        super().__init__()
        ic, oc, label_nc = in_channels, out_channels, in_channels
        self.fc = nn.Conv2d(ic, 2 * ic, 3, padding=1)
        self.G_middle_0 = SPADEResnetBlock(2 * ic, 2 * ic, label_nc)
        self.G_middle_1 = SPADEResnetBlock(2 * ic, 2 * ic, label_nc)
        self.G_middle_2 = SPADEResnetBlock(2 * ic, 2 * ic, label_nc)
        self.G_middle_3 = SPADEResnetBlock(2 * ic, 2 * ic, label_nc)
        self.G_middle_4 = SPADEResnetBlock(2 * ic, 2 * ic, label_nc)
        self.G_middle_5 = SPADEResnetBlock(2 * ic, 2 * ic, label_nc)
        self.up_0 = SPADEResnetBlock(2 * ic, ic, label_nc)
        self.up_1 = SPADEResnetBlock(ic, oc, label_nc)
        self.conv_img = nn.Conv2d(oc, 3, 3, padding=1)
        self.up = nn.Upsample(scale_factor=2)

    def forward(self, feature: torch.Tensor) -> torch.Tensor:
        seg = feature
        x = self.fc(feature)
        for block in (self.G_middle_0, self.G_middle_1, self.G_middle_2,
                      self.G_middle_3, self.G_middle_4, self.G_middle_5):
            x = block(x, seg)
        # SPADE convolves the 64x64 map as if resized to 128 / 256 without resizing it; each
        # step replaces x, so only the current resolution's map is held
        x = self.up(x)
        x = self.up_0(x, seg)
        x = self.up(x)
        x = self.up_1(x, seg)
        return torch.sigmoid(self.conv_img(F.leaky_relu(x, 2e-1)))


class OcclusionAwareSPADEGenerator(nn.Module):
    """(source image, driving keypoints, source keypoints) -> :class:`GeneratorOutput`."""

    def __init__(self, config: GeneratorConfig = GeneratorConfig()):
        super().__init__()
        self.dense_motion_network = DenseMotionNetwork(config.dense_motion, num_kp=config.num_kp,
                                                       feature_channel=config.feature_channel,
                                                       estimate_occlusion_map=config.estimate_occlusion_map)
        expansion, max_features = config.block_expansion, config.max_features
        self.first = SameBlock2d(config.image_channel, expansion, kernel_size=3, padding=1)
        widths = [min(max_features, expansion * (2 ** i)) for i in range(config.num_down_blocks + 1)]
        self.down_blocks = nn.ModuleList(DownBlock2d(widths[i], widths[i + 1]) for i in range(config.num_down_blocks))
        self.second = nn.Conv2d(widths[-1], max_features, kernel_size=1, stride=1)
        self.reshape_channel = config.reshape_channel
        self.reshape_depth = config.reshape_depth
        self.resblocks_3d = nn.Sequential()
        for i in range(config.num_resblocks):
            self.resblocks_3d.add_module(f"3dr{i}", ResBlock3d(config.reshape_channel))
        out_features = expansion * (2 ** config.num_down_blocks)
        self.third = SameBlock2d(max_features, out_features, kernel_size=3, padding=1, lrelu=True)
        self.fourth = nn.Conv2d(out_features, out_features, kernel_size=1, stride=1)
        self.decoder = SPADEDecoder(in_channels=out_features)

    def encode_source(self, source_image: torch.Tensor) -> SourceEncoding:
        """Everything that depends on the source image only; reuse it for every driving frame."""
        out = self.first(source_image)
        for block in self.down_blocks:
            out = block(out)
        out = self.second(out)
        bs, _, h, w = out.shape
        feature_3d = self.resblocks_3d(out.view(bs, self.reshape_channel, self.reshape_depth, h, w))
        return SourceEncoding(feature_3d, self.dense_motion_network.compress_source(feature_3d))

    def animate(self, source: SourceEncoding, kp_driving: torch.Tensor, kp_source: torch.Tensor) -> GeneratorOutput:
        """Render the encoded source with the driving keypoints (bs, num_kp, 3).  A source encoded
        with batch 1 (and ``kp_source`` with batch 1) is shared by the whole driving batch."""
        bs = kp_driving.shape[0]
        motion = self.dense_motion_network(source.motion_feature, kp_driving, kp_source)
        feature_3d = source.feature_3d.expand(bs, *source.feature_3d.shape[1:])
        out = F.grid_sample(feature_3d, motion.deformation, align_corners=False)
        c, d, h, w = out.shape[1:]
        out = self.fourth(self.third(out.view(bs, c * d, h, w)))
        if motion.occlusion_map is not None:
            out = out * motion.occlusion_map
        return GeneratorOutput(prediction=self.decoder(out), mask=motion.mask, occlusion_map=motion.occlusion_map)

    def forward(self, source_image: torch.Tensor, kp_driving: torch.Tensor, kp_source: torch.Tensor) -> GeneratorOutput:
        return self.animate(self.encode_source(source_image), kp_driving, kp_source)


def load_generator(path: str | os.PathLike, device: torch.device | str = "cpu", config: GeneratorConfig = GeneratorConfig()) -> OcclusionAwareSPADEGenerator:
    """A :class:`OcclusionAwareSPADEGenerator` in eval mode with the ``generator`` weights of an
    official file (``SadTalker_V0.0.2_*.safetensors`` or ``facevid2vid_00189-model.pth.tar``), on
    ``device``, its spectral norms folded into the weights (:func:`fold_spectral_norm`)."""
    return fold_spectral_norm(load_network(OcclusionAwareSPADEGenerator(config), path, "generator", device))
