"""LoRA, NF4 and QLoRA: our layers against their definitions, and NF4 against bitsandbytes bit for bit."""

import math
import os
import subprocess
import sys
from pathlib import Path

import pytest
import torch
from torch import nn

from errors import CheckpointError
from formats.adapter import base_identity, load as load_adapter, save as save_adapter
from lora import (DYNAMIC_MAP, LORA_TARGETS, NF4_CODE, Linear4bit, LoRALinear, _scale_blocks, apply_lora,
                  dequantize_absmax, dequantize_nf4, double_quantize, enable_grad_checkpointing,
                  lora_parameters, merged_model, quantize_nf4)
from model import ModelArgs, Transformer

ROOT = Path(__file__).resolve().parents[1]

try:
    import bitsandbytes as bnb
    import bitsandbytes.functional as bnbf
    BNB_MISSING = None
except Exception as e:  # ImportError, or a broken native library
    bnb = bnbf = None
    BNB_MISSING = f"bitsandbytes (the NF4 reference) cannot be imported: {type(e).__name__}: {e}"
needs_bnb = pytest.mark.skipif(BNB_MISSING is not None, reason=BNB_MISSING or "")


def tiny_model(seed=0, **kw) -> Transformer:
    torch.manual_seed(seed)
    args = dict(dim=32, n_layers=2, n_heads=4, n_kv_heads=2, vocab_size=64, max_seq_len=16, multiple_of=16)
    return Transformer(ModelArgs(**{**args, **kw}))


# ----------------------------------------------------------------------------------------------------------
# LoRA

def test_lora_with_zero_B_equals_base_and_merge_equals_unmerged():
    torch.manual_seed(0)
    base = nn.Linear(24, 40)
    x = torch.randn(3, 7, 24)
    layer = LoRALinear(base, r=4, alpha=8)
    assert torch.equal(layer(x), base(x))  # B = 0 at init: exactly the pretrained layer
    assert layer.scaling == 2.0 and LoRALinear(nn.Linear(24, 40), 4, 8, rslora=True).scaling == 4.0
    with torch.no_grad():
        layer.lora_B.normal_()
    unmerged = layer(x)
    expected = base(x) + 2.0 * x @ layer.lora_A.T @ layer.lora_B.T
    torch.testing.assert_close(unmerged, expected, rtol=0, atol=1e-5)
    w0 = base.weight.clone()
    layer.merge()
    torch.testing.assert_close(layer(x), unmerged, rtol=0, atol=1e-5)
    layer.unmerge()
    torch.testing.assert_close(base.weight, w0, rtol=0, atol=1e-6)


def test_apply_lora_freezes_all_but_adapters_and_only_they_change():
    model = tiny_model()
    before = {k: v.clone() for k, v in model.state_dict().items()}
    names = apply_lora(model, ("wq", "wv", "w2"), r=2, alpha=4, dropout=0.1)
    assert names == [f"layers.{i}.{m}" for i in range(2) for m in ("attention.wq", "attention.wv", "feed_forward.w2")]
    trainable = {n for n, p in model.named_parameters() if p.requires_grad}
    assert trainable == set(lora_parameters(model)) and len(trainable) == 12
    opt = torch.optim.AdamW([p for p in model.parameters() if p.requires_grad], lr=1e-2)
    tokens = torch.randint(0, 64, (2, 16))
    for _ in range(3):
        _, loss = model(tokens[:, :-1], tokens[:, 1:])
        loss.backward()
        assert all(p.grad is None for n, p in model.named_parameters() if n not in trainable)
        opt.step()
        opt.zero_grad()
    after = model.state_dict()
    for k, v in before.items():  # frozen weights, now under ".base."
        name = k.replace(".weight", ".base.weight") if any(k.endswith(f"{t}.weight") for t in ("wq", "wv", "w2")) else k
        assert torch.equal(after[name], v), name
    assert all(p.abs().sum() > 0 for n, p in lora_parameters(model).items() if n.endswith("lora_B"))


