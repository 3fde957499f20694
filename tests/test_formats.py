"""Tests for formats/: one loader that recognises every model file by its content, llama2.c's .pt, the
layouts built from one table, the atomic writer, the tokenizer-identity refusals of every entry point,
and the import structure the package exists for (no cycles; model.py imports nothing of the project)."""

import ast
import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest
import torch

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))
from errors import CheckpointError, TokenizerError  # noqa: E402
from formats import checkpoint, layout, llama2c, model_bin, quants  # noqa: E402
from formats.atomic import atomic_write, write_bytes  # noqa: E402
from formats.loader import detect, load_model, save_model  # noqa: E402
from model import ModelArgs, Transformer  # noqa: E402
from tokenizer import open_tokenizer, train_tokenizer  # noqa: E402

FIXTURES = Path(os.environ.get("STORIES_FIXTURES", ROOT.parent / "shared" / "fixtures"))


def fixture(relative: str) -> Path:
    path = FIXTURES / relative
    if not path.is_file():
        pytest.skip(f"fixture {path} not found; set STORIES_FIXTURES to the shared fixtures folder")
    return path


def random_model(seed: int = 0, **overrides) -> Transformer:
    torch.manual_seed(seed)
    fields = dict(dim=32, n_layers=2, n_heads=4, n_kv_heads=2, vocab_size=300, hidden_dim=48, max_seq_len=32)
    model = Transformer(ModelArgs(**{**fields, **overrides}))
    with torch.no_grad():
        for p in model.parameters():
            p.normal_(0.0, 0.5)
    return model.eval()


def save_like_llama2c(model: Transformer, path: Path, compiled: bool = True, multiple_of: int | None = None):
    """A checkpoint laid out as llama2.c's train.py saves it: its own keys, its model_args, and (when it
    trained with torch.compile) the "_orig_mod." prefix on every weight."""
    a = model.args
    prefix = "_orig_mod." if compiled else ""
    torch.save({"model": {prefix + k: v for k, v in model.state_dict().items()}, "optimizer": {},
                "model_args": dict(dim=a.dim, n_layers=a.n_layers, n_heads=a.n_heads, n_kv_heads=a.n_kv_heads,
                                   vocab_size=a.vocab_size, multiple_of=multiple_of or a.multiple_of,
                                   max_seq_len=a.max_seq_len,
                                   dropout=0.0),
                "iter_num": 5000, "best_val_loss": 1.297, "config": {"batch_size": 128, "vocab_source": "custom"}},
               path)


def same_weights(a: Transformer, b: Transformer):
    sa, sb = a.state_dict(), b.state_dict()
    assert sa.keys() == sb.keys()
    for name in sa:
        assert torch.equal(sa[name], sb[name]), name


# ---------------------------------------------------------------------------------------------- the loader

@pytest.mark.parametrize("tied", [True, False])
def test_every_format_is_recognised_by_content_under_any_name(tmp_path, tied):
    model = random_model(tie_embeddings=tied, hidden_dim=None)  # llama2.c's model_args leave hidden_dim to the rule
    written = {
        "checkpoint": lambda p: checkpoint.save(p, model, step=3, tokenizer="ab" * 32, instruct=True, config={}),
        "llama2c-checkpoint": lambda p: save_like_llama2c(model, p),
        "ours": lambda p: model_bin.write(model, p, mode="instruct", identity="cd" * 32),
        "llama2c-v1": lambda p: llama2c.write_v1(model, p),
        "llama2c-v0": lambda p: llama2c.write_v0(model, p),
    }
    for fmt, write in written.items():
        # a misleading name: .pt for the .bin files and .bin for the checkpoints, or no suffix at all
        if fmt == "llama2c-checkpoint" and not tied:
            continue  # llama2.c always ties: its model_args have no field for an unshared classifier
        for name in (f"{fmt}.bin" if "checkpoint" in fmt else f"{fmt}.pt", f"{fmt}-model"):
            write(tmp_path / name)
            loaded, info = load_model(tmp_path / name)
            assert info["format"] == fmt, name
            assert loaded.args == model.args and not loaded.training
            same_weights(loaded, model)
    assert load_model(tmp_path / "checkpoint-model")[1]["tokenizer"] == "ab" * 32
    assert load_model(tmp_path / "ours-model")[1]["tokenizer"] == "cd" * 32
    if tied:
        assert load_model(tmp_path / "llama2c-checkpoint-model")[1]["step"] == 5000
    assert not any(load_model(tmp_path / f"{fmt}-model")[1]["instruct"] for fmt in ("llama2c-v1", "llama2c-v0"))


