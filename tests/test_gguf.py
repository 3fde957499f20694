"""Tests for formats/gguf.py and `export.py ... model.gguf` against llama.cpp's own artifacts and code.

Reference checks: our GGUF of llama2.c's stories260K equals the one llama.cpp's convert-llama2c-to-ggml
made (tensor for tensor, and the vocabulary); llama.cpp (the llama_cpp package, llama-cpp-python) runs our
files and its greedy tokens equal run.c's; its quantizer makes the same Q8_0/Q4_0 blocks as ours. The
tests that need llama_cpp skip with a reason when it is not installed (see requirements-test.txt for the
build flags). The llama-server tests run only where LLAMA_CPP_BIN names a folder holding llama-server.
"""

import os
import signal
import subprocess
import sys
from pathlib import Path

import gguf as gguf_package
import numpy as np
import pytest
import torch

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))
from benchmarks.real_teacher import post, serving  # noqa: E402  (starts and stops llama-server)
from formats import gguf  # noqa: E402
from formats.loader import load_model, save_model  # noqa: E402
from sample import prompt_ids  # noqa: E402
from test_formats import fixture, random_model  # noqa: E402
from test_run import ENV, INSTRUCTION, STORY_START, TRAIN, run_c  # noqa: E402
from tokenizer import Tokenizer  # noqa: E402

STORIES260K = "llama2c-260K/stories260K.bin"
TOK512 = "llama2c-260K/tok512.model"


def export(*args) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "export.py", *map(str, args)], cwd=ROOT, capture_output=True, text=True)


def exported_260K(tmp_path, quant="f32", *flags) -> Path:
    out = tmp_path / f"stories260K-{quant}{'-'.join(['', *flags]).replace('=', '')}.gguf"
    result = export(fixture(STORIES260K), out, "--tokenizer", fixture(TOK512), "--quant", quant, *flags)
    assert result.returncode == 0, result.stderr
    return out


def tensors(path) -> dict:
    return {t.name: t for t in gguf_package.GGUFReader(path).tensors}


def field(path, key):
    f = gguf_package.GGUFReader(path).fields.get(key)
    return None if f is None else f.contents()


@pytest.fixture(scope="module")
def trained(tmp_path_factory) -> Path:
    """out/ of tests/test_run.py's tiny instruct model (TRAIN), trained here by train.py (~10 s)."""
    out = tmp_path_factory.mktemp("trained") / "out"
    result = subprocess.run([sys.executable, "train.py", *TRAIN, "--out-dir", str(out), "--data-dir",
                             str(out.parent / "data")], cwd=ROOT, env=ENV, capture_output=True, text=True)
    assert result.returncode == 0, result.stderr
    return out


# ----------------------------------------------------------------------------------------------------------
# the file, against llama.cpp's converter


def test_stories260K_equals_llamacpp_converter_tensor_for_tensor_and_in_its_vocabulary(tmp_path):
    ours_path, theirs_path = exported_260K(tmp_path), fixture("gguf/stories260K.gguf")
    ours, theirs = tensors(ours_path), tensors(theirs_path)
    # their converter writes the shared classifier twice; we leave output out, as llama.cpp's converters do
    # for any tied model, and llama.cpp then uses token_embd (the llama.cpp tests below run it)
    assert set(theirs) - set(ours) == {"output.weight"} and set(ours) <= set(theirs)
    assert np.array_equal(theirs["output.weight"].data, theirs["token_embd.weight"].data)
    for name, t in ours.items():
        assert t.tensor_type == theirs[name].tensor_type == gguf_package.GGMLQuantizationType.F32, name
        assert list(t.shape) == list(theirs[name].shape), name
        assert np.array_equal(t.data, theirs[name].data), name
    for key in ("tokenizer.ggml.model", "tokenizer.ggml.tokens", "tokenizer.ggml.scores", "tokenizer.ggml.token_type",
                "tokenizer.ggml.bos_token_id", "tokenizer.ggml.eos_token_id", "tokenizer.ggml.unknown_token_id",
                "general.architecture", "llama.embedding_length", "llama.feed_forward_length", "llama.block_count",
                "llama.attention.head_count", "llama.attention.head_count_kv", "llama.rope.dimension_count",
                "llama.attention.layer_norm_rms_epsilon"):
        assert field(ours_path, key) == field(theirs_path, key), key
    # what differs: the context (the model's 512; their converter's default 2048) and what we add
    assert field(ours_path, "llama.context_length") == 512 and field(theirs_path, "llama.context_length") == 2048
    assert field(ours_path, "llama.rope.freq_base") == 10000.0
    assert field(ours_path, "tokenizer.ggml.add_bos_token") is True
    assert field(ours_path, "general.file_type") == 0
    assert gguf_package.GGUFReader(ours_path).fields["GGUF.version"].contents() == 3


