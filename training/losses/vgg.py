"""VGG-19 feature extractor of the perceptual loss (face-vid2vid's ``Vgg19``), weights supplied by the user.

The layers up to ``relu5_1`` carry torchvision's indices and names (``features.<i>.weight``), so
torchvision's ImageNet file loads as it is: ``vgg19-dcbb9e9d.pth``, from
https://download.pytorch.org/models/vgg19-dcbb9e9d.pth (its classifier weights are ignored).
The outputs are the activations after relu1_1, relu2_1, relu3_1, relu4_1 and relu5_1 of the
ImageNet-normalised input.
"""
from __future__ import annotations

import os

import torch
from torch import nn

from sadtalker_core.checkpoints import CheckpointError, load_into
from sadtalker_core.errors import SettingError

#: conv widths up to conv5_1 with "M" for the max pools, in torchvision's order
LAYOUT: tuple[int | str, ...] = (64, 64, "M", 128, 128, "M", 256, 256, 256, 256, "M", 512, 512, 512, 512, "M", 512)
#: ``features`` index just past relu1_1, relu2_1, relu3_1, relu4_1, relu5_1
TAPS = (2, 7, 12, 21, 30)
IMAGENET_MEAN = (0.485, 0.456, 0.406)
IMAGENET_STD = (0.229, 0.224, 0.225)


class VGG19Features(nn.Module):
    """[0, 1] RGB images (B, 3, H, W) -> the five relu*_1 feature maps."""

    def __init__(self) -> None:
        super().__init__()
        layers: list[nn.Module] = []
        channels = 3
        for item in LAYOUT:
            if item == "M":
                layers.append(nn.MaxPool2d(kernel_size=2, stride=2))
            else:
                layers += [nn.Conv2d(channels, int(item), kernel_size=3, padding=1), nn.ReLU(inplace=True)]
                channels = int(item)
        self.features = nn.Sequential(*layers)
        self.register_buffer("mean", torch.tensor(IMAGENET_MEAN).view(1, 3, 1, 1), persistent=False)
        self.register_buffer("std", torch.tensor(IMAGENET_STD).view(1, 3, 1, 1), persistent=False)

    def forward(self, image: torch.Tensor) -> list[torch.Tensor]:
        x = (image - self.mean) / self.std
        taps, start = [], 0
        for end in TAPS:
            x = self.features[start:end](x)
            taps.append(x)
            start = end
        return taps


def load_vgg19(path: str | os.PathLike, device: torch.device | str = "cpu") -> VGG19Features:
    """The feature extractor with the ``features.*`` weights of a torchvision VGG-19 state dict file."""
    if not path:
        raise SettingError("the perceptual loss needs VGG-19 weights: set vgg19 to torchvision's vgg19-dcbb9e9d.pth "
                           "(https://download.pytorch.org/models/vgg19-dcbb9e9d.pth)")
    try:
        state = torch.load(path, map_location="cpu", weights_only=True)
    except (OSError, RuntimeError) as exc:
        raise CheckpointError(f"{path}: cannot read VGG-19 weights ({exc}); use torchvision's vgg19-dcbb9e9d.pth") from exc
    net = VGG19Features()
    wanted = net.state_dict()
    load_into(net, {k: v for k, v in state.items() if k in wanted}, f"{path} [VGG-19 features]")
    return net.to(device).eval().requires_grad_(False)