def test_narrow_models_keep_wqkv_in_8_bits_in_a_4_bit_file():
    """Below model_bin.NARROW_DIM, 4-bit wq/wk/wv cost too much (stories260K, dim 64: +2.6% perplexity of
    the +7.35% that takes a Q4_0 file past the 5% bound; docs/run.md); from dim 128 on they are 4-bit."""
    narrow, wide = ModelArgs(dim=64, n_heads=8, vocab_size=512), ModelArgs(dim=128, n_heads=4, vocab_size=512)
    for quant in ("q4_0", "nf4"):
        assert model_bin.quant_types(narrow, quant)["wqkv"] == "q8_0" and model_bin.quant_types(narrow, quant)["wo"] == quant
        assert model_bin.quant_types(wide, quant)["wqkv"] == quant
        assert model_bin.quant_types(narrow, quant, wqkv=quant)["wqkv"] == quant  # --quant-types wins
    assert model_bin.quant_types(narrow, "q8_0")["wqkv"] == "q8_0"


@pytest.mark.parametrize("quant", ["q8_0", "q4_0", "nf4"])
def test_quantized_model_bin_is_ours_under_any_name_and_reads_back_dequantized(tmp_path, quant):
    """Version 2 of our format goes through the same loader and writer table; what it reads back is exactly
    the blocks' dequantized values (formats/quants.py), and f32 where rows are not whole blocks."""
    model = random_model(hidden_dim=48)  # dim 32: whole blocks; w2's rows of 48 are not, so w2 stays f32
    save_model(model, tmp_path / "q.pt", "ours", mode="generate", quant=quant)
    loaded, info = load_model(tmp_path / "q.pt")
    assert info["format"] == "ours" and info["quant"]["w2"] == "f32" and info["quant"]["wo"] == quant
    # a model narrower than model_bin.NARROW_DIM keeps wq/wk/wv in 8 bits in a 4-bit file
    assert info["quant"]["wqkv"] == "q8_0" and info["quant"]["embedding"] == "q8_0"
    for name, want in model.state_dict().items():
        got = loaded.state_dict()[name]
        if name.endswith("w2.weight") or want.dim() == 1:
            assert torch.equal(got, want), name
        else:
            qtype = info["quant"][model_bin.kind_of("tok_embeddings.weight" if name == "output.weight" else name)]
            data = quants.quantize(want.numpy(), qtype)
            assert torch.equal(got, torch.from_numpy(quants.dequantize(data, qtype, tuple(want.shape)))), name


def test_llama2c_checkpoint_of_stories260K_gives_the_golden_story(tmp_path):
    model, _ = load_model(fixture("llama2c-260K/stories260K.bin"))
    save_like_llama2c(model, tmp_path / "ckpt.pt", multiple_of=4)  # llama2.c trained it with multiple_of 4
    loaded, info = load_model(tmp_path / "ckpt.pt")
    assert info["format"] == "llama2c-checkpoint" and info["tokenizer"] is None and info["config"] is None
    ids = list(loaded.generate([1], max_new_tokens=200, temperature=0.0, stop_tokens=[1]))
    tok = open_tokenizer(tmp_path / "ckpt.pt", fixture("llama2c-260K/tok512.model"), None, 512)
    assert tok.decode(ids) + "\n" == fixture("llama2c-260K/expected_greedy_200.txt").read_text()


@pytest.mark.parametrize("make, message", [
    (lambda p: (p.mkdir(), (p / "config.json").write_text("{}")), "Hugging Face model directory"),
    (lambda p: p.mkdir(), "not a regular file"),
    (lambda p: p.write_bytes(b"GGUF" + bytes(60)), "not a readable GGUF file"),
    (lambda p: p.write_bytes((0x616B3432).to_bytes(4, "little") + (2).to_bytes(4, "little") + bytes(300)),
     "llama2.c format version 2"),
    (lambda p: p.write_bytes(b"PK\x03\x04" + bytes(100)), "not a readable checkpoint file"),
    (lambda p: torch.save({"weights": torch.zeros(3)}, p), "not a model checkpoint"),
    (lambda p: p.write_bytes(os.urandom(1000)), "not such a file, or corrupt"),
    (lambda p: p.write_bytes(model_bin.MAGIC + (7).to_bytes(4, "little")), "model format version 7"),
])
def test_what_no_reader_takes_is_one_line(tmp_path, make, message):
    path = tmp_path / "thing"
    make(path)
    with pytest.raises(CheckpointError, match=message) as error:
        load_model(path)
    assert str(path) in str(error.value) and "\n" not in str(error.value)


