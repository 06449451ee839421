"""Where the output goes, whatever happens to the streams and files on the way.

The promise of the command line is one line on stderr and exit 2 for any
failure, and nothing lost. Streams and files break that promise in their own
ways, so each is handled here, once:

* **stdout** is flushed as soon as something is written, so that a full disk
  (``> /dev/full``) is an error now, with its line and exit 2, and not a
  traceback at exit. A reader that has gone (``symprop check ... | head -1``)
  is not an error: what follows is thrown away and the exit code stays the
  command's own (1 for a failed check). A closed stdout (``>&-``) is an error.
* **stderr**: a line that cannot be written (a closed stream, a closed pipe)
  is dropped; the exit code still says what happened.
* **files** (``--output``, ``--plot``) are written to a temporary file in the
  same folder, synced to disk, and renamed over the old one, so a failed write
  (a full disk) leaves the old file as it was. Only regular files are written:
  a FIFO or a device would block or be replaced.
* **encodings** that cannot show ``∂`` or ``·`` (``PYTHONIOENCODING=cp1252``,
  an ISO-8859-1 or ASCII locale) get ASCII spellings (``d``, ``*``, ``<-``,
  ``-`` for box lines); a character with no spelling becomes ``?``, and one
  line on stderr says so.
* **the terminal**: colours unless ``NO_COLOR`` is set or ``TERM=dumb``
  (no-color.org); a width of at least :data:`MIN_WIDTH` columns.
"""

from __future__ import annotations

import codecs
import contextlib
import os
import shutil
import stat
import sys
import tempfile
import unicodedata

from ..errors import SympropError

__all__ = [
    "MIN_WIDTH",
    "MAX_WIDTH",
    "prepare",
    "say",
    "write_output",
    "write_file",
    "writable_target",
    "finish",
    "stdout_is_terminal",
    "color_wanted",
    "progress_wanted",
    "terminal_width",
    "ascii_spelling",
]

#: The rich walkthrough is laid out in at least this many columns: narrower, rich
#: would drop the upstream and local columns. A narrower terminal (``COLUMNS=20``)
#: gets it this wide, and one line on stderr says so.
MIN_WIDTH = 80
#: ... and at most this many (``COLUMNS=10**9`` would pad lines to a gigabyte).
MAX_WIDTH = 1_000

#: ASCII spellings of what symprop prints, for streams that cannot encode it.
_SPELLINGS = {
    "∂": "d", "·": "*", "≈": "~", "←": "<-", "→": "->", "−": "-", "×": "x", "±": "+/-", "…": "...",
    "η": "eta", "σ": "sigma", "′": "'", "Σ": "sum", "δ": "delta", "⊙": "(*)", "²": "^2", "√": "sqrt",
    "⊘": "(/)", "∘": "o", "λ": "lambda",
    "▁": "_", "▂": ".", "▃": ":", "▄": "-", "▅": "=", "▆": "+", "▇": "*", "█": "#",
}

_ERROR_HANDLER = "symprop-ascii"
_PROBE = "∂·≈←…─"


class _State:
    """What happened to the streams during this run."""

    unspellable = 0  # characters written as '?'
    reader_gone = False  # stdout's reader closed the pipe
    errors: str | None = None  # stdout's own error handler, while ours stands in


def ascii_spelling(char: str) -> str | None:
    """How ``char`` is written in ASCII (``∂`` -> ``d``, a box line -> ``-``), or None."""
    if char in _SPELLINGS:
        return _SPELLINGS[char]
    name = unicodedata.name(char, "")
    if name.startswith("BOX DRAWINGS"):
        if "HORIZONTAL" in name and "VERTICAL" not in name:
            return "=" if "DOUBLE" in name else "-"
        if "VERTICAL" in name and "HORIZONTAL" not in name:
            return "|"
        return "+"
    if "SQUARE BRACKET" in name:  # SymPy's tall brackets: ⎡ ⎢ ⎣ ⎤ ⎥ ⎦
        return "[" if "LEFT" in name else "]"
    if "PARENTHESIS" in name:
        return "(" if "LEFT" in name else ")"
    plain = unicodedata.normalize("NFKD", char).encode("ascii", "ignore").decode("ascii")
    return plain or None


def _is_superscript(char: str) -> bool:
    name = unicodedata.name(char, "")
    return "SUPERSCRIPT" in name or name.startswith(("MODIFIER LETTER SMALL", "MODIFIER LETTER CAPITAL"))


def _superscripts(run: str) -> str:
    """A run of superscripts as a power: ``ⁿ⁻¹`` -> ``^(n-1)``, ``²`` -> ``^2``."""
    plain = "".join(unicodedata.normalize("NFKC", c).replace("\u2212", "-") for c in run)
    return f"^{plain}" if len(plain) == 1 else f"^({plain})"


