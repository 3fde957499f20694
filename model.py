"""A small Llama 2 in plain PyTorch, readable top to bottom.

The architecture is Llama 2 (Touvron et al. 2023, arXiv:2307.09288): pre-norm transformer blocks with
RMSNorm, rotary position embeddings, grouped-query attention and a SwiGLU feed-forward. Module and
parameter names follow llama2.c, so its checkpoints load unchanged and code that targets modules by name
(LoRA) sees `layers.{i}.attention.wq` and friends.

Contents: ModelArgs, RMSNorm, rotary embeddings, Attention (with a KV cache), FeedForward,
TransformerBlock, Sampler (llama2.c's sampling, token for token), Transformer (training forward,
incremental forward, streaming generate). This file reads and writes no files: every file format lives
in formats/, and this module imports nothing of the project.
"""

import math
from contextlib import contextmanager, nullcontext
from dataclasses import dataclass
from typing import Iterator, Optional, Sequence, Union

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
        if not (0 < self.norm_eps < math.inf and 0 < self.rope_theta < math.inf):  # NaN fails both
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
        self.static_cache = False  # attend over the whole cache, masked, so that every step has one shape
        self.kv_dtype: Optional[torch.dtype] = None  # keys and values rounded through it (model_bin.as_run_computes)

    def forward(self, x: Tensor, cos: Tensor, sin: Tensor, positions: Optional[Tensor] = None) -> Tensor:
        """x: (B, T, dim); cos, sin: the rotary tables at the positions of x, (T, head_dim/2), or
        (B, 1, T, head_dim/2) when rows sit at different positions.

        positions None is the training forward over positions 0..T-1. positions (B, T) decodes against
        the KV cache (see Transformer.setup_cache): each row's keys and values go into the cache at that
        row's own positions, and each query sees its row's cache up to its own position, so rows of a
        batch can hold prompts of different lengths and advance independently."""
        B, T, _ = x.shape
        q = self.wq(x).view(B, T, self.n_heads, self.head_dim).transpose(1, 2)  # (B, n_heads, T, head_dim)
        k = self.wk(x).view(B, T, self.n_kv_heads, self.head_dim).transpose(1, 2)  # (B, n_kv_heads, T, head_dim)
        v = self.wv(x).view(B, T, self.n_kv_heads, self.head_dim).transpose(1, 2)  # (B, n_kv_heads, T, head_dim)
        q, k = apply_rope(q, cos, sin), apply_rope(k, cos, sin)
        if self.kv_dtype is not None:  # as run.c's fp16 KV cache of a quantized model holds them
            k, v = k.to(self.kv_dtype).to(q.dtype), v.to(self.kv_dtype).to(q.dtype)

        mask, causal = None, True  # training: S = T keys, and SDPA's own causal mask is right
        if positions is not None:
            rows = torch.arange(B, device=x.device)[:, None]  # (B, 1)
            # advanced indices around a slice put their dims first: cache[rows, :, positions] is (B, T, n_kv_heads, head_dim)
            self.cache_k[rows, :, positions] = k.transpose(1, 2).to(self.cache_k.dtype)
            self.cache_v[rows, :, positions] = v.transpose(1, 2).to(self.cache_v.dtype)
            # keys: the whole cache when its shapes must stay fixed (a compiled decode step), else up to the
            # furthest row's last position
            S = self.cache_k.shape[2] if self.static_cache else int(positions.max()) + 1
            # .to: under autocast q is bf16 while the cache may be float32, and SDPA wants one dtype.
            k = self.cache_k[:B, :, :S].to(q.dtype)  # (B, n_kv_heads, S, head_dim)
            v = self.cache_v[:B, :, :S].to(q.dtype)
            # Query t of row b sits at positions[b, t] and sees keys 0..positions[b, t] of its row. SDPA's
            # is_causal aligns its triangle top-left, which is wrong once there are more keys than queries.
            causal = False
            mask = (torch.arange(S, device=x.device) <= positions[:, :, None]).unsqueeze(1)  # (B, 1, T, S)

        dropout = self.dropout if self.training else 0.0
        if self.static_cache or plain_attention_pays(q, k.shape[2]):
            if mask is None:
                out = causal_plain_attention(q, k, v, dropout)  # (B, n_heads, T, head_dim)
            else:
                out = plain_attention(q, k, v, mask, dropout)
            out = out.transpose(1, 2).reshape(B, T, self.n_heads * self.head_dim)
            return self.resid_dropout(self.wo(out))  # (B, T, dim)

        # enable_gqa lets each K/V head serve its group of query heads without copying them. PyTorch's CPU
        # kernels support it, but on CUDA only the flash kernel (fp16/bf16, no mask) does; other CUDA cases
        # would drop silently to SDPA's slow math path, so there we expand K/V to n_heads ourselves.
        n_rep = self.n_heads // self.n_kv_heads
        native_gqa = n_rep > 1 and (q.device.type == "cpu" or (q.dtype in (torch.float16, torch.bfloat16)
                                                                and mask is None))
        if n_rep > 1 and not native_gqa:
            k, v = k.repeat_interleave(n_rep, dim=1), v.repeat_interleave(n_rep, dim=1)  # (B, n_heads, S, head_dim)
        out = F.scaled_dot_product_attention(q, k, v, attn_mask=mask, is_causal=causal, dropout_p=dropout,
                                             enable_gqa=native_gqa)  # (B, n_heads, T, head_dim)
        out = out.transpose(1, 2).reshape(B, T, self.n_heads * self.head_dim)  # (B, T, n_heads * head_dim)
        return self.resid_dropout(self.wo(out))  # (B, T, dim)


