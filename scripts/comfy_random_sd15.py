"""Write a random-weight checkpoint in the Stable Diffusion 1.5 layout, built with ComfyUI's own model
classes, so that a workflow that starts from an image generator (``workflows/generated_portrait``) can
run on a machine without the real file.

    python scripts/comfy_random_sd15.py COMFYUI_DIR OUT.safetensors [--seed N]

The UNet comes from ComfyUI's SD 1.5 model config, the text encoder from its SD 1.x CLIP target and
the VAE from its ``AutoencoderKL``; every weight is drawn from a seeded normal distribution scaled by
1/sqrt(fan-in) (norm layers: weight 1, bias 0), stored as float16 under the keys a real SD 1.5
checkpoint uses, which ComfyUI's CheckpointLoaderSimple detects as SD 1.5.  The pictures it makes
are noise: the point is the model-management chain (load, sample, decode, offload), not the image.
About 2 GB; a minute on two CPU cores.
"""
from __future__ import annotations

import argparse
import math
import sys
from pathlib import Path

import torch
from torch import nn

#: the VAE of SD 1.x (``first_stage_model``)
VAE_CONFIG = {"double_z": True, "z_channels": 4, "resolution": 256, "in_channels": 3, "out_ch": 3, "ch": 128,
              "ch_mult": [1, 2, 4, 4], "num_res_blocks": 2, "attn_resolutions": [], "dropout": 0.0}


def randomize(module: nn.Module, generator: torch.Generator) -> None:
    """Fill every parameter: normal / sqrt(fan-in) for weights, 1 for norm weights, 0 for biases."""
    for name, param in module.named_parameters():
        with torch.no_grad():
            if param.ndim >= 2:
                fan_in = math.prod(param.shape[1:])
                param.copy_(torch.randn(param.shape, generator=generator) / math.sqrt(fan_in))
            elif name.endswith("bias"):
                param.zero_()
            else:
                param.fill_(1.0)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("comfyui", type=Path, help="a ComfyUI folder (its code is imported)")
    parser.add_argument("out", type=Path, help="the .safetensors file to write")
    parser.add_argument("--seed", type=int, default=0)
    args = parser.parse_args(argv)
    sys.path.insert(0, str(args.comfyui.resolve()))
    sys.argv = [sys.argv[0], "--cpu"]  # ComfyUI's modules read its command line at import
    import comfy.options

    comfy.options.enable_args_parsing()
    import comfy.ldm.models.autoencoder
    import comfy.model_detection
    import comfy.utils

    generator = torch.Generator().manual_seed(args.seed)
    unet_config = {
        "use_checkpoint": False, "image_size": 32, "out_channels": 4, "use_spatial_transformer": True, "legacy": False,
        "adm_in_channels": None, "dtype": torch.float32, "in_channels": 4, "model_channels": 320,
        "num_res_blocks": [2, 2, 2, 2], "transformer_depth": [1, 1, 1, 1, 1, 1, 0, 0], "channel_mult": [1, 2, 4, 4],
        "transformer_depth_middle": 1, "use_linear_in_transformer": False, "context_dim": 768, "num_heads": 8,
        "transformer_depth_output": [1, 1, 1, 1, 1, 1, 1, 1, 1, 0, 0, 0], "use_temporal_attention": False,
        "use_temporal_resblock": False,
    }
    config = comfy.model_detection.model_config_from_unet_config(unet_config)
    if type(config).__name__ != "SD15":
        raise SystemExit(f"ComfyUI took the configuration for {type(config).__name__}, not SD15")
    model = config.get_model({}, device=torch.device("cpu"))
    randomize(model.diffusion_model, generator)
    target = config.clip_target()
    clip = target.clip(device="cpu", dtype=torch.float32)
    randomize(clip, generator)
    vae = comfy.ldm.models.autoencoder.AutoencoderKL(ddconfig=VAE_CONFIG, embed_dim=4)
    randomize(vae, generator)

    state = config.process_unet_state_dict_for_saving(model.diffusion_model.state_dict())
    state.update(config.process_clip_state_dict_for_saving(clip.state_dict()))
    state.update(config.process_vae_state_dict_for_saving(vae.state_dict()))
    state = {key: value.to(torch.float16).contiguous() for key, value in state.items()}
    args.out.parent.mkdir(parents=True, exist_ok=True)
    comfy.utils.save_torch_file(state, str(args.out))
    print(f"{args.out}: {len(state)} tensors, {sum(v.numel() for v in state.values()) / 1e6:.0f} M parameters")
    return 0


if __name__ == "__main__":
    sys.exit(main())