def test_reader_takes_ours_and_llamacpps_back_to_the_same_weights(tmp_path):
    original, _ = load_model(fixture(STORIES260K))
    for path in (exported_260K(tmp_path), fixture("gguf/stories260K.gguf")):
        model, info = load_model(path)
        assert info["format"] == "gguf" and not info["instruct"] and (info["bos_id"], info["eos_id"]) == (1, 2)
        assert model.args.norm_eps == 1e-5 and model.args.rope_theta == 10000.0
        for name, weight in original.state_dict().items():
            assert torch.equal(weight, model.state_dict()[name]), name
    # llama.cpp's file through our reader gives llama2.c's golden story
    ids = list(model.generate([1], max_new_tokens=200, temperature=0.0, stop_tokens=[1]))
    text = Tokenizer(fixture(TOK512)).decode(ids) + "\n"
    assert text == fixture("llama2c-260K/expected_greedy_200.txt").read_text()


def test_f16_keeps_norms_in_f32_and_rounds_matrices_once(tmp_path):
    path = exported_260K(tmp_path, "f16")
    original, _ = load_model(fixture(STORIES260K))
    state = original.state_dict()
    F32, F16 = gguf_package.GGMLQuantizationType.F32, gguf_package.GGMLQuantizationType.F16
    for gguf_name, ours, shape in gguf.tensor_table(original.args):
        t = tensors(path)[gguf_name]
        assert t.tensor_type == (F32 if len(shape) == 1 else F16), gguf_name
        assert np.array_equal(np.asarray(t.data).reshape(shape), state[ours].numpy().astype(t.data.dtype)), gguf_name
    assert field(path, "general.file_type") == 1


def test_instruct_model_gets_our_prompt_layout_as_its_chat_template(trained, tmp_path):
    """The chat template, rendered as llama.cpp's server and Hugging Face clients render it (Jinja with
    bos_token/eos_token), then tokenized with the specials parsed, gives exactly sample.py's instruct ids;
    a conversation gives the packed training stream."""
    import jinja2
    out = tmp_path / "model.gguf"
    assert export(trained / "model.bin", out).returncode == 0
    assert field(out, "tokenizer.ggml.add_bos_token") is False and field(out, "tokenizer.ggml.add_eos_token") is False
    template = jinja2.Environment().from_string(field(out, "tokenizer.chat_template"))
    tokenizer = Tokenizer(trained / "tokenizer.model")
    messages = [{"role": "system", "content": "ignored"}, {"role": "user", "content": INSTRUCTION}]
    text = template.render(messages=messages, bos_token="<s>", eos_token="</s>", add_generation_prompt=True)
    assert text == f"</s>{INSTRUCTION}<s>"
    assert [tokenizer.eos_id, *tokenizer.encode(INSTRUCTION), tokenizer.bos_id] == prompt_ids(tokenizer, INSTRUCTION, "instruct")[0]
    two_turns = messages + [{"role": "assistant", "content": "Once upon a time."}, {"role": "user", "content": "Again."}]
    assert template.render(messages=two_turns, bos_token="<s>", eos_token="</s>") == \
        f"</s>{INSTRUCTION}<s>Once upon a time.</s>Again.<s>"
    modelfile = out.with_suffix(".Modelfile").read_text()
    assert "FROM ./model.gguf\n" in modelfile and 'PARAMETER stop "</s>"' in modelfile
    assert '{{ if eq .Role "user" }}</s>{{ .Content }}<s>' in modelfile.replace("{{- ", "{{ ")
    assert "PARAMETER num_ctx 256" in modelfile


