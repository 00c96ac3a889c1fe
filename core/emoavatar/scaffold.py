"""`emoavatar new-plugin --kind KIND NAME [--dir DIR]`: write a plugin distribution that
installs and passes its kind's contract suite as generated (docs/writing-plugins.md)."""

from __future__ import annotations

import json
import re
from pathlib import Path

from . import scaffold_templates as T
from .errors import ConfigError, OutputExistsError
from .registry import KIND_NAMES

KIND_ALIASES = {
    "encoder": "encoders", "controller": "controllers", "motion": "motion", "renderer": "renderers",
    "metric": "metrics", "face": "faces", "faceanalyzer": "faces",
}
YAML_KEYS = {"encoders": "encoder", "controllers": "controller", "motion": "motion", "renderers": "renderer",
             "metrics": "metrics", "faces": "face"}


def canonical_kind(kind: str) -> str:
    k = kind.strip().lower()
    k = KIND_ALIASES.get(k, k)
    if k not in KIND_NAMES:
        raise ConfigError(f"unknown kind {kind!r}", fix=f"use one of {', '.join(KIND_NAMES)}")
    return k


def _mean_shape() -> str:
    from .testing.data import HERE

    meta = json.loads((HERE / "portrait_256.face.json").read_text())
    x0, y0, x1, y1 = meta["box"]
    pts = [[round((x - x0) / (x1 - x0), 3), round((y - y0) / (y1 - y0), 3)] for x, y in meta["landmarks"]]
    return json.dumps(pts)


def new_plugin(kind: str, name: str, directory: str | Path = ".") -> Path:
    """Write ``DIR/emoavatar-plugin-NAME/`` and return its path."""
    kind = canonical_kind(kind)
    if not re.fullmatch(r"[a-z][a-z0-9-]{1,40}", name):
        raise ConfigError(f"plugin name {name!r} must be lower-case letters, digits and dashes (e.g. my-renderer)")
    pkg = "emoavatar_" + name.replace("-", "_")
    dist = f"emoavatar-plugin-{name}"
    root = Path(directory) / dist
    if root.exists():
        raise OutputExistsError(f"{root} already exists", fix="choose another name or --dir")
    comp = T.COMPONENTS[kind]
    Name = "".join(p.capitalize() for p in name.split("-"))
    feature = name.replace("-", "_")
    fmt = dict(Name=Name, name=name, pkg=pkg, kind=kind, dist=dist, Base=comp["Base"], feature=feature,
               summary=comp["summary"], kind_name=KIND_NAMES[kind], yaml_key=YAML_KEYS[kind],
               extra_deps=', "dlib-bin"' if kind == "faces" else "")
    consumes = comp["consumes"]
    produces = comp["produces"].format(feature=feature)
    extra = {
        "metrics": (f'\n    requires=(),\n    columns=(Column("{name}", better=None, unit="grey level"),),'
                    f'\n    plots=(SeriesPlot("{name}", ("{name}",), "brightness per frame", "grey level"),),'),
        "controllers": "\n    follows_request=True,  # False if the emotion comes from data, not the request",
    }.get(kind, "")
    files = {
        "pyproject.toml": T.PYPROJECT.format(**fmt),
        "README.md": T.README.format(**fmt, consumes=consumes, produces=produces),
        f"{pkg}/__init__.py": f'"""emoavatar plugin `{name}` ({KIND_NAMES[kind]})."""\n',
        f"{pkg}/spec.py": T.SPEC.format(**fmt, consumes=consumes, produces=produces, extra=extra,
                                        config_fields=comp["config_fields"]),
        f"{pkg}/component.py": comp["code"].format(**fmt, mean_shape=_mean_shape() if kind == "faces" else ""),
        f"tests/test_{pkg}.py": T.TEST.format(**fmt, test_body=T.TEST_BODIES[kind]),
    }
    for rel, text in files.items():
        path = root / rel
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(text, encoding="utf-8")
    return root
