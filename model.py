"""A small Llama 2 in plain PyTorch, readable top to bottom.

The architecture is Llama 2 (Touvron et al. 2023, arXiv:2307.09288): pre-norm transformer blocks with
RMSNorm, rotary position embeddings, grouped-query attention and a SwiGLU feed-forward. Module and
parameter names follow llama2.c, so its checkpoints load unchanged and code that targets modules by name
(LoRA) sees `layers.{i}.attention.wq` and friends.

Contents: ModelArgs, RMSNorm, rotary embeddings, Attention (with a KV cache), FeedForward,
TransformerBlock, Transformer (training forward, incremental forward, streaming generate), and the
llama2.c "version 0" checkpoint format (load_llama2c / export_llama2c).
"""

import dataclasses
import math
import os
from dataclasses import dataclass
from pathlib import Path
from typing import Iterator, Optional, Sequence

import numpy as np
import torch
import torch.nn.functional as F
from torch import Tensor, nn


@dataclass
class ModelArgs:
    dim: int = 288
    n_layers: int = 6
    n_heads: int = 6
    n_kv_heads: Optional[int] = None  # None -> n_heads; fewer K/V heads than Q heads is grouped-query attention
    vocab_size: int = 32000
    hidden_dim: Optional[int] = None  # None -> Llama's rule, see __post_init__
    multiple_of: int = 32
    norm_eps: float = 1e-5
    max_seq_len: int = 256
    rope_theta: float = 10000.0
    dropout: float = 0.0
    tie_embeddings: bool = True  # the output classifier shares the token embedding weight

    def __post_init__(self):
        if self.n_kv_heads is None:
            self.n_kv_heads = self.n_heads
        if self.hidden_dim is None:
            # SwiGLU has three matrices instead of two, so LLaMA uses 2/3 of the usual 4 * dim hidden units to
            # keep the parameter count (Touvron et al. 2023, arXiv:2302.13971, sec. 2.2), rounded up to multiple_of.
            hidden = int(2 * 4 * self.dim / 3)
            self.hidden_dim = self.multiple_of * ((hidden + self.multiple_of - 1) // self.multiple_of)
        for name in ("dim", "n_layers", "n_heads", "n_kv_heads", "vocab_size", "hidden_dim", "multiple_of",
                     "max_seq_len"):
            if getattr(self, name) <= 0:
                raise ValueError(f"ModelArgs.{name} must be positive, got {getattr(self, name)}")
        if self.dim % self.n_heads:
            raise ValueError(f"ModelArgs: n_heads={self.n_heads} must divide dim={self.dim}")
        if self.n_heads % self.n_kv_heads:
            raise ValueError(f"ModelArgs: n_kv_heads={self.n_kv_heads} must divide n_heads={self.n_heads}")
        if (self.dim // self.n_heads) % 2:
            raise ValueError(f"ModelArgs: head_dim=dim/n_heads={self.dim // self.n_heads} must be even for RoPE")
        if self.norm_eps <= 0 or self.rope_theta <= 0:
            raise ValueError(f"ModelArgs: norm_eps and rope_theta must be positive, got {self.norm_eps}, "
                             f"{self.rope_theta}")
        if not 0.0 <= self.dropout < 1.0:
            raise ValueError(f"ModelArgs: dropout must be in [0, 1), got {self.dropout}")

    @property
    def head_dim(self) -> int:
        return self.dim // self.n_heads


class RMSNorm(nn.Module):
    """Scale by the root mean square instead of centring and scaling as LayerNorm does
    (Zhang & Sennrich 2019, arXiv:1910.07467): y = x / sqrt(mean(x^2) + eps) * weight."""

    def __init__(self, dim: int, eps: float = 1e-5):
        super().__init__()
        self.eps = eps
        self.weight = nn.Parameter(torch.ones(dim))

    def forward(self, x: Tensor) -> Tensor:
        # Normalise in float32 even under bf16 autocast: a mean of squares loses too much in 8 mantissa bits.
        x32 = x.float()
        normed = x32 * torch.rsqrt(x32.pow(2).mean(-1, keepdim=True) + self.eps)
        return normed.type_as(x) * self.weight


def precompute_rope(head_dim: int, max_seq_len: int, theta: float = 10000.0) -> tuple[Tensor, Tensor]:
    """cos and sin of the rotary angles pos * theta^(-2i/head_dim) of RoFormer (Su et al. 2021,
    arXiv:2104.09864, sec. 3.2.2).

    Returns two float32 tables of shape (max_seq_len, head_dim // 2). The arithmetic is llama2.c's, step
    for step, because a legacy checkpoint stores these tables and our export must be byte-identical."""
    freqs = 1.0 / (theta ** (torch.arange(0, head_dim, 2)[: head_dim // 2].float() / head_dim))  # (head_dim/2,)
    t = torch.arange(max_seq_len)
    angles = torch.outer(t, freqs).float()  # (max_seq_len, head_dim/2)
    return torch.cos(angles), torch.sin(angles)


def apply_rope(x: Tensor, cos: Tensor, sin: Tensor) -> Tensor:
    """Rotate each pair (x[..., 2i], x[..., 2i+1]) by its angle, as llama2.c and Meta's Llama do.

    x: (B, n_heads, T, head_dim); cos, sin: (T, head_dim/2). Pairs are interleaved, not the two halves of
    the head ("rotate_half" in Hugging Face's port), so llama2.c's weights work unchanged."""
    x0, x1 = x.unflatten(-1, (-1, 2)).unbind(-1)  # each (B, n_heads, T, head_dim/2)
    out = torch.stack((x0 * cos - x1 * sin, x0 * sin + x1 * cos), dim=-1)  # (B, n_heads, T, head_dim/2, 2)
    return out.flatten(-2).type_as(x)  # (B, n_heads, T, head_dim)


class Attention(nn.Module):
    """Causal multi-head self-attention with grouped-query K/V heads (Ainslie et al. 2023, arXiv:2305.13245)
    and an optional KV cache for incremental decoding."""

    def __init__(self, args: ModelArgs):
        super().__init__()
        self.n_heads, self.n_kv_heads, self.head_dim = args.n_heads, args.n_kv_heads, args.head_dim
        self.wq = nn.Linear(args.dim, args.n_heads * args.head_dim, bias=False)
        self.wk = nn.Linear(args.dim, args.n_kv_heads * args.head_dim, bias=False)
        self.wv = nn.Linear(args.dim, args.n_kv_heads * args.head_dim, bias=False)
        self.wo = nn.Linear(args.n_heads * args.head_dim, args.dim, bias=False)
        self.dropout = args.dropout
        self.resid_dropout = nn.Dropout(args.dropout)
        self.cache_k: Optional[Tensor] = None  # (B, n_kv_heads, max_seq_len, head_dim) while decoding
        self.cache_v: Optional[Tensor] = None

    def forward(self, x: Tensor, cos: Tensor, sin: Tensor, start_pos: Optional[int] = None) -> Tensor:
        B, T, _ = x.shape  # x: (B, T, dim); cos, sin: (T, head_dim/2) for the positions of x
        q = self.wq(x).view(B, T, self.n_heads, self.head_dim).transpose(1, 2)  # (B, n_heads, T, head_dim)
        k = self.wk(x).view(B, T, self.n_kv_heads, self.head_dim).transpose(1, 2)  # (B, n_kv_heads, T, head_dim)
        v = self.wv(x).view(B, T, self.n_kv_heads, self.head_dim).transpose(1, 2)  # (B, n_kv_heads, T, head_dim)
        q, k = apply_rope(q, cos, sin), apply_rope(k, cos, sin)

        mask, causal = None, True  # training: S = T keys, and SDPA's own causal mask is right
        if start_pos is not None:
            S = start_pos + T  # keys: everything cached so far plus this chunk
            self.cache_k[:B, :, start_pos:S] = k
            self.cache_v[:B, :, start_pos:S] = v
            # .to: under autocast q is bf16 while the cache may be float32, and SDPA wants one dtype.
            k = self.cache_k[:B, :, :S].to(q.dtype)  # (B, n_kv_heads, S, head_dim)
            v = self.cache_v[:B, :, :S].to(q.dtype)
            # SDPA's is_causal aligns its triangle top-left, wrong once there are more keys than queries:
            # query i sits at position start_pos + i and may see keys 0..start_pos + i.
            causal = False
            if T > 1:
                mask = torch.ones(T, S, dtype=torch.bool, device=x.device).tril(diagonal=start_pos)

        # enable_gqa lets each K/V head serve its group of query heads without copying them. PyTorch's CPU
        # kernels support it, but on CUDA only the flash kernel (fp16/bf16, no mask) does; other CUDA cases
        # would drop silently to SDPA's slow math path, so there we expand K/V to n_heads ourselves.
        n_rep = self.n_heads // self.n_kv_heads
        native_gqa = n_rep > 1 and (q.device.type == "cpu" or (q.dtype in (torch.float16, torch.bfloat16)
                                                                and mask is None))
        if n_rep > 1 and not native_gqa:
            k, v = k.repeat_interleave(n_rep, dim=1), v.repeat_interleave(n_rep, dim=1)  # (B, n_heads, S, head_dim)
        dropout = self.dropout if self.training else 0.0
        out = F.scaled_dot_product_attention(q, k, v, attn_mask=mask, is_causal=causal, dropout_p=dropout,
                                             enable_gqa=native_gqa)  # (B, n_heads, T, head_dim)
        out = out.transpose(1, 2).reshape(B, T, self.n_heads * self.head_dim)  # (B, T, n_heads * head_dim)
        return self.resid_dropout(self.wo(out))  # (B, T, dim)


class FeedForward(nn.Module):
    """SwiGLU (Shazeer 2020, arXiv:2002.05202): w2(silu(w1 x) * w3 x)."""

    def __init__(self, args: ModelArgs):
        super().__init__()
        self.w1 = nn.Linear(args.dim, args.hidden_dim, bias=False)
        self.w2 = nn.Linear(args.hidden_dim, args.dim, bias=False)
        self.w3 = nn.Linear(args.dim, args.hidden_dim, bias=False)
        self.dropout = nn.Dropout(args.dropout)

    def forward(self, x: Tensor) -> Tensor:
        return self.dropout(self.w2(F.silu(self.w1(x)) * self.w3(x)))  # (B, T, dim)


class TransformerBlock(nn.Module):
    """Pre-norm residual block: x + attention(norm(x)), then h + feed_forward(norm(h))."""

    def __init__(self, args: ModelArgs):
        super().__init__()
        self.attention_norm = RMSNorm(args.dim, args.norm_eps)
        self.attention = Attention(args)
        self.ffn_norm = RMSNorm(args.dim, args.norm_eps)
        self.feed_forward = FeedForward(args)

    def forward(self, x: Tensor, cos: Tensor, sin: Tensor, start_pos: Optional[int] = None) -> Tensor:
        h = x + self.attention(self.attention_norm(x), cos, sin, start_pos)
        return h + self.feed_forward(self.ffn_norm(h))  # (B, T, dim)


class Sampler:
    """Draws the next token from logits exactly as run.c does, so the C and Python samplers agree token
    for token given the same seed.

    The random numbers are llama2.c's xorshift64* generator (Marsaglia 2003; Vigna 2016): 24-bit floats
    in [0, 1) from the top bits of a 64-bit state. One draw per token, taken before any filtering.
    temperature 0 is greedy (argmax, lowest id on ties). Otherwise the probabilities are
    softmax(logits / temperature) in float32; with top_k and/or top_p the candidates are the tokens
    sorted by probability (lowest id first on ties), cut to the k most likely, then to the shortest
    prefix whose mass exceeds top_p (nucleus sampling, Holtzman et al. 2019, arXiv:1904.09751); the
    draw is scaled by the kept mass and walked along that order. Without either, the draw is walked
    along the vocabulary in id order (plain multinomial sampling)."""

    MASK64 = (1 << 64) - 1

    def __init__(self, temperature: float = 1.0, top_k: Optional[int] = None, top_p: Optional[float] = None,
                 seed: int = 1):
        if temperature < 0:
            raise ValueError(f"temperature must be >= 0, got {temperature}")
        if top_k is not None and top_k < 1:
            raise ValueError(f"top_k must be >= 1, got {top_k}")
        if top_p is not None and not 0.0 < top_p <= 1.0:
            raise ValueError(f"top_p must be in (0, 1], got {top_p}")
        if not 0 < seed <= self.MASK64:
            raise ValueError(f"seed must be a positive 64-bit integer (xorshift never leaves state 0), got {seed}")
        self.temperature, self.top_k, self.state = temperature, top_k, seed
        self.top_p = top_p if top_p is not None and top_p < 1.0 else None

    def random_u32(self) -> int:
        self.state ^= self.state >> 12
        self.state ^= (self.state << 25) & self.MASK64
        self.state ^= self.state >> 27
        return ((self.state * 0x2545F4914F6CDD1D) & self.MASK64) >> 32

    def random_f32(self) -> float:
        return (self.random_u32() >> 8) / 16777216.0

    def __call__(self, logits: Tensor) -> int:
        """logits: (vocab,). Returns the sampled token id."""
        if self.temperature == 0.0:
            return int(torch.argmax(logits))
        scaled = logits.detach().float().cpu().numpy() / np.float32(self.temperature)
        probs = np.exp(scaled - scaled.max())
        probs /= probs.sum(dtype=np.float32)
        coin = np.float32(self.random_f32())
        if self.top_k is None and self.top_p is None:
            order = np.arange(len(probs))
        else:
            order = np.argsort(-probs, kind="stable")[: self.top_k]
            if self.top_p is not None:
                above = np.nonzero(np.cumsum(probs[order], dtype=np.float32) > self.top_p)[0]
                if len(above):
                    order = order[: above[0] + 1]
            coin *= probs[order].sum(dtype=np.float32)
        cdf = np.cumsum(probs[order], dtype=np.float32)  # (candidates,)
        pick = int(np.searchsorted(cdf, coin, side="right"))  # the first candidate whose cdf exceeds the coin
        return int(order[min(pick, len(order) - 1)])


class Transformer(nn.Module):
    """Token embedding, n_layers TransformerBlocks, a final RMSNorm and the output classifier."""

    def __init__(self, args: ModelArgs):
        super().__init__()
        self.args = args
        self.tok_embeddings = nn.Embedding(args.vocab_size, args.dim)
        self.dropout = nn.Dropout(args.dropout)
        self.layers = nn.ModuleList(TransformerBlock(args) for _ in range(args.n_layers))
        self.norm = RMSNorm(args.dim, args.norm_eps)
        self.output = nn.Linear(args.dim, args.vocab_size, bias=False)
        if args.tie_embeddings:
            # Weight tying (Press & Wolf 2017, arXiv:1608.05859): one matrix reads tokens in and scores them out.
            self.output.weight = self.tok_embeddings.weight

        # Not persistent: they are a function of ModelArgs, so they stay out of the state_dict.
        freqs_cos, freqs_sin = precompute_rope(args.head_dim, args.max_seq_len, args.rope_theta)
        self.register_buffer("freqs_cos", freqs_cos, persistent=False)  # (max_seq_len, head_dim/2)
        self.register_buffer("freqs_sin", freqs_sin, persistent=False)

        self.apply(self._init_weights)
        # GPT-2 (Radford et al. 2019, sec. 2.3) shrinks the projections that write into the residual stream
        # by 1/sqrt(number of residual additions), so the stream's variance does not grow with depth.
        # llama2.c scales w3 here by mistake; w2 is the feed-forward's residual projection.
        for name, param in self.named_parameters():
            if name.endswith(("attention.wo.weight", "feed_forward.w2.weight")):
                nn.init.normal_(param, mean=0.0, std=0.02 / math.sqrt(2 * args.n_layers))

    @staticmethod
    def _init_weights(module: nn.Module):
        if isinstance(module, (nn.Linear, nn.Embedding)):
            nn.init.normal_(module.weight, mean=0.0, std=0.02)

    def forward(self, tokens: Tensor, targets: Optional[Tensor] = None,
                start_pos: Optional[int] = None) -> tuple[Tensor, Optional[Tensor]]:
        """tokens (B, T) long -> (logits (B, T, vocab_size) float32, mean cross-entropy or None).

        Targets equal to -1 are left out of the loss. start_pos=None is the training forward over
        positions 0..T-1; an int decodes positions start_pos..start_pos+T-1 against the KV cache
        (see setup_cache), whether T is a whole prompt or a single token."""
        B, T = tokens.shape
        start = 0 if start_pos is None else start_pos
        if start < 0 or start + T > self.args.max_seq_len:
            raise ValueError(f"positions {start}..{start + T - 1} do not fit max_seq_len={self.args.max_seq_len}")
        if start_pos is not None:
            cache = self.layers[0].attention.cache_k
            if cache is None or cache.shape[0] < B:
                raise RuntimeError(f"incremental forward needs setup_cache(batch_size >= {B}) first")

        h = self.dropout(self.tok_embeddings(tokens))  # (B, T, dim)
        cos, sin = self.freqs_cos[start:start + T], self.freqs_sin[start:start + T]  # (T, head_dim/2)
        for layer in self.layers:
            h = layer(h, cos, sin, start_pos)
        h = self.norm(h)
        logits = self.output(h).float()  # (B, T, vocab_size); float32 for the loss and sampling even under autocast
        loss = None
        if targets is not None:
            loss = F.cross_entropy(logits.view(B * T, -1), targets.reshape(B * T), ignore_index=-1)
        return logits, loss

    def setup_cache(self, batch_size: int, device=None, dtype=None):
        """Allocate each layer's K/V cache, (batch_size, n_kv_heads, max_seq_len, head_dim), zero-filled."""
        weight = self.norm.weight  # device and dtype of the model (the embedding may be wrapped by an adapter)
        shape = (batch_size, self.args.n_kv_heads, self.args.max_seq_len, self.args.head_dim)
        for layer in self.layers:
            layer.attention.cache_k = torch.zeros(shape, device=device or weight.device, dtype=dtype or weight.dtype)
            layer.attention.cache_v = torch.zeros_like(layer.attention.cache_k)

    def clear_cache(self):
        for layer in self.layers:
            layer.attention.cache_k = layer.attention.cache_v = None

    def generate(self, prompt: list[int], max_new_tokens: int, temperature: float = 1.0, top_k: Optional[int] = None,
                 top_p: Optional[float] = None, stop_tokens: Sequence[int] = (),
                 seed: int = 1) -> Iterator[int]:
        """Yield new token ids one at a time: prefill the prompt into the KV cache, then one token per step.

        Stops after max_new_tokens, when prompt plus output fill max_seq_len, or when it samples one of
        stop_tokens (which is not yielded). The model is in eval mode with a batch-1 cache until the
        iterator finishes or is closed; then its training mode comes back and the cache is freed."""
        # Checked here rather than in the generator body, so a bad call fails at once, not at the first next().
        if not 0 < len(prompt) < self.args.max_seq_len:
            raise ValueError(f"prompt has {len(prompt)} tokens; need 1..{self.args.max_seq_len - 1} "
                             f"(max_seq_len={self.args.max_seq_len})")
        sampler = Sampler(temperature, top_k, top_p, seed)
        return self._decode(list(prompt), max_new_tokens, sampler, set(stop_tokens))

    @torch.no_grad()
    def _decode(self, prompt, max_new_tokens, sampler: Sampler, stop_tokens) -> Iterator[int]:
        was_training = self.training
        device = self.norm.weight.device
        self.eval()
        self.setup_cache(1, device=device)
        try:
            tokens = torch.tensor([prompt], dtype=torch.long, device=device)  # (1, T): the whole prompt first
            pos = 0  # how many tokens the cache holds
            for _ in range(max_new_tokens):
                logits, _ = self(tokens, start_pos=pos)  # (1, T, vocab_size)
                pos += tokens.shape[1]
                next_token = sampler(logits[0, -1])
                if next_token in stop_tokens:
                    return
                yield next_token
                if pos + 1 == self.args.max_seq_len:  # prompt + output fill the context
                    return
                tokens = torch.tensor([[next_token]], dtype=torch.long, device=device)  # (1, 1)
        finally:
            self.clear_cache()
            self.train(was_training)


# ----------------------------------------------------------------------------------------------------------
# llama2.c "version 0" (legacy) checkpoints: a header of 7 int32, then every weight as float32, no padding.
# A negative vocab_size in the header means the output classifier is not tied and comes last in the file.

class CheckpointError(Exception):
    """A checkpoint file that is missing, truncated, or not what its header claims."""


LLAMA2C_HEADER_BYTES = 7 * 4
LLAMA2C_VERSION_MAGIC = 0x616B3432  # "ak42": llama2.c's versioned formats (1, 2) start with it
# Sanity bounds on header fields, so a corrupt header fails with a message instead of a huge allocation.
LLAMA2C_LIMITS = {"dim": 1 << 16, "hidden_dim": 1 << 20, "n_layers": 1 << 10, "n_heads": 1 << 12,
                  "n_kv_heads": 1 << 12, "vocab_size": 1 << 24, "max_seq_len": 1 << 24}


def layer_shapes(args: ModelArgs) -> dict[str, tuple[int, ...]]:
    """Shape of every weight in one block, by its name under layers.<i>. (the file layouts order them)."""
    kv_dim = args.n_kv_heads * args.head_dim
    return {"attention_norm.weight": (args.dim,),
            "attention.wq.weight": (args.dim, args.dim),
            "attention.wk.weight": (kv_dim, args.dim),
            "attention.wv.weight": (kv_dim, args.dim),
            "attention.wo.weight": (args.dim, args.dim),
            "ffn_norm.weight": (args.dim,),
            "feed_forward.w1.weight": (args.hidden_dim, args.dim),
            "feed_forward.w2.weight": (args.dim, args.hidden_dim),
            "feed_forward.w3.weight": (args.hidden_dim, args.dim)}


def llama2c_layout(args: ModelArgs) -> list[tuple[str, tuple[int, ...]]]:
    """(name, shape) of every float32 array in a legacy file, in file order. Names are state_dict keys,
    except freqs_cos and freqs_sin, which llama2.c stores but computes from the shape."""
    per_layer = layer_shapes(args).items()  # llama2.c's order: each weight for all layers, then the next
    layout = [("tok_embeddings.weight", (args.vocab_size, args.dim))]
    layout += [(f"layers.{i}.{name}", shape) for name, shape in per_layer for i in range(args.n_layers)]
    layout += [("norm.weight", (args.dim,)),
               ("freqs_cos", (args.max_seq_len, args.head_dim // 2)),
               ("freqs_sin", (args.max_seq_len, args.head_dim // 2))]
    if not args.tie_embeddings:
        layout.append(("output.weight", (args.vocab_size, args.dim)))
    return layout


def load_llama2c(path) -> Transformer:
    """Read a llama2.c legacy checkpoint into a Transformer on the CPU, or raise CheckpointError."""
    path = Path(path)
    if not path.is_file():
        raise CheckpointError(f"{path}: {'not a regular file' if path.exists() else 'no such file'}")
    size = path.stat().st_size
    if size < LLAMA2C_HEADER_BYTES:
        raise CheckpointError(f"{path}: only {size} bytes, shorter than the {LLAMA2C_HEADER_BYTES}-byte "
                              f"llama2.c header")
    try:
        header = [int(v) for v in np.fromfile(path, dtype="<i4", count=7)]
    except OSError as e:
        raise CheckpointError(f"{path}: cannot read: {e.strerror or e}") from None
    if header[0] == LLAMA2C_VERSION_MAGIC:
        raise CheckpointError(f"{path}: a llama2.c version {header[1]} file; only the legacy version 0 "
                              f"is supported (export with llama2.c's --version 0)")
    fields = dict(zip(("dim", "hidden_dim", "n_layers", "n_heads", "n_kv_heads", "vocab_size", "max_seq_len"),
                      header))
    tied = fields["vocab_size"] > 0
    fields["vocab_size"] = abs(fields["vocab_size"])
    for name, value in fields.items():
        if not 0 < value <= LLAMA2C_LIMITS[name]:
            raise CheckpointError(f"{path}: header has {name}={value}, outside 1..{LLAMA2C_LIMITS[name]}; "
                                  f"not a llama2.c legacy checkpoint, or corrupt")
    try:
        args = ModelArgs(**fields, tie_embeddings=tied, rope_theta=10000.0, norm_eps=1e-5)
    except ValueError as e:
        raise CheckpointError(f"{path}: inconsistent header: {e}") from None
    layout = llama2c_layout(args)
    expected = LLAMA2C_HEADER_BYTES + 4 * sum(math.prod(shape) for _, shape in layout)
    if size != expected:
        raise CheckpointError(f"{path}: header implies {expected} bytes but the file has {size}; "
                              f"truncated, or not a llama2.c legacy checkpoint")

    try:
        data = np.fromfile(path, dtype="<f4", offset=LLAMA2C_HEADER_BYTES)  # one read, no per-float Python
    except OSError as e:
        raise CheckpointError(f"{path}: cannot read: {e.strerror or e}") from None
    state_dict, offset = {}, 0
    for name, shape in layout:
        n = math.prod(shape)
        state_dict[name] = torch.from_numpy(data[offset:offset + n].reshape(shape))
        offset += n
    del state_dict["freqs_cos"], state_dict["freqs_sin"]  # recomputed by the model from its shape
    if tied:
        state_dict["output.weight"] = state_dict["tok_embeddings.weight"]
    model = Transformer(args)
    model.load_state_dict(state_dict)
    return model


def export_llama2c(model: Transformer, path):
    """Write model as a llama2.c legacy checkpoint. The file appears atomically: written to path + '.tmp',
    then renamed, so an interrupted export never leaves a half-written checkpoint under the real name."""
    model = getattr(model, "_orig_mod", model)  # the module inside torch.compile, whose state_dict keys are plain
    args = model.args
    if args.rope_theta != 10000.0 or args.norm_eps != 1e-5:
        raise ValueError(f"llama2.c's run.c hard-codes rope_theta=10000 and norm_eps=1e-5; this model has "
                         f"rope_theta={args.rope_theta}, norm_eps={args.norm_eps}")
    header = [args.dim, args.hidden_dim, args.n_layers, args.n_heads, args.n_kv_heads,
              args.vocab_size if args.tie_embeddings else -args.vocab_size, args.max_seq_len]
    tensors = dict(model.state_dict())
    # Fresh float32 tables rather than the model's buffers, which follow the model's dtype and device.
    tensors["freqs_cos"], tensors["freqs_sin"] = precompute_rope(args.head_dim, args.max_seq_len, args.rope_theta)
    tmp = f"{path}.tmp"
    try:
        with open(tmp, "wb") as f:
            f.write(np.array(header, dtype="<i4").tobytes())
            for name, shape in llama2c_layout(args):
                t = tensors[name].detach().to("cpu", torch.float32)
                assert t.shape == shape, f"{name}: shape {tuple(t.shape)}, layout says {shape}"
                t.contiguous().numpy().astype("<f4", copy=False).tofile(f)
        os.replace(tmp, path)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise


# ----------------------------------------------------------------------------------------------------------
# PyTorch checkpoints (.pt) written by train.py, and the one loader that sample.py, eval.py and train.py use.

def atomic_torch_save(obj, path):
    """torch.save to path + '.tmp', then rename: a kill mid-save keeps the old file whole."""
    tmp = f"{path}.tmp"
    try:
        torch.save(obj, tmp)
        os.replace(tmp, path)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise


def save_checkpoint(path, model: Transformer, **extra):
    """Save the model's shape and weights plus whatever train.py adds (optimizer state, step, RNG, config,
    instruct flag, tokenizer identity), atomically."""
    model = getattr(model, "_orig_mod", model)
    atomic_torch_save({"model_args": dataclasses.asdict(model.args), "model": model.state_dict(), **extra}, path)


def load_torch_file(path, what: str, weights_only: bool = True):
    """torch.load onto the CPU; CheckpointError naming `what` for a missing or unreadable file."""
    path = Path(path)
    if not path.is_file():
        raise CheckpointError(f"{path}: no such {what} file")
    try:
        return torch.load(path, map_location="cpu", weights_only=weights_only)
    except Exception as e:  # torch raises many kinds for a corrupt zip/pickle; all mean "not that file"
        raise CheckpointError(f"{path}: not a readable {what} file ({type(e).__name__})") from None


def read_checkpoint(path) -> dict:
    """The dict save_checkpoint wrote, on the CPU; CheckpointError for a missing or unreadable file."""
    checkpoint = load_torch_file(path, "checkpoint", weights_only=False)
    if not isinstance(checkpoint, dict) or "model_args" not in checkpoint or "model" not in checkpoint:
        raise CheckpointError(f"{path}: not a checkpoint written by train.py (no model_args/model)")
    return checkpoint


def load_model(path, device="cpu") -> tuple[Transformer, dict]:
    """Load a .pt checkpoint from train.py or a llama2.c .bin model; return (model in eval mode, info).

    info holds what the file knows beyond the weights: "instruct" (the mode it was trained for),
    "tokenizer" (identity) and "config" (train.py's settings) for .pt files; for .bin files, whatever
    their header records (export.read_model_bin: our format records mode and tokenizer, llama2.c's do not)."""
    if str(path).endswith(".pt"):
        checkpoint = read_checkpoint(path)
        try:
            model = Transformer(ModelArgs(**checkpoint["model_args"]))
            model.load_state_dict(checkpoint["model"])
        except (TypeError, ValueError, RuntimeError) as e:
            raise CheckpointError(f"{path}: weights do not match the model shape it records ({e})") from None
        info = {k: checkpoint.get(k) for k in ("instruct", "tokenizer", "config", "step")}
    else:
        from export import read_model_bin  # imported here: export.py imports this module
        model, info = read_model_bin(path)
    return model.to(device).eval(), info
