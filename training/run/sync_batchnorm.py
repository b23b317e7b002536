"""Batch normalisation over the global batch when training on several processes.

Every SadTalker network normalises with BatchNorm, and the official trainings (face-vid2vid's
``SynchronizedBatchNorm``) compute the statistics over the whole batch.  torch's
``SyncBatchNorm`` does that on GPUs only; :class:`AllReduceBatchNorm` does it on any backend
(gloo on CPU included) by summing per-channel sums, squared sums and counts over processes with
a differentiable all-reduce, so gradients flow through the global statistics exactly as in a
single process holding the whole batch.

In a world of one it normalises with the same formula (no communication), so a one-process run
and an N-process run of the same global batch compute the same numbers up to summation order.
Parameter and buffer names are those of ``nn.BatchNorm*d``: state dicts stay official.
"""
from __future__ import annotations

import torch
import torch.distributed as dist
from torch import nn
from torch.nn.modules.batchnorm import _BatchNorm


class _SumOverProcesses(torch.autograd.Function):
    """Sum of a tensor over all processes; the gradient is summed the same way (each process's
    input feeds every process's output)."""

    @staticmethod
    def forward(ctx, tensor: torch.Tensor) -> torch.Tensor:
        total = tensor.clone()
        dist.all_reduce(total)
        return total

    @staticmethod
    def backward(ctx, grad: torch.Tensor) -> torch.Tensor:
        total = grad.clone()
        dist.all_reduce(total)
        return total


class AllReduceBatchNorm(_BatchNorm):
    """BatchNorm of any dimensionality whose training statistics cover every process's batch."""

    def _check_input_dim(self, input: torch.Tensor) -> None:
        if input.dim() < 2:
            raise ValueError(f"expected at least 2-d input (N, C, ...), got {input.dim()}-d")

    def forward(self, input: torch.Tensor) -> torch.Tensor:
        if not (self.training and self.track_running_stats):
            return super().forward(input)
        self._check_input_dim(input)
        channels = input.shape[1]
        dims = [0, *range(2, input.dim())]
        shape = (1, channels) + (1,) * (input.dim() - 2)
        # statistics of x - running_mean (the same on every process): no cancellation in E[x²] - E[x]²
        dtype = torch.promote_types(input.dtype, torch.float32)  # half inputs: statistics in float32
        shift = self.running_mean.detach().to(dtype).clone().view(shape)
        centred = input.to(dtype) - shift
        count = centred.new_full((1,), centred.numel() / channels)
        stats = torch.cat([centred.sum(dims), (centred * centred).sum(dims), count])
        if dist.is_available() and dist.is_initialized() and dist.get_world_size() > 1:
            stats = _SumOverProcesses.apply(stats)
        total = stats[-1]
        offset = stats[:channels] / total
        var = (stats[channels:2 * channels] / total - offset * offset).clamp_min(0)
        mean = offset + shift.view(channels)
        with torch.no_grad():
            self.num_batches_tracked.add_(1)
            momentum = self.momentum if self.momentum is not None else 1.0 / float(self.num_batches_tracked)
            unbiased = var * (total / (total - 1).clamp_min(1))
            self.running_mean.lerp_(mean.to(self.running_mean.dtype), momentum)
            self.running_var.lerp_(unbiased.to(self.running_var.dtype), momentum)
        out = (centred - offset.view(shape)) * torch.rsqrt(var.view(shape) + self.eps)
        if self.affine:
            out = out * self.weight.view(shape) + self.bias.view(shape)
        return out.to(input.dtype)


def convert_batchnorm(module: nn.Module, device: torch.device) -> nn.Module:
    """Replace every BatchNorm of ``module`` (in place where it is a child; the returned module
    otherwise) by a global-batch one: torch's ``SyncBatchNorm`` on CUDA, :class:`AllReduceBatchNorm`
    elsewhere.  Weights, running statistics and train/eval mode are kept."""
    if device.type == "cuda":
        return nn.SyncBatchNorm.convert_sync_batchnorm(module)
    if isinstance(module, _BatchNorm) and not isinstance(module, AllReduceBatchNorm):
        replacement = AllReduceBatchNorm(module.num_features, module.eps, module.momentum, module.affine,
                                         module.track_running_stats)
        reference = next(iter(module.state_dict().values()))
        replacement.to(reference.device, reference.dtype).load_state_dict(module.state_dict())
        replacement.train(module.training)
        replacement.requires_grad_(all(p.requires_grad for p in module.parameters()))
        return replacement
    for name, child in module.named_children():
        converted = convert_batchnorm(child, device)
        if converted is not child:
            setattr(module, name, converted)
    return module