@pytest.mark.parametrize("tied", [True, False])
def test_embedding_adapter_reads_and_scores_tokens_and_merges_exactly(tied):
    from lora import LoRAEmbedding, merged_model
    model = tiny_model(tie_embeddings=tied)
    tokens = torch.randint(0, 64, (2, 16))
    with torch.no_grad():
        before = model(tokens)[0]
    targets = "wq,tok_embeddings" if tied else "wq,tok_embeddings,output"
    apply_lora(model, targets, r=4, alpha=8)
    with torch.no_grad():
        assert torch.equal(model(tokens)[0], before)  # B = 0: the base exactly
    _, loss = model(tokens[:, :-1], tokens[:, 1:])
    loss.backward()
    embedding = model.tok_embeddings
    assert isinstance(embedding, LoRAEmbedding) and embedding.lora_B.grad.abs().sum() > 0
    assert set(lora_parameters(model)) == {n for n, p in model.named_parameters() if p.requires_grad}

    with torch.no_grad():
        for p in lora_parameters(model).values():
            p.normal_(std=0.1)
        E = embedding.base.weight.clone()
        want_E = E + 2.0 * (embedding.lora_B @ embedding.lora_A).T  # scaling = alpha / r = 2
        h = torch.randn(3, 32)
        torch.testing.assert_close(embedding(tokens), want_E[tokens], rtol=0, atol=1e-5)
        if tied:  # the classifier scores with the adapted embedding
            torch.testing.assert_close(model.output(h), h @ want_E.T, rtol=0, atol=1e-5)
        plain = merged_model(model)
        torch.testing.assert_close(plain.tok_embeddings.weight, want_E, rtol=0, atol=1e-6)
        assert (plain.output.weight is plain.tok_embeddings.weight) == tied
        torch.testing.assert_close(plain(tokens)[0], model(tokens)[0], rtol=0, atol=1e-5)


def test_lora_plus_gives_b_matrices_a_larger_learning_rate():
    from train import TrainConfig, make_optimizer
    model = tiny_model()
    apply_lora(model, "wq,w2", r=2, alpha=4)
    optimizer = make_optimizer(model, TrainConfig(lora_plus_ratio=16.0), "cpu")
    scale = {id(p): g["lr_scale"] for g in optimizer.param_groups for p in g["params"]}
    adapters = lora_parameters(model)
    assert len(scale) == len(adapters) == 8  # every adapter tensor is trained, nothing else
    for name, p in adapters.items():
        assert scale[id(p)] == (16.0 if name.endswith("lora_B") else 1.0), name


def test_bad_targets_are_refused():
    with pytest.raises(ValueError, match="LoRA targets"):
        apply_lora(tiny_model(), "wq,attn")
    with pytest.raises(ValueError, match="untie"):
        apply_lora(tiny_model(), "wq,output")


def test_adapter_round_trip_is_exact_and_refuses_another_base(tmp_path):
    base = tiny_model()
    identity = base_identity(base.state_dict())
    model = tiny_model()
    apply_lora(model, "wk,w1", r=3, alpha=5, quantize="nf4", double_quant=True)
    with torch.no_grad():
        for p in lora_parameters(model).values():
            p.normal_()
    save_adapter(tmp_path / "adapter.pt", model, identity)
    # the file holds the adapter only
    saved = torch.load(tmp_path / "adapter.pt", weights_only=True)
    assert set(saved["adapter"]) == set(lora_parameters(model))
    assert saved["config"]["r"] == 3 and saved["config"]["targets"] == ["wk", "w1"]

    fresh = tiny_model()
    load_adapter(fresh, tmp_path / "adapter.pt")
    for name, p in lora_parameters(model).items():
        assert torch.equal(lora_parameters(fresh)[name], p)
    tokens = torch.randint(0, 64, (1, 16))
    assert torch.equal(fresh(tokens)[0], model(tokens)[0])

    other = tiny_model(seed=1)
    with pytest.raises(CheckpointError, match="different base"):
        load_adapter(other, tmp_path / "adapter.pt")