def _fallback(error: UnicodeError) -> tuple[str, int]:
    """The codec error handler: ASCII spellings for what the stream cannot encode."""
    if not isinstance(error, UnicodeEncodeError):
        raise error
    run = error.object[error.start:error.end]
    if all(_is_superscript(c) for c in run) and _superscripts(run).isascii():
        return _superscripts(run), error.end
    pieces = []
    for char in run:
        spelling = ascii_spelling(char)
        if spelling is None:
            _State.unspellable += 1
            spelling = "?"
        pieces.append(spelling)
    return "".join(pieces), error.end


codecs.register_error(_ERROR_HANDLER, _fallback)


def _cannot_encode(stream, text: str = _PROBE) -> bool:
    encoding = getattr(stream, "encoding", None) or "utf-8"
    try:
        text.encode(encoding)
    except UnicodeEncodeError:
        return True
    except LookupError:
        return False
    return False


def prepare() -> None:
    """Give stdout ASCII spellings when its encoding cannot show symprop's symbols.

    A no-op on UTF-8 streams; :func:`finish` puts stdout's own error handler back.
    """
    _State.unspellable = 0
    _State.reader_gone = False
    stream = sys.stdout
    if stream is not None and _cannot_encode(stream) and hasattr(stream, "reconfigure"):
        with contextlib.suppress(Exception):
            errors = stream.errors
            stream.reconfigure(errors=_ERROR_HANDLER)
            if errors != _ERROR_HANDLER:
                _State.errors = errors


def say(line: str) -> None:
    """Write one line to stderr; a closed or broken stderr drops it (the exit code still tells)."""
    stream = sys.stderr
    if stream is None:
        return
    encoding = getattr(stream, "encoding", None) or "utf-8"
    try:
        line = line.encode(encoding, "backslashreplace").decode(encoding)
    except LookupError:
        pass
    try:
        stream.write(line.rstrip("\n") + "\n")
        stream.flush()
    except (OSError, ValueError):  # a closed pipe, a full disk, a closed file
        _silence(stream)


def _silence(stream) -> None:
    """Point a broken stream's file descriptor at the null device, so that exit does not fail on it."""
    try:
        fd = stream.fileno()
    except (OSError, ValueError, AttributeError):
        return
    with contextlib.suppress(OSError):
        null = os.open(os.devnull, os.O_WRONLY)
        os.dup2(null, fd)
        os.close(null)


def _write_stdout(text: str | bytes) -> None:
    stream = sys.stdout
    if _State.reader_gone:
        return
    if stream is None:
        raise SympropError("cannot write the output: stdout is closed (use --output FILE)")
    try:
        if isinstance(text, bytes):  # a picture: the bytes as they are
            stream.flush()
            getattr(stream, "buffer", stream).write(text)
            getattr(stream, "buffer", stream).flush()
        else:
            stream.write(text)
            stream.flush()
    except BrokenPipeError:  # the reader has gone: not an error, the rest is thrown away
        _State.reader_gone = True
        _silence(stream)
    except OSError as error:
        _silence(stream)
        raise SympropError(f"cannot write the output to stdout: {error.strerror or error}") from None
    except ValueError:  # "I/O operation on closed file"
        raise SympropError("cannot write the output: stdout is closed (use --output FILE)") from None


def write_output(text: str | bytes, output: str | None) -> None:
    """Write text (as UTF-8) or bytes (a picture) to ``--output FILE`` (safely, see :func:`write_file`) or to stdout."""
    if output:
        write_file(output, text if isinstance(text, bytes) else text.encode("utf-8"))
    else:
        _write_stdout(text)


def _kind(mode: int) -> str:
    for test, kind in ((stat.S_ISFIFO, "a FIFO (named pipe)"), (stat.S_ISCHR, "a character device"),
                       (stat.S_ISBLK, "a block device"), (stat.S_ISSOCK, "a socket")):
        if test(mode):
            return kind
    return "not a regular file"


def _umask() -> int:
    mask = os.umask(0)
    os.umask(mask)
    return mask


def writable_target(path: str) -> os.stat_result | None:
    """Refuse a ``path`` that cannot be written as a regular file; returns the old file's status, if any.

    Raises:
        SympropError: ``path`` is a directory, a FIFO or a device, or its folder
            is missing or cannot be searched.
    """
    target = os.path.realpath(path)
    try:
        old = os.stat(target)
    except FileNotFoundError:
        old = None
    except OSError as error:
        raise SympropError(f"cannot write {path!r}: {error.strerror}") from None
    if old is not None and stat.S_ISDIR(old.st_mode):
        raise SympropError(f"cannot write {path!r}: Is a directory")
    if old is not None and not stat.S_ISREG(old.st_mode):
        raise SympropError(
            f"cannot write {path!r}: it is {_kind(old.st_mode)}, not a regular file "
            "(write to a file, or leave out --output to print to stdout)"
        )
    if old is not None and not os.access(target, os.W_OK):  # a read-only file stays read-only
        raise SympropError(f"cannot write {path!r}: Permission denied")
    folder = os.path.dirname(target) or "."
    if not os.path.isdir(folder):
        raise SympropError(f"cannot write {path!r}: No such file or directory")
    return old