@pytest.mark.parametrize("quant", ["q8_0", "q4_0"])
def test_quantized_blocks_equal_the_gguf_packages_reference_quantizer(tmp_path, quant):
    """Each matrix in ggml's blocks, byte for byte as gguf.quants (the Python mirror of ggml-quants.c's
    reference quantizers) makes them from the float32 weights; the types follow llama.cpp's quantizer
    (norms F32, rows not a multiple of 32 long in F16) with the embedding at Q8_0 in a Q4_0 file, and
    wq/wk/wv too, stories260K being narrower than model_bin.NARROW_DIM."""
    path = exported_260K(tmp_path, quant)
    original, _ = load_model(fixture(STORIES260K))
    state, T = original.state_dict(), gguf_package.GGMLQuantizationType
    block_type = T.Q8_0 if quant == "q8_0" else T.Q4_0
    for gguf_name, ours, shape in gguf.tensor_table(original.args):
        t = tensors(path)[gguf_name]
        eight_bits = gguf_name == "token_embd.weight" or gguf_name.split(".")[-2] in ("attn_q", "attn_k", "attn_v")
        expected = (T.F32 if len(shape) == 1 else T.F16 if "ffn_down" in gguf_name  # stories260K's hidden dim is 172
                    else T.Q8_0 if eight_bits else block_type)
        assert t.tensor_type == expected, gguf_name
        weights = state[ours].numpy()
        if expected in (T.Q8_0, T.Q4_0):
            assert bytes(t.data) == gguf_package.quants.quantize(weights, expected).tobytes(), gguf_name
        else:
            assert np.array_equal(np.asarray(t.data).reshape(shape), weights.astype(t.data.dtype)), gguf_name
    assert field(path, "general.file_type") == {"q8_0": 7, "q4_0": 2}[quant]
    assert field(path, "general.quantization_version") == 2


# ----------------------------------------------------------------------------------------------------------
# bad input: one line, and never half a file under the real name


def one_line_error(result, status=1):
    assert result.returncode == status, result.stderr
    lines = result.stderr.strip().splitlines()
    assert "Traceback" not in result.stderr and lines[-1].startswith(("error: ", "usage: ", "export.py: error")), lines
    return lines[-1]


def test_unknown_quant_type_is_a_usage_error(tmp_path):
    line = one_line_error(export(fixture(STORIES260K), tmp_path / "m.gguf", "--tokenizer", fixture(TOK512),
                                 "--quant", "q3_k"), status=2)
    assert "--quant" in line and "q3_k" in line
    assert not (tmp_path / "m.gguf").exists()


def test_tokenizer_gguf_cannot_hold_is_one_line(tmp_path):
    """A SentencePiece unigram model: llama.cpp's llama vocabulary would tokenize differently."""
    import sentencepiece as spm
    text = tmp_path / "text.txt"
    text.write_text("\n".join(f"the cat number {i} sat on the mat and saw a dog" for i in range(200)))
    spm.SentencePieceTrainer.train(input=str(text), model_prefix=str(tmp_path / "uni"), vocab_size=40,
                                   model_type="unigram", minloglevel=2)
    save_model(random_model(vocab_size=40), tmp_path / "model.bin", "ours")
    line = one_line_error(export(tmp_path / "model.bin", tmp_path / "m.gguf", "--tokenizer", tmp_path / "uni.model"))
    assert "unigram" in line and "BPE" in line
    assert not (tmp_path / "m.gguf").exists()
    # and no tokenizer at all: llama2.c's file records none and none sits beside it
    line = one_line_error(export(fixture(STORIES260K), tmp_path / "m.gguf"))
    assert "tokenizer" in line and not (tmp_path / "m.gguf").exists()


def test_output_path_that_is_a_directory_is_one_line(tmp_path):
    (tmp_path / "m.gguf").mkdir()
    line = one_line_error(export(fixture(STORIES260K), tmp_path / "m.gguf", "--tokenizer", fixture(TOK512)))
    assert "directory" in line and str(tmp_path / "m.gguf") in line


def test_a_failed_write_leaves_the_old_file_and_no_temporary(tmp_path, monkeypatch):
    out = tmp_path / "m.gguf"
    out.write_bytes(b"old")
    model, _ = load_model(fixture(STORIES260K))

    def fail_halfway(self, **kwargs):
        self.fout[0].write(b"half a file")
        raise OSError(28, "No space left on device")
    monkeypatch.setattr(gguf_package.GGUFWriter, "write_tensors_to_file", fail_halfway)
    with pytest.raises(OSError):
        save_model(model, out, "gguf", tokenizer=Tokenizer(fixture(TOK512)))
    assert out.read_bytes() == b"old" and sorted(p.name for p in tmp_path.iterdir()) == ["m.gguf"]