def test_merged_model_equals_adapted_model():
    for quantize in ("none", "nf4"):
        model = tiny_model()
        apply_lora(model, LORA_TARGETS, r=4, alpha=8, quantize=quantize)
        with torch.no_grad():
            for n, p in lora_parameters(model).items():
                p.normal_(std=0.1)
        plain = merged_model(model)
        assert set(plain.state_dict()) == set(tiny_model().state_dict())
        tokens = torch.randint(0, 64, (2, 16))
        torch.testing.assert_close(plain(tokens)[0], model(tokens)[0], rtol=0, atol=1e-4)


def test_grad_checkpointing_gives_the_same_gradients():
    grads = []
    for checkpointed in (False, True):
        model = tiny_model()
        apply_lora(model, LORA_TARGETS, r=2, alpha=4)
        with torch.no_grad():
            for p in lora_parameters(model).values():
                p.normal_(std=0.1)
        if checkpointed:
            enable_grad_checkpointing(model)
        tokens = torch.arange(16).view(1, 16) % 64
        model(tokens[:, :-1], tokens[:, 1:])[1].backward()
        grads.append([p.grad for p in lora_parameters(model).values()])
    for a, b in zip(*grads):
        torch.testing.assert_close(a, b)


# ----------------------------------------------------------------------------------------------------------
# NF4 by its definition

def test_nf4_code_and_midpoint_rule():
    assert NF4_CODE.dtype == torch.float32 and NF4_CODE[7] == 0 and NF4_CODE[0] == -1 and NF4_CODE[15] == 1
    mids = (NF4_CODE[:-1] + NF4_CODE[1:]) / 2
    # one block whose absmax is 1: each value is scaled by exactly 1, so midpoints stay midpoints
    w = torch.cat([torch.tensor([1.0]), mids, NF4_CODE, torch.zeros(1)])  # 1 + 15 + 16 + 1 = 33 (odd) values
    packed, absmax = quantize_nf4(w, 32)
    codes = torch.stack([packed >> 4, packed & 0xF], 1).reshape(-1)
    # the last, partial block holds one 0: its absmax is stored clamped to 1e-38, as bitsandbytes stores it
    assert torch.equal(absmax, torch.tensor([1.0, 1e-38]))
    assert codes[1:16].tolist() == list(range(15))  # on a midpoint: the lower code
    assert codes[16:32].tolist() == list(range(16))
    assert codes[32:].tolist() == [7, 7]  # the last value (0) and the padding are the code for 0.0
    assert torch.equal(dequantize_nf4(packed, absmax, w.shape, 32)[16:32], NF4_CODE)
    with pytest.raises(ValueError, match="power of two"):
        quantize_nf4(w, 48)


def test_double_quant_storage_is_about_4_127_bits():
    layer = Linear4bit(nn.Linear(1024, 1024, bias=False), 64, double_quant=True)
    assert layer.storage_bytes() * 8 / 1024 ** 2 == pytest.approx(4.127, abs=0.001)
    plain = Linear4bit(nn.Linear(1024, 1024, bias=False), 64)
    assert plain.storage_bytes() * 8 / 1024 ** 2 == 4.5


# ----------------------------------------------------------------------------------------------------------
# NF4 against bitsandbytes

def midpoint_heavy(n: int, dtype, seed: int) -> torch.Tensor:
    """Random values, with a quarter of them placed exactly on NF4 midpoints of their block's scale."""
    g = torch.Generator().manual_seed(seed)
    w = (torch.randn(n, generator=g) / 3).clamp(-0.999, 0.999)
    mids = (NF4_CODE[:-1] + NF4_CODE[1:]) / 2
    pick = torch.rand(n, generator=g) < 0.25
    w[pick] = mids[torch.randint(0, 15, (int(pick.sum()),), generator=g)]
    w[::32] = 1.0  # absmax exactly 1 in every block, so float32 midpoints stay midpoints after scaling
    return w.to(dtype)


