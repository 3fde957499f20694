"""Tests for formats/quants.py: Q8_0 and Q4_0 byte for byte against the gguf package's reference quantizers
(which mirror ggml-quants.c), on random tensors and on the inputs where rounding rules differ; NF4 exactly
lora.py's quantize_nf4 under our byte layout; round trips within each format's error bound."""

import sys
import time
from pathlib import Path

import numpy as np
import pytest
import torch

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))
from formats import quants  # noqa: E402
from lora import NF4_CODE, dequantize_nf4, quantize_nf4  # noqa: E402

gguf_quants = pytest.importorskip("gguf.quants")
from gguf import GGMLQuantizationType  # noqa: E402

GGML = {"q8_0": GGMLQuantizationType.Q8_0, "q4_0": GGMLQuantizationType.Q4_0}


def edge_blocks() -> np.ndarray:
    """(n, 32) float32 blocks on which a quantizer that rounds or picks its scale differently would differ."""
    rng = np.random.default_rng(1)
    rows = [np.zeros(32), np.full(32, -0.0), np.full(32, 3.0), np.full(32, -3.0),
            np.r_[5e5, rng.normal(size=31)],  # one huge value: all others round to 0
            np.r_[-5.0, rng.uniform(-4, 4, 31)],  # a negative maximum: Q4_0's d > 0
            np.r_[4.0, -4.0, rng.uniform(-1, 1, 30)],  # equal magnitudes: Q4_0 takes the first
            np.r_[-4.0, 4.0, rng.uniform(-1, 1, 30)],
            np.r_[127.0, np.arange(-15, 16) + 0.5],  # Q8_0: d = 1, every other value a tie at .5
            np.r_[-8.0, np.arange(-7.5, 8.0, 0.5)],  # Q4_0: d = 1, w / d + 8.5 lands on whole numbers
            np.r_[1.0, np.full(31, 0.5 / 127)],  # ties after the scale's own rounding
            np.full(32, 1e-40), np.r_[1e-38, np.zeros(31)], np.r_[3e-37, np.full(31, 1e-38)],  # subnormal
            np.r_[1e-45, -1e-45, np.zeros(30)],  # the smallest subnormals: 1 / d overflows
            np.r_[-65504.0 * 8, rng.normal(size=31)],  # Q4_0's largest fp16 scale
            rng.normal(size=32) * 1e-6, rng.normal(size=32) * 1e4]
    rows += list(np.round(rng.normal(size=(40, 32)) * 8) / 2)  # many exact halves: ties everywhere
    return np.asarray(rows, dtype=np.float32)


@pytest.mark.parametrize("qtype", ["q8_0", "q4_0"])
@pytest.mark.parametrize("case", ["random", "edges", "3d"])
def test_bit_identical_to_gguf_reference(qtype, case):
    rng = np.random.default_rng(0)
    x = {"random": lambda: rng.standard_normal((67, 96)).astype(np.float32) * rng.uniform(0.01, 3, (67, 1)),
         "edges": edge_blocks,
         "3d": lambda: rng.standard_normal((3, 5, 64)).astype(np.float32)}[case]()
    with np.errstate(all="ignore"):  # gguf's own arithmetic warns on the subnormal rows
        expected = gguf_quants.quantize(x, GGML[qtype])
    ours = quants.quantize(x, qtype)
    assert ours == expected.tobytes()
    assert len(ours) == quants.nbytes(x.shape, qtype)
    with np.errstate(all="ignore"):
        np.testing.assert_array_equal(quants.dequantize(ours, qtype, x.shape), gguf_quants.dequantize(expected, GGML[qtype]))


def test_block_layouts_are_ggml_s():
    """Decoded by hand from the layout ggml-common.h documents, not by our own dequantizer."""
    x = np.r_[-8.0, np.arange(-7.0, 8.0), np.zeros(16)].astype(np.float32)  # Q4_0: d = 1, q = w + 8
    data = quants.quantize(x[None], "q4_0")
    assert np.frombuffer(data[:2], "<f2")[0] == 1.0
    q = np.frombuffer(data[2:], np.uint8)
    assert list(q & 15) == list(range(16)) and list(q >> 4) == [8] * 16  # element j low nibble, j + 16 high
    y = np.r_[127.0, -127.0, 63.5, np.zeros(29)].astype(np.float32)  # Q8_0: d = 1
    data = quants.quantize(y[None], "q8_0")
    assert np.frombuffer(data[:2], "<f2")[0] == 1.0
    assert list(np.frombuffer(data[2:5], np.int8)) == [127, -127, 64]  # 63.5 rounds away from zero


