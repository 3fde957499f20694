"""Fixtures shared by the test files."""

import json
import os
import shutil
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]


@pytest.fixture
def kill_train_run():
    """A function that runs `python <args> --out-dir out` and SIGKILLs it once log.jsonl shows a validation
    (and so a checkpoint) at step >= after_step: the hard crash that resume must survive."""
    def kill(args: list[str], out: Path, after_step: int = 30):
        env = dict(os.environ, OMP_NUM_THREADS="1", PYTHONUNBUFFERED="1")
        proc = subprocess.Popen([sys.executable, *args, "--out-dir", str(out)], cwd=ROOT, env=env,
                                stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        deadline = time.time() + 120
        try:
            while time.time() < deadline and proc.poll() is None:
                log = out / "log.jsonl"
                if log.exists() and any("val_loss" in line and json.loads(line)["step"] >= after_step
                                        for line in log.read_text().splitlines()):
                    break
                time.sleep(0.05)
            assert proc.poll() is None, "the run finished before it could be killed; make it longer"
            os.kill(proc.pid, signal.SIGKILL)
        finally:
            proc.wait()
    return kill


@pytest.fixture(scope="session")
def binaries() -> dict[str, Path]:
    """run.c built by `make run run_asan`: {"run": the optimised binary, "asan": the sanitizer build}."""
    if not any(shutil.which(cc) for cc in (os.environ.get("CC", "cc"), "cc", "gcc", "clang")):
        pytest.skip("no C compiler found (cc, gcc or clang)")
    result = subprocess.run(["make", "run", "run_asan"], cwd=ROOT, capture_output=True, text=True)
    assert result.returncode == 0, f"make failed:\n{result.stdout}\n{result.stderr}"
    return {"run": ROOT / "run", "asan": ROOT / "run_asan"}
