import pytest
import yaml
from emoavatar.config import load_config, parse_config
from emoavatar.errors import ConfigError
from emoavatar.testing.trivial import TRIVIAL_PIPELINE, trivial_registry
from emoavatar.validate import validate_config


def test_relative_inputs_resolve_against_the_yaml(tmp_path):
    (tmp_path / "p.yaml").write_text(yaml.safe_dump({**TRIVIAL_PIPELINE, "inputs": {"portrait": "me.png"}}))
    cfg = load_config(tmp_path / "p.yaml")
    assert cfg.inputs.portrait == (tmp_path / "me.png").resolve()


def test_single_encoder_becomes_list_and_overrides_apply(tmp_path):
    (tmp_path / "p.yaml").write_text(yaml.safe_dump(TRIVIAL_PIPELINE))
    cfg = load_config(tmp_path / "p.yaml", ["renderer.with.shade=3", "fps=30", "encoder.0.use=trivial-encoder"])
    assert len(cfg.encoder) == 1 and cfg.renderer.with_ == {"shade": 3} and cfg.fps == 30


@pytest.mark.parametrize("patch,needle", [
    ({"rendrer": {"use": "x"}}, "rendrer: unknown key"),
    ({"fps": "fast"}, "fps: Input should be a valid number"),
    ({"output": {"crf": 99}}, "output.crf: Input should be less than or equal to 51"),
    ({"renderer": {"use": "trivial-renderer", "wiht": {}}}, "renderer.wiht: unknown key"),
])
def test_structure_errors_name_the_yaml_path(patch, needle):
    with pytest.raises(ConfigError) as e:
        parse_config({**TRIVIAL_PIPELINE, **patch})
    assert needle in str(e.value)


def test_component_options_checked_against_the_plugin_model():
    cfg = parse_config({**TRIVIAL_PIPELINE, "renderer": {"use": "trivial-renderer", "with": {"shade": 999}}})
    report = validate_config(cfg, trivial_registry())
    assert not report.ok
    assert "renderer.with.shade: Input should be less than or equal to 255" in str(report.problems[0])


def test_incompatible_ports_name_both_sides():
    from emoavatar.registry import Registry
    from emoavatar.spec import ComponentSpec
    from emoavatar.testing.trivial import TRIVIAL_SPECS

    nerf_like = ComponentSpec("needs-exp", "renderers", "x:Y", consumes=("motion:exp3dmm10",), produces=("frames",))
    reg = Registry(extra=(*TRIVIAL_SPECS, nerf_like))
    report = validate_config(parse_config({**TRIVIAL_PIPELINE, "renderer": {"use": "needs-exp"}}), reg)
    msg = str(report.problems[0])
    assert "renderer 'needs-exp' consumes motion:exp3dmm10" in msg
    assert "motion 'trivial-motion' produces motion:landmarks68" in msg


def test_bad_yaml_is_a_config_error(tmp_path):
    (tmp_path / "p.yaml").write_text("renderer: {use: [\n")
    with pytest.raises(ConfigError, match="not valid YAML"):
        load_config(tmp_path / "p.yaml")


def test_ports_can_follow_a_components_options():
    from emoavatar.registry import Registry
    from emoavatar.spec import ComponentSpec
    from emoavatar.testing.trivial import TRIVIAL_SPECS
    from pydantic import BaseModel, ConfigDict

    class KindConfig(BaseModel):
        model_config = ConfigDict(extra="forbid")
        kind: str = "a"

    enc = ComponentSpec("kinded", "encoders", "x:Y", KindConfig, produces=("features:a",),
                        produces_for=lambda c: (f"features:{c.kind}",))
    wants_b = ComponentSpec("wants-b", "controllers", "x:Y", consumes=("features:b",), produces=("emotion",))
    reg = Registry(extra=(*TRIVIAL_SPECS, enc, wants_b))
    base = {**TRIVIAL_PIPELINE, "encoder": {"use": "kinded"}, "controller": {"use": "wants-b"}}
    assert not validate_config(parse_config(base), reg).ok
    assert validate_config(parse_config({**base, "encoder": {"use": "kinded", "with": {"kind": "b"}}}), reg).ok