def bnb_reference_dequantize(packed, absmax, shape, blocksize, dtype):
    """bitsandbytes' own pure-PyTorch NF4 dequantization (its "default" backend), or None if it moved."""
    try:
        from bitsandbytes.backends.default.ops import _dequantize_4bit_compute
        from bitsandbytes.backends.utils import _get_4bit_code
    except ImportError:
        return None
    compute = getattr(_dequantize_4bit_compute, "__wrapped__", _dequantize_4bit_compute)  # skip torch.compile
    return compute(packed.reshape(-1), absmax, _get_4bit_code("nf4", packed.device), blocksize, shape, dtype)


@needs_bnb
@pytest.mark.parametrize("dtype", [torch.float32, torch.bfloat16, torch.float16])
@pytest.mark.parametrize("blocksize", [64, 128])
@pytest.mark.parametrize("shape", [(16, 256), (96, 64), (4097,), (33, 7)])
def test_nf4_matches_bitsandbytes(dtype, blocksize, shape):
    w = midpoint_heavy(math.prod(shape), dtype, seed=blocksize + len(shape)).reshape(shape)
    ref_packed, state = bnbf.quantize_4bit(w, blocksize=blocksize, quant_type="nf4")
    packed, absmax = quantize_nf4(w, blocksize)
    assert torch.equal(packed, ref_packed.reshape(-1))
    assert torch.equal(absmax, state.absmax)
    if dtype == torch.float32:  # the data really does hold values on midpoints (bf16/fp16 round them off)
        assert torch.isin(w, (NF4_CODE[:-1] + NF4_CODE[1:]) / 2).sum() > 0.2 * w.numel()
    ours = dequantize_nf4(packed, absmax, shape, blocksize, dtype)
    assert ours.dtype == dtype
    reference = bnb_reference_dequantize(ref_packed, state.absmax, shape, blocksize, dtype)
    assert reference is None or torch.equal(ours, reference.reshape(shape))
    # bitsandbytes 0.50.2's CPU C kernel, used for 2-D tensors with an even row length, indexes the absmax
    # by row when a row is not a whole number of blocks (e.g. dim 288 with blocks of 64) and returns wrong
    # values there; it agrees with its own reference (and with us) when rows are whole blocks.
    if len(shape) == 1 or shape[-1] % 2 or shape[-1] % blocksize == 0:
        ref = bnbf.dequantize_4bit(ref_packed, state)  # bitsandbytes returns (1, n) for a 1-D tensor
        assert ref.dtype == dtype and torch.equal(ours, ref.reshape(shape))


@needs_bnb
def test_double_quant_matches_bitsandbytes():
    """Mean and second-level scales are identical. bitsandbytes' CPU kernel (a C search over the 8-bit map)
    picks a neighbouring code for a few absmax values (~0.2%); ours is always the nearest code, as its
    CUDA and pure-PyTorch kernels compute. We assert exactly that: every difference is one code step, in
    bitsandbytes' disfavour, and with bitsandbytes' codes our dequantization is identical."""
    assert torch.equal(DYNAMIC_MAP, bnbf.create_dynamic_map())
    g = torch.Generator().manual_seed(0)
    w = torch.randn(64 * 3000, generator=g) * torch.rand(64 * 3000, generator=g)
    ref_packed, state = bnbf.quantize_4bit(w, blocksize=64, quant_type="nf4", compress_statistics=True)
    packed, absmax = quantize_nf4(w, 64)
    codes, scales, offset = double_quantize(absmax)
    assert torch.equal(offset, state.offset) and torch.equal(scales, state.state2.absmax)
    differ = codes != state.absmax
    assert differ.float().mean() < 0.01
    assert ((codes.int() - state.absmax.int()).abs() <= 1).all()
    scaled, _ = _scale_blocks(absmax - offset, 256)
    ours_err = (scaled - DYNAMIC_MAP[codes.long()]).abs()
    ref_err = (scaled - DYNAMIC_MAP[state.absmax.long()]).abs()
    assert (ours_err <= ref_err).all() and (ours_err[differ] < ref_err[differ]).all()
    ref = bnbf.dequantize_4bit(ref_packed, state).reshape(-1)
    assert torch.equal(dequantize_nf4(packed, dequantize_absmax(state.absmax, scales, offset), w.shape, 64), ref)


