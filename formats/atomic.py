"""The one way any file of the project is written: beside its final name, then renamed over it.

A run killed mid-write (SIGKILL, a full disk, Ctrl-C) then leaves the old file whole, or no file, never a
half-written one that a later run would trust; and the temporary file is removed on every error.
"""

import os
from contextlib import contextmanager
from pathlib import Path


@contextmanager
def atomic_write(path, mode: str = "wb"):
    """Open a temporary file beside `path` for writing ("wb" or "w", UTF-8); when the block ends without
    an error it is flushed to disk and renamed to `path`, otherwise deleted.

        with atomic_write(out / "meta.json", "w") as f:
            f.write(json.dumps(meta))

    The parent directory is created if needed. The temporary name carries the process id, so two
    processes writing the same path never share a temporary file."""
    if mode not in ("wb", "w"):
        raise ValueError(f"atomic_write writes whole files: mode 'wb' or 'w', not {mode!r}")
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_name(f"{path.name}.{os.getpid()}.tmp")
    try:
        with open(tmp, mode, **({"encoding": "utf-8"} if mode == "w" else {})) as f:
            yield f
            f.flush()
            os.fsync(f.fileno())
        os.replace(tmp, path)
    except BaseException:
        tmp.unlink(missing_ok=True)
        raise


def write_bytes(path, data: bytes):
    with atomic_write(path) as f:
        f.write(data)


def write_text(path, text: str):
    with atomic_write(path, "w") as f:
        f.write(text)
