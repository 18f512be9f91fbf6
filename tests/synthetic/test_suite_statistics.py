"""The statistics the suite's claims carry (theory/statements.md S9.3, S9.5): the Table 1 head claims paired by seed
with a two-sided t interval, coarseness's comparisons with t intervals, dissl_threshold's trained claims on per-seed
differences with t intervals, and loss-vs-accuracy tests that respect the grouping of its models; each checked against
scipy or by hand on small numbers."""

import math

import numpy as np
import pytest
from scipy import stats as sps

from idealssl.jsonutil import plain
from idealssl.synthetic.protocol import CANNOT, head_claim

T975_2 = 4.302652729911275  # scipy.stats.t.ppf(0.975, 2)


def _summary(*methods):
    m = {"mean": 0.0, "sd": 0.0, "n": 3}
    return {x: {"final_loss_last10": m, "invariance_ratio": m} for x in methods}


def _seeds(errs, accs):
    return {s: {"fewshot16_error": e, "full_acc_binary": a} for s, (e, a) in enumerate(zip(errs, accs))}


def _claim(base_err, ours_err, base_acc=(0.9,) * 3, ours_acc=(0.9,) * 3):
    per_seed = {"simclr": _seeds(base_err, base_acc), "cissl": _seeds(ours_err, ours_acc)}
    return head_claim(_summary("simclr", "cissl"), per_seed, "simclr", "cissl", "iid")


def test_head_claim_is_a_paired_t_interval_against_scipy():
    """base - ours = 0.01, 0.04, 0.07: mean 0.04, sd 0.03; the 95 % interval 0.04 ± 4.303 x 0.03/√3 contains 0.
    A difference of means above 2 standard errors of the unpaired means (0.0346) would call it
    held."""
    c = _claim((0.31, 0.34, 0.37), (0.30, 0.30, 0.30))
    iv = c["values"]["fewshot16_error_base_minus_ours"]
    d = np.array([0.01, 0.04, 0.07])
    lo, hi = sps.t.interval(0.95, 2, loc=d.mean(), scale=sps.sem(d))
    assert iv["low"] == pytest.approx(lo) and iv["high"] == pytest.approx(hi) and iv["df"] == 2
    assert iv["high"] - iv["estimate"] == pytest.approx(T975_2 * 0.03 / math.sqrt(3))
    assert c["held"] == CANNOT and c["values"]["seeds"] == [0, 1, 2]


def test_head_claim_three_ways():
    assert _claim((0.40, 0.42, 0.44), (0.30, 0.31, 0.33))["held"] is True  # d = 0.10, 0.11, 0.11
    assert _claim((0.30, 0.31, 0.33), (0.40, 0.42, 0.44))["held"] is False
    # lower error, but full-data accuracy lower on every seed by a steady margin: not 'beats'
    lower_acc = _claim((0.40, 0.42, 0.44), (0.30, 0.31, 0.33), (0.95, 0.96, 0.97), (0.90, 0.90, 0.92))
    assert lower_acc["held"] is False
    assert lower_acc["values"]["full_acc_binary_ours_minus_base"]["verdict"] == "not held"
    one_seed = head_claim(
        _summary("simclr", "cissl"),
        {"simclr": _seeds((0.5,), (0.9,)), "cissl": _seeds((0.1,), (0.9,))},
        "simclr",
        "cissl",
        "iid",
    )
    assert one_seed["held"] == CANNOT  # one seed: no spread, the whole line
    missing = head_claim(_summary("simclr"), {"simclr": _seeds((0.5,), (0.9,))}, "simclr", "cissl", "iid")
    assert missing["held"] is None


def test_head_claim_pairs_only_the_seeds_both_methods_measured():
    per_seed = {
        "simclr": {
            0: {"fewshot16_error": 0.4, "full_acc_binary": 0.9},
            1: {"fewshot16_error": 0.42, "full_acc_binary": 0.9},
        },
        "cissl": {
            1: {"fewshot16_error": 0.3, "full_acc_binary": 0.9},
            2: {"fewshot16_error": 0.3, "full_acc_binary": 0.9},
        },
    }
    c = head_claim(_summary("simclr", "cissl"), per_seed, "simclr", "cissl", "iid")
    assert c["values"]["seeds"] == [1] and c["held"] == CANNOT


