"""The wheel must carry every package: a non-editable `pip install .` runs the demo."""
import tomllib

from conftest import REPO


def test_pyproject_lists_every_package():
    config = tomllib.loads((REPO / "pyproject.toml").read_text())["tool"]["setuptools"]
    listed = set(config["packages"])
    found = {".".join(p.parent.relative_to(REPO).parts) for p in (REPO / "tinyjit").rglob("__init__.py")}
    mapped = {"tinyjit.kernels": "kernels", "tinyjit.schedules": "schedules", "tinyjit.asm_stubs": "asm_stubs"}
    found |= set(mapped)
    assert found <= listed, f"packages missing from pyproject.toml: {sorted(found - listed)}"
    assert config["package-dir"] == mapped