PLAIN_ATTENTION_MAX_SCORES = 2 ** 25  # attention scores per layer (B x n_heads x T x S) plain_attention may hold


def plain_attention_pays(q: Tensor, S: int) -> bool:
    """Whether plain_attention beats SDPA here: bfloat16 on a CPU, with the scores small enough to hold.

    PyTorch's CPU flash-attention kernel is slow in bfloat16 at small head sizes, where plain matmuls plus
    a softmax that torch.compile fuses are not: one bf16 training step of the default model (head_dim 32,
    256 positions) runs ~40% more tokens/s, stories260K's shape (head_dim 8) ~60% more, on a 2-core EPYC
    with AVX512-BF16 (benchmarks/train_speed.py --levers). In float32 SDPA's kernel is the faster one.
    Plain attention holds every score, so past PLAIN_ATTENTION_MAX_SCORES per layer (110M at 1,024
    positions and batch 32 would hold 400M) the memory-frugal kernel wins."""
    B, n_heads, T, _ = q.shape
    return q.device.type == "cpu" and q.dtype == torch.bfloat16 and B * n_heads * T * S <= PLAIN_ATTENTION_MAX_SCORES


def plain_attention(q: Tensor, k: Tensor, v: Tensor, mask: Tensor, dropout: float = 0.0) -> Tensor:
    """softmax(q k^T / sqrt(head_dim), masked) v written out in plain ops, the softmax in float32. Each K/V
    head serves its group of query heads by broadcasting, not copying.

    Used where it beats SDPA (plain_attention_pays) and in the compiled decode step, where torch.compile
    fuses it into a few loops over the cache while SDPA's CPU kernel costs ~80 us a call (a 15M-shape step:
    ~2.4 ms against ~2.9 ms on a 2-core EPYC).

    q (B, n_heads, T, head_dim); k, v (B, n_kv_heads, S, head_dim); mask (T, S) or (B, 1, T, S), True where
    a query sees a key."""
    B, n_heads, T, head_dim = q.shape
    n_kv_heads = k.shape[1]
    q = q.view(B, n_kv_heads, n_heads // n_kv_heads, T, head_dim)  # query heads grouped by their K/V head
    scores = q @ k.unsqueeze(2).transpose(-2, -1) / math.sqrt(head_dim)  # (B, n_kv_heads, group, T, S)
    if mask.dim() == 4:
        mask = mask.unsqueeze(1)  # (B, 1, 1, T, S)
    scores = scores.masked_fill(~mask, float("-inf"))
    probs = F.softmax(scores.float(), dim=-1)
    if dropout:
        probs = F.dropout(probs, dropout)
    probs = probs.type_as(q)
    out = probs @ v.unsqueeze(2)  # (B, n_kv_heads, group, T, head_dim)
    return out.view(B, n_heads, T, head_dim)


def causal_plain_attention(q: Tensor, k: Tensor, v: Tensor, dropout: float = 0.0, blocks: int = 4) -> Tensor:
    """plain_attention over positions 0..T-1 under the causal mask, in `blocks` blocks of queries, each
    against only the keys up to its own end: the scores above the diagonal blocks, which the mask would
    throw away, are never computed (5/8 of the T x T scores remain at 4 blocks). A bf16 training step runs
    ~10% (default shape) to ~20% (260K) more tokens/s than with one T x T block on a 2-core EPYC.

    q (B, n_heads, T, head_dim); k, v (B, n_kv_heads, T, head_dim)."""
    T = q.shape[2]
    size = -(-T // blocks)
    causal = torch.ones(T, T, dtype=torch.bool, device=q.device).tril()
    return torch.cat([plain_attention(q[:, :, a:a + size], k[:, :, :a + size], v[:, :, :a + size],
                                      causal[a:a + size, :a + size], dropout)
                      for a in range(0, T, size)], dim=2)  # (B, n_heads, T, head_dim)


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

    def forward(self, x: Tensor, cos: Tensor, sin: Tensor, positions: Optional[Tensor] = None) -> Tensor:
        h = x + self.attention(self.attention_norm(x), cos, sin, positions)
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
                start_pos: Union[int, Tensor, None] = None) -> tuple[Tensor, Optional[Tensor]]:
        """tokens (B, T) long -> (logits (B, T, vocab_size) float32, mean cross-entropy or None).

        Targets equal to -1 are left out of the loss. start_pos=None is the training forward over
        positions 0..T-1. Otherwise it decodes against the KV cache (see setup_cache), whether T is a whole
        prompt or a single token: an int puts every row at positions start_pos..start_pos+T-1, a (B,) long
        tensor puts row b at start_pos[b]..start_pos[b]+T-1 (rows of a batch advance independently)."""
        B, T = tokens.shape
        if start_pos is None:
            if T > self.args.max_seq_len:
                raise ValueError(f"{T} positions do not fit max_seq_len={self.args.max_seq_len}")
            logits = self._forward(tokens, None)
        else:
            cache = self.layers[0].attention.cache_k
            if cache is None or cache.shape[0] < B:
                raise RuntimeError(f"incremental forward needs setup_cache(batch_size >= {B}) first")
            start = torch.as_tensor(start_pos, device=tokens.device).expand(B)  # (B,)
            positions = start[:, None] + torch.arange(T, device=tokens.device)  # (B, T)
            if int(start.min()) < 0 or int(positions.max()) >= self.args.max_seq_len:
                raise ValueError(f"positions {int(start.min())}..{int(positions.max())} do not fit "
                                 f"max_seq_len={self.args.max_seq_len}")
            logits = self._forward(tokens, positions)
        loss = None
        if targets is not None:
            # the mean over targets that are not -1; a batch with none of them has loss 0, not 0 / 0
            flat = targets.reshape(B * T)
            loss = F.cross_entropy(logits.view(B * T, -1), flat, ignore_index=-1, reduction="sum") \
                / (flat != -1).sum().clamp(min=1)
        return logits, loss

    def decode_step(self, tokens: Tensor, positions: Tensor) -> Tensor:
        """One token per row against the KV cache, unchecked: tokens (B, 1) at positions (B,) -> logits
        (B, vocab_size). With setup_cache(static=True) nothing in it depends on the values of its inputs,
        so torch.compile makes one graph of it (the decode loop of gpt-fast)."""
        return self._forward(tokens, positions[:, None])[:, 0]

    def _forward(self, tokens: Tensor, positions: Optional[Tensor]) -> Tensor:
        h = self.dropout(self.tok_embeddings(tokens))  # (B, T, dim)
        if positions is None:
            T = tokens.shape[1]
            cos, sin = self.freqs_cos[:T], self.freqs_sin[:T]  # (T, head_dim/2)
        else:
            cos, sin = self.freqs_cos[positions].unsqueeze(1), self.freqs_sin[positions].unsqueeze(1)  # (B, 1, T, head_dim/2)
        for layer in self.layers:
            h = layer(h, cos, sin, positions)
        h = self.norm(h)
        return self.output(h).float()  # (B, T, vocab_size); float32 for the loss and sampling even under autocast

    def setup_cache(self, batch_size: int, device=None, dtype=None, static: bool = False):
        """Allocate each layer's K/V cache, (batch_size, n_kv_heads, max_seq_len, head_dim), zero-filled.
        static: every decoding step attends over the whole cache (masked), for a compiled decode_step."""
        weight = self.norm.weight  # device and dtype of the model (the embedding may be wrapped by an adapter)
        shape = (batch_size, self.args.n_kv_heads, self.args.max_seq_len, self.args.head_dim)
        for layer in self.layers:
            layer.attention.cache_k = torch.zeros(shape, device=device or weight.device, dtype=dtype or weight.dtype)
            layer.attention.cache_v = torch.zeros_like(layer.attention.cache_k)
            layer.attention.static_cache = static

    def clear_cache(self):
        for layer in self.layers:
            layer.attention.cache_k = layer.attention.cache_v = None
            layer.attention.static_cache = False

    def generate(self, prompt: list[int], max_new_tokens: int, temperature: float = 1.0, top_k: Optional[int] = None,
                 top_p: Optional[float] = None, stop_tokens: Sequence[int] = (), seed: int = 1,
                 compile: bool = False) -> Iterator[int]:
        """Yield new token ids one at a time: prefill the prompt into the KV cache, then one token per step.

        Stops after max_new_tokens, when prompt plus output fill max_seq_len, or when it samples one of
        stop_tokens (which is not yielded). The model is in eval mode with a batch-1 cache until the
        iterator finishes or is closed; then its training mode comes back and the cache is freed.
        compile: run each step through torch.compile (a static cache; the first call compiles, which pays
        off over hundreds of tokens, not over one short story)."""
        self._check_prompts([prompt])  # here rather than in the generator, so a bad call fails at once
        steps = self._decode([list(prompt)], max_new_tokens, [Sampler(temperature, top_k, top_p, seed)],
                             set(stop_tokens), compile)
        return (row[0] for row in steps)

    def generate_batch(self, prompts: Sequence[Sequence[int]], max_new_tokens: int, temperature: float = 1.0,
                       top_k: Optional[int] = None, top_p: Optional[float] = None, stop_tokens: Sequence[int] = (),
                       seeds: Optional[Sequence[int]] = None, compile: bool = False) -> list[list[int]]:
        """generate() for many prompts at once: one forward per step for the whole batch, each row with its
        own positions, stop and sampler (seeds[i], default 1). Returns each prompt's new tokens, the same
        ones generate() gives that prompt alone (up to float rounding of batched matmuls, which can only
        matter where two logits tie)."""
        self._check_prompts(prompts)
        samplers = [Sampler(temperature, top_k, top_p, seed) for seed in (seeds or [1] * len(prompts))]
        if len(samplers) != len(prompts):
            raise ValueError(f"{len(prompts)} prompts but {len(samplers)} seeds")
        out = [[] for _ in prompts]
        for row_tokens in self._decode([list(p) for p in prompts], max_new_tokens, samplers, set(stop_tokens), compile):
            for row, token in enumerate(row_tokens):
                if token is not None:
                    out[row].append(token)
        return out

    def _check_prompts(self, prompts):
        for prompt in prompts:
            if not 0 < len(prompt) < self.args.max_seq_len:
                raise ValueError(f"prompt has {len(prompt)} tokens; need 1..{self.args.max_seq_len - 1} "
                                 f"(max_seq_len={self.args.max_seq_len})")

    @torch.no_grad()
    def _decode(self, prompts: list[list[int]], max_new_tokens: int, samplers: list[Sampler],
                stop_tokens: set, compile: bool = False) -> Iterator[list[Optional[int]]]:
        """Yield, step by step, each row's new token (None for a row that has stopped) until every row has."""
        was_training = self.training
        self.eval()
        device = self.norm.weight.device
        try:
            # a compiled step packs its own frozen copy of the weights, so only eager decoding re-lays them out
            with nullcontext() if compile else self._column_major_weights():
                if compile:
                    step_fn = self._compiled_decode_step(len(prompts))
                else:
                    self.setup_cache(len(prompts), device=device)
                    step_fn = self.decode_step
                yield from self._decode_loop(prompts, max_new_tokens, samplers, stop_tokens, step_fn)
        finally:
            self.clear_cache()
            self.train(was_training)

    def _decode_loop(self, prompts, max_new_tokens, samplers, stop_tokens, step_fn):
        B, device = len(prompts), self.norm.weight.device
        lengths = [len(p) for p in prompts]
        # right-pad to one block: row b's prompt sits at positions 0..len-1 as it would alone; what the
        # padding writes into the cache past len is overwritten by that row's own tokens before it is read
        tokens = torch.zeros(B, max(lengths), dtype=torch.long, device=device)  # (B, T)
        for row, prompt in enumerate(prompts):
            tokens[row, :len(prompt)] = torch.tensor(prompt)
        logits, _ = self(tokens, start_pos=0)  # (B, T, vocab_size)
        logits = logits[torch.arange(B), torch.tensor(lengths) - 1]  # (B, vocab_size): each prompt's last token
        pos = list(lengths)  # where each row's next token goes
        live = [max_new_tokens > 0] * B
        while True:
            step = [None] * B
            for row in range(B):
                if not live[row]:
                    continue
                token = samplers[row](logits[row])
                if token in stop_tokens:
                    live[row] = False
                    continue
                step[row] = token
                if pos[row] - lengths[row] + 1 == max_new_tokens or pos[row] + 1 == self.args.max_seq_len:
                    live[row] = False  # budget spent, or prompt plus output fill the context
            if any(t is not None for t in step):
                yield step
            if not any(live):
                return
            # rows still going feed their token at their own next position; a stopped row feeds a dummy
            # token at position 0 of its own, finished, cache row, so the batch keeps its shape
            nxt = torch.tensor([[t if going else 0] for t, going in zip(step, live)], device=device)  # (B, 1)
            at = torch.tensor([p if going else 0 for p, going in zip(pos, live)], device=device)  # (B,)
            logits = step_fn(nxt, at)  # (B, vocab_size)
            pos = [p + going for p, going in zip(pos, live)]

    @contextmanager
    def _column_major_weights(self):
        """Hold each nn.Linear weight column-major while decoding on CPU; put the old tensors back after.

        F.linear computes x @ W.T. With W (out, in) row-major, W.T is a transposed view, and CPU BLAS reads
        it about 3x slower for one row of x than when W.T itself is contiguous (the 15M shape's classifier,
        32000 x 288: 4.7 ms against 1.6 ms on a 2-core EPYC; decoding is bound by reading the weights).
        Values, shapes and Parameter objects stay the same; only the strides change, for the duration."""
        weights = {id(m.weight): m.weight for m in self.modules()  # by id: a tied weight once
                   if isinstance(m, nn.Linear) and m.weight.device.type == "cpu"}
        saved = [(w, w.data) for w in weights.values()]
        for w, data in saved:
            w.data = data.t().contiguous().t()
        try:
            yield
        finally:
            for w, data in saved:
                w.data = data

    def _compiled_decode_step(self, batch_size: int):
        """decode_step through torch.compile with one graph for the whole step (gpt-fast's decode loop), and
        a static KV cache for batch_size rows set up for it.

        On CPU the weights are frozen into the graph as constants (inductor's freezing) and its matmuls
        autotuned (max_autotune, whose C++ GEMM templates pack each weight for the CPU's vector unit): 3.1 ms
        per 15M-shape step against 5.7 ms unfrozen on a 2-core EPYC, for about 20 s of compiling. A frozen
        graph is specialised on the very cache tensors it was compiled with, so they are kept with it and
        zeroed for each use (fresh ones would compile anew). Frozen weights go stale when the weights change,
        so the graph is rebuilt when any parameter has been updated or replaced since (weights_key: each
        one's version counter and storage); the rebuild resets torch.compile's caches, which would otherwise
        hand back the stale graph for this method."""
        weights_key = tuple((p._version, p.data_ptr()) for p in self.parameters())
        built = getattr(self, "_compiled_step", None)
        if built is None or built["weights"] != weights_key:
            if built is not None:
                torch._dynamo.reset()
            step = torch.compile(self.decode_step, dynamic=False)
            if self.norm.weight.device.type == "cpu":
                # a config patch around every call, not torch.compile(options=...), which does not reach
                # freezing; every call, because a new batch size compiles anew at its first call
                import torch._inductor.config as inductor_config
                step = inductor_config.patch(freezing=True, max_autotune=True,
                                             max_autotune_gemm_backends="CPP,ATEN")(step)
            built = self._compiled_step = {"weights": weights_key, "step": step, "caches": {}}
        caches = built["caches"].get(batch_size)
        if caches is None:
            self.setup_cache(batch_size, static=True)
            built["caches"][batch_size] = [(layer.attention.cache_k, layer.attention.cache_v) for layer in self.layers]
        else:
            for layer, (cache_k, cache_v) in zip(self.layers, caches):
                layer.attention.cache_k, layer.attention.cache_v = cache_k.zero_(), cache_v.zero_()
                layer.attention.static_cache = True
        return built["step"]


def pick_device(name: str = "auto") -> str:
    """"auto" -> cuda if there is a GPU, else mps on Apple silicon, else cpu; another name is checked
    to exist here (ValueError if not)."""
    mps = getattr(torch.backends, "mps", None) is not None and torch.backends.mps.is_available()
    if name == "auto":
        return "cuda" if torch.cuda.is_available() else "mps" if mps else "cpu"
    if name != "cpu" and name != "mps" and not name.startswith("cuda"):
        raise ValueError(f"--device must be auto, cpu, cuda, cuda:N or mps, got {name}")
    if name.startswith("cuda") and not torch.cuda.is_available():
        raise ValueError(f"--device {name}: no CUDA device is available")
    if name == "mps" and not mps:
        raise ValueError("--device mps: no Apple GPU is available")
    return name
