"""Which features the end-of-run check embeds (``check.features``: backbone, projector or both): the projector's
orbit set is the objective's head applied to the backbone's features of the same views, written to
``RUN/check-projector/`` beside ``RUN/check/``; ``idealssl eval check`` and ``idealssl select`` read either."""

from __future__ import annotations

import json
import shutil

import numpy as np
import pytest

from idealssl.cli import main
from idealssl.train.config import build, from_run
from idealssl.train.defaults import RunConfig
from tests.train._tiny import FAST

torch = pytest.importorskip("torch")

TRAIN = ["train", "--method", "simclr", "--dataset", "digits", "--epochs", "1"]
SMALL = [*FAST, "eval.at_end=[]", "check.images=10", "check.views=3"]


def test_the_default_checks_the_backbone_and_an_older_config_reads_as_backbone():
    assert RunConfig().check.features == "backbone"
    rc = build("simclr", "digits", overrides=["check.features=both"]).config
    assert rc.check.features == "both"
    old = rc.to_dict()
    del old["check"]["features"]  # a run recorded before the key existed
    assert from_run(old, "config.yaml").check.features == "backbone"


@pytest.fixture(scope="module")
def both_run(tmp_path_factory):
    out = tmp_path_factory.mktemp("features") / "run"
    assert main([*TRAIN, "--out", str(out), *SMALL, "check.features=both"]) == 0
    return out


def _load(folder):
    Z = np.load(folder / "representation.npy", allow_pickle=False)
    return Z, json.loads((folder / "orbits.json").read_text())["labels"]


def test_both_writes_the_backbones_and_the_projectors_orbit_sets_and_blocks(both_run):
    blk = json.loads((both_run / "results.json").read_text())["check"]
    Zb, lb = _load(both_run / "check")
    Zp, lp = _load(both_run / "check-projector")
    from idealssl.train import checkpoint

    ck = checkpoint.load(both_run / "checkpoints" / "last.pt")
    cfg = from_run(ck["cfg"], "ck")
    assert Zb.shape == (30, ck["dim"]) and Zp.shape == (30, cfg.objective["out_dim"])
    assert lb == lp  # the same views, the same orbits
    assert blk["features"] == "backbone" and blk["d"] == Zb.shape[1]
    pb = blk["projector"]
    assert pb["features"] == "projector" and pb["d"] == cfg.objective["out_dim"] == 64
    assert pb["files"]["representation"] == "check-projector/representation.npy"
    assert set(pb) >= {"verdict", "invariance_ratio", "rank", "certified", "label_free", "reading"}
    assert pb["label_free"]["features"] == "projector"
    assert pb["invariance_ratio"] != blk["invariance_ratio"]
    assert pb["label_free"]["scores"]["lidar"]["value"] != blk["label_free"]["scores"]["lidar"]["value"]
    assert "head" in pb["label_free"]["scores"]["rankme"]["protocol"]  # the tensor is named
    for name in ("representation.npy", "orbits.json", "report.json", "orbit_set.json"):
        assert (both_run / "check-projector" / name).is_file()
    # the projector's rows are SimCLR's head (eval mode) applied to the backbone's rows: the same views
    from idealssl.objectives import build as build_objective

    obj = build_objective("simclr", dim=Zb.shape[1], **cfg.objective)
    obj.load_state_dict({k[len("objective.") :]: v for k, v in ck["model"].items() if k.startswith("objective.")})
    with torch.no_grad():
        want = obj.eval().head(torch.from_numpy(Zb).float()).double().numpy()
    np.testing.assert_allclose(Zp, want, rtol=1e-4, atol=1e-5)


