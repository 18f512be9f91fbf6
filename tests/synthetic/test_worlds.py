"""Worlds: orbits are exact, disjoint and of the group's order; coarsening preserves labels; exports load."""

import json
import math

import numpy as np
import pytest

from idealssl.errors import InputError
from idealssl.synthetic.worlds import World, digits_world, export, group_generators, vector_world


@pytest.mark.parametrize(
    "groups,D,order",
    [
        (("shift",), 5, 5),
        (("signflip:3",), 4, 8),
        (("perm:3",), 4, 6),
        (("perm:4",), 4, 24),
        (("rotation:6",), 3, 6),
        (("signflip:2", "rotation:4"), 4, 8),  # dihedral group of order 8 in the (0, 1) plane
        (("shift", "signflip:1"), 3, 24),  # shifts and one flip generate all sign patterns: 3 * 2^3
    ],
)
def test_orbit_sizes_are_group_orders(groups, D, order):
    w = vector_world(n_orbits=5, dim=D, groups=groups, seed=1)
    assert w.C == 5
    assert np.all(np.bincount(w.orbits) == order)
    # every orbit is closed under the generators: applying a generator maps the orbit onto itself
    gens = [g for s in groups for g in group_generators(s, D)]
    for m in range(w.C):
        pts = w.X[w.members[m]].astype(float)
        for g in gens:
            img = pts @ g.T
            d = np.min(np.linalg.norm(img[:, None] - pts[None], axis=2), axis=1)
            assert d.max() < 1e-5


def test_orbits_are_the_group_images_of_unit_base_points():
    w = vector_world(n_orbits=4, dim=6, groups=("shift",), seed=3)
    for m in range(4):
        pts = w.X[w.members[m]]
        np.testing.assert_allclose(np.linalg.norm(pts, axis=1), 1.0, atol=1e-6)
        # cyclic shifts of one vector: same multiset of coordinates
        s = np.sort(pts, axis=1)
        np.testing.assert_allclose(s, np.repeat(s[:1], len(s), 0), atol=1e-6)


def test_nuisance_dimensions_multiply_orbits():
    w = vector_world(n_orbits=3, dim=4, groups=("shift",), nuisance_dim=2, n_nuisance=3, seed=0)
    assert w.X.shape == (3 * 4 * 3, 6)
    assert np.all(np.bincount(w.orbits) == 12)
    # the nuisance part takes the same 3 values in every orbit
    for m in range(3):
        vals = {tuple(np.round(v, 5)) for v in w.X[w.members[m], 4:]}
        assert len(vals) == 3


def test_sample_views_stay_in_orbit_and_cover_it():
    w = vector_world(n_orbits=4, dim=5, seed=0)
    rng = np.random.default_rng(0)
    anchors = np.repeat(np.arange(w.N), 50)
    v = w.sample_views(anchors, rng)
    assert np.all(w.orbits[v] == w.orbits[anchors])
    assert set(v[anchors == 0]) == set(w.members[w.orbits[0]])  # uniform over the orbit: every member drawn


def test_coarseness_family_is_nested_and_label_preserving():
    w = vector_world(n_orbits=16, dim=4, groups=("shift",), n_classes=4, seed=0)
    fam = w.coarseness_family()
    assert [f.C for f in fam] == [16, 8, 4]
    for fine, coarse in zip(fam, fam[1:]):
        # nested: each fine orbit lies inside one coarse orbit, and classes are preserved
        for m in range(fine.C):
            assert np.unique(coarse.orbits[fine.members[m]]).size == 1
        np.testing.assert_array_equal(coarse.point_classes, w.point_classes)
    with pytest.raises(InputError, match="different classes"):
        w.coarsen(np.zeros(16, dtype=int))


def test_digits_world_orbits_are_enumerated_exactly():
    w = digits_world(per_class=1, digits=(0, 1, 7), max_shift=1, flips=True, intensities=(0.5, 1.0), seed=0)
    assert w.C == 3 and w.input_shape == (1, 8, 8)
    assert sorted(w.classes.tolist()) == [0, 1, 7]
    # at most 9 shifts x 2 flips x 2 intensities distinct images per orbit; all distinct rows
    sizes = np.bincount(w.orbits)
    assert np.all(sizes <= 36) and np.all(sizes >= 18)
    assert np.unique(np.round(w.X, 6), axis=0).shape[0] == w.N
    assert w.X.min() >= 0 and w.X.max() <= 1.0


@pytest.mark.parametrize(
    "kwargs,msg",
    [
        (dict(n_orbits=1), "at least 2 orbits"),
        (dict(groups=("twist",)), "unknown group"),
        (dict(groups=("perm:x",)), "must be an integer"),
        (dict(groups=("perm:9",), dim=4), "2 <= k <= D"),
        (dict(groups=("perm:8",), dim=8, max_orbit=100), "max_orbit"),
        (dict(n_classes=0), "n_classes"),
    ],
)
def test_vector_world_bad_input(kwargs, msg):
    with pytest.raises(InputError, match=msg):
        vector_world(**kwargs)


def test_digits_world_bad_input():
    with pytest.raises(InputError, match="digits must be"):
        digits_world(digits=(3, 3))
    with pytest.raises(InputError, match="max_shift"):
        digits_world(max_shift=7)


def test_world_validation():
    with pytest.raises(InputError, match="every orbit non-empty"):
        World("w", np.zeros((3, 2)), [0, 2, 2], [0, 0, 0], (2,))


def test_export_round_trips_through_the_checker(tmp_path):
    import idealssl
    from idealssl.inputs.orbits import load_orbits

    w = vector_world(n_orbits=6, dim=5, seed=0)
    simplex = (np.eye(w.C) - 1.0 / w.C)[w.orbits]
    paths = export(w, tmp_path / "simplex", simplex)
    orb = load_orbits(paths["orbits"])
    np.testing.assert_array_equal(orb.labels, w.orbits)
    Z = np.load(paths["representation"], allow_pickle=False)
    assert Z.shape == (w.N, w.C)
    assert json.loads((tmp_path / "simplex" / "world.json").read_text())["world"]["C"] == w.C
    assert idealssl.check(Z, orb.labels, probe="linear").ideal
    # the raw inputs of a shift world are not invariant: not ideal
    raw = export(w, tmp_path / "raw")
    assert not idealssl.check(np.load(raw["representation"]), w.orbits, probe="linear").ideal
    with pytest.raises(InputError, match="shape"):
        export(w, tmp_path / "bad", simplex[:-1])


def test_export_and_idealssl_check_cli(tmp_path):
    from idealssl.cli import main

    w = vector_world(n_orbits=5, dim=4, seed=2)
    p = export(w, tmp_path, (np.eye(5) - 0.2)[w.orbits][:, :4])  # C-1 = 4 affine dims: the simplex
    assert main(["check", p["representation"], "--augs", p["orbits"]]) == 0
    p = export(w, tmp_path / "low", (np.eye(5) - 0.2)[w.orbits][:, :2])  # 2 < C-1
    assert main(["check", p["representation"], "--augs", p["orbits"]]) == 1
    assert math.isclose(w.orbit_mass.sum(), 1.0)
