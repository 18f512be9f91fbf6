"""Projection heads shared by the objectives (each objective builds its own from ``dim``).

Every batch-norm layer here is :class:`idealssl.objectives.distributed.BatchNorm1d`, whose training
statistics are those of the gathered batch when ``gather=True`` and ``torch.distributed`` is
initialised, so that heads with batch norm are exact under data parallelism as well.

Two families matter for the theory (Dubois et al. 2022, Sec. 5-6: "one [head] should be as large as
possible while the other should have the architecture of downstream probes"):

* :class:`LinearHead`, an affine map (optionally low-rank through a bottleneck with batch norm,
  which is still affine): the head in the *linear probe* family;
* :class:`MLP`, a multi-layer perceptron: the expressive head, or the head in the *MLP probe* family.
"""

from __future__ import annotations

from torch import nn

from .distributed import BatchNorm1d

__all__ = ["MLP", "LinearHead", "probe_head", "HEAD_KINDS"]

HEAD_KINDS = ("linear", "mlp")

_ACTS = {"relu": nn.ReLU, "gelu": nn.GELU}


def _check_pos(**kw) -> None:
    for k, v in kw.items():
        if v is not None and int(v) < 1:
            raise ValueError(f"{k} must be >= 1, got {v}")


class MLP(nn.Sequential):
    """``in -> [Linear -> BN -> act] x n_hidden -> (Linear -> BN ->)? Linear -> out (-> BN)?``.

    Parameters
    ----------
    in_dim, out_dim : int
        Input and output widths.
    hidden_dim : int
        Width of the hidden layers.
    n_hidden : int
        Number of hidden (non-linear) layers, >= 1.
    norm : bool
        Batch norm after each hidden linear layer (hidden linear layers then have no bias).
    activation : {"relu", "gelu"}
    bottleneck : int or None
        If given, the last layer is low rank: ``Linear(hidden, bottleneck, bias=False) -> BN ->
        Linear(bottleneck, out)`` (the original ISSL heads use 512).
    out_norm : bool
        Batch norm on the output (CISSL/SimCLR heads of the original code).
    out_bias : bool
        Bias of the last linear layer.
    gather : bool
        Gathered batch-norm statistics under ``torch.distributed``.
    """

    def __init__(
        self,
        in_dim: int,
        out_dim: int,
        hidden_dim: int = 2048,
        n_hidden: int = 1,
        norm: bool = True,
        activation: str = "relu",
        bottleneck: int | None = None,
        out_norm: bool = False,
        out_bias: bool = True,
        gather: bool = True,
    ):
        _check_pos(in_dim=in_dim, out_dim=out_dim, hidden_dim=hidden_dim, n_hidden=n_hidden, bottleneck=bottleneck)
        if activation not in _ACTS:
            raise ValueError(f"activation must be one of {sorted(_ACTS)}, got {activation!r}")
        layers: list[nn.Module] = []
        d = in_dim
        for _ in range(n_hidden):
            layers.append(nn.Linear(d, hidden_dim, bias=not norm))
            if norm:
                layers.append(BatchNorm1d(hidden_dim, gather=gather))
            layers.append(_ACTS[activation]())
            d = hidden_dim
        if bottleneck is not None:
            layers += [nn.Linear(d, bottleneck, bias=False), BatchNorm1d(bottleneck, gather=gather)]
            d = bottleneck
        layers.append(nn.Linear(d, out_dim, bias=out_bias and not out_norm))
        if out_norm:
            layers.append(BatchNorm1d(out_dim, gather=gather))
        super().__init__(*layers)


class LinearHead(nn.Sequential):
    """Affine head (the linear-probe family): ``Linear`` or low-rank ``Linear -> BN -> Linear``.

    Batch norm is an affine map at inference, so the whole head stays in the probe family
    (this is how the original ISSL code implements its "linear" students).

    Parameters
    ----------
    in_dim, out_dim : int
    bottleneck : int or None
        Rank of the map (``Linear(in, bottleneck, bias=False) -> BN -> Linear(bottleneck, out)``).
    out_norm : bool
        Batch norm on the output (CISSL's student).
    gather : bool
        Gathered batch-norm statistics under ``torch.distributed``.
    """

    def __init__(
        self, in_dim: int, out_dim: int, bottleneck: int | None = None, out_norm: bool = False, gather: bool = True
    ):
        _check_pos(in_dim=in_dim, out_dim=out_dim, bottleneck=bottleneck)
        layers: list[nn.Module] = []
        d = in_dim
        if bottleneck is not None:
            layers += [nn.Linear(d, bottleneck, bias=False), BatchNorm1d(bottleneck, gather=gather)]
            d = bottleneck
        layers.append(nn.Linear(d, out_dim, bias=not out_norm))
        if out_norm:
            layers.append(BatchNorm1d(out_dim, gather=gather))
        super().__init__(*layers)


def probe_head(
    probe: str,
    in_dim: int,
    out_dim: int,
    *,
    bottleneck: int | None = None,
    mlp_hidden_dim: int = 2048,
    mlp_n_hidden: int = 2,
    out_norm: bool = False,
    gather: bool = True,
) -> nn.Module:
    """Head in the downstream probe family: ``"linear"`` -> :class:`LinearHead`, ``"mlp"`` -> :class:`MLP`.

    The MLP version mirrors the MLP probe of the ISSL paper's Fig. 7c (2 hidden layers of 2048).
    """
    if probe == "linear":
        return LinearHead(in_dim, out_dim, bottleneck=bottleneck, out_norm=out_norm, gather=gather)
    if probe == "mlp":
        return MLP(
            in_dim,
            out_dim,
            hidden_dim=mlp_hidden_dim,
            n_hidden=mlp_n_hidden,
            bottleneck=bottleneck,
            out_norm=out_norm,
            gather=gather,
        )
    raise ValueError(f"probe must be one of {HEAD_KINDS}, got {probe!r}")
