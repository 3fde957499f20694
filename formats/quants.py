"""Block quantizers: Q8_0 and Q4_0 exactly as ggml stores them, and NF4 exactly as lora.py quantizes it.

The one home of these formats: our quantized model.bin (formats/model_bin.py, run.c) and GGUF files are
built from these bytes, so a tensor quantized here is the same bits in every file it goes into.

    data = quantize(w, "q4_0")                 # w: float32 array, last dim a multiple of 32; row-major bytes
    w2 = dequantize(data, "q4_0", w.shape)     # float32, same shape
    QTYPES["q4_0"]                             # (weights per block, bytes per block) = (32, 18)

Q8_0 (ggml's block_q8_0, ggml-common.h): 32 weights as one fp16 scale d = absmax / 127 followed by 32 int8
q = round(w / d), rounding half away from zero; w = d * q. 34 bytes, 8.5 bits per weight.

Q4_0 (ggml's block_q4_0): 32 weights as one fp16 scale d = m / -8, where m is the block's element of
largest magnitude with its sign (the first such if several), then 16 bytes of 4-bit q = min(15,
trunc(w / d + 8.5)); w = d * (q - 8). Byte j holds element j in its low nibble and element j + 16 in its
high nibble. 18 bytes, 4.5 bits per weight. Dividing by -8 puts m itself on q = 0 (d * -8 = m exactly),
so the extreme value is represented without error and the other side gets codes up to +7.

Both are bit for bit what the gguf package's reference quantizers (gguf.quants, which mirror
quantize_row_q8_0_ref / quantize_row_q4_0_ref in ggml-quants.c) produce; tests/test_quants.py checks that
on random tensors and the edge cases (zeros, ties at .5, one huge value, negative maxima, subnormals). The
arithmetic is the same float32 operations in the same order, over the whole array at once instead of in
groups of rows. One corner is pinned down explicitly: when a block's absmax is so small (below about
3.7e-37) that 1 / d overflows float32, gguf's arithmetic yields NaN codes that numpy casts to 0 on x86;
we write 0 directly. The fp16 scale of such a block is 0 anyway, so it decodes to zeros either way.

NF4 (QLoRA; lora.quantize_nf4, the only NF4 quantizer in the project): the flattened tensor in blocks of
`nf4_blocksize` (64 unless given) consecutive weights, each scaled by its block's absmax and replaced by the
nearest of 16 code values. Bytes: the ceil(n/2) packed codes exactly as lora.py packs them (element 2i in
the high nibble of byte i, element 2i+1 in the low nibble; an odd count padded with the code of 0.0), then
the ceil(n/blocksize) absmax values as little-endian float32. Blocks follow the flattened tensor, not its
rows: a row whose length is not a multiple of the block size shares a block with the next row, exactly
as in lora.Linear4bit, so a QLoRA base written here decodes to the very weights it was fine-tuned against.

Inputs must be finite: NaN or inf in a weight is refused (ValueError), since no block format can hold it;
so is a Q8_0/Q4_0 block whose scale overflows fp16 (|w| above 65504 * 127 or 65504 * 8), for which gguf
would write an infinite scale.
"""

import math

import numpy as np
import torch

from lora import dequantize_nf4, quantize_nf4