def _coarse_rows(errors_by_level, wn=0.5, seen=0.0):
    """Rows of the coarseness experiment: one method, the given 16-shot errors per level (one per seed)."""
    return [
        {
            "method": "oracle",
            "level_C": C,
            "seed": s,
            "probes": {"linear": {"fewshot": {"16": {"error": e, "W_n": wn, "seen_orbit_error": seen}}}},
        }
        for C, errs in errors_by_level.items()
        for s, e in enumerate(errs)
    ]


def test_coarseness_monotone_is_a_paired_t_interval_below_the_margin():
    """error(coarser) - error(finer) by seed: -0.05, -0.01, +0.03 has the interval -0.01 ± 4.303 x 0.04/√3, which
    contains the margin 0.01 (a slack of 2 SE of the unpaired means + 0.01 would call it monotone)."""
    from idealssl.synthetic.experiments.coarseness import coarseness_claims

    rows = _coarse_rows({8: (0.30, 0.30, 0.30), 4: (0.25, 0.29, 0.33)})
    mono, bound, _ = coarseness_claims(rows, ["oracle"], (16,))
    d = np.array([-0.05, -0.01, 0.03])
    hi = sps.t.interval(0.95, 2, loc=d.mean(), scale=sps.sem(d))[1]
    assert hi == pytest.approx(-0.01 + T975_2 * 0.04 / math.sqrt(3)) and hi > 0.01
    assert mono["held"] == CANNOT and mono["values"][CANNOT] == 1 and mono["values"]["pairs_strictly_lower"] == 0
    steady = _coarse_rows({8: (0.30, 0.31, 0.32), 4: (0.20, 0.215, 0.22)})
    assert coarseness_claims(steady, ["oracle"], (16,))[0]["held"] is True
    worse = _coarse_rows({8: (0.20, 0.21, 0.22), 4: (0.30, 0.315, 0.32)})
    assert coarseness_claims(worse, ["oracle"], (16,))[0]["held"] is False
    # W_n + 0.02 = 0.52: every cell's interval lies below it
    assert bound["held"] is True and bound["values"]["held"] == 2


def test_coarseness_wn_bound_three_ways():
    from idealssl.synthetic.experiments.coarseness import coarseness_claims

    def bound(errs):
        return coarseness_claims(_coarse_rows({8: errs}, wn=0.3), ["oracle"], (16,))[1]["held"]

    assert bound((0.40, 0.41, 0.42)) is False  # above W_n + 0.02 = 0.32 on every seed, tightly
    assert bound((0.20, 0.45, 0.30)) == CANNOT  # 0.317 ± 0.31
    assert bound((0.30, 0.30, 0.30)) is True  # no spread: the interval is the point 0.30 < 0.32
    assert bound((0.30,)) == CANNOT  # one seed


def _point(method, seed, steps, L, err):
    return {"method": method, "seed": seed, "steps": steps, "ideal_log_loss": L, "fewshot16_error": err}


def test_loss_vs_accuracy_across_methods_uses_seed_means_and_the_exact_permutation_test():
    """Four methods x two seeds at the full budget: one point per method (its seed means), Spearman's ρ with the
    exact two-sided permutation p over the 4! orderings (brute force with scipy)."""
    import itertools

    from idealssl.synthetic.experiments.loss_vs_accuracy import across_methods

    means = {"a": (1.0, 0.30), "b": (2.0, 0.50), "c": (3.0, 0.40), "d": (4.0, 0.60)}
    points = [
        _point(m, s, 100, L + (0.1 if s else -0.1), e + (0.02 if s else -0.02))
        for m, (L, e) in means.items()
        for s in (0, 1)
    ]
    points += [_point("a", 0, 30, 9.0, 0.0)]  # another budget: not in the across-method test
    res = across_methods(points, 100)
    assert res["methods"] == ["a", "b", "c", "d"]
    assert res["ideal_log_loss"] == pytest.approx([1, 2, 3, 4]) and res["fewshot16_error"] == pytest.approx(
        [0.3, 0.5, 0.4, 0.6]
    )
    x, y = [1, 2, 3, 4], [0.3, 0.5, 0.4, 0.6]
    rho = sps.spearmanr(x, y)[0]
    null = [sps.spearmanr(x, [y[i] for i in p])[0] for p in itertools.permutations(range(4))]
    p = np.mean(np.abs(null) >= abs(rho) - 1e-12)
    t = res["test"]
    assert t["statistic"] == pytest.approx(rho) and t["p_value"] == pytest.approx(p) and t["exact"]
    assert res["smallest_p"] == pytest.approx(1 / 24)