def test_eval_check_honours_the_runs_features_and_the_flag_overrides_them(both_run, tmp_path, capsys):
    run = tmp_path / "run"
    shutil.copytree(both_run, run)
    before = (run / "check" / "representation.npy").read_bytes()
    shutil.rmtree(run / "check-projector")
    assert main(["eval", "check", str(run), "--images", "6", "--views", "2", "--features", "projector"]) == 0
    blk = json.loads((run / "eval-check.json").read_text())
    assert blk["features"] == "projector" and "projector" not in {k for k, v in blk.items() if isinstance(v, dict)}
    assert blk["M"] == 6 and np.load(run / "check-projector" / "representation.npy").shape == (12, 64)
    assert (run / "check" / "representation.npy").read_bytes() == before  # the backbone's set untouched
    assert "projector" in capsys.readouterr().out
    assert main(["eval", "check", str(run), "--images", "6", "--views", "2"]) == 0  # the run's: both
    blk = json.loads((run / "eval-check.json").read_text())
    assert blk["features"] == "backbone" and blk["projector"]["features"] == "projector"
    assert np.load(run / "check" / "representation.npy").shape[0] == 12


def test_a_run_configured_for_the_projector_checks_it_alone(tmp_path):
    out = tmp_path / "run"
    assert main([*TRAIN, "--out", str(out), *SMALL, "check.features=projector"]) == 0
    blk = json.loads((out / "results.json").read_text())["check"]
    assert blk["features"] == "projector" and blk["d"] == 64 and "projector" not in blk
    assert not (out / "check").exists() and (out / "check-projector" / "report.json").is_file()
    assert main(["eval", "check", str(out), "--images", "5", "--views", "2"]) == 0  # from the run's config
    assert json.loads((out / "eval-check.json").read_text())["features"] == "projector"
    assert not (out / "check").exists()


def test_select_reads_either_orbit_set(both_run, capsys):
    blk = json.loads((both_run / "results.json").read_text())["check"]
    for features, want in (("backbone", blk), ("projector", blk["projector"])):
        assert main(["select", str(both_run), "--features", features, "--json"]) == 0
        row = json.loads(capsys.readouterr().out)["ranked"][0]
        assert row["d"] == want["d"] and row["features"] == features
        for name, s in want["label_free"]["scores"].items():
            assert row["scores"][name]["value"] == pytest.approx(s["value"], rel=1e-12, nan_ok=True), name
    assert main(["select", str(both_run), "--json"]) == 0  # the default stays the backbone's
    assert json.loads(capsys.readouterr().out)["ranked"][0]["d"] == blk["d"]


def test_select_features_projector_without_a_projector_set_is_one_line(tmp_path, capsys):
    run = tmp_path / "run"
    (run / "check").mkdir(parents=True)
    np.save(run / "check" / "representation.npy", np.eye(4))
    (run / "check" / "orbits.json").write_text(json.dumps({"labels": [0, 0, 1, 1]}))
    assert main(["select", str(run), "--features", "projector"]) == 2
    err = capsys.readouterr().err.strip()
    assert "check-projector" in err and len(err.splitlines()) == 1


@pytest.mark.parametrize("seed", range(6))
def test_what_carries_from_an_affine_head_to_the_backbone_holds_on_the_checker(seed):
    """The block's reading (idealssl.train.features.READING), on the checker: with an affine head A h + b, every
    labelling fitted on the projector's points is fitted on the backbone's, and affine independence of the projector's
    codes forces it on the backbone's; invariance does not carry down (A's kernel hides the backbone's variation)."""
    from idealssl import check

    rng = np.random.default_rng(seed)
    C, q, d = 4, 3, 5
    labels = np.repeat(np.arange(C), q)
    kernel = rng.normal(size=d)
    kernel /= np.linalg.norm(kernel)
    Zb = np.repeat(rng.normal(size=(C, d)), q, axis=0) + np.outer(rng.normal(size=C * q), kernel)  # varies along kernel
    A = rng.normal(size=(rng.integers(2, 7), d)) @ (np.eye(d) - np.outer(kernel, kernel))
    Zp = Zb @ A.T + rng.normal(size=A.shape[0])
    back, proj = check(Zb, labels, probe="linear").to_dict(), check(Zp, labels, probe="linear").to_dict()
    assert proj["conditions"]["invariance"]["holds"] and not back["conditions"]["invariance"]["holds"]
    assert not back["ideal"]
    if proj["conditions"]["affine_independence"]["holds"]:
        assert back["conditions"]["affine_independence"]["holds"]
    assert back["fitted_task_fraction"] >= proj["fitted_task_fraction"]
