"""Findings of the run directory: idealssl train / eval / export / plot on the fake dataset."""

from __future__ import annotations

import atexit
import os
import shutil
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable
from pathlib import Path

from tests.adversarial._util import MAIN, Outcome, Result, env, finish, idealssl, run_until, start, tree_digest

FINDINGS: dict[str, tuple[str, Callable[[Path], Outcome]]] = {}

TINY = [
    "--method",
    "simclr",
    "--arch",
    "convnet",
    "--dataset",
    "fake",
    "--no-progress",
    "--epochs",
    "1",
    "--limit-batches",
    "2",
    "--batch-size",
    "16",
    "data.fake_images=200",
    "eval.at_end=[knn]",
]
_BASE: list[Path] = []


def finding(statement: str):
    def register(fn):
        FINDINGS[fn.__name__] = (statement, fn)
        return fn

    return register


def base_run() -> Path:
    """One finished small run, trained once per process; each finding works on a copy."""
    if not _BASE:
        d = Path(tempfile.mkdtemp(prefix="idealssl-adv-base-"))
        atexit.register(shutil.rmtree, d, True)
        r = idealssl("train", *TINY, "--out", "run", cwd=d, timeout=900)
        if r.rc != 0:
            raise RuntimeError(f"the base run failed: {r.brief()}")
        _BASE.append(d / "run")
    return _BASE[0]


def copy_run(tmp: Path, name: str = "R") -> Path:
    dst = tmp / name
    shutil.copytree(base_run(), dst, symlinks=True)
    return dst


def judge(bad: list[str], seen: list[str]) -> Outcome:
    return Outcome(bool(bad), "; ".join(bad) if bad else f"{len(seen)} variants: " + ", ".join(seen))


@finding(
    "two runs on one --out at once (simclr, then byol with another seed; also --overwrite, --resume): the second refused, the first intact"  # noqa: E501
)
def concurrent_runs(tmp: Path) -> Outcome:
    longer = [x if x != "1" else "6" for x in TINY]  # the first run outlives the second's attempts
    a = start("train", *longer, "--out", "R", "--seed", "0", cwd=tmp)
    t0 = time.monotonic()
    while not (tmp / "R" / "config.yaml").exists() and time.monotonic() - t0 < 120 and a.poll() is None:
        time.sleep(0.1)
    time.sleep(1.0)
    bad, seen = [], []
    for extra in ([], ["--overwrite"], ["--resume"]):
        if a.poll() is not None:
            return Outcome(None, "the first run ended before the second started (nothing tested)")
        tiny = [x if x != "simclr" else "byol" for x in TINY]
        r = idealssl("train", *tiny, "--out", "R", "--seed", "1", *extra, cwd=tmp, timeout=600)
        seen.append(f"second {extra} rc={r.rc}")
        if r.rc != 2 or r.traceback:
            bad.append(f"second run {extra}: {r.brief()}")
    ra = finish(a)
    if ra.rc != 0:
        bad.append(f"the first run: {ra.brief()}")
    res = (tmp / "R" / "results.json").read_text() if (tmp / "R" / "results.json").exists() else ""
    if '"simclr"' not in res or '"byol"' in res:
        bad.append("R/results.json is not the first run's")
    if list(tmp.glob("R.replaced-*")):
        bad.append("the first run's files were moved aside while it ran")
    return judge(bad, seen)


@finding(
    "a run killed before its first checkpoint: config.yaml edited to 'optim: 5' is exit 2 on --resume; its stale lock is no obstacle"  # noqa: E501
)
def killed_run_resume(tmp: Path) -> Outcome:
    long = [x if x != "1" else "50" for x in TINY]
    a = start("train", *long, "--out", "R", cwd=tmp)
    t0 = time.monotonic()
    while not (tmp / "R" / "config.yaml").exists() and time.monotonic() - t0 < 120 and a.poll() is None:
        time.sleep(0.05)
    os.killpg(a.pid, 9)
    finish(a)
    if (tmp / "R" / "checkpoints" / "last.pt").exists():
        return Outcome(None, "the run wrote its first checkpoint before it could be killed")
    cfg = tmp / "R" / "config.yaml"
    good = cfg.read_text()
    lines, out, skip = good.splitlines(), [], False
    for ln in lines:
        if ln.startswith("optim:"):
            out.append("optim: 5")
            skip = True
            continue
        if skip and ln.startswith(" "):
            continue
        skip = False
        out.append(ln)
    cfg.write_text("\n".join(out) + "\n")
    bad, seen = [], []
    r = idealssl("train", "--out", "R", "--resume", cwd=tmp, timeout=300)
    seen.append(f"optim: 5 rc={r.rc}")
    if r.rc != 2 or r.traceback:
        bad.append(f"resume with optim: 5: {r.brief()}")
    cfg.write_text(good)
    r, _ = run_until(
        "train",
        "--out",
        "R",
        "--resume",
        cwd=tmp,
        started=lambda: (tmp / "R" / "checkpoints" / "last.pt").exists(),
        timeout=120,
    )
    said = (r.out + r.err).lower()
    seen.append(f"unedited resume rc={r.rc}")
    if r.traceback or ("lock" in said and "stale" not in said and r.rc == 2):
        bad.append(f"resume after the kill: {r.brief()}")
    return judge(bad, seen)