def test_loss_vs_accuracy_within_method_exchanges_whole_seeds_budget_by_budget():
    """Two methods x three seeds x two budgets: the null exchanges the seeds' (budget 30, budget 100) error pairs
    inside each method, 3! x 3! = 36 arrangements; p by brute force with scipy's Spearman per method, averaged."""
    import itertools

    from idealssl.synthetic.experiments.loss_vs_accuracy import within_method

    rng = np.random.default_rng(3)
    points = [
        _point(m, s, steps, float(rng.normal()), float(rng.normal()))
        for m in ("cissl", "dissl")
        for s in range(3)
        for steps in (30, 100)
    ]
    points.append(_point("simclr", 0, 100, 0.0, 0.0))  # one budget: no sweep
    res = within_method(points)
    assert res["methods"] == ["cissl", "dissl"] and res["n_models"] == 12

    def stat(perms):
        rs = []
        for m, perm in zip(("cissl", "dissl"), perms):
            ps = [p for p in points if p["method"] == m]
            x = [p["ideal_log_loss"] for p in ps]
            by = {(p["seed"], p["steps"]): p["fewshot16_error"] for p in ps}
            y = [by[(perm[p["seed"]], p["steps"])] for p in ps]
            rs.append(sps.spearmanr(x, y)[0])
        return float(np.mean(rs))

    ident = (0, 1, 2)
    t = stat((ident, ident))
    null = [stat(pp) for pp in itertools.product(itertools.permutations(range(3)), repeat=2)]
    assert res["test"]["statistic"] == pytest.approx(t)
    assert res["test"]["p_value"] == pytest.approx(np.mean(np.abs(null) >= abs(t) - 1e-12))
    assert res["test"]["n_permutations"] == 36 and res["smallest_p"] == pytest.approx(1 / 36)


def test_loss_vs_accuracy_verdict_three_ways_and_cannot_discriminate_when_the_test_could_not_fail():
    from idealssl.synthetic.experiments.loss_vs_accuracy import permutation_verdict, within_method

    def res(stat, p, smallest):
        return {"test": {"statistic": stat, "p_value": p}, "smallest_p": smallest}

    assert permutation_verdict(res(0.8, 0.01, 0.001)) is True
    assert permutation_verdict(res(-0.8, 0.01, 0.001)) is False
    assert permutation_verdict(res(0.3, 0.4, 0.001)) == CANNOT
    assert permutation_verdict(res(1.0, 1 / 24, 1 / 24)) is True
    assert permutation_verdict(res(1.0, 0.1, 0.1)) == CANNOT  # the smallest p it can give is 0.1
    one_seed = [_point(m, 0, steps, float(steps), -float(steps)) for m in ("cissl", "dissl") for steps in (30, 100)]
    r = within_method(one_seed)  # one seed per method: one arrangement, p = 1 whatever the data
    assert r["smallest_p"] == 1.0 and permutation_verdict(r) == CANNOT
    assert permutation_verdict({"test": None}) == CANNOT


def test_bench_report_rejudge_recomputes_the_verdicts_from_the_recorded_rows(tmp_path, capsys):
    """`idealssl bench report --rejudge` rewrites verdicts (no training) that differ from what the code computes from
    the rows, here the files of synthetic/results/quick with every verdict overwritten, and leaves a file that
    already agrees untouched, byte for byte. A file that is not a result exits 2."""
    import json
    import shutil
    from pathlib import Path

    pytest.importorskip("torch")
    from idealssl.cli import main
    from idealssl.synthetic.experiments import JUDGES

    src = Path(__file__).resolve().parents[2] / "synthetic" / "results" / "quick"
    shutil.copytree(src, tmp_path / "quick")
    for name in JUDGES:
        f = tmp_path / "quick" / f"{name}.json"
        doc = json.loads(f.read_text())
        doc.pop("verdict_recomputed", None)
        doc["verdict"] = {"claims": [{**c, "held": "stale"} for c in doc["verdict"]["claims"]]}
        f.write_text(json.dumps(doc))
    args = ["bench", "report", "--results", str(tmp_path), "--mode", "quick", "--rejudge"]
    assert main(args) == 0
    assert capsys.readouterr().out.count("verdict changed for") == len(JUDGES)
    written = {}
    for name, judge in JUDGES.items():
        f = tmp_path / "quick" / f"{name}.json"
        doc = json.loads(f.read_text())
        assert doc["verdict"] == plain(judge(doc)["verdict"]), name
        assert doc["verdict_recomputed"]["git"]
        written[name] = f.read_bytes()
    assert main(args) == 0
    assert capsys.readouterr().out.count("no change") == len(JUDGES)
    assert all((tmp_path / "quick" / f"{n}.json").read_bytes() == b for n, b in written.items())
    (tmp_path / "bad" / "quick").mkdir(parents=True)
    (tmp_path / "bad" / "quick" / "methods.json").write_text("[]")
    assert main(["bench", "report", "--results", str(tmp_path / "bad"), "--mode", "quick", "--rejudge"]) == 2