@needs_bnb
@pytest.mark.parametrize("dtype", [torch.float32, torch.bfloat16])
@pytest.mark.parametrize("double_quant", [False, True])
def test_linear4bit_matches_bitsandbytes(dtype, double_quant):
    torch.manual_seed(0)
    linear = nn.Linear(128, 96)
    ref = bnb.nn.Linear4bit(128, 96, bias=True, compute_dtype=dtype, quant_type="nf4",
                            compress_statistics=double_quant)
    ref.load_state_dict(linear.state_dict())
    ref = ref.to("cpu")  # quantizes the weight
    ours = Linear4bit(linear, 64, double_quant)
    if double_quant:  # take bitsandbytes' 8-bit codes (see test_double_quant_matches_bitsandbytes)
        ours.absmax_codes.copy_(ref.weight.quant_state.absmax)
    # train mode: bitsandbytes dequantizes and calls F.linear, as we do (in eval mode on CPU it repacks the
    # weight for a fused kernel whose summation order differs in the last bits)
    x = torch.randn(3, 5, 128).to(dtype)
    with torch.no_grad():
        expected = ref(x)
        got = ours(x)
    assert got.dtype == expected.dtype and torch.equal(got, expected)


# ----------------------------------------------------------------------------------------------------------
# QLoRA fine-tuning end to end: pretrain a tiny completion model, then tune adapters on a 4-bit base

# the shape of the base (train.py refuses shape flags with --init-from), and the settings of every run
SHAPE = ["--dim", "32", "--n-layers", "2", "--n-heads", "4", "--n-kv-heads", "2", "--vocab-size", "320"]
RUN = ["--max-seq-len", "64", "--batch-size", "8", "--builtin-stories", "300", "--eval-iters", "2",
       "--log-interval", "1", "--warmup-iters", "2", "--no-sample"]


def run(args, check=True):
    env = dict(os.environ, OMP_NUM_THREADS="1", PYTHONUNBUFFERED="1")
    result = subprocess.run([sys.executable, *args], cwd=ROOT, env=env, capture_output=True, text=True)
    if check and result.returncode != 0:
        raise AssertionError(f"{args} failed ({result.returncode}):\n{result.stdout}\n{result.stderr}")
    return result


def train_losses(out_dir: Path) -> dict[int, float]:
    import json
    records = [json.loads(line) for line in (out_dir / "log.jsonl").read_text().splitlines()]
    return {r["step"]: r["loss"] for r in records if "loss" in r}


@pytest.fixture(scope="module")
def tiny_base(tmp_path_factory) -> tuple[Path, Path]:
    """(data dir, out dir) of a tiny completion-only base trained by train.py, shared by the runs below."""
    root = tmp_path_factory.mktemp("base")
    data, base_dir = root / "data", root / "base"
    run(["train.py", *SHAPE, *RUN, "--data-dir", str(data), "--out-dir", str(base_dir), "--max-iters", "200",
         "--eval-interval", "200", "--learning-rate", "1e-2"])
    return data, base_dir


