"""Reading a user's files: UTF-8 text and .npy arrays of numbers, or one line saying why not.

Python and numpy report a file in another encoding, a truncated array or one of Python
objects with a traceback that does not name the file; these say which file, where, and
how to save it instead.
"""

from pathlib import Path

import numpy as np

from ..utils.errors import DataError

# Boolean, signed and unsigned integer, and floating point arrays.
NUMERIC_KINDS = "biuf"


def read_text(path: str | Path) -> str:
    """The file as UTF-8 text; a leading byte-order mark (as Excel writes) is dropped."""
    data = Path(path).read_bytes()
    try:
        return data.decode("utf-8-sig")
    except UnicodeDecodeError as error:
        # The offsets count from after a byte-order mark, in error.object.
        line = error.object.count(b"\n", 0, error.start) + 1
        raise DataError(
            f"{path} is not UTF-8 text (byte 0x{error.object[error.start]:02x} on line {line}); "
            "save it as UTF-8"
        ) from None


def read_npy(path: str | Path) -> np.ndarray:
    """The array of numbers in a .npy file, never unpickling anything."""
    try:
        array = np.load(path, allow_pickle=False)
    except (ValueError, EOFError, OSError) as error:
        reason = (str(error).strip() or repr(error)).splitlines()[0]
        raise DataError(
            f"{path} is not a readable .npy file ({reason}); it may be truncated or hold Python "
            "objects: save an array of numbers again with numpy.save"
        ) from None
    if array.dtype.kind not in NUMERIC_KINDS:
        raise DataError(
            f"{path} holds {array.dtype} values, not numbers; save an array of numbers with "
            "numpy.save"
        )
    return array
