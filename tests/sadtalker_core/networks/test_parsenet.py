"""ParseNet: the official keys, strict loading of ``parsing_parsenet.pth``, and the same logits and
picture as facexlib 0.3.0's own ParseNet (the test-only reference) with the same weights."""
from __future__ import annotations

import shutil

import pytest
import torch
from facexlib.parsing.parsenet import ParseNet as FacexlibParseNet

from sadtalker_core.checkpoints import CheckpointError
from sadtalker_core.networks.parsenet import PARSING_CLASSES, ParseNet, load_parsenet

FILE = "parsing_parsenet.pth"


@pytest.fixture(scope="module")
def parser_file(fake_checkpoints):
    return fake_checkpoints.path(FILE)


def facexlib_parser(path) -> FacexlibParseNet:
    """facexlib's ParseNet as ``init_parsing_model('parsenet')`` builds and loads it."""
    net = FacexlibParseNet(in_size=512, out_size=512, parsing_ch=19)
    net.load_state_dict(torch.load(path, map_location="cpu", weights_only=True), strict=True)
    return net.eval()


def test_parameter_names_and_shapes_are_facexlibs():
    ours = ParseNet().state_dict()
    theirs = FacexlibParseNet(in_size=512, out_size=512, parsing_ch=19).state_dict()
    assert list(ours) == list(theirs)
    assert {k: tuple(v.shape) for k, v in ours.items()} == {k: tuple(v.shape) for k, v in theirs.items()}


@pytest.mark.parametrize("size", [(64, 64), (48, 80)])
def test_logits_and_picture_equal_facexlibs(parser_file, size):
    net = load_parsenet(parser_file)
    assert not net.training and not any(p.requires_grad for p in net.parameters())
    reference = facexlib_parser(parser_file)
    x = torch.rand(2, 3, *size, generator=torch.Generator().manual_seed(3)) * 2 - 1
    with torch.no_grad():
        out = net(x)
        logits, image = reference(x)
    assert out.logits.shape == (2, PARSING_CLASSES, *size) and out.image.shape == (2, 3, *size)
    scale = logits.abs().max().item()
    assert scale > 1  # the fake weights give the classes real contrast
    torch.testing.assert_close(out.logits, logits, rtol=0, atol=1e-5 * scale)
    torch.testing.assert_close(out.image, image, rtol=0, atol=1e-5 * image.abs().max().item())
    assert torch.equal(out.logits.argmax(1), logits.argmax(1))


def test_another_networks_file_under_the_parsers_name_is_refused(fake_checkpoints, tmp_path):
    wrong = tmp_path / FILE
    shutil.copy(fake_checkpoints.path("detection_Resnet50_Final.pth"), wrong)
    with pytest.raises(CheckpointError, match="do not fit ParseNet.*missing keys"):
        load_parsenet(wrong)