@pytest.mark.parametrize("qtype,bound", [("q8_0", 0.5 / 127), ("q4_0", 1 / 8)])
def test_round_trip_error_is_within_half_a_step(qtype, bound):
    rng = np.random.default_rng(2)
    x = rng.standard_normal((64, 128)).astype(np.float32)
    y = quants.dequantize(quants.quantize(x, qtype), qtype, x.shape)
    absmax = np.abs(x.reshape(-1, 32)).max(axis=1, keepdims=True)
    err = np.abs(y - x).reshape(-1, 32) / absmax
    # half a step of d (absmax/127 or absmax/8), plus what rounding d to fp16 (relative error 2^-11) moves
    # the largest code (127 or 8 steps of d, so about absmax * 2^-11)
    assert err.max() <= bound + 2 ** -11
    assert err.max() > bound * 0.5  # and not trivially exact


@pytest.mark.parametrize("shape,blocksize", [((48, 96), 64), ((7, 288), 64), ((33,), 64), ((5, 100), 128)])
def test_nf4_is_lora_s_quantizer(shape, blocksize):
    """Codes and absmax exactly lora.quantize_nf4's (blocks over the flattened tensor, crossing rows), in
    the documented layout: packed codes, then float32 absmax."""
    x = torch.randn(shape)
    packed, absmax = quantize_nf4(x, blocksize)
    data = quants.quantize(x.numpy(), "nf4", nf4_blocksize=blocksize)
    n_codes = packed.numel()
    assert data[:n_codes] == packed.numpy().tobytes()
    assert np.array_equal(np.frombuffer(data[n_codes:], "<f4"), absmax.numpy())
    assert len(data) == quants.nbytes(shape, "nf4", blocksize)
    y = quants.dequantize(data, "nf4", shape, nf4_blocksize=blocksize)
    assert torch.equal(torch.from_numpy(y), dequantize_nf4(packed, absmax, shape, blocksize))
    # every decoded value is a code value times its block's absmax
    scaled = torch.from_numpy(y).reshape(-1) / absmax.repeat_interleave(blocksize)[:x.numel()]
    assert (scaled[:, None] - NF4_CODE).abs().min(dim=1).values.max() < 1e-6


def test_refusals():
    with pytest.raises(ValueError, match="multiple of 32"):
        quants.quantize(np.zeros((4, 48), np.float32), "q8_0")
    with pytest.raises(ValueError, match="unknown quantization type"):
        quants.quantize(np.zeros((4, 32), np.float32), "q5_1")
    with pytest.raises(ValueError, match="NaN or inf"):
        quants.quantize(np.r_[np.nan, np.zeros(31)].astype(np.float32), "q4_0")
    with pytest.raises(ValueError, match="NaN or inf"):
        quants.quantize(np.r_[np.inf, np.zeros(63)].astype(np.float32), "nf4")
    with pytest.raises(ValueError, match="overflows fp16"):  # gguf would write an inf scale
        quants.quantize(np.r_[1e6 * 127, np.zeros(31)].astype(np.float32), "q8_0")
    with pytest.raises(ValueError, match="takes 68 bytes"):
        quants.dequantize(bytes(67), "q8_0", (2, 32))


def test_quantizing_a_large_matrix_is_fast():
    """The 110M model's classifier, (32000, 768), in well under the time gguf's grouped rows take; a
    per-block Python loop would take minutes."""
    x = np.random.default_rng(3).standard_normal((32000, 768)).astype(np.float32)
    for qtype in ("q8_0", "q4_0", "nf4"):
        start = time.perf_counter()
        quants.quantize(x, qtype)
        assert time.perf_counter() - start < 10, qtype
