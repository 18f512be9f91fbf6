"""timm backbones (``--arch timm:<name>``): train on fake images, export, reload in timm; the refusals.

The tests that build a timm model skip where timm is absent (``pytest.importorskip``); CI installs it
through the ``dev`` extra. The missing-timm message is tested by hiding the module, so it runs everywhere.
"""

import json
import sys

import pytest
import torch

from idealssl.cli import main

from .conftest import train_args as build_train_args

FAKE = ["--dataset", "fake", "data.fake_size=32", "data.fake_classes=4", "data.fake_images=64", "train.progress=off"]


def _train(tmp_path, arch, *extra, method="simclr"):
    """``idealssl train --method M --dataset fake --arch ARCH --fast-dev-run`` as a user types it."""
    run = tmp_path / "run"
    rc = main(
        build_train_args(
            method, *FAKE, *extra, dataset=None, out=run, flags=["--arch", arch, "--fast-dev-run"], fast=False
        )
    )
    return run, rc


def _reload_and_compare(run, out):
    """Export the run, rebuild the model with timm alone from the sidecar, compare outputs with the checkpoint's."""
    import timm

    from idealssl.train import checkpoint as C
    from idealssl.train.model import backbone_from_checkpoint

    assert main(["export", str(run), "--out", str(out)]) == 0
    meta = json.loads(out.with_name(out.name + ".json").read_text())
    net = timm.create_model(meta["timm_name"], **meta["create_kwargs"])
    res = net.load_state_dict(torch.load(out, weights_only=True))  # strict: every key, no extra
    assert not res.missing_keys and not res.unexpected_keys
    ours = backbone_from_checkpoint(C.load(C.resolve_checkpoint(str(run))), run).eval()
    x = torch.randn(3, meta["create_kwargs"]["in_chans"], 32, 32, generator=torch.Generator().manual_seed(0))
    with torch.no_grad():
        a, b = ours(x), net.eval()(x)
    assert a.shape == (3, meta["dim"]) and torch.equal(a, b)
    return meta


def test_timm_vit_trains_on_fake_exports_and_reloads_in_timm(tmp_path, capsys):
    pytest.importorskip("timm")
    # DINO with two 16 px local crops: the ViT is built with dynamic_img_size, so they pass through it
    run, rc = _train(tmp_path, "timm:vit_tiny_patch16_224", "views.n_local=2", "eval.at_end=[knn]", method="dino")
    err = capsys.readouterr().err
    assert rc == 0, err
    assert "timm:vit_tiny_patch16_224 (timm vit_tiny_patch16_224, its own patch-16 embedding unchanged" in err
    env = json.loads((run / "env.json").read_text())
    assert env["encoder"] == "timm:vit_tiny_patch16_224" and env["dim"] == 192 and "2x2 = 4 tokens" in env["stem"]
    assert json.loads((run / "results.json").read_text())["steps"] == 3
    meta = _reload_and_compare(run, tmp_path / "vit.pt")
    # 32 px differs from the ViT's 224 px default: img_size is recorded so that timm rebuilds the same embedding
    assert meta["create_kwargs"] == {"num_classes": 0, "in_chans": 3, "img_size": 32, "dynamic_img_size": True}
    assert "wrote" in capsys.readouterr().out


def test_timm_convnet_on_one_channel_images_exports_without_img_size(tmp_path, capsys):
    pytest.importorskip("timm")
    run, rc = _train(tmp_path, "timm:resnet10t", "data.fake_channels=1", "eval.at_end=[]", method="byol")
    assert rc == 0, capsys.readouterr().err
    assert "total stride 32, a 32 px image reaches 1x1" in json.loads((run / "env.json").read_text())["stem"]
    meta = _reload_and_compare(run, tmp_path / "r10t.pt")
    assert meta["create_kwargs"] == {"num_classes": 0, "in_chans": 1}  # a convnet takes any size
    # the idealssl format keeps the encoder's own keys; torchvision's has no slot for a timm model
    assert main(["export", str(run), "--out", str(tmp_path / "own.pt"), "--format", "idealssl"]) == 0
    assert all(k.startswith("net.") for k in torch.load(tmp_path / "own.pt", weights_only=True))
    capsys.readouterr()
    assert main(["export", str(run), "--out", str(tmp_path / "tv.pt"), "--format", "torchvision"]) == 2
    assert "--format torchvision needs a ResNet backbone, this one is timm:resnet10t" in capsys.readouterr().err


@pytest.mark.parametrize(
    "arch,extra,fragment",
    [
        ("timm:resnet10t", ["model.small_stem=true"], "model.small_stem=true is not available for timm:resnet10t"),
        ("timm:resnet10t", ["model.expand_dim=64"], "model.expand_dim is not available for timm:resnet10t"),
        ("timm:no_such_net", [], "timm has no model 'no_such_net'"),
        ("timm:resnet5O", [], "timm has no model 'resnet5O'; close names: resnet50"),  # a letter O for a zero
        ("timm:", [], "name the timm model, e.g. timm:resnet10t"),
        ("timm:vit_tiny_patch16_224", ["data.fake_size=8"], "8 px images are smaller than its 16 px patches"),
    ],
)
def test_bad_timm_settings_are_one_line_before_the_run_directory(tmp_path, capsys, arch, extra, fragment):
    if arch != "timm:":
        pytest.importorskip("timm")
    run, rc = _train(tmp_path, arch, *extra)
    err = capsys.readouterr().err
    assert rc == 2 and fragment in err and err.count("\n") == 1, err
    assert not run.exists()


def test_missing_timm_names_the_extra(tmp_path, capsys, monkeypatch):
    monkeypatch.setitem(sys.modules, "timm", None)  # as if not installed
    run, rc = _train(tmp_path, "timm:resnet10t")
    err = capsys.readouterr().err
    assert rc == 2 and "timm is not installed; pip install 'idealssl[timm]'" in err and err.count("\n") == 1, err
    assert not run.exists()


def test_format_timm_refused_for_an_idealssl_backbone(tmp_path, capsys):
    run, rc = _train(tmp_path, "convnet", "model.width=8", "eval.at_end=[]", method="tinytest")
    assert rc == 0
    assert main(["export", str(run), "--out", str(tmp_path / "x.pt"), "--format", "timm"]) == 2
    assert "--format timm needs a timm:<name> backbone, this one is convnet" in capsys.readouterr().err


def test_help_and_list_presets_name_the_timm_backbones(capsys):
    assert main(["train", "--list-presets"]) == 0
    out = capsys.readouterr().out
    assert "timm:<name>" in out and "timm:vit_tiny_patch16_224" in out and "idealssl[timm]" in out
    with pytest.raises(SystemExit):
        main(["train", "--help"])
    assert "timm:resnet10t" in capsys.readouterr().out


def test_view_sizes_a_timm_model_cannot_take_are_refused_in_one_line():
    """A model whose patch embedding is fixed to 32 px (as without dynamic_img_size) and a 16 px local view."""
    from torch import nn

    from idealssl.errors import InputError
    from idealssl.models.timm_backbone import TimmEncoder, check_input_sizes

    class Fixed(nn.Module):
        num_features = 4

        def forward(self, x):
            assert x.shape[-1] == 32, f"Input height ({x.shape[-1]}) doesn't match model (32)."
            return x.new_zeros(len(x), 4)

    enc = TimmEncoder(Fixed(), "fixed", {}, "stem")
    check_input_sizes(enc, 3, [32])
    with pytest.raises(InputError, match=r"timm:fixed: it cannot take 16 px views \(Input height \(16\)"):
        check_input_sizes(enc, 3, [32, 16])
    assert enc.training  # the mode is restored
