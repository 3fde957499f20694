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

import torch

from data import storyteller
from data.prepare import VAL_FRACTION, validation_shards
from data.shards import Batches
from errors import USER_ERRORS, exit_with, flag_type
from formats.atomic import write_text
from model import pick_device
from sample import generate_text, load_for_sampling
from tokenizer import Tokenizer

# what a run records in its checkpoint's config that decides its validation split, and train.py's
# defaults for a model that records none (llama2.c's files)
SPLIT_DEFAULTS = {"dataset": "builtin", "data_dir": "data/cache", "seed": 1337, "val_fraction": VAL_FRACTION,
                  "builtin_stories": 30000, "max_seq_len": None}


@torch.no_grad()
def validation_loss(model, tokenizer: Tokenizer, split: dict, instruct: bool, batches: int, batch_size: int) -> float:
    """Mean loss over `batches` fixed windows of the validation split the model was trained beside
    (split: SPLIT_DEFAULTS' fields), the same windows train.py evaluates on."""
    seq_len = min(split["max_seq_len"] or model.args.max_seq_len, model.args.max_seq_len)
    with validation_shards(split["dataset"], split["data_dir"], tokenizer, instruct=instruct, seed=split["seed"],
                           val_fraction=split["val_fraction"], builtin_stories=split["builtin_stories"]) as shards:
        val = Batches(shards, seq_len, batch_size, tokenizer, mask_prompt=instruct, seed=split["seed"] + 1)
        model.eval()
        device = model.norm.weight.device
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
    parser.add_argument("checkpoint", help="any model the project loads (our ckpt.pt or model.bin, llama2.c's files)")
    parser.add_argument("--dataset", default=None,
                        help="dataset for validation loss (default: the one the checkpoint was trained on)")
    parser.add_argument("--data-dir", default=None, help="prepared-data cache (default: the checkpoint's)")
    parser.add_argument("-z", "--tokenizer", default=None,
                        help="tokenizer .model (default: tokenizer.model beside the checkpoint)")
    parser.add_argument("--adapter", default=None, help="a LoRA adapter.pt to apply, unmerged, to the checkpoint")
    parser.add_argument("--device", type=flag_type(pick_device), default="cpu",
                        help="auto, cpu, cuda or mps (default cpu)")
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
        model, info, tokenizer = load_for_sampling(args.checkpoint, args.adapter, args.tokenizer, args.device)
        trained = info.get("config") or {}
        split = {k: trained.get(k, default) for k, default in SPLIT_DEFAULTS.items()}
        split.update({k: v for k, v in (("dataset", args.dataset), ("data_dir", args.data_dir)) if v})
        instruct = bool(info.get("instruct"))
        results = {"checkpoint": args.checkpoint, "dataset": split["dataset"]}
        if not args.no_loss:
            loss = validation_loss(model, tokenizer, split, instruct, args.batches, args.batch_size)
            results.update(val_loss=loss, perplexity=math.exp(loss))
            print(f"validation loss {loss:.4f}, perplexity {math.exp(loss):.2f} "
                  f"({args.batches} x {args.batch_size} windows of {split['dataset']})")
        if not args.no_follow:
            if split["dataset"] != "builtin":
                print("instruction following is scored on built-in stories only; skipped")
            else:
                follow = instruction_following(model, tokenizer, args.prompts, args.seed, args.temperature)
                results["instruction_following"] = follow
                print(f"instruction following on {follow['prompts']} held-out prompts: "
                      f"{100 * follow['attribute_rate']:.1f}% of requested attributes, "
                      f"{100 * follow['all_attributes_rate']:.1f}% of stories have all of them")
                print("  per attribute: " + ", ".join(f"{k} {100 * v:.1f}%" for k, v in follow["per_attribute"].items()))
        if args.json:
            write_text(args.json, json.dumps(results, indent=2) + "\n")
    except USER_ERRORS as e:
        exit_with(e)
    return results


if __name__ == "__main__":
    main()
