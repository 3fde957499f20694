"""LoRA adapters and 4-bit NormalFloat (NF4) weights: QLoRA fine-tuning, written out so it can be read.

LoRA (Hu et al. 2021, arXiv:2106.09685): freeze a pretrained weight W (out, in) and learn a low-rank
update, y = W x + (alpha / r) * B A x, with A (r, in) and B (out, r). B starts at zero, so training starts
exactly at the pretrained model; after training, B A can be added into W ("merging") and the model runs
at no extra cost.

QLoRA (Dettmers et al. 2023, arXiv:2305.14314): store the frozen W in 4 bits and train LoRA on top.
  - NF4 (sec. 3, "4-bit NormalFloat"): 16 code values at quantiles of N(0, 1), scaled to [-1, 1], with an
    exact 0. A weight is divided by the absmax of its block of 64 and replaced by the nearest code.
  - Double quantization (sec. 3): the fp32 absmax of every block costs 32/64 = 0.5 bits per weight; they
    are centred on their mean and quantized again to 8 bits in blocks of 256, which brings the overhead
    to 8/64 + 32/(64*256) = 0.127 bits.
  - The weight is dequantized to the compute dtype on the fly for each matmul; gradients flow to the
    input (and on to the LoRA weights), never to the frozen 4-bit weight.

Everything that defines the format (the code table, the midpoint rule for ties, two codes per byte with
the first element in the high nibble, the odd-count padding, the 8-bit map for double quantization)
matches bitsandbytes 0.50, which tests/test_lora.py uses as the reference. bitsandbytes is never called.

Contents: NF4 code, quantize_nf4 / dequantize_nf4, dynamic_map / double_quantize, Linear4bit,
LoRALinear, LoRAEmbedding, apply_lora, merged_model, enable_grad_checkpointing. Adapter files are
formats/adapter.py's.
"""

import copy
import math

import torch
import torch.nn.functional as F
from torch import Tensor, nn

from model import Transformer

LORA_TARGETS = ("wq", "wk", "wv", "wo", "w1", "w2", "w3")  # attention and feed-forward projections

# ----------------------------------------------------------------------------------------------------------
# NF4: the code table and blockwise 4-bit quantization

# The 16 NF4 values (QLoRA appendix E; bitsandbytes' table, to the float32 bit): 8 quantiles of N(0, 1) for
# the positive half and 7 for the negative half, normalised to [-1, 1], so that 0 is represented exactly.
NF4_CODE = torch.tensor([
    -1.0, -0.6961928009986877, -0.5250730514526367, -0.39491748809814453,
    -0.28444138169288635, -0.18477343022823334, -0.09105003625154495, 0.0,
    0.07958029955625534, 0.16093020141124725, 0.24611230194568634, 0.33791524171829224,
    0.44070982933044434, 0.5626170039176941, 0.7229568362236023, 1.0,
], dtype=torch.float32)
NF4_ZERO = 7  # index of 0.0: pads an odd element count
# every byte's two values, (256, 2): high nibble first. One lookup per byte makes dequantization a gather
# and a multiply, which matters because QLoRA dequantizes every weight twice per training step.
NF4_PAIRS = torch.stack([NF4_CODE.repeat_interleave(16), NF4_CODE.repeat(16)], dim=1)


def _check_blocksize(blocksize: int):
    if blocksize < 32 or blocksize & (blocksize - 1):
        raise ValueError(f"blocksize must be a power of two >= 32, got {blocksize}")


def _scale_blocks(x: Tensor, blocksize: int) -> tuple[Tensor, Tensor]:
    """x (n,) float32 -> (x / absmax of its block, clamped to [-1, 1]) (n,), absmax (ceil(n/blocksize),).

    Arithmetic follows bitsandbytes bit for bit, since a value near a midpoint can land on either side of
    it by the last bit: full blocks are multiplied by the reciprocal of their absmax, the last partial
    block is divided by its absmax, and that partial block's absmax is kept clamped to 1e-38."""
    n = x.numel()
    full = n - n % blocksize
    blocks = x[:full].view(-1, blocksize)  # (n_full_blocks, blocksize)
    absmax = blocks.abs().amax(dim=1)
    scaled = (blocks * (1.0 / absmax.clamp(min=1e-38))[:, None]).clamp(-1, 1).reshape(-1)
    if full < n:
        tail_absmax = x[full:].abs().amax().clamp(min=1e-38)
        absmax = torch.cat([absmax, tail_absmax[None]])
        scaled = torch.cat([scaled, (x[full:] / tail_absmax).clamp(-1, 1)])
    return scaled, absmax