def test_llamacpp_gguf_fixture_is_recognised():
    assert detect(fixture("gguf/stories260K.gguf")) == "gguf"  # read by formats/gguf.py, tests/test_gguf.py


def test_checkpoint_whose_weights_do_not_fit_its_shape(tmp_path):
    model = random_model()
    state = {"model_args": {**vars(model.args), "dim": 64}, "model": model.state_dict()}
    torch.save(state, tmp_path / "bad.pt")
    with pytest.raises(CheckpointError, match="do not match the model shape") as error:
        load_model(tmp_path / "bad.pt")
    assert "\n" not in str(error.value)
    untied = random_model(tie_embeddings=False)  # weights of an unshared classifier under a tied shape
    torch.save({"model_args": {**vars(untied.args), "tie_embeddings": True}, "model": untied.state_dict()},
               tmp_path / "untied.pt")
    with pytest.raises(CheckpointError, match="shares the embedding"):
        load_model(tmp_path / "untied.pt")
    torch.save({"model_args": {**vars(model.args), "n_experts": 8}, "model": model.state_dict()}, tmp_path / "moe.pt")
    with pytest.raises(CheckpointError, match="n_experts"):
        load_model(tmp_path / "moe.pt")


# ---------------------------------------------------------------------------------------------- layouts

@pytest.mark.parametrize("tied", [True, False])
def test_every_layout_holds_each_weight_once_in_the_shape_of_the_model(tied):
    model = random_model(tie_embeddings=tied)
    weights = {k: tuple(v.shape) for k, v in model.state_dict().items() if not (tied and k == "output.weight")}
    for layout_of in (llama2c.layout_v0, llama2c.layout_v1, model_bin.layout_ours):
        entries = [(name, shape) for name, shape in layout_of(model.args) if not name.startswith("freqs_")]
        assert len(entries) == len(weights) and dict(entries) == weights, layout_of.__name__
    shapes = layout.block_shapes(model.args)
    assert list(shapes) == [k.removeprefix("layers.0.") for k in model.state_dict() if k.startswith("layers.0.")]


# ---------------------------------------------------------------------------------------------- atomic writes

def test_a_failed_write_keeps_the_old_file_and_leaves_no_temporary(tmp_path):
    path = tmp_path / "ckpt.pt"
    write_bytes(path, b"old")
    with pytest.raises(RuntimeError):
        with atomic_write(path) as f:
            f.write(b"half of the new")
            raise RuntimeError("killed mid-write")
    assert path.read_bytes() == b"old" and os.listdir(tmp_path) == ["ckpt.pt"]
    # torch.save raising mid-way (an object it cannot pickle) is the same case
    with pytest.raises(Exception):
        checkpoint.save_torch({"model": lambda: None}, path)
    assert path.read_bytes() == b"old" and os.listdir(tmp_path) == ["ckpt.pt"]
    with pytest.raises(ValueError, match="whole files"):
        with atomic_write(path, "a"):
            pass


def test_writing_into_a_directory_we_may_not_write_is_one_line(tmp_path):
    if os.geteuid() == 0:
        # root writes anywhere; a path under a regular file fails the same way for everyone
        target = tmp_path / "file" / "model.bin"
        (tmp_path / "file").write_text("")
    else:
        (tmp_path / "ro").mkdir(mode=0o500)
        target = tmp_path / "ro" / "model.bin"
    result = subprocess.run([sys.executable, "export.py", str(fixture("llama2c-260K/stories260K.bin")), str(target),
                             "--version", "0"], cwd=ROOT, capture_output=True, text=True)
    assert result.returncode == 1 and "Traceback" not in result.stderr, result.stderr
    assert result.stderr.count("\n") == 1 and result.stderr.startswith("error: ")


# ---------------------------------------------------------------------------------------------- tokenizers

