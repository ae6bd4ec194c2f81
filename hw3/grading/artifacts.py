"""The pickled model and DictVectorizer a submission saved, opened without trusting them.

Unpickling can call any function a pickle names; this unpickler only builds classes of
scikit-learn, NumPy and SciPy, NumPy's array rebuilders and plain built-in containers.
"""

from __future__ import annotations

import pickle
import warnings
from pathlib import Path

ALLOWED_PACKAGES = ("sklearn", "numpy", "scipy")
REFUSED_CLASSES = ("memmap",)  # would open a file named in the pickle
ALLOWED_FUNCTIONS = {
    ("numpy._core.multiarray", "_reconstruct"),
    ("numpy.core.multiarray", "_reconstruct"),
    ("numpy._core.multiarray", "scalar"),
    ("numpy.core.multiarray", "scalar"),
    ("copyreg", "_reconstructor"),
}
BUILTINS = {"dict", "list", "tuple", "set", "frozenset", "int", "float", "complex", "str", "bytes", "bytearray", "bool", "slice", "object"}


class ArtifactError(Exception):
    """The file is not a pickle of what it should be; the message says why."""


class RestrictedUnpickler(pickle.Unpickler):
    def find_class(self, module: str, name: str):
        if (module, name) in ALLOWED_FUNCTIONS or module == "builtins" and name in BUILTINS:
            return super().find_class(module, name)
        if module.split(".")[0] in ALLOWED_PACKAGES and name not in REFUSED_CLASSES:
            found = super().find_class(module, name)
            if isinstance(found, type):
                return found
        raise pickle.UnpicklingError(f"it refers to {module}.{name}, which a model file has no business calling")


def load(path: Path):
    """The object pickled in `path`; ArtifactError if it cannot be read safely."""
    try:
        with open(path, "rb") as handle, warnings.catch_warnings():
            warnings.simplefilter("ignore")  # e.g. scikit-learn version warnings
            return RestrictedUnpickler(handle).load()
    except FileNotFoundError:
        raise ArtifactError(f"{path.name} was not saved") from None
    except Exception as exc:  # a broken or hostile file can raise anything while loading
        raise ArtifactError(f"{path.name} is not a readable pickle: {exc}") from None


def describe(obj: object) -> str:
    return f"a {type(obj).__module__.split('.')[0]} {type(obj).__name__}"