QK = 32  # weights per Q8_0 / Q4_0 block (ggml's QK8_0 = QK4_0 = 32)
NF4_BLOCKSIZE = 64  # lora.Linear4bit's default, and bitsandbytes'
# name -> (weights per block, bytes per block). NF4's blocks are over the flattened tensor (see above).
QTYPES = {"q8_0": (QK, 2 + QK), "q4_0": (QK, 2 + QK // 2), "nf4": (NF4_BLOCKSIZE, NF4_BLOCKSIZE // 2 + 4)}


def _check(qtype: str, shape) -> int:
    if qtype not in QTYPES:
        raise ValueError(f"unknown quantization type {qtype!r}; one of {', '.join(QTYPES)}")
    if qtype != "nf4" and (len(shape) == 0 or shape[-1] % QK):
        raise ValueError(f"{qtype}: last dimension must be a multiple of {QK}, got shape {tuple(shape)}")
    return math.prod(shape)


def nbytes(shape, qtype: str, nf4_blocksize: int = NF4_BLOCKSIZE) -> int:
    """Size in bytes of a tensor of this shape quantized to qtype."""
    n = _check(qtype, shape)
    if qtype == "nf4":
        return (n + 1) // 2 + 4 * -(-n // nf4_blocksize)
    return n // QK * QTYPES[qtype][1]


def _blocks(array: np.ndarray) -> np.ndarray:
    blocks = np.ascontiguousarray(array, dtype=np.float32).reshape(-1, QK)  # (n_blocks, 32)
    if not np.isfinite(blocks).all():
        raise ValueError("cannot quantize a tensor holding NaN or inf")
    return blocks


def _reciprocal(d: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """1 / d, with 0 where d == 0 (ggml: id = d ? 1/d : 0), and a mask of the blocks where it overflows."""
    with np.errstate(divide="ignore", over="ignore"):
        inv = np.where(d == 0, np.float32(0), np.float32(1) / d)
    overflow = np.isinf(inv)
    inv[overflow] = 0
    return inv, overflow


def _fp16_scales(d: np.ndarray, qtype: str) -> np.ndarray:
    """d (n_blocks, 1) float32 -> (n_blocks, 2) bytes of little-endian fp16, rounded to nearest even."""
    with np.errstate(over="ignore"):
        half = d.astype("<f2")
    if np.isinf(half).any():
        raise ValueError(f"{qtype}: a block's scale {float(d[np.isinf(half)][0]):g} overflows fp16; "
                         f"weights this large cannot be stored in {qtype}")
    return half.view(np.uint8)


def _quantize_q8_0(array: np.ndarray) -> np.ndarray:
    blocks = _blocks(array)
    d = np.abs(blocks).max(axis=1, keepdims=True) / np.float32(127)  # (n_blocks, 1) float32
    inv, overflow = _reciprocal(d)
    x = blocks * inv  # in [-127, 127] up to float32 rounding
    # round half away from zero, as C's roundf: |x| = whole + frac exactly in float32, and frac >= 0.5 iff
    # floor(2 * frac) == 1, which is how gguf writes it (np_roundf); adding 0.5 instead would misround
    # 0.49999997
    a = np.abs(x)
    whole = np.floor(a)
    q = np.copysign(whole + np.floor(2 * (a - whole)), x).astype(np.int8)
    q[overflow[:, 0]] = 0
    return np.concatenate([_fp16_scales(d, "q8_0"), q.view(np.uint8)], axis=1)  # (n_blocks, 34)


def _quantize_q4_0(array: np.ndarray) -> np.ndarray:
    blocks = _blocks(array)
    first_max = np.abs(blocks).argmax(axis=1)[:, None]  # argmax takes the first of equal magnitudes
    d = np.take_along_axis(blocks, first_max, axis=1) / np.float32(-8)  # (n_blocks, 1)
    inv, overflow = _reciprocal(d)
    q = np.trunc(blocks * inv + np.float32(8.5)).astype(np.uint8)  # in 0..16 for finite inputs
    np.minimum(q, 15, out=q)
    q[overflow[:, 0]] = 0
    packed = q[:, :QK // 2] | (q[:, QK // 2:] << 4)  # (n_blocks, 16): element j low, j + 16 high
    return np.concatenate([_fp16_scales(d, "q4_0"), packed], axis=1)  # (n_blocks, 18)


def _quantize_nf4(array: np.ndarray, blocksize: int) -> bytes:
    if not np.isfinite(array).all():
        raise ValueError("cannot quantize a tensor holding NaN or inf")
    packed, absmax = quantize_nf4(torch.from_numpy(np.ascontiguousarray(array, dtype=np.float32)), blocksize)
    return packed.numpy().tobytes() + absmax.numpy().astype("<f4").tobytes()


def quantize(array: np.ndarray, qtype: str, nf4_blocksize: int = NF4_BLOCKSIZE) -> bytes:
    """The bytes of `array` (float32, any shape; last dim a multiple of 32 for q8_0/q4_0) in qtype,
    blocks in row-major order."""
    array = np.asarray(array)
    _check(qtype, array.shape)
    if qtype == "nf4":
        return _quantize_nf4(array, nf4_blocksize)
    return (_quantize_q8_0 if qtype == "q8_0" else _quantize_q4_0)(array).tobytes()


def dequantize(data: bytes, qtype: str, shape: tuple[int, ...], nf4_blocksize: int = NF4_BLOCKSIZE) -> np.ndarray:
    """Inverse of quantize: float32 array of `shape`. ValueError if data is not exactly that tensor's size."""
    n = _check(qtype, shape)
    expected = nbytes(shape, qtype, nf4_blocksize)
    if len(data) != expected:
        raise ValueError(f"{qtype} tensor of shape {tuple(shape)} takes {expected} bytes, got {len(data)}")
    raw = np.frombuffer(data, dtype=np.uint8)
    if qtype == "nf4":
        n_codes = (n + 1) // 2
        packed = torch.from_numpy(raw[:n_codes].copy())
        absmax = torch.from_numpy(raw[n_codes:].copy().view("<f4").astype(np.float32))
        return dequantize_nf4(packed, absmax, shape, nf4_blocksize).numpy()
    blocks = raw.reshape(-1, QTYPES[qtype][1])
    d = blocks[:, :2].copy().view("<f2").astype(np.float32)  # (n_blocks, 1)
    if qtype == "q8_0":
        q = blocks[:, 2:].view(np.int8).astype(np.float32)  # (n_blocks, 32)
    else:
        nibbles = np.concatenate([blocks[:, 2:] & 0x0F, blocks[:, 2:] >> 4], axis=1)  # (n_blocks, 32)
        q = nibbles.astype(np.float32) - np.float32(8)
    return (d * q).reshape(shape)
