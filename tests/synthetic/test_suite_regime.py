"""`idealssl bench synthetic`: the claims about the paper are judged in the orbit-blind iid regime by default; the
oracle regime (one-per-orbit, the sampler reads the orbit partition) runs only as a labelled ablation, or as the main
regime when --batch-regime one-per-orbit asks for it."""

import pytest

torch = pytest.importorskip("torch")

PAIRS = ("simclr", "cissl", "dino", "dissl")


def _tiny(regime=None):
    from idealssl.synthetic.experiments import _mode

    mode = _mode("quick", (0,), 3, regime)
    mode.update(n_tasks=2, grids={"contrastive": (0.5,), "distillation": (0.3,)})
    return mode


def test_the_claims_experiments_default_to_the_iid_regime():
    from idealssl.synthetic.experiments import MODES, _mode
    from idealssl.synthetic.experiments.settings import ablation_regime

    for name in MODES:
        mode = _mode(name, None, None, None)
        assert mode["batch_regime"] == "iid" and ablation_regime(mode) == "one-per-orbit", name
        assert ablation_regime(_mode(name, None, None, "one-per-orbit")) == "iid"


def test_the_cli_help_names_iid_the_default_and_one_per_orbit_the_oracle(capsys):
    from idealssl.cli import main

    with pytest.raises(SystemExit):
        main(["bench", "synthetic", "-h"])
    text = " ".join(capsys.readouterr().out.split())
    assert "iid (default" in text and "one-per-orbit (the oracle regime" in text


def _run_methods(monkeypatch, regime):
    from idealssl.synthetic.experiments import methods

    monkeypatch.setattr(methods, "methods_list", lambda: ["oracle", *PAIRS])
    torch.set_num_threads(1)
    return methods.run(_tiny(regime), {})


@pytest.mark.slow  # 20-36 s: trains the methods experiment
def test_methods_runs_iid_rows_and_labelled_oracle_ablation_rows(monkeypatch):
    res = _run_methods(monkeypatch, None)
    main = [r for r in res["rows"] if r["batch_regime"] == "iid"]
    oracle = [r for r in res["rows"] if r["batch_regime"] == "one-per-orbit"]
    assert {r["method"] for r in main} == {"oracle", *PAIRS} and not any(r["oracle"] for r in main)
    assert {r["method"] for r in oracle} == set(PAIRS) and all(r["oracle"] for r in oracle)
    assert len(main) + len(oracle) == len(res["rows"])
    p = res["protocol"]
    assert p["batch_regime"] == "iid" and p["oracle"] is False
    assert p["ablation_regime"] == "one-per-orbit" and p["ablation_oracle"] is True
    assert p["temperatures"]["validation"]["batch_regime"] == "iid"
    assert set(res["summary_ablation"]) == set(PAIRS)
    claims = {c["id"]: c for c in res["verdict"]["claims"]}
    assert {"heads-cissl-vs-simclr", "heads-dissl-vs-dino", "cissl-self-target"} <= set(claims)
    assert {"heads-cissl-vs-simclr-oracle", "heads-dissl-vs-dino-oracle"} <= set(claims)
    assert "batch regime iid" in claims["heads-cissl-vs-simclr"]["prediction"]
    assert "one-per-orbit (oracle regime), ablation" in claims["heads-cissl-vs-simclr-oracle"]["prediction"]


@pytest.mark.slow  # 20-36 s: trains the methods experiment
def test_batch_regime_one_per_orbit_reproduces_the_oracle_regime_suite(monkeypatch):
    res = _run_methods(monkeypatch, "one-per-orbit")
    main = [r for r in res["rows"] if r["batch_regime"] == "one-per-orbit"]
    assert {r["method"] for r in main} == {"oracle", *PAIRS} and all(r["oracle"] for r in main)
    assert {r["method"] for r in res["rows"] if r["batch_regime"] == "iid"} == set(PAIRS)
    p = res["protocol"]
    assert p["oracle"] is True and p["ablation_regime"] == "iid" and p["ablation_oracle"] is False
    claims = {c["id"] for c in res["verdict"]["claims"]}
    assert {"heads-cissl-vs-simclr-iid", "heads-dissl-vs-dino-iid", "cissl-self-target"} <= claims


def test_self_target_compares_the_default_iid_regime_with_the_oracle_regime_whatever_the_mode():
    from idealssl.synthetic.experiments import self_target

    torch.set_num_threads(1)
    for regime in (None, "one-per-orbit"):
        res = self_target.run(_tiny(regime), {})
        assert {(r["batch_regime"], r["oracle"]) for r in res["rows"]} == {("iid", False), ("one-per-orbit", True)}
        assert res["protocol"]["batch_regime"] == "iid" and res["protocol"]["ablation_regime"] == "one-per-orbit"
        assert set(res["summary"]) == {"iid", "one-per-orbit"}
