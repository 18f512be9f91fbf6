"""The streaming pass gives the same statistics from an array, a .npy (C or Fortran order, any
endianness, 1 or 2 threads, many chunks) and a .npz member (compressed or not)."""

import numpy as np
import pytest

import idealssl
import idealssl.inputs.representation as representation
from idealssl.checker.stats import orbit_stats
from idealssl.inputs.orbits import orbits_from_labels
from idealssl.inputs.representation import from_array, load_representation


@pytest.fixture
def small_chunks(monkeypatch):
    monkeypatch.setattr(representation, "CHUNK_BYTES", 8 * 7 * 5)  # 5 rows of 7 dims


def _problem(seed=0, n=103, d=7, C=9):
    rng = np.random.default_rng(seed)
    labels = rng.integers(0, C, n)
    labels[:C] = np.arange(C)
    Z = rng.standard_normal((n, d))
    return Z, labels


def _same(a, b):
    for f in ("codes", "max_dev", "mean_sq_dev", "sizes", "mass", "first"):
        np.testing.assert_allclose(getattr(a, f), getattr(b, f), rtol=1e-6, atol=1e-6)
    # the argmax point attains the max deviation
    return True


def test_all_sources_agree(tmp_path, small_chunks):
    Z, labels = _problem()
    orb = orbits_from_labels(labels)
    ref = orbit_stats(from_array(Z), orb)
    np.save(tmp_path / "c.npy", Z)
    np.save(tmp_path / "f.npy", np.asfortranarray(Z))
    np.save(tmp_path / "be.npy", Z.astype(">f8"))
    np.save(tmp_path / "f32.npy", Z.astype(np.float32))
    np.savez(tmp_path / "u.npz", z=Z)
    np.savez_compressed(tmp_path / "c.npz", z=Z, other=Z[:3])
    for path in ("c.npy", "f.npy", "be.npy", "u.npz", "c.npz:z"):
        for threads in (1, 2):
            st = orbit_stats(
                load_representation(tmp_path / path if ":" not in path else f"{tmp_path}/{path}"), orb, threads=threads
            )
            _same(ref, st)
    st = orbit_stats(load_representation(tmp_path / "f32.npy"), orb, threads=2)
    np.testing.assert_allclose(st.max_dev, ref.max_dev, rtol=1e-5)
    # brute force, independently
    for m in range(orb.n_orbits):
        pts = Z[labels == m]
        dev = np.linalg.norm(pts - pts[0], axis=1)
        assert ref.max_dev[m] == pytest.approx(dev.max())
        assert np.linalg.norm(Z[ref.argmax_dev[m]] - pts[0]) == pytest.approx(dev.max())


def test_nan_found_in_any_chunk(tmp_path, small_chunks):
    Z, labels = _problem()
    Z[77, 3] = np.nan
    np.save(tmp_path / "z.npy", Z.astype(np.float32))
    with pytest.raises(idealssl.errors.InputError, match="row 77, column 3"):
        idealssl.check(str(tmp_path / "z.npy"), labels)


def test_float32_overflow_is_not_mistaken_for_inf(tmp_path):
    Z = np.array([[3e38, 0.0], [-3e38, 0.0], [0.0, 1.0]], dtype=np.float32)
    np.save(tmp_path / "z.npy", Z)
    r = idealssl.check(str(tmp_path / "z.npy"), [0, 0, 1])
    assert not r.ideal and r.conditions["invariance"].value > 0
