"""The errors a user can cause, and the one way every entry point reports them.

A user error (a bad path, a corrupt file, a tokenizer that does not belong to the model, a teacher server
that is down) is one line on stderr, `error: <what is wrong and what to do>`, and exit status 1. Usage
errors (a bad flag or flag value) are argparse's: usage, one line, exit status 2. Anything else is our bug
and keeps its traceback.
"""

import argparse
import sys


class DataError(Exception):
    """A problem with the user's data: a malformed records file, missing or mismatched shards."""


class TokenizerError(Exception):
    """A problem with a tokenizer file, or a tokenizer that does not go with the model."""


class CheckpointError(Exception):
    """A model, checkpoint or adapter file that is missing, truncated, or not what its header claims."""


# OSError covers the output side too: a directory we may not write into, a full disk.
USER_ERRORS = (DataError, TokenizerError, CheckpointError, OSError)


def describe(error: BaseException) -> str:
    """The one line to print for a user error. OSError's own str() reads "[Errno 13] Permission denied:
    'out/ckpt.pt'"; we print "out/ckpt.pt: Permission denied"."""
    if isinstance(error, OSError) and error.strerror:
        return f"{error.filename}: {error.strerror}" if error.filename else error.strerror
    return str(error)


def exit_with(error: BaseException):
    """Print `error: ...` for a user error and exit with status 1."""
    print(f"error: {describe(error)}", file=sys.stderr)
    sys.exit(1)


def flag_type(convert):
    """An argparse type= from a function that raises ValueError with a message: the user then reads that
    message ("--device cuda: no CUDA device is available") instead of argparse's "invalid value"."""
    def parse(text: str):
        try:
            return convert(text)
        except ValueError as e:
            raise argparse.ArgumentTypeError(str(e)) from None
    parse.__name__ = convert.__name__
    return parse