def _nearest_code(scaled: Tensor, code: Tensor) -> Tensor:
    """Index of the code value nearest each element of `scaled`; code must be sorted.
    An element exactly on the midpoint of two codes takes the lower one (bucketize's right=False)."""
    midpoints = (code[:-1] + code[1:]) / 2
    return torch.bucketize(scaled, midpoints)


def quantize_nf4(weight: Tensor, blocksize: int = 64) -> tuple[Tensor, Tensor]:
    """weight (any shape, fp32/bf16/fp16) -> packed (ceil(n/2),) uint8, absmax (ceil(n/blocksize),) float32.

    Each element of the flattened weight is scaled by the absmax of its block and mapped to the NF4 code
    whose midpoint interval holds it. Two 4-bit codes share a byte, the earlier element in the high nibble;
    an odd count is padded with the code for 0.0."""
    _check_blocksize(blocksize)
    scaled, absmax = _scale_blocks(weight.reshape(-1).float(), blocksize)
    codes = _nearest_code(scaled, NF4_CODE.to(weight.device)).to(torch.uint8)  # (n,)
    if codes.numel() % 2:
        codes = F.pad(codes, (0, 1), value=NF4_ZERO)
    packed = (codes[0::2] << 4) | codes[1::2]  # (ceil(n/2),)
    return packed, absmax


