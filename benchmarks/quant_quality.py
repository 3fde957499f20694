"""
What quantizing a model costs: perplexity on held-out text and greedy stories, float32 against our Q8_0,
Q4_0 and NF4 files, and whether run.c and Python agree on the same quantized file.

    python benchmarks/quant_quality.py                                   # stories260K from the fixtures
    python benchmarks/quant_quality.py --model out/model.bin             # and the quickstart model

For each model the script writes our format's quantized versions (export.py --quant with its defaults, which
keep wq/wk/wv in Q8_0 below dim 128, and 4-bit files with wq/wk/wv in 4 and in 8 bits either way:
--quant-types wqkv=...) and measures:

  - perplexity on held-out text: for a completion model (stories260K) the TinyStories validation stories
    of the shared fixtures (valid100.txt: 100 stories, each BOS + text, cut to the model's context); for an
    instruct model (the quickstart's) 100 stories of the storyteller's held-out split, scored on the story
    and EOS given EOS + prompt + BOS, as it was trained (TinyStories text is not what it models: its
    perplexity there is in the thousands). Measured with the file's weights dequantized ("weights"), and
    computing as run.c does
    ("as run"): the same weights, every quantized matmul's input rounded to int8 per block, NF4 through
    run.c's int8 table, keys and values through its fp16 cache (formats/model_bin.as_run_computes). The change
    against float32 is in brackets.
  - greedy stories from a few prompts (200 positions each): how many leading tokens the quantized model,
    computing as run.c does, shares with float32;
  - run.c against Python on the same quantized file, greedy: whether the stories are identical, and else at
    which character they part, against Python computing as run.c does and against the plain dequantized
    weights. Rounding to int8 is a step function, so a 1e-7 difference between two float32 computations
    can move an input to the next step; where a model's top two choices are that close, the stories part.
"""

import argparse
import math
import os
import subprocess
import sys
import tempfile
from pathlib import Path

import torch

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))
import export  # noqa: E402
from data.storyteller import make_records  # noqa: E402
from formats import model_bin  # noqa: E402
from formats.loader import load_model  # noqa: E402
from sample import generate_text, prompt_ids  # noqa: E402
from tokenizer import Tokenizer  # noqa: E402

FIXTURES = Path(os.environ.get("STORIES_FIXTURES", ROOT.parent / "shared" / "fixtures"))
# (label, --quant, --quant-types): the defaults, and 4-bit files with wq/wk/wv in 4 bits and in 8 bits
VARIANTS = [("q8_0", "q8_0", None), ("q4_0", "q4_0", None), ("nf4", "nf4", None),
            ("q4_0, wqkv q4_0", "q4_0", {"wqkv": "q4_0"}), ("nf4, wqkv nf4", "nf4", {"wqkv": "nf4"}),
            ("q4_0, wqkv q8_0", "q4_0", {"wqkv": "q8_0"}), ("nf4, wqkv q8_0", "nf4", {"wqkv": "q8_0"})]
PROMPTS = {"generate": ["", "Once upon a time, there was a little fox", "Tom and his dog went to the park"],
           "instruct": ["Write a story about a brave fox who finds a key.",
                        "Write a story about a princess who is afraid of the dark",
                        "Write a story about a girl named Mia who finds a lost kitten in the forest"]}


def held_out(tokenizer: Tokenizer, instruct: bool, n: int = 100) -> list[tuple[list[int], int]]:
    """(context ids, scored ids) for each held-out example: the prompt is given, the story scored."""
    if instruct:
        records = make_records(n, seed=0, split="heldout")
        return [([tokenizer.eos_id] + tokenizer.encode(r["prompt"]) + [tokenizer.bos_id],
                 tokenizer.encode(r["story"]) + [tokenizer.eos_id]) for r in records]
    text = (FIXTURES / "tinystories" / "valid100.txt").read_text()
    return [([tokenizer.bos_id], tokenizer.encode(s.strip())) for s in text.split("<|endoftext|>")[:n] if s.strip()]


@torch.no_grad()
def perplexity(model, examples) -> float:
    """exp(mean cross-entropy) over the scored tokens of every example, each cut to the model's context."""
    total, count = 0.0, 0
    for context, story in examples:
        ids = (context + story)[:model.args.max_seq_len + 1]
        tokens = torch.tensor([ids])
        targets = tokens[:, 1:].clone()
        targets[:, :len(context) - 1] = -1  # the prompt is given, not scored
        _, loss = model(tokens[:, :-1], targets=targets)
        scored = int((targets >= 0).sum())
        total, count = total + loss.item() * scored, count + scored
    return math.exp(total / count)


def greedy_tokens(model, tokenizer: Tokenizer, prompt: str, mode: str, steps: int) -> list[int]:
    ids, stop = prompt_ids(tokenizer, prompt, mode)
    return list(model.generate(ids, steps - len(ids) + 1, temperature=0.0, stop_tokens=stop))


