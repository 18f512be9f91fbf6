"""Under DDP (2 processes, gloo, CPU) every objective gives the full-batch value, logs and gradients.

Each process holds half of the batch; parameter gradients are averaged over processes exactly as
``DistributedDataParallel`` does (all-reduce SUM / world size) and compared with one process on the
full batch. The backbone is a linear layer, so gradients reaching the encoder are checked too.
"""

import gc
import os
import sys
import warnings

import pytest
import torch
import torch.distributed as dist
import torch.multiprocessing as mp

from idealssl.objectives import build
from idealssl.objectives.distributed import BatchNorm1d, gather, is_distributed

from .conftest import small_kwargs

D_IN, DIM, B = 6, 12, 8
CASES = [  # (name, number of views, extra hyperparameters)
    ("simclr", 2, {}),
    ("simclr", 3, {}),
    ("cissl", 2, {}),
    ("cissl", 2, {"probe": "mlp"}),
    ("dissl", 2, {}),
    ("dissl", 4, {"marginal_ema": 0.5}),
    ("dino", 3, {}),
    ("dino", 2, {"use_bn": True}),
    ("swav", 4, {"freeze_prototypes_steps": 0}),
    ("swav", 2, {"freeze_prototypes_steps": 0, "queue_length": 8}),
    ("byol", 2, {}),
    ("vicreg", 2, {}),
    ("vicreg", 3, {}),
    ("barlow", 2, {}),
    ("vje", 2, {"n_samples": 0}),
]