# ----------------------------------------------------------------------------------------------------------
# llama.cpp runs our files (llama_cpp: llama-cpp-python)


@pytest.fixture(scope="module")
def llama_cpp():
    try:
        import llama_cpp
    except ImportError as e:
        pytest.skip(f"llama_cpp (llama-cpp-python) is not installed ({e}); requirements-test.txt has the pinned "
                    f"version and the build flags")
    # a build with ggml's AMX kernels dies by SIGILL at the first prompt on some AVX-512 CPUs (this
    # project's machine): find out in a child process rather than lose the test run
    probe = subprocess.run([sys.executable, "-c", "import sys, llama_cpp; "
                            "llama_cpp.Llama(sys.argv[1], verbose=False).eval([1, 2, 3])",
                            str(fixture("gguf/stories260K.gguf"))], capture_output=True, text=True, timeout=300)
    if probe.returncode == -signal.SIGILL:
        pytest.skip("llama_cpp dies with SIGILL evaluating a prompt: reinstall llama-cpp-python with the "
                    "CMAKE_ARGS in requirements-test.txt (no AMX kernels)")
    assert probe.returncode == 0, probe.stderr
    return llama_cpp


def llamacpp_greedy(llama_cpp, path: Path, ids: list[int], n: int, stop: tuple[int, ...], shown: int = 0):
    """llama.cpp's greedy continuation of ids: argmax of the logits llama.cpp computes, one token at a
    time, up to n tokens or a stop token (not included), as run.c -t 0 does. Returns the new ids and
    llama.cpp's own text of ids[shown:] + new ids (its detokenizer, less the leading space it gives the
    first word, which run.c drops after BOS as SentencePiece does)."""
    llm = llama_cpp.Llama(str(path), n_ctx=0, n_threads=1, n_batch=512, logits_all=True, verbose=False)
    llm.eval(ids)
    out = []
    while len(out) < n:
        token = int(np.argmax(llm.scores[llm.n_tokens - 1]))
        if token in stop:
            break
        out.append(token)
        if len(out) < n:  # the last token is read off the last position's logits, not fed back
            llm.eval([token])
    return out, llm.detokenize(ids[shown:] + out).decode().removeprefix(" ")


def test_llamacpp_writes_the_golden_story_from_our_stories260K(llama_cpp, binaries, tmp_path):
    path = exported_260K(tmp_path)
    ids, _ = llamacpp_greedy(llama_cpp, path, [1], 511, stop=(1, 2))
    assert len(ids) >= 200
    golden = fixture("llama2c-260K/expected_greedy_200.txt").read_text()  # llama2.c's run -n 200: 200 tokens
    assert llamacpp_greedy(llama_cpp, path, [1], 200, stop=(1, 2))[1] + "\n" == golden
    # and as far as the story goes: run -n N runs N positions and prints N tokens after BOS
    c = run_c(binaries["run"], fixture(STORIES260K), "-z", fixture("llama2c-260K/tok512.bin"), "-t", 0,
              "-n", len(ids)).stdout.decode()
    assert c == llamacpp_greedy(llama_cpp, path, [1], len(ids), stop=(1, 2))[1] + "\n"


@pytest.mark.parametrize("mode", ["instruct", "generate"])
def test_llamacpp_and_run_write_the_same_story_from_a_trained_instruct_model(llama_cpp, binaries, trained, tmp_path, mode):
    path = tmp_path / "model.gguf"
    assert export(trained / "model.bin", path).returncode == 0
    tokenizer = Tokenizer(trained / "tokenizer.model")
    prompt = INSTRUCTION if mode == "instruct" else STORY_START
    llm = llama_cpp.Llama(str(path), n_ctx=0, n_threads=1, verbose=False)
    # llama.cpp's tokenizer, reading our vocabulary, agrees with SentencePiece, specials included
    ids, stop = prompt_ids(tokenizer, prompt, mode)
    as_text = f"</s>{prompt}<s>" if mode == "instruct" else f"<s>{prompt}"
    assert llm.tokenize(as_text.encode(), add_bos=False, special=True) == ids
    assert llm.tokenize(prompt.encode(), add_bos=False) == tokenizer.encode(prompt)
    # run -n 0 generates until the context is full: 256 positions
    generated, text = llamacpp_greedy(llama_cpp, path, ids, 256 - len(ids), stop, shown=len(ids) if mode == "instruct" else 1)
    assert len(generated) >= 200, "the story ended before 200 tokens; train the test model longer"
    c = run_c(binaries["run"], trained / "model.bin", "-m", mode, "-i", prompt, "-t", 0, "-n", 0).stdout.decode()
    assert c == text + "\n"