@pytest.mark.parametrize("mode", ["full", "quick"])
def test_the_recorded_verdicts_are_their_rows_judged(mode):
    """Every recorded verdict that is a function of its rows is what the code computes from them (`idealssl bench
    report --rejudge` leaves the committed files unchanged)."""
    import json
    from pathlib import Path

    pytest.importorskip("torch")
    from idealssl.synthetic.experiments import JUDGES

    d = Path(__file__).resolve().parents[2] / "synthetic" / "results" / mode
    if not d.is_dir():
        pytest.skip(f"no recorded {mode}-mode results in this checkout")
    for name, judge in JUDGES.items():
        doc = json.loads((d / f"{name}.json").read_text())
        assert plain(judge(doc)["verdict"]) == doc["verdict"], name


# ---------------------------------------------------------------- dissl_threshold: the trained claims
K4, C128, C4 = "K=4C, B=128", "K=C, B=128", "K=C, B=4"
BELOW, ABOVE = (1.0, 1.5), (2.3, 3.0)  # lambdas at or below / above 1 + beta = 1.8


def _dissl_row(setting, lam, seed, h):
    if h is None:
        return {"part": "trained", "setting": setting, "lambda": lam, "seed": seed, "error": "diverged"}
    return {"part": "trained", "setting": setting, "lambda": lam, "seed": seed, "H_M_given_Z_full": h}


def _dissl_claims(rows):
    """The dissl_threshold claims judged from ``rows`` the way `idealssl bench report --rejudge` judges a file."""
    pytest.importorskip("torch")
    from idealssl.synthetic.experiments import JUDGES

    res = {"experiment": "dissl_threshold", "rows": rows, "protocol": {"beta": 0.8}}
    return {c["id"]: c for c in plain(JUDGES["dissl_threshold"](res))["verdict"]["claims"]}


def _settings(h):
    """Rows of every setting, lambda and seed 0-2 with H(M^|Z) = h(setting, lambda, seed)."""
    return [_dissl_row(st, lam, s, h(st, lam, s)) for st in (K4, C128, C4) for lam in BELOW + ABOVE for s in (0, 1, 2)]


def test_dissl_trained_claims_are_paired_by_seed_constant_differences_give_a_zero_width_interval():
    """Large seed offsets (0, 4, 8 nats) shared by every run of a seed, a constant effect of 1 nat: the per-seed
    differences are exactly 1, so the t interval is the point 1 (held); unpaired, the offsets would swamp it (Welch's
    interval of the B = 4 and B = 128 means, 1 ± 9.1, contains the margin)."""
    offset = {0: 0.0, 1: 4.0, 2: 8.0}

    def h(st, lam, s):
        return offset[s] + (1.0 if lam > 1.8 and st in (K4, C4) else 0.0)

    c = _dissl_claims(_settings(h))
    one = c["dissl-threshold-trained"]
    iv = one["values"]["above_minus_at_or_below"]
    assert (iv["estimate"], iv["low"], iv["high"], iv["df"], iv["verdict"]) == (1.0, 1.0, 1.0, 2, "held")
    assert iv["seeds"] == [0, 1, 2] and iv["differences"] == [1.0, 1.0, 1.0] and one["held"] is True
    two = c["dissl-batch-marginal-trained"]
    up, down = two["values"]["B4_minus_B128_above"], two["values"]["B4_minus_B128_at_or_below"]
    assert (up["low"], up["high"], up["verdict"]) == (1.0, 1.0, "held")
    assert (down["low"], down["high"], down["verdict"]) == (0.0, 0.0, "held")  # below the margin: it does not
    assert two["held"] is True
    assert "t interval" in one["criterion"] and "t interval" in two["criterion"]