@finding(
    "export / eval --out a run's own files (checkpoints/last.pt, results.json, ...) or its input: refused, nothing replaced"  # noqa: E501
)
def outputs_over_run_files(tmp: Path) -> Outcome:
    R = copy_run(tmp)
    (tmp / "alias").symlink_to("R")
    before = tree_digest(R)
    cases = [
        ["export", "R", "--out", "R/checkpoints/last.pt"],
        ["export", "R/checkpoints/last.pt", "--out", "R/checkpoints/last.pt"],
        ["export", "R", "--out", "R/results.json"],
        ["export", "R", "--out", "R/./checkpoints/../config.yaml"],
        ["export", "R", "--out", "alias/checkpoints/last.pt"],
        ["eval", "knn", "R", "--out", "R/checkpoints/last.pt"],
        ["eval", "knn", "R", "--out", "R/results.json"],
        ["eval", "knn", "R", "--out", "R/metrics.jsonl"],
        ["eval", "knn", "alias", "--out", "R/env.json"],
        ["eval", "check", "R", "--out", "R/check/report.json"],
    ]
    bad, seen = [], []
    for argv in cases:
        r = idealssl(*argv, cwd=tmp, timeout=300)
        seen.append(f"{' '.join(argv[:2])} {argv[-1]} rc={r.rc}")
        if r.rc != 2 or r.traceback:
            bad.append(f"{' '.join(argv)}: {r.brief()}")
        after = tree_digest(R)
        if after != before:
            changed = sorted(k for k in set(before) | set(after) if before.get(k) != after.get(k))
            bad.append(f"{' '.join(argv)} changed {changed}")
            before = after
    return judge(bad, seen)


@finding(
    "symlinks planted in a run (check/*, eval-check.json, plots/curves.png, results.json): eval check, plot, train --resume never write their targets"  # noqa: E501
)
def planted_symlinks(tmp: Path) -> Outcome:
    R = copy_run(tmp)
    victims = tmp / "victims"
    victims.mkdir()
    names = [
        "check/representation.npy",
        "check/orbits.json",
        "check/report.json",
        "check/orbit_set.json",
        "eval-check.json",
        "eval-knn.json",
        "plots/curves.png",
        "results.json",
    ]
    (R / "plots").mkdir(exist_ok=True)
    for i, n in enumerate(names):
        v = victims / f"v{i}"
        v.write_text(f"victim {i}")
        if (R / n).exists() or (R / n).is_symlink():
            (R / n).unlink()
        (R / n).symlink_to(v)
    bad, seen = [], []
    for argv in (
        ["eval", "check", "R"],
        ["eval", "knn", "R"],
        ["plot", "R", "--no-embedding"],
        ["train", "--out", "R", "--resume"],
    ):
        r = idealssl(*argv, cwd=tmp, timeout=600)
        seen.append(f"{' '.join(argv)} rc={r.rc}")
        if r.traceback:
            bad.append(f"{' '.join(argv)}: {r.brief()}")
        for i, n in enumerate(names):
            if (victims / f"v{i}").read_text() != f"victim {i}":
                bad.append(f"{' '.join(argv)} wrote through {n}")
                (victims / f"v{i}").write_text(f"victim {i}")
    vdir = tmp / "vdir"  # the check folder itself a symlink to a user's folder
    vdir.mkdir()
    (vdir / "mine.txt").write_text("mine")
    shutil.rmtree(R / "check", ignore_errors=True)
    (R / "check").symlink_to(vdir)
    r = idealssl("eval", "check", "R", cwd=tmp, timeout=600)
    seen.append(f"check -> dir rc={r.rc}")
    if sorted(p.name for p in vdir.iterdir()) != ["mine.txt"]:
        bad.append(f"eval check wrote into the folder R/check points to: {sorted(p.name for p in vdir.iterdir())}")
    return judge(bad, seen)