def llamacpp_perplexity(llama_cpp, path: Path, ids: list[int], window: int = 256) -> float:
    """Perplexity of ids as llama.cpp computes the logits: consecutive windows, each from an empty cache."""
    llm = llama_cpp.Llama(str(path), n_ctx=window, n_batch=window, n_threads=1, logits_all=True, verbose=False)
    nll, n = 0.0, 0
    for start in range(0, len(ids) - 1, window):
        chunk = ids[start:start + window]
        llm.reset()
        llm.eval(chunk)
        logits = np.asarray(llm.scores[:len(chunk)], dtype=np.float64)  # (T, vocab)
        top = logits.max(axis=1, keepdims=True)
        logp = logits - top - np.log(np.exp(logits - top).sum(axis=1, keepdims=True))
        nll -= logp[np.arange(len(chunk) - 1), chunk[1:]].sum()
        n += len(chunk) - 1
    return float(np.exp(nll / n))


def held_out_ids(tokenizer: Tokenizer, n_stories: int = 30) -> list[int]:
    """BOS + story for the first TinyStories validation stories: text stories260K never trained on."""
    text = fixture("tinystories/valid100.txt").read_text()
    stories = [s.strip() for s in text.split("<|endoftext|>") if s.strip()][:n_stories]
    return [i for story in stories for i in [tokenizer.bos_id, *tokenizer.encode(story)]]


@pytest.mark.parametrize("quant, bound", [("q8_0", 0.01), ("q4_0", 0.05)])
def test_llamacpps_quantizer_makes_our_blocks_and_llamacpp_runs_them(llama_cpp, tmp_path, quant, bound):
    """llama.cpp quantizes our f32 GGUF (llama_model_quantize: --pure, embedding at Q8_0) into the very
    tensors we wrote with every projection in `quant`, and runs our default file with perplexity on
    held-out text within issue 12's bounds of f32's: 1% for Q8_0; 5% for Q4_0, whose default keeps
    wq/wk/wv at Q8_0 in a model as small as stories260K (docs/run.md; all of them at Q4_0 cost it about 7%,
    printed here)."""
    import ctypes
    f32, default = exported_260K(tmp_path), exported_260K(tmp_path, quant)
    ours, theirs = exported_260K(tmp_path, quant, "--quant-types", f"wqkv={quant}"), tmp_path / "theirs.gguf"
    params = llama_cpp.llama_model_quantize_default_params()
    params.nthread, params.pure = 1, True
    params.ftype = {"q8_0": llama_cpp.LLAMA_FTYPE_MOSTLY_Q8_0, "q4_0": llama_cpp.LLAMA_FTYPE_MOSTLY_Q4_0}[quant]
    params.token_embedding_type = params.output_tensor_type = llama_cpp.GGML_TYPE_Q8_0
    assert llama_cpp.llama_model_quantize(str(f32).encode(), str(theirs).encode(), ctypes.byref(params)) == 0
    ours_t, theirs_t = tensors(ours), tensors(theirs)
    assert set(ours_t) == set(theirs_t)
    for name, t in ours_t.items():
        assert t.tensor_type == theirs_t[name].tensor_type, name
        assert bytes(t.data) == bytes(theirs_t[name].data), name

    tokenizer = Tokenizer(fixture(TOK512))
    ids = held_out_ids(tokenizer)
    base, quantized = llamacpp_perplexity(llama_cpp, f32, ids), llamacpp_perplexity(llama_cpp, default, ids)
    every = quantized if quant == "q8_0" else llamacpp_perplexity(llama_cpp, ours, ids)
    print(f"\n{quant}: perplexity {quantized:.4f} (+{100 * (quantized / base - 1):.2f}%), every projection in "
          f"{quant} {every:.4f} (+{100 * (every / base - 1):.2f}%); f32 {base:.4f}")
    assert quantized <= base * (1 + bound), f"{quant}: perplexity {quantized:.4f} against f32's {base:.4f}"
    model, _ = load_model(fixture(STORIES260K))
    # llama.cpp's f32 perplexity is ours (PyTorch) up to float rounding
    with torch.no_grad():
        chunks = [ids[s:s + 256] for s in range(0, len(ids) - 1, 256)]
        nll = sum(model(torch.tensor([c[:-1]]), torch.tensor([c[1:]]))[1] * (len(c) - 1) for c in chunks)
    assert abs(float(torch.exp(nll / (len(ids) - len(chunks)))) / base - 1) < 1e-4


