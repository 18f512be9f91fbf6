"""Draw a training run's figures (PNG) into RUN/plots/.

Examples
--------
  idealssl plot runs/digits-dissl/20260101-120000-s0      # curves.png, embedding.png (+ check.png)
  idealssl plot RUN --no-embedding                         # curves only (no checkpoint loaded, no torch)
  idealssl plot RUN --out figs/                            # somewhere else

Figures: curves.png (loss, learning rate, online-probe loss, RankMe, invariance ratio and the objective's
varying terms against the step, from metrics.jsonl); embedding.png (2-D PCA of the last checkpoint's
features of up to 2000 test images, coloured by class); check.png when RUN/check/report.json exists
(singular values of the codes and per-orbit deviations against the tolerance; the same figure as
idealssl check ... --plot FILE.png). Needs matplotlib (pip install 'idealssl[plot]').
"""

from __future__ import annotations

import argparse


def configure(p: argparse.ArgumentParser) -> None:
    p.formatter_class = argparse.RawDescriptionHelpFormatter
    p.epilog = "examples:\n" + __doc__.split("Examples\n--------\n", 1)[1]
    p.add_argument("run", metavar="RUN", help="run directory written by idealssl train")
    p.add_argument("--out", metavar="DIR", help="folder for the PNGs (default RUN/plots)")
    p.add_argument("--no-embedding", action="store_true", help="skip the embedding (loads no checkpoint)")
    p.add_argument("--device", default="cpu", help="device for the embedding's feature extraction (default cpu)")


def run(args: argparse.Namespace) -> int:
    from .plots import plot_run

    for path in plot_run(args.run, args.out, embed=not args.no_embedding, device=args.device):
        print(path)
    return 0
