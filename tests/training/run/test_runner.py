"""The shared training machinery: YAML configs, the step sampler, position-seeded samples,
global-batch BatchNorm, learning-rate milestones, checkpoints and loss logs."""
from __future__ import annotations

import copy
import importlib

import pytest
import torch
from paths import REPO
from torch import nn

from sadtalker_core.config import PoseVAEConfig
from sadtalker_core.errors import InputError, SadTalkerError, SettingError
from sadtalker_core.precision import reduced_dtype
from training.config import ConfigError, RunConfig, load_config, save_config
from training.data.datasets import PoseWindows, StepBatchSampler
from training.data.shards import PreparedData
from training.run.checkpointing import checkpoint_path, list_checkpoints, prune_checkpoints, restore, save_checkpoint
from training.run.logs import MetricLogger, read_curve
from training.run.runner import autocast_dtype, set_learning_rates
from training.run.sync_batchnorm import AllReduceBatchNorm, convert_batchnorm
from training.trainers.expnet import ExpNetTask, ExpNetTrainConfig
from training.trainers.facevid2vid import FaceVid2VidTrainConfig
from training.trainers.posevae import PoseVAETrainConfig


def test_yaml_lists_only_what_differs_from_the_paper_defaults(tmp_path):
    path = tmp_path / "pose.yaml"
    path.write_text("run: {steps: 10, batch_size: 4}\nlr: 1e-3\nmodel: {seq_len: 16}\n")
    config = load_config(PoseVAETrainConfig, path, ["run.seed=3", "loss.gan=0.5"])
    assert (config.run.steps, config.run.batch_size, config.run.seed) == (10, 4, 3)
    assert config.lr == 1e-3 and config.lr_discriminator == 1e-4  # YAML's "1e-3" string read as a number
    assert config.model == PoseVAEConfig(seq_len=16) and config.loss.gan == 0.5 and config.loss.kl == 1.0
    assert config.run.out == "runs/posevae"


def test_nested_sections_keep_their_other_defaults_and_round_trip(tmp_path):
    config = load_config(FaceVid2VidTrainConfig, overrides=["render.generator.dense_motion.num_blocks=2",
                                                           "loss.perceptual.scales=[1, 0.5]"])
    assert config.render.generator.dense_motion.num_blocks == 2
    assert config.render.generator.dense_motion.block_expansion == 32 and config.render.mapping.coeff_nc == 70
    assert config.loss.perceptual.scales == (1.0, 0.5) and config.loss.perceptual.layers == (10.0,) * 5
    save_config(config, tmp_path / "saved.yaml")
    assert load_config(FaceVid2VidTrainConfig, tmp_path / "saved.yaml") == config


def test_config_mistakes_are_errors_naming_the_key(tmp_path):
    with pytest.raises(ConfigError, match=r"unknown keys \['stpes'\].*steps"):
        load_config(PoseVAETrainConfig, overrides=["run.stpes=3"])
    with pytest.raises(ConfigError, match="lr: expected a number"):
        load_config(PoseVAETrainConfig, overrides=["lr=fast"])
    with pytest.raises(ConfigError, match="precision must be 'auto', 'exact' or 'fast', got 'bfloat16'"):
        load_config(PoseVAETrainConfig, overrides=["run.precision=bfloat16"])
    with pytest.raises(ConfigError, match=r"unknown keys \['amp_dtype'\]"):
        load_config(PoseVAETrainConfig, overrides=["run.amp_dtype=float16"])


def test_a_key_given_no_value_is_unset_and_keeps_its_default(prepared, tmp_path):
    shipped = REPO / "training" / "configs" / "expnet.yaml"
    config = load_config(ExpNetTrainConfig, shipped, [f"run.data={prepared}", "audio_encoder="])
    assert config.bfm == "" and config.audio_encoder == ""
    assert ExpNetTask.missing_inputs(config) == []  # the BFM file is optional, as the README says
    path = tmp_path / "expnet.yaml"
    path.write_text("bfm: BFM_model_front.mat\nrun: {out: elsewhere, steps: 7}\n")
    config = load_config(ExpNetTrainConfig, path, ["bfm=", "run.out="])
    assert config.bfm == "" and config.run.out == "runs/expnet" and config.run.steps == 7  # the trainer's default
    path.write_text("bfm:\nrun: {out: }\n")
    assert load_config(ExpNetTrainConfig, path) == ExpNetTrainConfig()
    with pytest.raises(ConfigError, match="cannot read it"):
        load_config(ExpNetTrainConfig, tmp_path / "absent.yaml")
    assert issubclass(ConfigError, SadTalkerError)


def test_processes_split_each_step_into_the_single_process_batch():
    single = list(StepBatchSampler(6, 0, 1, start_step=2, steps=4))
    ranks = [list(StepBatchSampler(6, r, 3, start_step=2, steps=4)) for r in range(3)]
    assert single == [[12, 13, 14, 15, 16, 17], [18, 19, 20, 21, 22, 23]]
    assert [sum((r[s] for r in ranks), []) for s in range(2)] == single
    with pytest.raises(SettingError, match="divisible"):
        StepBatchSampler(5, 0, 2, 0, 1)