def _run_case(case_id, rank=0, world=1):
    """Loss, logs, averaged gradients and buffers of one case on this rank's share of the batch."""
    name, v, extra = CASES[case_id]
    torch.manual_seed(0)
    obj = build(name, DIM, **{**small_kwargs(name, DIM), **extra})
    torch.manual_seed(1)
    backbone = torch.nn.Linear(D_IN, DIM)
    ema_backbone = torch.nn.Linear(D_IN, DIM)
    g = torch.Generator().manual_seed(2 + case_id)
    x = torch.randn(v, B, D_IN, generator=g) * 2
    share = slice(rank * B // world, (rank + 1) * B // world)
    views = [backbone(x[i, share]) for i in range(v)]
    targets = None
    if obj.momentum_backbone:
        with torch.no_grad():
            targets = [ema_backbone(x[i, share]) for i in range(obj.n_global)]
    out = obj(views, targets)
    # a second call exercises the EMA / centre / running statistics written by the first
    if name in ("dissl", "dino") or extra.get("queue_length"):
        obj.update(0, 10)
        out = obj(views, targets)
    out.loss.backward()
    grads = {}
    for prefix, module in (("backbone", backbone), ("objective", obj)):
        for k, p in module.named_parameters():
            if p.grad is None:
                continue
            gr = p.grad.clone()
            if world > 1:
                dist.all_reduce(gr)
                gr /= world
            grads[f"{prefix}.{k}"] = gr
    buffers = {k: b.clone() for k, b in obj.named_buffers() if b.dtype.is_floating_point}
    logs = {k: float(val) for k, val in out.logs.items()}
    return {"loss": out.loss.item(), "logs": logs, "grads": grads, "buffers": buffers}


class _Model(torch.nn.Module):
    """Backbone + objective in one module, so that a real ``DistributedDataParallel`` can wrap it."""

    def __init__(self, backbone, objective):
        super().__init__()
        self.backbone, self.objective = backbone, objective

    def forward(self, x):
        return self.objective([self.backbone(xi) for xi in x]).loss


REAL_DDP = ["cissl", "dissl", "vicreg", "barlow"]


def _run_real_ddp(name, rank=0, world=1):
    """Gradients after a backward through ``torch.nn.parallel.DistributedDataParallel`` (world > 1)."""
    torch.manual_seed(0)
    obj = build(name, DIM, **small_kwargs(name, DIM))
    torch.manual_seed(1)
    model = _Model(torch.nn.Linear(D_IN, DIM), obj)
    x = torch.randn(2, B, D_IN, generator=torch.Generator().manual_seed(99)) * 2
    share = slice(rank * B // world, (rank + 1) * B // world)
    net = torch.nn.parallel.DistributedDataParallel(model) if world > 1 else model
    loss = net(x[:, share])
    loss.backward()
    return loss.item(), {k: p.grad.clone() for k, p in model.named_parameters() if p.grad is not None}


def _worker(rank, world, store, outdir):
    os.environ["OMP_NUM_THREADS"] = "1"
    torch.set_num_threads(1)
    # rendezvous through a file (no TCP port to pick, so no race with other processes for one)
    dist.init_process_group("gloo", init_method=f"file://{store}", rank=rank, world_size=world)
    try:
        assert is_distributed()
        results = [_run_case(i, rank, world) for i in range(len(CASES))]
        # the gather primitive itself: values, order, and gradient convention (sum over ranks)
        x = torch.full((2, 3), float(rank), requires_grad=True)
        y = gather(x)
        (y * torch.arange(4.0)[:, None]).sum().backward()
        bn = BatchNorm1d(3)
        z = bn(torch.randn(5, 3, generator=torch.Generator().manual_seed(rank)))
        extra = {
            "gathered": y.detach(),
            "grad": x.grad,
            "bn_mean": bn.running_mean.clone(),
            "z_mean": gather(z).mean(0),
            "real_ddp": {n: _run_real_ddp(n, rank, world) for n in REAL_DDP},
        }
        if rank == 0:
            torch.save({"results": results, "extra": extra}, os.path.join(outdir, "ddp.pt"))
        del results, extra
        # Tear down in a fixed order: no collective in flight on either rank, no DDP reducer left in a
        # reference cycle, then the group; then leave without interpreter finalisation, where gloo's
        # threads, destroyed while modules are cleared, can abort ("terminate called without an active
        # exception", the same crash as pytorch/pytorch#65237).
        gc.collect()
        dist.barrier()
    except BaseException:
        dist.destroy_process_group()
        raise  # mp.spawn reports the traceback
    dist.destroy_process_group()
    sys.stdout.flush()
    sys.stderr.flush()
    os._exit(0)


@pytest.fixture(scope="module")
def ddp_results(tmp_path_factory):
    """Spawn the 2 processes once per test session, also under pytest-xdist (workers share the result
    through the session's temporary root, guarded by a file lock)."""
    from filelock import FileLock  # a dependency of torch

    base = tmp_path_factory.getbasetemp()
    if os.environ.get("PYTEST_XDIST_WORKER"):
        base = base.parent  # shared by this session's xdist workers
    outdir = base / "objectives_ddp"
    with FileLock(str(base / "objectives_ddp.lock")):
        if not (outdir / "ddp.pt").is_file():
            outdir.mkdir(exist_ok=True)
            for attempt in (1, 2):
                store = outdir / f"rendezvous-{os.getpid()}-{attempt}"
                store.unlink(missing_ok=True)
                try:
                    mp.spawn(_worker, args=(2, str(store), str(outdir)), nprocs=2, join=True)
                    break
                except mp.ProcessExitedException as e:
                    # A native abort of the gloo runtime (a signal, not a Python exception: those raise
                    # ProcessRaisedException and fail at once) is retried once from scratch, loudly.
                    if attempt == 2 or not e.signal_name:
                        raise
                    warnings.warn(
                        f"gloo worker died with {e.signal_name}; spawning the 2 processes again", stacklevel=2
                    )
    return torch.load(outdir / "ddp.pt", weights_only=True)


def test_gather_primitive(ddp_results):
    e = ddp_results["extra"]
    assert torch.equal(e["gathered"][:, 0], torch.tensor([0.0, 0.0, 1.0, 1.0]))
    # d/dx of sum_k w_k y_k on rank 0 is w[0:2], summed over the 2 ranks' identical losses
    assert torch.equal(e["grad"], 2 * torch.tensor([[0.0] * 3, [1.0] * 3]))
    full = torch.cat([torch.randn(5, 3, generator=torch.Generator().manual_seed(r)) for r in range(2)])
    ref = torch.nn.BatchNorm1d(3)
    ref(full)
    assert torch.allclose(e["bn_mean"], ref.running_mean, atol=1e-6)
    assert torch.allclose(e["z_mean"], torch.zeros(3), atol=1e-5)


@pytest.mark.parametrize("case_id", range(len(CASES)), ids=[f"{n}-{v}views-{'-'.join(e)}" for n, v, e in CASES])
def test_ddp_equals_single_process(ddp_results, case_id):
    got = ddp_results["results"][case_id]
    ref = _run_case(case_id)
    assert got["loss"] == pytest.approx(ref["loss"], rel=1e-5, abs=1e-6)
    assert got["logs"].keys() == ref["logs"].keys()
    for k in ref["logs"]:
        assert got["logs"][k] == pytest.approx(ref["logs"][k], rel=1e-4, abs=1e-5), k
    assert got["grads"].keys() == ref["grads"].keys() and len(ref["grads"]) > 2
    for k, gr in ref["grads"].items():
        # atol: gradients that are zero in exact arithmetic (a bias before batch norm) carry float noise
        assert torch.allclose(got["grads"][k], gr, rtol=1e-4, atol=1e-5 * max(1.0, gr.abs().max().item())), k
    for k, b in ref["buffers"].items():
        assert torch.allclose(got["buffers"][k], b, rtol=1e-4, atol=1e-6), k


@pytest.mark.parametrize("name", REAL_DDP)
def test_real_distributed_data_parallel_gradients(ddp_results, name):
    """Through DistributedDataParallel itself (its own gradient averaging), not a hand-written all-reduce."""
    loss, grads = ddp_results["extra"]["real_ddp"][name]
    ref_loss, ref_grads = _run_real_ddp(name)
    assert loss == pytest.approx(ref_loss, rel=1e-5)
    assert grads.keys() == ref_grads.keys()
    for k, g in ref_grads.items():
        assert torch.allclose(grads[k], g, rtol=1e-4, atol=1e-5 * max(1.0, g.abs().max().item())), k