def test_qlora_finetune_end_to_end(tiny_base, tmp_path):
    from formats.checkpoint import read as read_checkpoint
    from formats.loader import load_model
    (data, base_dir), out = tiny_base, tmp_path / "qlora"
    # rank, alpha, targets and scaling from the command line are the ones used
    run(["train.py", *RUN, "--instruct", "--data-dir", str(data), "--out-dir", str(out),
         "--init-from", str(base_dir / "ckpt.pt"), "--lora-rank", "4", "--lora-alpha", "8",
         "--lora-targets", "wq,wk,wv,wo,w1,w2,tok_embeddings", "--lora-rslora",
         "--quantize", "nf4", "--double-quant", "--grad-checkpointing", "--max-iters", "60", "--eval-interval", "30",
         "--learning-rate", "3e-2"])
    curve = [loss for _, loss in sorted(train_losses(out).items())]
    assert len(curve) == 60 and sum(curve[-10:]) / 10 < sum(curve[:10]) / 10 - 0.05, curve

    adapter = torch.load(out / "adapter.pt", weights_only=True)
    base, _ = load_model(base_dir / "ckpt.pt")
    hidden, dim = base.args.hidden_dim, base.args.dim
    kv = base.args.n_kv_heads * base.args.head_dim
    per_layer = 4 * (2 * (dim + dim) + 2 * (dim + kv) + 2 * (dim + hidden))  # r * (in + out) for each target
    embedding = 4 * (base.args.vocab_size + dim)
    assert sum(t.numel() for t in adapter["adapter"].values()) == base.args.n_layers * per_layer + embedding
    assert adapter["config"] == {"targets": ["wq", "wk", "wv", "wo", "w1", "w2", "tok_embeddings"], "r": 4,
                                 "alpha": 8.0, "dropout": 0.0, "rslora": True, "quantize": "nf4", "blocksize": 64, "double_quant": True}

    # the base is untouched outside the adapted layers; the merged checkpoint equals base + adapter
    merged = read_checkpoint(out / "ckpt.pt")["model"]
    for name, tensor in base.state_dict().items():
        if not name.endswith(("wq.weight", "wk.weight", "wv.weight", "wo.weight", "w1.weight", "w2.weight",
                              "tok_embeddings.weight", "output.weight")):
            assert torch.equal(merged[name], tensor), name
    adapted, _ = load_model(base_dir / "ckpt.pt")
    load_adapter(adapted, out / "adapter.pt")
    plain, _ = load_model(out / "ckpt.pt")
    tokens = torch.randint(0, base.args.vocab_size, (1, 32))
    with torch.no_grad():
        torch.testing.assert_close(adapted.eval()(tokens)[0], plain(tokens)[0], rtol=0, atol=1e-4)

    # resume continues the adapter run; sample.py applies the adapter unmerged; another base is refused
    run(["train.py", *RUN, "--instruct", "--data-dir", str(data), "--out-dir", str(out), "--init-from", "resume",
         "--max-iters", "63", "--eval-interval", "3"])
    assert sorted(train_losses(out))[-1] == 63
    result = run(["sample.py", str(base_dir / "ckpt.pt"), "--adapter", str(out / "adapter.pt"), "-t", "0", "-n", "40",
                  "-i", "Write a story about a cat."])
    assert result.stdout.strip()
    result = run(["sample.py", str(out / "ckpt.pt"), "--adapter", str(out / "adapter.pt"), "-i", "x"], check=False)
    assert result.returncode != 0 and "different base model" in result.stderr and "Traceback" not in result.stderr


def test_linear4bit_gradient_reaches_the_input_only():
    torch.manual_seed(0)
    layer = Linear4bit(nn.Linear(64, 48), 64, double_quant=True)
    x = torch.randn(5, 64, requires_grad=True)
    grad_out = torch.randn(5, 48)
    layer(x).backward(grad_out)
    torch.testing.assert_close(x.grad, grad_out @ layer.dequantized_weight())
    assert not any(p.requires_grad for p in layer.parameters())