def test_samples_depend_only_on_seed_and_position(prepared):
    data = PreparedData(prepared)
    styles = {"spk_a": 0, "spk_b": 1}
    one, other = (PoseWindows(data, seed=5, seq_len=32, latent_size=64, styles=styles) for _ in range(2))
    later = [other[p] for p in (7, 3, 3)]
    for position, sample in zip((7, 3, 3), later):
        expected = one[position]
        assert all(torch.equal(expected[k], sample[k]) for k in expected)
    assert not torch.equal(one[2]["eps"], one[3]["eps"])
    # an epoch (two positions here) visits every clip once
    assert sorted(int(one[p]["style"]) for p in (4, 5)) == [0, 1]


def test_global_batchnorm_equals_batchnorm_in_one_process():
    torch.manual_seed(0)
    reference = nn.Sequential(nn.Conv2d(3, 4, 3), nn.BatchNorm2d(4), nn.ReLU())
    converted = convert_batchnorm(copy.deepcopy(reference), torch.device("cpu"))
    assert isinstance(converted[1], AllReduceBatchNorm) and converted.state_dict().keys() == reference.state_dict().keys()
    for _ in range(3):
        x = torch.randn(5, 3, 8, 8) * 3 + 1
        a, b = reference(x), converted(x)
        (a * torch.arange(a.numel()).view_as(a)).mean().backward()
        (b * torch.arange(b.numel()).view_as(b)).mean().backward()
        torch.testing.assert_close(a, b, rtol=1e-5, atol=1e-5)
    for (name, p), q in zip(reference.named_parameters(), converted.parameters()):
        torch.testing.assert_close(p.grad, q.grad, rtol=1e-4, atol=1e-5, msg=name)
    torch.testing.assert_close(reference[1].running_var, converted[1].running_var)
    reference.eval(), converted.eval()
    torch.testing.assert_close(reference(x), converted(x))


def test_learning_rate_milestones_divide_by_ten():
    optimizer = torch.optim.Adam([nn.Parameter(torch.zeros(1))], lr=2e-4)
    rates = []
    for step in (0, 9, 10, 25, 30):
        set_learning_rates({"net": optimizer}, (10, 30), step)
        rates.append(optimizer.param_groups[0]["lr"])
    assert rates == pytest.approx([2e-4, 2e-4, 2e-5, 2e-5, 2e-6])


def test_checkpoints_restore_networks_and_optimizers_and_prune(tmp_path):
    net = nn.Linear(2, 2)
    optimizer = torch.optim.Adam(net.parameters())
    net(torch.ones(1, 2)).sum().backward()
    optimizer.step()
    for step in (5, 10, 15):
        save_checkpoint(checkpoint_path(tmp_path, step), step, {"net": net}, {"net": optimizer}, {}, {"run": {}})
    prune_checkpoints(tmp_path, keep=2)
    assert [s for s, _ in list_checkpoints(tmp_path)] == [10, 15]
    fresh = nn.Linear(2, 2)
    fresh_optimizer = torch.optim.Adam(fresh.parameters())
    checkpoint = torch.load(checkpoint_path(tmp_path, 15), weights_only=True)
    assert restore(checkpoint, {"net": fresh}, {"net": fresh_optimizer}, tmp_path) == 15
    assert torch.equal(fresh.weight, net.weight)
    assert fresh_optimizer.state_dict()["state"][0]["step"] == 1
    with pytest.raises(InputError, match="holds networks"):
        restore(checkpoint, {"other": fresh}, {"net": fresh_optimizer}, tmp_path)


def test_loss_log_resumes_as_one_curve(tmp_path):
    logger = MetricLogger(tmp_path, resume_step=0, tensorboard=False)
    for step in (1, 2, 3):
        logger.log(step, {"b": step / 10, "a": 1.0 / step})
    logger.close()
    MetricLogger(tmp_path, resume_step=2, tensorboard=False).log(3, {"a": 9.0, "b": 9.0})
    curve = read_curve(tmp_path / "train.csv")
    assert [(r["step"], r["a"], r["b"]) for r in curve] == [(1, 1.0, 0.1), (2, 0.5, 0.2), (3, 9.0, 9.0)]


def test_run_config_checks_its_values():
    with pytest.raises(SettingError, match="batch_size"):
        RunConfig(batch_size=0)
    with pytest.raises(SettingError, match="dtype"):
        RunConfig(dtype="float16")


def test_precision_takes_the_words_of_sadtalker_core():
    cpu, gpu = torch.device("cpu"), torch.device("cuda")  # resolving a setting needs no GPU
    assert autocast_dtype(RunConfig(), cpu) is None and autocast_dtype(RunConfig(precision="exact"), gpu) is None
    native = reduced_dtype(cpu)  # bfloat16 on CPUs with AVX512-BF16 / AMX, None elsewhere
    if native is None:
        with pytest.raises(SettingError, match="precision 'fast' needs bfloat16 or float16"):
            autocast_dtype(RunConfig(precision="fast"), cpu)
    else:
        assert autocast_dtype(RunConfig(precision="fast"), cpu) == native
    with pytest.raises(SettingError, match="set run.precision to exact"):
        autocast_dtype(RunConfig(dtype="float64"), gpu)  # auto is fast on a GPU; autocast leaves float64 alone


@pytest.mark.parametrize("name", ["posevae", "expnet", "mapping", "facevid2vid"])
def test_example_configs_load(name):
    module = importlib.import_module(f"training.trainers.{name}")
    config_class = next(v for k, v in vars(module).items() if k.endswith("TrainConfig"))
    config = load_config(config_class, REPO / "training" / "configs" / f"{name}.yaml")
    assert config.run.out == f"runs/{name}"