def common_prefix(a, b) -> int:
    return next((i for i, (x, y) in enumerate(zip(a, b)) if x != y), min(len(a), len(b)))


def c_story(binary: Path, model: Path, tokenizer_bin: Path, prompt: str, mode: str, steps: int) -> str:
    result = subprocess.run([str(binary), str(model), "-z", str(tokenizer_bin), "-m", mode, "-i", prompt, "-t", "0",
                             "-n", str(steps)], capture_output=True, env=dict(os.environ, OMP_NUM_THREADS="1"))
    if result.returncode:
        sys.exit(f"error: run failed: {result.stderr.decode(errors='replace')}")
    return result.stdout.decode()


def evaluate(name: str, source: Path, tokenizer_model: Path, tokenizer_bin: Path, binary: Path, workdir: Path,
             steps: int):
    tokenizer = Tokenizer(tokenizer_model)
    fp32, info = load_model(source)
    mode = "instruct" if info["instruct"] else "generate"
    prompts = PROMPTS[mode]
    examples = held_out(tokenizer, info["instruct"])
    base = perplexity(fp32, examples)
    base_tokens = [greedy_tokens(fp32, tokenizer, p, mode, steps) for p in prompts]
    text = "storyteller held-out" if info["instruct"] else "TinyStories validation"
    print(f"\n{name}: {source} ({sum(p.numel() for p in fp32.parameters()) / 1e6:.2f}M parameters, dim "
          f"{fp32.args.dim}, {mode}); {len(examples)} {text} stories; {len(prompts)} greedy prompts of {steps} "
          f"positions\n")
    print("| weights | types (embedding, wqkv, wo, w13, w2, classifier) | perplexity, weights | perplexity, as run "
          "| greedy tokens shared with f32 | run = Python as run | run = Python, weights |")
    print("|---|---|---|---|---|---|---|")
    print(f"| f32 | all f32 | {base:.4f} | - | - | - | - |")
    for label, quant, types in VARIANTS:
        path = workdir / f"{name}-{label.replace(', ', '-').replace(' ', '')}.bin"
        export.export(source, path, quant=quant, tokenizer_path=str(tokenizer_model), types=types)
        weights, qinfo = load_model(path)
        as_run = model_bin.as_run_computes(load_model(path)[0], qinfo)
        ppl_weights, ppl_run = perplexity(weights, examples), perplexity(as_run, examples)
        shared = [common_prefix(greedy_tokens(as_run, tokenizer, p, mode, steps), t) for p, t in zip(prompts, base_tokens)]
        same_run, same_weights = [], []
        for prompt in prompts:
            c = c_story(binary, path, tokenizer_bin, prompt, mode, steps)
            for python, out in ((as_run, same_run), (weights, same_weights)):
                text = "".join(generate_text(python, tokenizer, prompt, mode, temperature=0.0, steps=steps)) + "\n"
                out.append("yes" if text == c else f"to char {common_prefix(text, c)} of {len(c)}")
        stored = ", ".join(qinfo["quant"][k] for k in model_bin.KINDS)
        print(f"| {label} | {stored} | {ppl_weights:.4f} ({100 * (ppl_weights / base - 1):+.2f}%) "
              f"| {ppl_run:.4f} ({100 * (ppl_run / base - 1):+.2f}%) "
              f"| {' / '.join(f'{s} of {len(t)}' for s, t in zip(shared, base_tokens))} "
              f"| {' / '.join(same_run)} | {' / '.join(same_weights)} |", flush=True)


def main():
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--model", action="append", default=[],
                        help="a model of ours (model.bin with tokenizer.model and tokenizer.bin beside it); may repeat")
    parser.add_argument("--steps", type=int, default=200, help="positions per greedy story (default 200)")
    parser.add_argument("--binary", default=None, help="the run binary (default: build ./run with make)")
    args = parser.parse_args()
    torch.set_num_threads(1)  # deterministic float32 sums, as in the tests
    binary = Path(args.binary).resolve() if args.binary else ROOT / "run"
    if not args.binary:
        subprocess.run(["make", "-s", "run"], cwd=ROOT, check=True)
    print(f"command: {' '.join(sys.argv)}")
    with tempfile.TemporaryDirectory() as tmp:
        models = [("stories260K", FIXTURES / "llama2c-260K" / "stories260K.bin", FIXTURES / "llama2c-260K" / "tok512.model",
                   FIXTURES / "llama2c-260K" / "tok512.bin")]
        models += [(Path(m).parent.name or "model", Path(m), Path(m).parent / "tokenizer.model",
                    Path(m).parent / "tokenizer.bin") for m in args.model]
        for name, source, tok_model, tok_bin in models:
            evaluate(name, source, tok_model, tok_bin, binary, Path(tmp), args.steps)


if __name__ == "__main__":
    main()
