"""FAST decoding on known token sequences, X0 output parsing, pose integration, tiny X0 end to end."""

from __future__ import annotations

import numpy as np
import pytest
from roboos.brain.policies.fast import FastDecodeError, FastTokenizer, dct, idct
from roboos.brain.policies.x0.decoder import MinMaxStats, X0Config, X0Decoder
from roboos.brain.policies.x0.poses import euler_xyz_to_matrix, integrate_ee_deltas, matrix_to_euler_xyz
from tokenizers import Tokenizer, models


def _known_fast(min_token: int = -5) -> FastTokenizer:
    """A hand-made BPE vocabulary: ids 0..15 are single characters chr(0)..chr(15); id 16 is the merge
    chr(5)+chr(5) (two zero coefficients when min_token = -5)."""
    vocab = {chr(i): i for i in range(16)}
    vocab[chr(5) + chr(5)] = 16
    bpe = Tokenizer(models.BPE(vocab=vocab, merges=[(chr(5), chr(5))]))
    return FastTokenizer(bpe, scale=10.0, min_token=min_token, time_horizon=3, action_dim=2)


def test_fast_decode_known_sequence():
    tok = _known_fast()
    # coefficients (3 x 2, time-frequency major): [[15, -5], [0, 0], [0, 0]] → chars ord = coeff + 5
    ids = [20 - 0, 0, 16, 16]  # chr(20)? not in vocab → must fail first
    with pytest.raises(FastDecodeError, match="outside"):
        tok.decode(ids)
    ids = [10, 0, 16, 16]  # chr(10)->5, chr(0)->-5, "\x05\x05"->0,0 twice
    np.testing.assert_array_equal(tok.coefficients(ids), [5, -5, 0, 0, 0, 0])
    chunk = tok.decode(ids)
    expected = idct(np.array([[5, -5], [0, 0], [0, 0]], dtype=float) / 10.0)
    np.testing.assert_allclose(chunk, expected)
    # a DC-only coefficient decodes to a constant trajectory of value c / (scale * sqrt(T))
    np.testing.assert_allclose(chunk[:, 0], 0.5 / np.sqrt(3))
    assert tok.encode(chunk) == ids  # and encodes back to the same ids through the merge


def test_fast_decode_short_and_long_sequences():
    tok = _known_fast()
    short = tok.decode([10])  # missing high frequencies are zero
    assert short.shape == (3, 2)
    with pytest.raises(FastDecodeError, match="coefficients"):
        tok.decode([10], strict=True)
    long = tok.decode([10] * 9)  # extra coefficients are dropped
    assert long.shape == (3, 2)


def test_dct_is_orthonormal_and_matches_scipy():
    x = np.random.default_rng(0).normal(size=(30, 7))
    np.testing.assert_allclose(idct(dct(x)), x, atol=1e-12)
    fft = pytest.importorskip("scipy.fft")
    np.testing.assert_allclose(dct(x), fft.dct(x, axis=0, norm="ortho"), atol=1e-12)


def test_fast_train_roundtrip(tmp_path):
    rng = np.random.default_rng(1)
    chunks = [np.cumsum(rng.normal(0, 0.05, (30, 7)), axis=0) for _ in range(40)]
    tok = FastTokenizer.train(chunks, vocab_size=400)
    tok.save(tmp_path)
    again = FastTokenizer.from_dir(tmp_path)
    ids = again.encode(chunks[3])
    assert len(ids) < 30 * 7  # BPE compresses
    err = again.decode(ids, strict=True) - chunks[3]
    assert np.linalg.norm(err) <= 0.05 * np.sqrt(err.size) + 1e-9  # rounding in the orthonormal DCT domain


