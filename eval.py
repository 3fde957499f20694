"""
Evaluate a checkpoint: validation loss and perplexity, and (for built-in stories) how well the model
follows instructions it has never seen.

    python eval.py out/ckpt.pt                       # built-in data: loss + instruction following
    python eval.py out/ckpt.pt --dataset stories.jsonl --no-follow

Instruction following: the built-in storyteller holds some (character kind, place) pairings out of
training. For each held-out prompt the model writes a story (greedy by default), and we check which of
the requested attributes (name, kind, place, object, helper) the story mentions. We report the fraction
of requested attributes present, and the fraction of stories that have all of them.
"""

import argparse
import json
import math
import sys
from pathlib import Path

import torch

from data import storyteller
from data.records import DataError
from data.shards import Batches
from model import CheckpointError, load_model
from sample import generate_text
from tokenizer import Tokenizer, TokenizerError
from train import TrainConfig, prepare_data


@torch.no_grad()
def validation_loss(model, tokenizer: Tokenizer, cfg: TrainConfig, batches: int, batch_size: int) -> float:
    """Mean loss over `batches` fixed windows of the dataset's validation shards."""
    shard_dir, _ = prepare_data(cfg, tokenizer.model_path, log=lambda *a: None)
    val = Batches(sorted(shard_dir.glob("val_*.bin")), min(cfg.max_seq_len, model.args.max_seq_len), batch_size,
                  tokenizer, mask_prompt=cfg.instruct, seed=cfg.seed + 1)
    model.eval()
    device = next(model.parameters()).device
    losses = [model(x.to(device), y.to(device))[1].item() for x, y in (val.get(i, 0) for i in range(batches))]
    return sum(losses) / len(losses)


def instruction_following(model, tokenizer: Tokenizer, n_prompts: int, seed: int, temperature: float,
                          max_new_tokens: int | None = None) -> dict:
    """Generate a story for each of n held-out prompts and score the requested attributes."""
    records = storyteller.make_records(n_prompts, seed=seed, split="heldout")
    per_attribute = {}  # attribute -> [hits, asked]
    all_present, examples = 0, []
    for i, record in enumerate(records):
        story = "".join(generate_text(model, tokenizer, record["prompt"], "instruct", temperature=temperature,
                                      max_new_tokens=max_new_tokens, seed=seed + i + 1))
        hits = storyteller.score_story(story, record["attributes"])
        for name, hit in hits.items():
            counts = per_attribute.setdefault(name, [0, 0])
            counts[0] += hit
            counts[1] += 1
        all_present += all(hits.values())
        if len(examples) < 3:
            examples.append({"prompt": record["prompt"], "story": story, "hits": hits})
    asked = sum(c[1] for c in per_attribute.values())
    return {
        "prompts": len(records),
        "attribute_rate": sum(c[0] for c in per_attribute.values()) / asked,
        "all_attributes_rate": all_present / len(records),
        "per_attribute": {k: c[0] / c[1] for k, c in per_attribute.items()},
        "examples": examples,
    }


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("checkpoint", help="a .pt checkpoint from train.py (or a .bin model)")
    parser.add_argument("--dataset", default=None,
                        help="dataset for validation loss (default: the one the checkpoint was trained on)")
    parser.add_argument("--data-dir", default=None, help="prepared-data cache (default: the checkpoint's)")
    parser.add_argument("--batches", type=int, default=50, help="validation batches (default 50)")
    parser.add_argument("--batch-size", type=int, default=16, help="validation batch size (default 16)")
    parser.add_argument("--prompts", type=int, default=100, help="held-out prompts for instruction following (default 100)")
    parser.add_argument("--temperature", type=float, default=0.0, help="sampling temperature for stories (default 0: greedy)")
    parser.add_argument("--seed", type=int, default=1234, help="which held-out prompts, and the sampling seed")
    parser.add_argument("--no-loss", action="store_true", help="skip validation loss")
    parser.add_argument("--no-follow", action="store_true", help="skip instruction following")
    parser.add_argument("--json", default=None, help="also write the results to this JSON file")
    args = parser.parse_args(argv)
    if args.batches <= 0 or args.batch_size <= 0 or args.prompts <= 0:
        parser.error("--batches, --batch-size and --prompts must be positive")
    if args.temperature < 0:
        parser.error("--temperature must not be negative")

    try:
        model, info = load_model(args.checkpoint)
        tokenizer_path = Path(args.checkpoint).parent / "tokenizer.model"
        tokenizer = Tokenizer(tokenizer_path)
        trained = info.get("config") or {}
        cfg = TrainConfig(**{k: v for k, v in trained.items() if k in TrainConfig.__dataclass_fields__})
        if args.dataset:
            cfg.dataset = args.dataset
        if args.data_dir:
            cfg.data_dir = args.data_dir
        cfg.instruct = bool(info.get("instruct"))
        results = {"checkpoint": args.checkpoint, "dataset": cfg.dataset}
        if not args.no_loss:
            loss = validation_loss(model, tokenizer, cfg, args.batches, args.batch_size)
            results.update(val_loss=loss, perplexity=math.exp(loss))
            print(f"validation loss {loss:.4f}, perplexity {math.exp(loss):.2f} "
                  f"({args.batches} x {args.batch_size} windows of {cfg.dataset})")
        if not args.no_follow:
            if cfg.dataset != "builtin":
                print("instruction following is scored on built-in stories only; skipped")
            else:
                follow = instruction_following(model, tokenizer, args.prompts, args.seed, args.temperature)
                results["instruction_following"] = follow
                print(f"instruction following on {follow['prompts']} held-out prompts: "
                      f"{100 * follow['attribute_rate']:.1f}% of requested attributes, "
                      f"{100 * follow['all_attributes_rate']:.1f}% of stories have all of them")
                print("  per attribute: " + ", ".join(f"{k} {100 * v:.1f}%" for k, v in follow["per_attribute"].items()))
        if args.json:
            Path(args.json).write_text(json.dumps(results, indent=2) + "\n")
    except (CheckpointError, TokenizerError, DataError, FileNotFoundError) as e:
        sys.exit(f"error: {e}")
    return results


if __name__ == "__main__":
    main()
