"""``idealssl plot RUN`` and ``idealssl check --plot`` as a user types them: files written, bad input one line."""

import json
import sys

import numpy as np
import pytest

from idealssl.cli import main

pytest.importorskip("matplotlib")

PNG = b"\x89PNG\r\n\x1a\n"


def _png(path):
    assert path.is_file(), path
    data = path.read_bytes()
    assert data.startswith(PNG) and len(data) > 5000, path


def _world(tmp_path, invariant=True):
    rng = np.random.default_rng(0)
    C, per, d = 5, 4, 6
    Z = np.repeat(rng.normal(size=(C, d)), per, 0)
    if not invariant:
        Z[per + 1] += 0.1  # a point of orbit 1 moves
    z, o = tmp_path / "z.npy", tmp_path / "o.json"
    np.save(z, Z)
    o.write_text(json.dumps({"labels": np.repeat(np.arange(C), per).tolist()}))
    return str(z), str(o)


def _fake_run(tmp_path, steps=30, with_report=True):
    """A run directory as idealssl train writes it, without training (metrics, config, results)."""
    run = tmp_path / "run"
    run.mkdir()
    lines = []
    for s in range(1, steps + 1):
        lines.append(
            {
                "step": s,
                "epoch": (s - 1) // 10,
                "loss": 5 - s / 10,
                "probe_loss": 2.3 - s / 30,
                "lr": 1e-3 * min(1, s / 5),
                "acc": s / steps,
                "temperature": 0.1,
            }
        )
        if s % 10 == 0:
            lines.append(
                {
                    "step": s,
                    "epoch": s // 10 - 1,
                    "end_of_epoch": True,
                    "loss": 5 - s / 10,
                    "rankme": 3 + s / 10,
                    "invariance_ratio": 1 - s / 40,
                    "train_seconds": s / 10,
                }
            )
    (run / "metrics.jsonl").write_text("".join(json.dumps(r) + "\n" for r in lines))
    (run / "config.yaml").write_text("method: simclr\ndataset: digits\nseed: 0\n")
    (run / "results.json").write_text(
        json.dumps(
            {"method": "simclr", "dataset": "digits", "encoder": {"dim": 16}, "eval": {"online_linear": {"top1": 0.5}}}
        )
    )
    if with_report:
        from idealssl import check

        z, o = _world(tmp_path, invariant=False)
        (run / "check").mkdir()
        (run / "check" / "report.json").write_text(check(np.load(z), o).to_json())
    return run


def test_plot_run_curves_and_check_report(tmp_path, capsys):
    run = _fake_run(tmp_path)
    assert main(["plot", str(run), "--no-embedding"]) == 0
    out = capsys.readouterr().out.split()
    assert out == [str(run / "plots" / "curves.png"), str(run / "plots" / "check.png")]
    for name in ("curves.png", "check.png"):
        _png(run / "plots" / name)


def test_plot_out_folder_and_no_check_report(tmp_path, capsys):
    run = _fake_run(tmp_path, with_report=False)
    assert main(["plot", str(run), "--no-embedding", "--out", str(tmp_path / "figs")]) == 0
    assert sorted(p.name for p in (tmp_path / "figs").iterdir()) == ["curves.png"]


@pytest.mark.parametrize("invariant,rc", [(True, 0), (False, 1)])
def test_check_plot_writes_the_figure_and_keeps_the_exit_status(tmp_path, capsys, invariant, rc):
    z, o = _world(tmp_path, invariant)
    fig = tmp_path / "sub" / "check.png"
    assert main(["check", z, "--augs", o, "--plot", str(fig)]) == rc
    out, err = capsys.readouterr()
    assert "verdict:" in out and f"figure written to {fig}" in err
    _png(fig)


def test_check_report_json_has_per_orbit_deviations(tmp_path, capsys):
    z, o = _world(tmp_path, invariant=False)
    main(["check", z, "--augs", o, "--json"])
    dev = json.loads(capsys.readouterr().out)["conditions"]["invariance"]["detail"]["max_deviation_relative_per_orbit"]
    assert len(dev) == 5 and dev[1] > 0.01 and max(dev[:1] + dev[2:]) < 1e-12


def _bad_runs(tmp_path):
    f = tmp_path / "file.txt"
    f.write_text("x")
    empty = tmp_path / "empty"
    empty.mkdir()
    broken = tmp_path / "broken"
    broken.mkdir()
    (broken / "metrics.jsonl").write_text('{"step": 1, "loss": 1}\nnot json\n')
    badreport = _fake_run(tmp_path)
    (badreport / "check" / "report.json").write_text('{"ideal": true}')
    return [
        (tmp_path / "missing", "is not a directory"),
        (f, "is not a directory"),
        (empty, "no metrics.jsonl"),
        (broken, "metrics.jsonl:2: not JSON"),
        (badreport, "not a check report"),
    ]


def test_bad_run_is_one_line_and_exit_2(tmp_path, capsys):
    for path, fragment in _bad_runs(tmp_path):
        assert main(["plot", str(path), "--no-embedding"]) == 2, path
        err = capsys.readouterr().err
        assert err.count("\n") == 1 and err.startswith("idealssl plot: error:") and fragment in err, err


def test_plot_unknown_flag_is_a_usage_error(capsys):
    with pytest.raises(SystemExit) as exc:
        main(["plot", "RUN", "--bogus"])
    assert exc.value.code == 2


@pytest.mark.slow
def test_plot_a_trained_run_with_embedding(tmp_path, capsys):
    """A real (tiny) run: curves, the PCA embedding of its checkpoint's features, its check report."""
    pytest.importorskip("torch")
    from tests.train._tiny import FAST

    run = tmp_path / "r"
    argv = [
        "train",
        "--method",
        "tinytest",
        "--dataset",
        "digits",
        "--epochs",
        "2",
        "--out",
        str(run),
        *FAST,
        "eval.at_end=[]",
    ]
    assert main(argv) == 0
    capsys.readouterr()
    assert main(["plot", str(run)]) == 0
    names = ("curves.png", "embedding.png", "check.png")  # the run's check block wrote RUN/check/report.json
    assert capsys.readouterr().out.split() == [str(run / "plots" / n) for n in names]
    for n in names:
        _png(run / "plots" / n)


def test_check_plot_stays_torch_free(tmp_path):
    import subprocess

    z, o = _world(tmp_path)
    code = (
        "import sys; from idealssl.cli import main; "
        f"rc = main(['check', {z!r}, '--augs', {o!r}, '--plot', {str(tmp_path / 'c.png')!r}]); "
        "assert 'torch' not in sys.modules, 'torch imported'; sys.exit(rc)"
    )
    r = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True)
    assert r.returncode == 0, r.stderr
    _png(tmp_path / "c.png")