@pytest.mark.parametrize("flags, message", [
    (["--lora-rank", "4"], "--init-from PATH"),
    (["--init-from", "x.pt", "--quantize", "nf4"], "set --lora-rank"),
    (["--init-from", "x.pt", "--lora-rank", "4", "--lora-plus-ratio", "0"], "--lora-plus-ratio must be positive"),
    (["--init-from", "x.pt", "--lora-rank", "4", "--double-quant"], "--double-quant applies to --quantize nf4"),
    (["--init-from", "x.pt", "--lora-rank", "4", "--lora-targets", "wq,attn"], "--lora-targets"),
    (["--init-from", "x.pt", "--lora-rank", "4", "--quantize", "nf8"], "--quantize must be none or nf4"),
])
def test_lora_flags_are_validated(flags, message, capsys):
    from train import parse_args
    with pytest.raises(SystemExit) as e:  # argparse's parser.error: one line on stderr, status 2
        parse_args(flags)
    assert e.value.code == 2 and message in capsys.readouterr().err


def test_adapting_the_classifier_of_a_tied_base_is_refused_in_one_line(tiny_base, tmp_path):
    data, base_dir = tiny_base
    result = run(["train.py", *RUN, "--instruct", "--data-dir", str(data), "--init-from", str(base_dir / "ckpt.pt"),
                  "--lora-rank", "4", "--lora-targets", "wq,output", "--max-iters", "2", "--out-dir", str(tmp_path)],
                 check=False)
    assert result.returncode == 1 and "Traceback" not in result.stderr
    assert result.stderr.strip().splitlines()[-1].startswith("error: --lora-targets wq,output")
    assert "target tok_embeddings" in result.stderr


def test_qlora_under_torchrun_matches_one_process(tiny_base, tmp_path):
    """Two processes of batch 4 equal one process of 2 x 4 with gradient accumulation: DDP averages only the
    adapters' gradients, and every rank rebuilds the same 4-bit base."""
    data, base_dir = tiny_base
    common = ["train.py", *RUN, "--instruct", "--data-dir", str(data), "--init-from", str(base_dir / "ckpt.pt"),
              "--lora-rank", "4", "--lora-targets", "wq,wk,wv,wo,w1,w2,w3,tok_embeddings", "--quantize", "nf4",
              "--double-quant", "--batch-size", "4", "--max-iters", "8", "--eval-interval", "4"]
    run([*common, "--grad-accum", "2", "--out-dir", str(tmp_path / "one")])
    run(["-m", "torch.distributed.run", "--standalone", "--nproc_per_node=2", *common, "--grad-accum", "1",
         "--out-dir", str(tmp_path / "two")])
    one, two = train_losses(tmp_path / "one"), train_losses(tmp_path / "two")
    assert sorted(one) == sorted(two) == list(range(1, 9))
    for step in one:
        assert two[step] == pytest.approx(one[step], rel=1e-4, abs=1e-5), step


def test_qlora_run_resumes_exactly_after_kill(tiny_base, tmp_path, kill_train_run):
    """A killed adapter run, resumed, rebuilds the 4-bit base from --init-from and continues bit for bit."""
    data, base_dir = tiny_base
    common = ["train.py", *RUN, "--instruct", "--data-dir", str(data),
              "--lora-rank", "4", "--lora-dropout", "0.1", "--quantize", "nf4", "--double-quant",
              "--max-iters", "150", "--eval-interval", "10", "--learning-rate", "1e-2"]
    ref, out = tmp_path / "ref", tmp_path / "killed"
    base = ["--init-from", str(base_dir / "ckpt.pt")]
    run([*common, *base, "--out-dir", str(ref)])

    kill_train_run([*common, *base], out)
    assert max(train_losses(out)) < 150

    run([*common, "--init-from", "resume", "--out-dir", str(out)])
    got, want = train_losses(out), train_losses(ref)
    assert sorted(got) == sorted(want) == list(range(1, 151))
    for step in want:
        assert abs(got[step] - want[step]) < 1e-6, f"step {step}: resumed {got[step]} vs uninterrupted {want[step]}"
    assert torch.equal(torch.load(out / "adapter.pt", weights_only=True)["adapter"]["layers.0.attention.wq.lora_B"],
                       torch.load(ref / "adapter.pt", weights_only=True)["adapter"]["layers.0.attention.wq.lora_B"])