def write_file(path: str, data: bytes) -> None:
    """Write ``data`` to ``path`` so that a failure leaves the old file as it was.

    The bytes go to a temporary file in the same folder, are synced to disk and
    then renamed over ``path`` (a rename within one file system replaces the
    file whole). A symbolic link is written through to the file it names; the
    old file's permissions (and owner, where allowed) are kept, and a
    read-only file is not replaced.

    Raises:
        SympropError: the folder is missing or not writable, ``path`` is a
            directory, a FIFO or a device, or the disk is full.
    """
    target = os.path.realpath(path)
    old = writable_target(path)
    folder, name = os.path.split(target)
    try:
        fd, temporary = tempfile.mkstemp(dir=folder or ".", prefix=f".{name[:200]}.", suffix=".tmp")  # <= 255 bytes
    except OSError as error:
        raise SympropError(f"cannot write {path!r}: {error.strerror}") from None
    try:
        with os.fdopen(fd, "wb") as file:
            file.write(data)
            file.flush()
            os.fsync(file.fileno())
        if old is not None and hasattr(os, "chown"):  # the old file's owner, where we may set it
            with contextlib.suppress(OSError):
                os.chown(temporary, old.st_uid, old.st_gid)
        os.chmod(temporary, stat.S_IMODE(old.st_mode) if old is not None else 0o666 & ~_umask())
        os.replace(temporary, target)
    except BaseException as error:  # a full disk, or Ctrl-C: the old file stays, the temporary goes
        with contextlib.suppress(OSError):
            os.unlink(temporary)
        if isinstance(error, OSError):
            kept = "; the old file is unchanged" if old is not None else ""
            raise SympropError(f"cannot write {path!r}: {error.strerror or error}{kept}") from None
        raise
    with contextlib.suppress(OSError, AttributeError):  # the rename itself, on disk (POSIX only)
        directory = os.open(folder or ".", os.O_RDONLY)
        try:
            os.fsync(directory)
        finally:
            os.close(directory)


def finish(code: int) -> int:
    """Flush stdout at the end of a run; returns the exit code to use.

    A full disk found only now is an error (2); a reader that has gone keeps ``code``.
    """
    stream = sys.stdout
    if stream is not None and not _State.reader_gone:
        try:
            stream.flush()
        except BrokenPipeError:
            _State.reader_gone = True
            _silence(stream)
        except (OSError, ValueError) as error:
            _silence(stream)
            say(f"symprop: error: cannot write the output to stdout: {getattr(error, 'strerror', None) or error}")
            code = 2
    if _State.errors is not None:  # main() may be called again, or from Python: give stdout back as it was
        with contextlib.suppress(Exception):
            stream.reconfigure(errors=_State.errors)
        _State.errors = None
    if _State.unspellable:
        encoding = getattr(stream, "encoding", "?")
        say(f"symprop: note: stdout's encoding ({encoding}) cannot show {_State.unspellable} character(s); "
            "they were written as '?' (set PYTHONIOENCODING=utf-8 to see them)")
        _State.unspellable = 0
    return code


def stdout_is_terminal() -> bool:
    """True when stdout is a terminal (False when it is closed or redirected)."""
    stream = sys.stdout
    try:
        return stream is not None and stream.isatty()
    except (AttributeError, ValueError, OSError):
        return False


def _dumb() -> bool:
    return os.environ.get("TERM", "") == "dumb"


def color_wanted() -> bool:
    """Colours on stdout: a terminal, no ``NO_COLOR`` (any non-empty value) and not ``TERM=dumb``."""
    return stdout_is_terminal() and not os.environ.get("NO_COLOR") and not _dumb()


def progress_wanted() -> bool:
    """A live progress bar: a terminal that can move its cursor (not ``TERM=dumb``)."""
    return stdout_is_terminal() and not _dumb()


def terminal_width(*, minimum: int = MIN_WIDTH, note: bool = True) -> int:
    """The terminal's width (``COLUMNS`` first), within ``minimum`` and :data:`MAX_WIDTH`.

    A narrower terminal gets ``minimum`` columns and, with ``note``, one line on
    stderr saying so; ``COLUMNS=0`` or a non-number is ignored, as by ``shutil``.
    """
    columns = shutil.get_terminal_size((MIN_WIDTH, 24)).columns
    if columns < minimum:
        if note:
            say(f"symprop: note: the terminal is {columns} columns wide; the walkthrough needs {minimum} "
                f"and is printed {minimum} wide (or use --format text)")
        return minimum
    return min(columns, MAX_WIDTH)