@pytest.fixture(scope="module")
def two_tokenizers(tmp_path_factory):
    """Two SentencePiece vocabularies of the same size trained on different texts: only their identity
    tells them apart."""
    root = tmp_path_factory.mktemp("tok")
    texts_a = [f"Once upon a time a fox named Tom found {i} red apples in the forest." for i in range(300)]
    texts_b = [f"The robot counted {i} blue stars over the quiet sea, then slept." for i in range(300)]
    return (train_tokenizer(texts_a, 300, root / "a.model"), train_tokenizer(texts_b, 300, root / "b.model"))


def test_open_tokenizer_refuses_another_identity_or_size(tmp_path, two_tokenizers):
    a, b = two_tokenizers
    assert a.vocab_size == b.vocab_size and a.identity != b.identity
    model_path = tmp_path / "model.bin"
    assert open_tokenizer(model_path, a.model_path, a.identity, 300).identity == a.identity
    with pytest.raises(TokenizerError, match="is not the tokenizer"):
        open_tokenizer(model_path, b.model_path, a.identity, 300)
    with pytest.raises(TokenizerError, match="has 300 pieces but"):
        open_tokenizer(model_path, b.model_path, None, 512)  # llama2.c's files: the size is all we know
    with pytest.raises(TokenizerError, match="no tokenizer.model beside"):
        open_tokenizer(model_path, None, None, 300)
    shutil.copy(b.model_path, tmp_path / "tokenizer.model")
    with pytest.raises(TokenizerError, match="is not the tokenizer"):
        open_tokenizer(model_path, None, a.identity, 300)  # the one beside the model is checked too


@pytest.mark.parametrize("script", ["sample.py", "eval.py", "export.py"])
def test_every_entry_point_refuses_a_tokenizer_that_is_not_the_models(tmp_path, two_tokenizers, script):
    a, b = two_tokenizers
    model_bin.write(random_model(), tmp_path / "model.bin", mode="generate", tokenizer=a)
    flag = {"sample.py": ["-z", str(b.model_path), "-i", "hi"], "eval.py": ["-z", str(b.model_path)],
            "export.py": [str(tmp_path / "out.bin"), "--tokenizer", str(b.model_path)]}[script]
    result = subprocess.run([sys.executable, script, str(tmp_path / "model.bin"), *flag], cwd=ROOT,
                            capture_output=True, text=True)
    assert result.returncode == 1 and "Traceback" not in result.stderr, result.stderr
    assert result.stderr.startswith("error: ") and result.stderr.count("\n") == 1, result.stderr
    assert "is not the tokenizer" in result.stderr and not (tmp_path / "out.bin").exists()


# ---------------------------------------------------------------------------------------------- structure

def project_modules() -> dict[str, Path]:
    files = [*ROOT.glob("*.py"), *ROOT.glob("formats/*.py"), *ROOT.glob("data/*.py")]
    return {".".join(p.relative_to(ROOT).with_suffix("").parts).removesuffix(".__init__"): p for p in files}


def imports_of(path: Path, modules) -> set[str]:
    """The project modules a file imports, at the top or inside functions."""
    found = set()
    for node in ast.walk(ast.parse(path.read_text())):
        if isinstance(node, ast.Import):
            names = [a.name for a in node.names]
        elif isinstance(node, ast.ImportFrom) and node.module:
            names = [node.module, *(f"{node.module}.{a.name}" for a in node.names)]
        else:
            continue
        found |= {n for n in names if n in modules}
    return found


def test_no_import_cycle_and_model_py_imports_only_torch_numpy_and_the_standard_library():
    modules = project_modules()
    graph = {name: imports_of(path, modules) - {name} for name, path in modules.items()}
    assert graph["model"] == set() and graph["lora"] == {"model"}

    def cycle_from(start):  # depth-first search that returns the first cycle met, as a list of modules
        stack, on_path = [(start, iter(sorted(graph[start])))], [start]
        while stack:
            node, children = stack[-1]
            child = next(children, None)
            if child is None:
                stack.pop(), on_path.pop()
            elif child in on_path:
                return on_path[on_path.index(child):] + [child]
            else:
                stack.append((child, iter(sorted(graph[child])))), on_path.append(child)
        return None
    for name in graph:
        assert cycle_from(name) is None, " -> ".join(cycle_from(name))

    top = {n.names[0].name.split(".")[0] if isinstance(n, ast.Import) else n.module.split(".")[0]
           for n in ast.walk(ast.parse((ROOT / "model.py").read_text())) if isinstance(n, (ast.Import, ast.ImportFrom))}
    assert top <= set(sys.stdlib_module_names) | {"numpy", "torch"}, top
