# %% [markdown]
# # 6 · ISSL log loss vs accuracy (paper Fig. 7b, Prop. 3)
#
# **Claim reproduced.** The ideal ISSL log loss L_I (Eq. 6: softmax regression of the orbit index
# M(X) on the unit-normalised representation with unit-norm class weights, temperature 1) is the
# quantity the theory says to minimise: its minimisers (the regular simplex) are sample optimal for
# linear probes (Prop. 3). Fig. 7b: across 80 CISSL models with augmentations and negatives fixed,
# lower ISSL loss goes with higher linear-probe accuracy.
#
# **Protocol.**
# * **Live (both modes)**: representations built by hand on `main_world` (C = 16): the simplex
#   codes (the optimum), progressively corrupted by within-orbit noise (breaking invariance) and by
#   projecting the codes onto fewer dimensions (breaking affine independence). For each:
#   L_I (`idealssl.synthetic.evaluate.ideal_log_loss`) and the 16-shot linear-probe error on random
#   invariant tasks.
# * **Recorded** (`notebooks/results/loss_vs_accuracy.json` and `heads.json`): CISSL and DISSL
#   encoders on `main_world` stopped after 10…1000 steps (3 seeds, same augmentations, d = 15),
#   plus the SimCLR / DINO / oracle models of notebook 4. Spearman correlation between L_I and the
#   16-shot error, and between L_I and full-data 5-label accuracy.

# %%
import time
import numpy as np
import matplotlib.pyplot as plt
from scipy.stats import spearmanr
import nbutil
import experiments as E
from idealssl.synthetic.evaluate import ideal_log_loss, probe_tasks
from idealssl.theory_math import ideal_log_loss_optimum

info = nbutil.setup()
FULL = info["mode"] == "full"
rec = E.run("loss_vs_accuracy", "full") if FULL else nbutil.load_recorded("loss_vs_accuracy")
heads = nbutil.load_recorded("heads")
print("recorded:", "none" if rec is None else f"{rec['mode']} mode, {rec.get('wall_seconds')} s to produce ({rec['command']})")

# %% [markdown]
# ## Live: corrupting the ideal representation

# %%
t0 = time.perf_counter()
w = E.main_world()
C = w.C
V = np.eye(C) - 1.0 / C
V = V @ np.linalg.svd(V)[2][: C - 1].T  # regular simplex in R^{C-1}
rng = np.random.default_rng(0)
N_TASKS = 10 if FULL else 3
live = []
for kind, levels in (("noise", (0.0, 0.15, 0.3, 0.5, 0.8) if FULL else (0.0, 0.3, 0.8)),
                     ("rank", (15, 10, 6, 3, 1) if FULL else (10, 3))):
    for lv in levels:
        if kind == "noise":
            Z = V[w.orbits] + lv * rng.standard_normal((w.N, C - 1)) / np.sqrt(C - 1)
        else:
            Z = V[w.orbits][:, :lv] if lv < C - 1 else V[w.orbits]
        L = ideal_log_loss(Z, w.orbits, iters=100)["ideal_log_loss"]
        pt = probe_tasks(Z, w.orbits, "linear", n_tasks=N_TASKS, n_labels=(2,), shots=(16,), seed=0)
        live.append(dict(kind=kind, level=lv, L=L, err16=pt["fewshot"]["16"]["error"], acc=pt["full"]["2"]["mean_acc"]))
        print(f"{kind}={lv}: L_I {L:.4f}  16-shot error {live[-1]['err16']:.3f}  full binary acc {live[-1]['acc']:.3f}")
print(f"optimum L_I* = {ideal_log_loss_optimum(C):.4f}; {time.perf_counter() - t0:.1f} s")

# %% [markdown]
# ## Recorded: trained models

# %%
pts = []
if rec is not None:
    pts += [dict(method=r["method"], steps=r["steps"], L=r["ideal_log_loss"], err16=r["error_n16"], acc5=r["acc_5class"]) for r in rec["rows"]]
if heads is not None:
    pts += [dict(method=r["method"] + " (nb 4)", steps=r["steps"], L=r["ideal_log_loss"], err16=r["error_n16"], acc5=r["acc_5class"])
            for r in heads["rows"] if r["method"] in ("simclr", "dino", "oracle")]
