"""Optimizer state beside a trainer's safetensors checkpoint, so ``--resume`` continues where a run stopped.

The state is flattened to ``"<param index>.<name>"`` tensors (safetensors holds tensors only) with the step in
the metadata, and written atomically (a ``.partial`` file renamed into place). torch and safetensors are
imported only when called: the core itself does not depend on them, the trainers that call this do.
"""

from __future__ import annotations

from pathlib import Path


def optimizer_path(checkpoint: Path) -> Path:
    """``out/model.safetensors`` -> ``out/model.optim.safetensors``."""
    checkpoint = Path(checkpoint)
    return checkpoint.with_name(checkpoint.stem + ".optim.safetensors")


def save_optimizer(opt, path: Path, step: int) -> None:
    """Write ``opt``'s per-parameter state and ``step`` to ``path``."""
    from safetensors.torch import save_file

    flat = {f"{i}.{k}": (v.reshape(-1) if v.ndim == 0 else v).detach().cpu().contiguous()
            for i, st in opt.state_dict()["state"].items() for k, v in st.items()}
    path = Path(path)
    tmp = path.with_name(path.name + ".partial")
    save_file(flat, str(tmp), metadata={"step": str(step)})
    tmp.replace(path)


def load_optimizer(opt, path: Path) -> int:
    """Restore ``opt``'s state from ``path`` (written by :func:`save_optimizer`); returns the saved step."""
    from safetensors import safe_open
    from safetensors.torch import load_file

    with safe_open(str(path), "pt") as f:
        step = int((f.metadata() or {}).get("step", 0))
    state: dict[int, dict] = {}
    for key, v in load_file(str(path)).items():
        i, name = key.split(".", 1)
        state.setdefault(int(i), {})[name] = v.reshape(()) if name == "step" else v
    sd = opt.state_dict()
    sd["state"] = state
    opt.load_state_dict(sd)
    return step