def dequantize_nf4(packed: Tensor, absmax: Tensor, shape, blocksize: int = 64,
                   dtype: torch.dtype = torch.float32) -> Tensor:
    """Inverse of quantize_nf4: code value * block absmax, computed in float32, then cast to dtype."""
    n = math.prod(shape)
    # index_select: the same gather as NF4_PAIRS[packed], about 3x faster on CPU
    values = torch.index_select(NF4_PAIRS.to(packed.device), 0, packed.int()).reshape(-1)[:n]  # (n,) in [-1, 1]
    absmax = absmax.float()
    full = n - n % blocksize
    if full == n:  # whole blocks only: no copy into `out`
        return (values.view(-1, blocksize) * absmax[:, None]).to(dtype).reshape(shape)
    out = torch.empty(n, dtype=torch.float32, device=packed.device)
    out[:full] = (values[:full].view(-1, blocksize) * absmax[:full // blocksize, None]).reshape(-1)
    out[full:] = values[full:] * absmax[-1]  # the partial last block, if any
    return out.to(dtype).reshape(shape)


# ----------------------------------------------------------------------------------------------------------
# double quantization: the absmax values themselves in 8 bits

def dynamic_map(max_exponent_bits: int = 7) -> Tensor:
    """The signed 8-bit "dynamic" code (Dettmers 2015, arXiv:1511.04561) that bitsandbytes uses for the
    second-level quantization: (256,) float32, sorted. For i = 0..6, the 2^i midpoints of linspace(0.1, 1,
    2^i + 1) scaled by 10^(i - 6), with both signs; then 0 and 1. Values near 0 get fine steps."""
    values = [0.0, 1.0]
    for i in range(max_exponent_bits):
        edges = torch.linspace(0.1, 1, 2 ** i + 1, dtype=torch.float32)
        means = (edges[:-1] + edges[1:]) / 2.0
        values += (10 ** (i - (max_exponent_bits - 1)) * means).tolist()  # scaled in float32, as bitsandbytes
        values += (-(10 ** (i - (max_exponent_bits - 1))) * means).tolist()
    return torch.tensor(sorted(values), dtype=torch.float32)


DYNAMIC_MAP = dynamic_map()


def double_quantize(absmax: Tensor, blocksize: int = 256) -> tuple[Tensor, Tensor, Tensor]:
    """absmax (n,) float32 -> codes (n,) uint8, scales (ceil(n/blocksize),) float32, offset () float32.

    QLoRA sec. 3: subtract the mean (absmax values are all positive, so centring them uses the signed
    code's range), then blockwise absmax-scale to [-1, 1] and map to the nearest dynamic_map value."""
    offset = absmax.float().mean()
    scaled, scales = _scale_blocks(absmax.float() - offset, blocksize)
    codes = _nearest_code(scaled, DYNAMIC_MAP.to(absmax.device)).to(torch.uint8)
    return codes, scales, offset


def dequantize_absmax(codes: Tensor, scales: Tensor, offset: Tensor, blocksize: int = 256) -> Tensor:
    """Inverse of double_quantize: (n,) float32 absmax values."""
    n = codes.numel()
    return DYNAMIC_MAP.to(codes.device)[codes.long()] * scales.repeat_interleave(blocksize)[:n] + offset


# ----------------------------------------------------------------------------------------------------------
# the layers

class _FrozenNF4Matmul(torch.autograd.Function):
    """x (..., in) @ dequantize(W).T + bias -> (..., out), for a frozen W held in 4 bits.

    A plain F.linear would keep the dequantized float weight alive for the backward pass, so during a
    training step every quantized layer would hold a full-precision copy and QLoRA would save nothing.
    Like bitsandbytes' MatMul4Bit, we keep only the 4-bit weight and dequantize again in the backward;
    the weight is frozen, so only the input gets a gradient: dL/dx = dL/dy @ W."""

    @staticmethod
    def forward(ctx, x: Tensor, layer: "Linear4bit") -> Tensor:
        ctx.layer = layer
        bias = None if layer.bias is None else layer.bias.to(x.dtype)  # frozen too
        return F.linear(x, layer.dequantized_weight(x.dtype), bias)

    @staticmethod
    def backward(ctx, grad_out: Tensor):
        return grad_out @ ctx.layer.dequantized_weight(grad_out.dtype), None


class Linear4bit(nn.Module):
    """A frozen nn.Linear whose weight (out, in) is stored in NF4 and dequantized for every forward.

    Buffers (in the state_dict, no parameters): weight_nf4 (ceil(out*in/2),) uint8 and either
    absmax (n_blocks,) float32, or with double_quant absmax_codes (n_blocks,) uint8, absmax_scales
    (ceil(n_blocks/256),) float32 and absmax_offset () float32. The bias, if any, stays a frozen float.
    """

    def __init__(self, linear: nn.Linear, blocksize: int = 64, double_quant: bool = False):
        super().__init__()
        self.in_features, self.out_features = linear.in_features, linear.out_features
        self.blocksize, self.double_quant = blocksize, double_quant
        packed, absmax = quantize_nf4(linear.weight.detach(), blocksize)
        self.register_buffer("weight_nf4", packed)
        if double_quant:
            codes, scales, offset = double_quantize(absmax)
            self.register_buffer("absmax_codes", codes)
            self.register_buffer("absmax_scales", scales)
            self.register_buffer("absmax_offset", offset)
        else:
            self.register_buffer("absmax", absmax)
        self.bias = None if linear.bias is None else nn.Parameter(linear.bias.detach().clone(), requires_grad=False)

    def block_absmax(self) -> Tensor:
        if self.double_quant:
            return dequantize_absmax(self.absmax_codes, self.absmax_scales, self.absmax_offset)
        return self.absmax

    def dequantized_weight(self, dtype: torch.dtype = torch.float32) -> Tensor:
        """(out, in) weight in dtype."""
        return dequantize_nf4(self.weight_nf4, self.block_absmax(), (self.out_features, self.in_features),
                              self.blocksize, dtype)

    def forward(self, x: Tensor) -> Tensor:
        # (..., in) -> (..., out). The dequantized weight is a temporary: between steps only 4 bits per
        # weight stay in memory. Under autocast the matmul runs in the autocast dtype anyway.
        return _FrozenNF4Matmul.apply(x, self)

    def storage_bytes(self) -> int:
        return sum(b.numel() * b.element_size() for b in self.buffers())

    def extra_repr(self) -> str:
        return (f"in_features={self.in_features}, out_features={self.out_features}, nf4, "
                f"blocksize={self.blocksize}, double_quant={self.double_quant}")


def lora_scaling(r: int, alpha: float, rslora: bool) -> float:
    """alpha / r (Hu et al. 2021, sec. 4.1), or alpha / sqrt(r) for rsLoRA (Kalajdzievski 2023)."""
    if r <= 0:
        raise ValueError(f"LoRA rank must be positive, got {r}")
    return alpha / math.sqrt(r) if rslora else alpha / r


class LoRALinear(nn.Module):
    """y = base(x) + scaling * B A dropout(x), with A (r, in) and B (out, r) trainable and base frozen.

    base: an nn.Linear (LoRA) or a Linear4bit (QLoRA). scaling = alpha / r (Hu et al. 2021, sec. 4.1), or
    alpha / sqrt(r) with rslora=True (Kalajdzievski 2023, arXiv:2312.03732: keeps the update's scale
    stable as r grows). Dropout acts on the adapter's input only, as in the QLoRA and peft code.
    """

    def __init__(self, base: nn.Module, r: int, alpha: float, dropout: float = 0.0, rslora: bool = False):
        super().__init__()
        self.base, self.r, self.alpha, self.rslora = base, r, alpha, rslora
        self.scaling = lora_scaling(r, alpha, rslora)
        self.dropout = nn.Dropout(dropout) if dropout > 0 else nn.Identity()
        # A like an nn.Linear's default init (Kaiming-uniform), B zero: the update B A starts at exactly 0
        self.lora_A = nn.Parameter(torch.empty(r, base.in_features))
        self.lora_B = nn.Parameter(torch.zeros(base.out_features, r))
        nn.init.kaiming_uniform_(self.lora_A, a=math.sqrt(5))
        self.merged = False

    @property
    def in_features(self) -> int:
        return self.base.in_features

    @property
    def out_features(self) -> int:
        return self.base.out_features

    def delta_weight(self) -> Tensor:
        """scaling * B A, (out, in): what merging adds to the base weight."""
        return self.scaling * (self.lora_B @ self.lora_A)

    def merged_weight(self) -> Tensor:
        """The (out, in) float32 weight of the equivalent plain nn.Linear (the dequantized base for NF4)."""
        base = self.base.dequantized_weight() if isinstance(self.base, Linear4bit) else self.base.weight.float()
        return base + self.delta_weight().float()

    def forward(self, x: Tensor) -> Tensor:
        y = self.base(x)  # (..., out)
        if self.merged:
            return y
        return y + self.scaling * F.linear(F.linear(self.dropout(x), self.lora_A), self.lora_B)

    @torch.no_grad()
    def merge(self):
        """Add B A into the float base weight so the forward costs one matmul. A 4-bit base cannot take
        the update without re-quantizing it (which loses most of it); use merged_model() instead."""
        if isinstance(self.base, Linear4bit):
            raise TypeError("cannot merge into a 4-bit base in place; merged_model() builds a float model")
        if not self.merged:
            self.base.weight += self.delta_weight().to(self.base.weight.dtype)
            self.merged = True

    @torch.no_grad()
    def unmerge(self):
        if self.merged:
            self.base.weight -= self.delta_weight().to(self.base.weight.dtype)
            self.merged = False

    def extra_repr(self) -> str:
        return f"r={self.r}, alpha={self.alpha}, scaling={self.scaling:.4g}, rslora={self.rslora}"


class LoRAEmbedding(nn.Module):
    """A token embedding E (vocab, dim) with a low-rank update: E' = E + scaling * (B A)^T.

    Read as a linear map from one-hot tokens (vocab) to vectors (dim), this is LoRALinear's update, with
    A (r, vocab) and B (dim, r), and LoRALinear's init: A Kaiming-uniform, B zero. (peft does it the other
    way round, A zero and B standard normal; with Adam that moves every embedding row by about
    scaling * lr * sqrt(r) per step, several times faster than the rest of the model learns, and it cost
    us 5 points of instruction following.) In a model with tied weights the output classifier reads the
    same E' (TiedLoRAOutput), so one adapter changes both how tokens are read and how they are scored.
    """

    def __init__(self, base: nn.Embedding, r: int, alpha: float, rslora: bool = False):
        super().__init__()
        self.base, self.r, self.alpha, self.rslora = base, r, alpha, rslora
        self.scaling = lora_scaling(r, alpha, rslora)
        self.lora_A = nn.Parameter(torch.empty(r, base.num_embeddings))
        self.lora_B = nn.Parameter(torch.zeros(base.embedding_dim, r))
        nn.init.kaiming_uniform_(self.lora_A, a=math.sqrt(5))

    def delta_weight(self) -> Tensor:
        """scaling * (B A)^T, (vocab, dim): what merging adds to the embedding."""
        return self.scaling * (self.lora_B @ self.lora_A).T

    def merged_weight(self) -> Tensor:
        return self.base.weight.float() + self.delta_weight().float()

    def forward(self, tokens: Tensor) -> Tensor:
        # rows of A^T for the tokens, (..., r), then B: the update's rows without building (vocab, dim)
        return self.base(tokens) + self.scaling * F.linear(F.embedding(tokens, self.lora_A.T), self.lora_B)

    def unembed(self, h: Tensor) -> Tensor:
        """Logits h E'^T, (..., vocab), for a tied output classifier."""
        return F.linear(h, self.base.weight) + self.scaling * F.linear(F.linear(h, self.lora_B.T), self.lora_A.T)

    def extra_repr(self) -> str:
        return f"r={self.r}, alpha={self.alpha}, scaling={self.scaling:.4g}, rslora={self.rslora}"


class TiedLoRAOutput(nn.Module):
    """The output classifier of a tied model whose embedding carries a LoRA update: logits = h E'^T."""

    def __init__(self, embedding: LoRAEmbedding):
        super().__init__()
        self.embedding = [embedding]  # in a list, so it is not registered twice: its tensors live in tok_embeddings

    def forward(self, h: Tensor) -> Tensor:
        return self.embedding[0].unembed(h)


# ----------------------------------------------------------------------------------------------------------
# whole models

def parse_targets(targets) -> tuple[str, ...]:
    """"wq,wv" or ["wq", "wv"] -> ("wq", "wv"); ValueError for names that are not linear layers here."""
    names = tuple(t.strip() for t in targets.split(",") if t.strip()) if isinstance(targets, str) else tuple(targets)
    unknown = [t for t in names if t not in LORA_TARGETS + ("tok_embeddings", "output")]
    if unknown or not names:
        raise ValueError(f"LoRA targets must be a comma list of {','.join(LORA_TARGETS)} (and tok_embeddings, "
                         f"output), got {targets!r}")
    return names


def _replace(model: nn.Module, name: str, new: nn.Module):
    parent_name, _, child = name.rpartition(".")
    setattr(model.get_submodule(parent_name) if parent_name else model, child, new)


def apply_lora(model: Transformer, targets=LORA_TARGETS, r: int = 8, alpha: float = 16.0, dropout: float = 0.0,
               rslora: bool = False, quantize: str = "none", blocksize: int = 64,
               double_quant: bool = False) -> list[str]:
    """Freeze the model and wrap every nn.Linear named in targets with a LoRALinear, in place.

    quantize="nf4" first replaces those linears by Linear4bit (QLoRA). "tok_embeddings" in targets wraps the
    embedding in a LoRAEmbedding (never quantized); in a tied model the output classifier then reads the
    adapted embedding too. Norms and untargeted layers stay frozen in float. Returns the wrapped module
    names (e.g. "layers.0.attention.wq")."""
    targets = parse_targets(targets)
    if quantize not in ("none", "nf4"):
        raise ValueError(f"quantize must be none or nf4, got {quantize!r}")
    if "output" in targets and model.args.tie_embeddings:
        raise ValueError("LoRA on the output classifier would untie it from the token embedding; for a tied "
                         "model target tok_embeddings, which adapts both")
    for p in model.parameters():
        p.requires_grad_(False)
    names = [name for name, m in model.named_modules()
             if isinstance(m, nn.Linear) and name.rsplit(".", 1)[-1] in targets]
    for name in names:
        base = model.get_submodule(name)
        if quantize == "nf4" and name != "output":
            base = Linear4bit(base, blocksize, double_quant)
        _replace(model, name, LoRALinear(base, r, alpha, dropout, rslora))
    if "tok_embeddings" in targets:
        model.tok_embeddings = LoRAEmbedding(model.tok_embeddings, r, alpha, rslora)
        if model.args.tie_embeddings:
            model.output = TiedLoRAOutput(model.tok_embeddings)
        names.append("tok_embeddings")
    model.lora_config = dict(targets=list(targets), r=r, alpha=alpha, dropout=dropout, rslora=rslora,
                             quantize=quantize, blocksize=blocksize, double_quant=double_quant)
    return names


def lora_parameters(model: nn.Module) -> dict[str, Tensor]:
    """The adapter tensors by name, e.g. "layers.0.attention.wq.lora_A" (r, in)."""
    return {name: p for name, p in model.named_parameters() if name.endswith((".lora_A", ".lora_B"))}


@torch.no_grad()
def merged_model(model: Transformer) -> Transformer:
    """A plain float32 Transformer equal to `model` with every adapter merged into its (dequantized) base.

    For a 4-bit base this is dequantize(NF4(W)) + scaling * B A: the adapter was trained against the
    quantized weight, so this is the function the fine-tuned model computed; the original float W is gone."""
    plain = copy.deepcopy(model)
    replaced = []
    for name, module in list(plain.named_modules()):
        if isinstance(module, (LoRALinear, Linear4bit)) and not any(name.startswith(r + ".") for r in replaced):
            replaced.append(name)  # a LoRALinear's own 4-bit base goes with it
            weight = module.merged_weight() if isinstance(module, LoRALinear) else module.dequantized_weight()
            base = module.base if isinstance(module, LoRALinear) else module
            # skip_init: a fresh nn.Linear would draw its random init from the global generator, and a
            # checkpoint written mid-run would then change the dropout masks of the steps after it
            linear = nn.utils.skip_init(nn.Linear, module.in_features, module.out_features, bias=base.bias is not None)
            linear.weight.copy_(weight)
            if base.bias is not None:
                linear.bias.copy_(base.bias)
            _replace(plain, name, linear)
    if isinstance(plain.tok_embeddings, LoRAEmbedding):
        embedding = nn.utils.skip_init(nn.Embedding, *plain.tok_embeddings.base.weight.shape)
        embedding.weight.copy_(plain.tok_embeddings.merged_weight())
        plain.tok_embeddings = embedding
        if plain.args.tie_embeddings:  # tied again: the classifier shares the merged embedding
            plain.output = nn.utils.skip_init(nn.Linear, plain.args.dim, plain.args.vocab_size, bias=False)
            plain.output.weight = plain.tok_embeddings.weight
    plain.__dict__.pop("lora_config", None)
    for p in plain.parameters():
        p.requires_grad_(True)
    return plain.float()


# ----------------------------------------------------------------------------------------------------------
# gradient checkpointing

def enable_grad_checkpointing(model: Transformer):
    """Recompute each block's activations in the backward pass instead of storing them (Chen et al. 2016,
    arXiv:1604.06174): activation memory per block falls to its input. Non-reentrant, as PyTorch
    recommends; only the training forward (start_pos None, grad enabled) is checkpointed."""
    from torch.utils.checkpoint import checkpoint

    for block in model.layers:
        forward = block.forward

        def checkpointed(x, cos, sin, start_pos=None, forward=forward):
            if start_pos is None and torch.is_grad_enabled():
                return checkpoint(forward, x, cos, sin, None, use_reentrant=False)
            return forward(x, cos, sin, start_pos)

        block.forward = checkpointed