def test_dissl_trained_two_seeds_straddling_the_margin_cannot_discriminate():
    """Two seeds whose differences are 0.04 and 0.2 nats: the mean 0.12 exceeds the margin 0.05 (a comparison of
    plain means calls it held), but the t interval with 1 dof, 0.12 ± 12.7 x 0.08, contains it."""

    def h(st, lam, s):
        return {0: 0.04, 1: 0.2}.get(s, 0.0) if lam > 1.8 and st in (K4, C4) else 0.0

    rows = [r for r in _settings(h) if r["seed"] in (0, 1)]
    c = _dissl_claims(rows)
    iv = c["dissl-threshold-trained"]["values"]["above_minus_at_or_below"]
    d = np.array([0.04, 0.2])
    lo, hi = sps.t.interval(0.95, 1, loc=d.mean(), scale=sps.sem(d))
    assert iv["low"] == pytest.approx(lo) and iv["high"] == pytest.approx(hi) and iv["df"] == 1
    assert iv["verdict"] == CANNOT and c["dissl-threshold-trained"]["held"] == CANNOT
    assert c["dissl-batch-marginal-trained"]["values"]["B4_minus_B128_above"]["verdict"] == CANNOT
    assert c["dissl-batch-marginal-trained"]["held"] == CANNOT


def test_dissl_batch_marginal_trained_second_half_is_held_only_below_the_margin():
    """lambda <= 1 + beta, B = 4 minus B = 128 per seed: an interval below 0.05 holds the claim's second half, one
    above it fails the claim, one containing it (0.01, 0.02, 0.2: mean 0.077 > 0.05, interval [-0.19, 0.35])
    cannot discriminate, whatever the first half says."""

    def rows(below):
        return _settings(lambda st, lam, s: (1.0 if lam > 1.8 else below[s]) if st == C4 else 0.0)

    def claim(below):
        return _dissl_claims(rows(below))["dissl-batch-marginal-trained"]

    assert claim({0: 0.0, 1: 0.01, 2: 0.02})["held"] is True
    high = claim({0: 0.3, 1: 0.31, 2: 0.32})
    assert high["values"]["B4_minus_B128_at_or_below"]["verdict"] == "not held" and high["held"] is False
    wide = claim({0: 0.01, 1: 0.02, 2: 0.2})
    d = np.array([0.01, 0.02, 0.2])
    iv = wide["values"]["B4_minus_B128_at_or_below"]
    assert iv["high"] == pytest.approx(d.mean() + T975_2 * d.std(ddof=1) / math.sqrt(3))
    assert iv["verdict"] == CANNOT and wide["held"] == CANNOT


def test_dissl_batch_marginal_trained_pairs_by_seed_and_lambda_and_skips_failed_runs():
    """H grows with lambda (100 nats more at lambda = 3 than at 2.3, as large for both batches) and B = 4 adds 1 nat;
    seed 2's B = 4 run at lambda = 3 failed. Paired by (seed, lambda), seed 2's difference is 1 like the others
    (its lambda = 3 pair is left out); the means over the runs present would give 1 - 50 for it. A seed with no run
    on one side of 1 + beta drops out of the first claim."""

    def h(st, lam, s):
        if st == C4 and lam == 3.0 and s == 2:
            return None
        base = 100.0 if lam == 3.0 else 0.0
        return base + (1.0 if st == C4 and lam > 1.8 else 0.0)

    rows = [r for r in _settings(h) if not (r["setting"] == K4 and r["seed"] == 1 and r["lambda"] < 1.8)]
    c = _dissl_claims(rows)
    up = c["dissl-batch-marginal-trained"]["values"]["B4_minus_B128_above"]
    assert (up["low"], up["high"], up["n"]) == (1.0, 1.0, 3)
    assert c["dissl-threshold-trained"]["values"]["above_minus_at_or_below"]["seeds"] == [0, 2]


def test_dissl_trained_claims_with_one_seed_cannot_discriminate_and_none_without_runs():
    """One seed: the whole line, cannot discriminate. No trained run: no trained claim; no free-logit row: the free
    claims are not run (None), not held."""
    c = _dissl_claims([r for r in _settings(lambda st, lam, s: 1.0 if lam > 1.8 else 0.0) if r["seed"] == 0])
    assert c["dissl-threshold-trained"]["held"] == CANNOT
    assert c["dissl-threshold-trained"]["values"]["above_minus_at_or_below"]["low"] is None  # (-inf, inf)
    assert c["dissl-batch-marginal-trained"]["held"] == CANNOT
    c = _dissl_claims([_dissl_row(K4, 1.0, 0, None)])
    assert "dissl-threshold-trained" not in c
    assert [c[i]["held"] for i in ("dissl-threshold", "dissl-small-K", "dissl-batch-marginal")] == [None] * 3
