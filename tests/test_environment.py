"""environment.yml installs what pyproject.toml pins, with torch from the CPU wheel index."""
import tomllib

import yaml

from attrec_lib import paths


def test_environment_yml_pins_match_pyproject_and_read_the_cpu_index():
    env = yaml.safe_load((paths.REPO_ROOT / "environment.yml").read_text())
    pip = next(d["pip"] for d in env["dependencies"] if isinstance(d, dict) and "pip" in d)
    project = tomllib.loads((paths.REPO_ROOT / "pyproject.toml").read_text())["project"]
    pins = [line for line in pip if not line.startswith("-")]
    assert pins == project["dependencies"]
    options = [line for line in pip if line.startswith("--")]
    assert options == ["--extra-index-url https://download.pytorch.org/whl/cpu"]
    assert "-e ." in pip and any(d.startswith("python=" + project["requires-python"][2:6]) for d in env["dependencies"]
                                 if isinstance(d, str))