@finding("resume keeps a user's .notes.tmp in RUN/checkpoints")
def resume_keeps_user_tmp(tmp: Path) -> Outcome:
    R = copy_run(tmp)
    for n in (".notes.tmp", ".last.pt.mine.tmp", "notes.tmp"):
        (R / "checkpoints" / n).write_text("mine")
    r = idealssl("train", "--out", "R", "--resume", cwd=tmp, timeout=600)
    gone = [n for n in (".notes.tmp", ".last.pt.mine.tmp", "notes.tmp") if not (R / "checkpoints" / n).exists()]
    return Outcome(bool(gone) or r.traceback, f"rc={r.rc}; " + (f"deleted {gone}" if gone else "the user's files kept"))


def _training_started(d: Path):
    return lambda: (d / "checkpoints" / "last.pt").exists()


@finding(
    "--out under a file, on a read-only filesystem, '.'/'..' with --overwrite: exit 2 with one line, nothing moved"
)
def out_paths(tmp: Path) -> Outcome:
    bad, seen = [], []
    (tmp / "afile").write_text("mine")
    r, killed = run_until("train", *TINY, "--out", "afile/run", cwd=tmp, started=lambda: False, timeout=300)
    seen.append(f"under a file rc={r.rc}")
    if r.rc != 2 or r.traceback:
        bad.append(f"--out afile/run: {r.brief()}")
    sandbox = tmp / "a" / "b" / "c"
    sandbox.mkdir(parents=True)
    for d in (sandbox, sandbox.parent):
        (d / "canary.txt").write_text("mine")
    for out in (".", ".."):
        target = sandbox if out == "." else sandbox.parent
        r, killed = run_until(
            "train", *TINY, "--out", out, "--overwrite", cwd=sandbox, started=_training_started(target)
        )
        seen.append(f"--out {out} --overwrite rc={r.rc}")
        if r.rc != 2 or r.traceback or killed:
            bad.append(f"--out {out} --overwrite: {r.brief()}{' (training started)' if killed else ''}")
        for d in (sandbox, sandbox.parent):
            if not (d / "canary.txt").exists():
                bad.append(f"--out {out} --overwrite moved {d / 'canary.txt'}")
                (d / "canary.txt").write_text("mine")
    ro = tmp / "ro"
    ro.mkdir()
    script = (
        f"mount -t tmpfs -o size=1m tmpfs {ro} && mount -o remount,ro {ro} && "
        f"exec {sys.executable} -c '{MAIN}' train {' '.join(repr(x) for x in TINY)} --out {ro}/run"
    )
    try:
        p = subprocess.run(
            ["unshare", "-rm", "sh", "-c", script], cwd=tmp, env=env(), capture_output=True, text=True, timeout=300
        )
    except (OSError, subprocess.SubprocessError) as exc:
        seen.append(f"read-only skipped ({exc})")
    else:
        r = Result(["read-only"], p.returncode, p.stdout, p.stderr)
        if "mount" in p.stderr and p.returncode != 2:
            seen.append("read-only skipped (no mount namespace)")
        else:
            seen.append(f"read-only rc={r.rc}")
            if r.rc != 2 or r.traceback:
                bad.append(f"--out on a read-only filesystem: {r.brief()}")
    return judge(bad, seen)


@finding(
    "bad configuration (check.tol=abc, check.tol=-1, huge/negative --seed, data.image_size=100000, views.n_global=1 for simclr): refused before training"  # noqa: E501
)
def configuration_up_front(tmp: Path) -> Outcome:
    cases = [
        ["check.tol=abc"],
        ["check.tol=-1"],
        ["--seed", str(2**70)],
        ["--seed", "-1"],
        ["eval.knn_k=abc"],
        ["optim.lr=-1"],
        ["--dataset", "digits", "data.image_size=100000"],
        ["views.n_global=1"],
    ]
    bad, seen = [], []
    for i, extra in enumerate(cases):
        out = tmp / f"r{i}"
        argv = ["train", *TINY, "--fast-dev-run", "--out", out.name, *extra]
        if "--dataset" in extra:
            argv = [a for j, a in enumerate(argv) if not (a == "fake" or argv[j - 1 : j + 1] == ["--dataset", "fake"])]
        r, killed = run_until(*argv, cwd=tmp, started=_training_started(out), timeout=300)
        key = extra[-1].split("=")[0]
        seen.append(f"{' '.join(extra)} rc={r.rc}")
        noted = key in (r.out + r.err) and r.rc == 0
        if killed or r.traceback or (r.rc != 2 and not noted):
            bad.append(f"{' '.join(extra)}: {r.brief()}{' (training started)' if killed else ''}")
    return judge(bad, seen)


