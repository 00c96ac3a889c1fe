"""Reading 3DDFA_V2's data files without running arbitrary pickles.

3DDFA_V2 ships its 62-d parameter statistics (``configs/param_mean_std_62d_120x120.pkl``: a dict
``mean``/``std`` of float32 ``[62]``) and its face model (``configs/bfm_noneck_v3.pkl``: ``u [3N, 1]``,
``w_shp [3N, 40]``, ``w_exp [3N, 10]``, ``keypoints [204]`` = flat xyz indices of the 68 landmark
vertices, ``tri``) as Python pickles. We read them with an unpickler that can only rebuild numpy
arrays, scalars and dtypes (plus the containers pickle builds itself); any other global in the
file is refused with a one-line error, so a tampered file cannot run code. ``.npz`` (read with
``allow_pickle=False``) and ``.json`` holding the same names work too.
"""

from __future__ import annotations

import json
import pickle
from pathlib import Path

import numpy as np
from emoavatar.errors import ConfigError, WeightsNotFoundError

#: (module, name) pairs a numpy-only pickle may reference; numpy < 2 wrote ``numpy.core``.
_ALLOWED = {
    ("numpy.core.multiarray", "_reconstruct"): ("numpy._core.multiarray", "_reconstruct"),
    ("numpy._core.multiarray", "_reconstruct"): ("numpy._core.multiarray", "_reconstruct"),
    ("numpy.core.multiarray", "scalar"): ("numpy._core.multiarray", "scalar"),
    ("numpy._core.multiarray", "scalar"): ("numpy._core.multiarray", "scalar"),
    ("numpy", "ndarray"): ("numpy", "ndarray"),
    ("numpy", "dtype"): ("numpy", "dtype"),
    ("_codecs", "encode"): ("_codecs", "encode"),  # bytes written by Python 2 pickles
}


class _NumpyOnlyUnpickler(pickle.Unpickler):
    def find_class(self, module: str, name: str):
        target = _ALLOWED.get((module, name))
        if target is None:
            raise pickle.UnpicklingError(f"{module}.{name}")
        return super().find_class(*target)


def read_numpy_pickle(path: str | Path) -> dict[str, np.ndarray]:
    """A pickled ``{name: array}`` dict, rebuilt without executing anything but numpy constructors."""
    path = Path(path)
    try:
        with path.open("rb") as f:
            data = _NumpyOnlyUnpickler(f, encoding="latin1").load()
    except pickle.UnpicklingError as e:
        raise ConfigError(f"{path} is not a plain numpy pickle (it references {e}); refusing to run it",
                          fix="use 3DDFA_V2's original file, or convert it to .npz yourself") from None
    except (EOFError, ValueError, TypeError, AttributeError) as e:
        raise ConfigError(f"{path} is not a readable pickle of numpy arrays ({type(e).__name__}: {e})") from None
    if not isinstance(data, dict):
        raise ConfigError(f"{path} holds a {type(data).__name__}, not a dict of arrays")
    return {str(k): np.asarray(v) for k, v in data.items()}


def read_arrays(path: str | Path, what: str, fix: str) -> dict[str, np.ndarray]:
    """``{name: array}`` from ``.pkl`` (numpy-only), ``.npz`` or ``.json``; a missing file names itself."""
    path = Path(path).expanduser()
    if not path.is_file():
        raise WeightsNotFoundError(f"{what} not found: {path}", fix=fix)
    if path.suffix == ".pkl":
        return read_numpy_pickle(path)
    if path.suffix == ".json":
        return {k: np.asarray(v) for k, v in json.loads(path.read_text()).items()}
    with np.load(path, allow_pickle=False) as z:
        return {k: z[k] for k in z.files}


STATS_FIX = "give param_stats=PATH to 3DDFA_V2's configs/param_mean_std_62d_120x120.pkl (or an .npz with mean, std)"
BFM_FIX = ("give bfm=PATH to 3DDFA_V2's configs/bfm_noneck_v3.pkl (Basel Face Model licence: obtain it yourself) "
           "or an .npz with u, w_exp, keypoints")


def read_param_stats(path: str | Path, n: int = 62) -> tuple[np.ndarray, np.ndarray]:
    """The regressor's parameter ``mean``, ``std`` (``param = output * std + mean``)."""
    arrays = read_arrays(path, "3DDFA parameter mean/std file", STATS_FIX)
    try:
        mean = np.asarray(arrays["mean"], np.float32).reshape(n)
        std = np.asarray(arrays["std"], np.float32).reshape(n)
    except (KeyError, ValueError) as e:
        raise ConfigError(f"{path}: expected `mean` and `std` of {n} values ({e})", fix=STATS_FIX) from None
    return mean, std


def read_bfm_keypoints(path: str | Path, shape_dim: int = 40, exp_dim: int = 10) -> dict[str, np.ndarray]:
    """The 68 landmark rows of the face model, as 3DDFA_V2's ``BFMModel`` selects them:
    ``u [204]``, ``w_shp [204, shape_dim]``, ``w_exp [204, exp_dim]``, xyz interleaved per point
    (3DDFA's model frame: y up). Also accepts an ``.npz`` already holding those 204 rows
    (``u``, ``w_exp``, optionally ``w_shp``, no ``keypoints``)."""
    a = read_arrays(path, "3DDFA face model (BFM)", BFM_FIX)
    if "u" not in a or "w_exp" not in a:
        raise ConfigError(f"{path}: a face model needs `u` and `w_exp` (found {sorted(a)})", fix=BFM_FIX)
    u = np.asarray(a["u"], np.float32).reshape(-1)
    w_exp = np.asarray(a["w_exp"], np.float32)
    w_shp = np.asarray(a["w_shp"], np.float32) if "w_shp" in a else np.zeros((len(u), shape_dim), np.float32)
    if "keypoints" in a:
        kp = np.asarray(a["keypoints"]).astype(np.int64).reshape(-1)
        u, w_exp, w_shp = u[kp], w_exp[kp], w_shp[kp]
    if len(u) != 204:
        raise ConfigError(f"{path}: expected 68 landmark rows (204 values), got {len(u)}; a full model needs `keypoints`",
                          fix=BFM_FIX)
    return {"u": u, "w_shp": w_shp[:, :shape_dim], "w_exp": w_exp[:, :exp_dim]}
