"""The environment is locked: requirements.lock (made by uv, `make lock`) pins every package with
its hashes, agrees with pyproject.toml's direct pins, holds the CPU build of torch and no CUDA
package; `make setup` and environment.yml install from it, and this virtual environment is it."""
import re
import tomllib
from importlib import metadata

import yaml

from attrec_lib.settings import paths

LOCK = paths.REPO_ROOT / "requirements.lock"


def locked() -> dict:
    """name -> (version, [hashes]) of every package in the lock."""
    out, name = {}, None
    for line in LOCK.read_text().splitlines():
        m = re.match(r"^([A-Za-z0-9_.\-]+)==(\S+)", line)
        if m:
            name = m.group(1).lower().replace("_", "-")
            out[name] = (m.group(2), [])
        for digest in re.findall(r"--hash=sha256:([0-9a-f]{64})", line):
            out[name][1].append(digest)
    return out


def direct_pins() -> dict:
    project = tomllib.loads((paths.REPO_ROOT / "pyproject.toml").read_text())["project"]
    return {d.split("==")[0].lower(): d.split("==")[1] for d in project["dependencies"]}


def test_the_lock_pins_every_package_with_hashes_and_agrees_with_pyproject():
    lock = locked()
    assert len(lock) > 2 * len(direct_pins())  # the packages below the direct pins are locked too
    assert all(hashes for _, hashes in lock.values()), [n for n, (_, h) in lock.items() if not h]
    for name, version in direct_pins().items():
        assert name in lock, f"{name} is pinned in pyproject.toml but not locked"
        assert lock[name][0].split("+")[0] == version, (name, lock[name][0], version)


def test_the_lock_holds_the_cpu_build_of_torch_and_no_cuda_package():
    lock = locked()
    assert lock["torch"][0] == "2.13.0+cpu"
    cuda = [n for n in lock if n.startswith(("nvidia-", "triton", "cuda-"))]
    assert cuda == []


def test_make_setup_installs_from_the_lock_and_this_environment_is_it():
    makefile = (paths.REPO_ROOT / "Makefile").read_text()
    assert "--require-hashes --no-deps -r requirements.lock" in makefile
    assert re.search(r"\$\(VENV\)/\.installed: .*requirements\.lock", makefile)
    wrong = {}
    for name, (version, _) in locked().items():
        try:
            have = metadata.version(name)
        except metadata.PackageNotFoundError:
            have = None
        if have != version:
            wrong[name] = (have, version)
    assert wrong == {}, f"installed differs from the lock (have, locked): {wrong}; run make setup"


def test_environment_yml_installs_the_lock_with_the_cpu_index():
    env = yaml.safe_load((paths.REPO_ROOT / "environment.yml").read_text())
    pip = next(d["pip"] for d in env["dependencies"] if isinstance(d, dict) and "pip" in d)
    assert pip == ["--extra-index-url https://download.pytorch.org/whl/cpu", "-r requirements.lock"]
    project = tomllib.loads((paths.REPO_ROOT / "pyproject.toml").read_text())["project"]
    python = next(d for d in env["dependencies"] if isinstance(d, str) and d.startswith("python="))
    assert python.startswith("python=" + project["requires-python"][2:6])