@finding(
    "--resume --fast-dev-run, --out missing --resume, branching a finished run, hand edits of config.yaml: each works or is refused with the reason"  # noqa: E501
)
def resume_semantics(tmp: Path) -> Outcome:
    bad, seen = [], []
    R = copy_run(tmp)
    results = (R / "results.json").read_text()
    r = idealssl("train", "--out", "R", "--resume", "--fast-dev-run", cwd=tmp, timeout=600)
    seen.append(f"--resume --fast-dev-run rc={r.rc}")
    if r.traceback or (r.rc == 0 and (R / "results.json").read_text() != results):
        bad.append(f"--resume --fast-dev-run rewrote the run's results ({r.brief()})")
    r, killed = run_until(
        "train", "--out", "missing", "--resume", cwd=tmp, started=lambda: (tmp / "missing").exists(), timeout=120
    )
    seen.append(f"--out missing --resume rc={r.rc}")
    if killed or r.rc != 2 or r.traceback:
        bad.append(f"--out missing --resume: {r.brief()}{' (a new run started)' if killed else ''}")
    r = idealssl("train", "--resume", "R", "--out", "NEW", cwd=tmp, timeout=600)
    seen.append(f"branch rc={r.rc}")
    if r.rc == 0:
        if not (tmp / "NEW" / "checkpoints" / "last.pt").exists():
            bad.append("the branch NEW has no checkpoints/last.pt")
        e = idealssl("export", "NEW", "--out", "b.pt", cwd=tmp, timeout=300)
        if e.rc != 0:
            bad.append(f"export of the branch: {e.brief()}")
        if " 0 img/s" in r.out:
            bad.append("the branch reports 0 img/s")
    elif r.rc != 2 or r.traceback:
        bad.append(f"branch: {r.brief()}")
    R2 = copy_run(tmp, "R2")
    cfg = R2 / "config.yaml"
    cfg.write_text(cfg.read_text().replace("  lr: 0.002", "  lr: 0.5", 1))
    r = idealssl("train", "--out", "R2", "--resume", cwd=tmp, timeout=600)
    seen.append(f"edited config.yaml rc={r.rc}")
    if r.traceback or (r.rc == 0 and "config.yaml" not in r.out + r.err):
        bad.append(f"an edit of config.yaml on --resume passed without a word ({r.brief()})")
    return judge(bad, seen)


DISK_FULL = r"""
import os, subprocess, sys, time
run, argv = sys.argv[1], sys.argv[2:]
p = subprocess.Popen(argv)
ck = os.path.join(run, "checkpoints", "last.pt")
while p.poll() is None and not os.path.exists(ck):
    time.sleep(0.02)
if p.poll() is None:
    os.makedirs(os.path.join(run, "check"), exist_ok=True)
    subprocess.run(["mount", "-t", "tmpfs", "-o", "size=16k", "tmpfs", os.path.join(run, "check")], check=True)
sys.exit(p.wait())
"""


@finding(
    "disk full during the end-of-run check: one line, results.json written with the training results, no truncated file left"  # noqa: E501
)
def disk_full_during_check(tmp: Path) -> Outcome:
    if shutil.which("unshare") is None:
        return Outcome(None, "no unshare")
    argv = [sys.executable, "-c", MAIN, "train", *TINY, "--out", str(tmp / "R")]
    p = subprocess.run(
        ["unshare", "-rm", sys.executable, "-c", DISK_FULL, str(tmp / "R"), *argv],
        cwd=tmp,
        env=env(),
        capture_output=True,
        text=True,
        timeout=900,
    )
    if "mount" in p.stderr and "Traceback" in p.stderr and "CalledProcessError" in p.stderr:
        return Outcome(None, "no mount namespace here")
    r = Result(argv, p.returncode, p.stdout, p.stderr)
    bad = []
    if r.traceback:
        bad.append(r.brief())
    res = tmp / "R" / "results.json"
    if not res.exists():
        bad.append("results.json not written")
    rep = tmp / "R" / "check" / "representation.npy"
    leftovers = [str(q.name) for q in (tmp / "R" / "check").glob("*")] if (tmp / "R" / "check").exists() else []
    if rep.exists():
        import numpy as np

        try:
            np.load(rep, allow_pickle=False)
        except Exception:
            bad.append("a truncated check/representation.npy left")
    return Outcome(bool(bad), "; ".join(bad) or f"rc={r.rc}, results.json kept, check/ holds {leftovers}")