def test_pose_integration_matches_scipy():
    transform = pytest.importorskip("scipy.spatial.transform")
    rng = np.random.default_rng(2)
    start = np.concatenate([[0.3, -0.1, 0.2], [0.2, -0.4, 1.0], [0.8]] * 2)
    deltas = rng.normal(0, 0.05, (30, 14))
    poses = integrate_ee_deltas(start, deltas)
    assert poses.shape == (30, 14)
    for arm in (0, 7):
        rot = transform.Rotation.from_euler("xyz", start[arm + 3 : arm + 6])
        pos = start[arm : arm + 3].copy()
        for d in deltas:
            rot = transform.Rotation.from_rotvec(d[arm + 3 : arm + 6]) * rot
            pos += d[arm : arm + 3]
        np.testing.assert_allclose(poses[-1, arm : arm + 3], pos, atol=1e-12)
        np.testing.assert_allclose(
            euler_xyz_to_matrix(poses[-1, arm + 3 : arm + 6]), rot.as_matrix(), atol=1e-9
        )
        assert poses[-1, arm + 6] == deltas[-1, arm + 6]  # gripper is absolute
    e = np.array([0.3, -0.2, 2.5])
    np.testing.assert_allclose(matrix_to_euler_xyz(euler_xyz_to_matrix(e)), e, atol=1e-12)
    with pytest.raises(ValueError, match="7-D arms"):
        integrate_ee_deltas(np.zeros(6), np.zeros((3, 6)))


def test_x0_output_parsing():
    cfg = X0Config(
        embodiment="single_arm",
        boa_id=900,
        eoa_id=901,
        action_token_offset=1000,
        action_token_count=17,
        horizon=3,
    )
    fast = _known_fast()
    fast.action_dim = 7
    decoder = X0Decoder(cfg, fast, MinMaxStats(np.full(7, 2.0), np.zeros(7)))
    generated = [5, 6, 900, 1010, 1000, 42, 1016, 901, 7]
    subtask, ids, notes = decoder.split(generated)
    assert subtask == [5, 6] and ids == [10, 0, 16] and "ignored" in notes[0]
    out = decoder.decode(generated, np.zeros(7))
    assert out.poses.shape == (3, 7) and out.deltas.shape == (3, 7)
    np.testing.assert_allclose(out.deltas[:, 0], 0.5 / np.sqrt(3) / 2.0)  # de-normalised by scale 2
    _, ids, notes = decoder.split([1003, 1004])
    assert ids == [3, 4] and any("<boa>" in n for n in notes) and any("<eoa>" in n for n in notes)


def test_tiny_x0_end_to_end(tiny_x0_dir):
    from roboos.brain.policies.base import ObservationError
    from roboos.brain.policies.x0.policy import X0Policy

    policy = X0Policy.from_checkpoint(tiny_x0_dir)
    meta = policy.metadata()
    assert meta["action_horizon"] == 30 and meta["action_dim"] == 7
    rng = np.random.default_rng(0)
    obs = {
        "images": {c: rng.integers(0, 255, (60, 80, 3), dtype=np.uint8) for c in meta["cameras"]},
        "state": np.array([0.3, 0.0, 0.2, 0.0, 0.1, 0.0, 1.0], np.float32),
        "prompt": "Put the cup on the plate",
    }
    out = policy.infer(obs)
    assert out["actions"].shape == (30, 7) and out["actions"].dtype == np.float32
    assert np.all(np.isfinite(out["actions"])) and isinstance(out["subtask"], str)
    assert 0 < out["num_action_tokens"] <= 16  # the grammar forced <boa>, actions, <eoa>
    np.testing.assert_allclose(
        out["actions"][0, :3], obs["state"][:3] + out["delta_actions"][0, :3], atol=1e-5
    )
    with pytest.raises(ObservationError, match="missing camera"):
        policy.prepare(
            {"images": {"cam_high": obs["images"]["cam_high"]}, "state": obs["state"], "prompt": "x"}
        )
    with pytest.raises(ObservationError, match="end-effector pose"):
        policy.prepare(dict(obs, state=np.zeros(3, np.float32)))