stats = {}
if len(pts) >= 4:
    L = np.array([p["L"] for p in pts])
    for key in ("err16", "acc5"):
        rho, pv = spearmanr(L, [p[key] for p in pts])
        stats[key] = (float(rho), float(pv))
    issl = [p for p in pts if p["method"] in ("cissl", "dissl")]
    rho, pv = spearmanr([p["L"] for p in issl], [p["err16"] for p in issl])
    stats["err16_issl"] = (float(rho), float(pv))
    print(f"{len(pts)} models; Spearman(L_I, 16-shot error) = {stats['err16'][0]:.3f} (p={stats['err16'][1]:.1e}); "
          f"Spearman(L_I, 5-label accuracy) = {stats['acc5'][0]:.3f} (p={stats['acc5'][1]:.1e}); "
          f"CISSL/DISSL only: {stats['err16_issl'][0]:.3f} (p={stats['err16_issl'][1]:.1e})")

# %%
fig, axes = plt.subplots(1, 3, figsize=(16, 4.4))
ax = axes[0]
for kind, col, name in (("noise", "C3", "within-orbit noise σ"), ("rank", "C0", "codes projected to r dims")):
    ls = [p for p in live if p["kind"] == kind]
    ax.plot([p["L"] for p in ls], [p["err16"] for p in ls], "o-", color=col, label=name)
    for p in ls:
        ax.annotate(f"{p['level']}", (p["L"], p["err16"]), xytext=(4, 4), textcoords="offset points", fontsize=8, color=col)
ax.axvline(ideal_log_loss_optimum(C), color="gray", ls=":", label="optimum L_I* (simplex)")
ax.set_xlabel("ideal ISSL log loss L_I")
ax.set_ylabel("16-shot linear-probe error")
ax.set_title("Live: corrupted simplex codes (C = 16)")
ax.legend(fontsize=8)
MK = {"cissl": ("C0", "o"), "dissl": ("C2", "s"), "simclr (nb 4)": ("C3", "^"), "dino (nb 4)": ("C1", "v"), "oracle (nb 4)": ("k", "*")}
for ax, key, yl in ((axes[1], "err16", "16-shot linear-probe error"), (axes[2], "acc5", "full-data accuracy, 5-label tasks")):
    if not pts:
        ax.text(0.5, 0.5, "no recorded results:\nIDEALSSL_NB_MODE=full", ha="center", transform=ax.transAxes)
        continue
    for m, (col, mk) in MK.items():
        ps = [p for p in pts if p["method"] == m]
        if not ps:
            continue
        sizes = 15 + 25 * np.log10([p["steps"] for p in ps])
        ax.scatter([p["L"] for p in ps], [p[key] for p in ps], s=sizes, c=col, marker=mk, alpha=0.75, label=m)
    ax.axvline(ideal_log_loss_optimum(C), color="gray", ls=":")
    ax.set_xlabel("ideal ISSL log loss L_I (marker size: training steps)")
    ax.set_ylabel(yl)
    r = stats[key]
    ax.set_title(f"Trained models: Spearman ρ = {r[0]:.2f} (p = {r[1]:.1e}), n = {len(pts)}")
    ax.legend(fontsize=8)
fig.tight_layout()
nbutil.savefig(fig, "06_loss_vs_accuracy")
plt.show()

# %% [markdown]
# ## Verdict

# %%
live_rho = spearmanr([p["L"] for p in live], [p["err16"] for p in live])[0]
nbutil.verdict(live_rho > 0, f"live: moving away from the simplex raises both L_I and the few-shot error (Spearman {live_rho:.2f}).")
if stats:
    nbutil.verdict(stats["err16"][0] > 0 and stats["err16"][1] < 0.05 and stats["acc5"][0] < 0,
                   f"trained models: lower L_I goes with lower 16-shot error (ρ = {stats['err16'][0]:.2f}) and higher 5-label "
                   f"accuracy (ρ = {stats['acc5'][0]:.2f}) (Fig. 7b).")
print(f"notebook time {time.perf_counter() - info['t0']:.1f} s")