# ----------------------------------------------------------------------------------------------------------
# llama.cpp's server answers OpenAI requests from our files (opt-in: LLAMA_CPP_BIN=folder with llama-server)


@pytest.fixture(scope="module")
def llama_server():
    folder = os.environ.get("LLAMA_CPP_BIN")
    binary = Path(folder or "") / "llama-server"
    if not folder or not binary.is_file():
        pytest.skip("set LLAMA_CPP_BIN to a folder holding llama.cpp's llama-server to run these tests")
    return binary


# llama-server's flash attention (on by default on CPU) sums in another order, which flips this under-trained
# model's greedy near-ties (top-2 logit margins down to 0.0003); with it off, llama.cpp computes as run does
EXACT = ("-t", "1", "--parallel", "1", "-fa", "off")


def test_llama_server_chat_gives_runs_story_and_completions_continue_text(llama_server, binaries, trained, tmp_path):
    path = tmp_path / "model.gguf"
    assert export(trained / "model.bin", path).returncode == 0
    model, _ = load_model(trained / "model.bin")
    tokenizer = Tokenizer(trained / "tokenizer.model")
    c = run_c(binaries["run"], trained / "model.bin", "-m", "instruct", "-i", INSTRUCTION, "-t", 0, "-n", 0).stdout.decode()
    with serving(llama_server, path, *EXACT) as url:
        chat = post(f"{url}/chat/completions", {"messages": [{"role": "user", "content": INSTRUCTION}],
                                                "temperature": 0, "max_tokens": 300})
        # the template fed EOS prompt BOS, as run -m instruct does: the same greedy story, 200+ tokens
        assert chat["choices"][0]["message"]["content"].strip() == c.strip()
        assert chat["usage"]["completion_tokens"] >= 200
        assert chat["usage"]["prompt_tokens"] == len(prompt_ids(tokenizer, INSTRUCTION, "instruct")[0])
        done = post(f"{url}/completions", {"prompt": STORY_START, "temperature": 0, "max_tokens": 40})
    # /v1/completions feeds the text as it is (no BOS for an instruct model) and continues it greedily
    ids = tokenizer.encode(STORY_START)
    expected = list(model.generate(ids, 40, temperature=0.0, stop_tokens=(tokenizer.eos_id,)))
    assert done["choices"][0]["text"] == tokenizer.decode(ids + expected)[len(STORY_START):]
    assert done["usage"]["prompt_tokens"] == len(ids) and done["usage"]["completion_tokens"] == len(expected)


def test_llama_server_continues_stories260K_as_run_does(llama_server, binaries, tmp_path):
    path = exported_260K(tmp_path)
    c = run_c(binaries["run"], fixture(STORIES260K), "-z", fixture("llama2c-260K/tok512.bin"), "-t", 0, "-n", 100,
              "-i", STORY_START).stdout.decode()
    with serving(llama_server, path, *EXACT) as url:
        done = post(f"{url}/completions", {"prompt": STORY_START, "temperature": 0, "max_tokens": 200})
        chat = post(f"{url}/chat/completions", {"messages": [{"role": "user", "content": STORY_START}],
                                                "temperature": 0, "max_tokens": 200})
    assert c.startswith(STORY_START) and len(c) > len(STORY_START) + 100
    continuation = c[len(STORY_START):].rstrip("\n")
    # run -n 100 stopped at 100 positions; the server went on: its text starts with run's
    assert done["choices"][0]["text"].startswith(continuation)
    assert chat["choices"][0]["message"]["content"].startswith(continuation)  # a message is a story's start
