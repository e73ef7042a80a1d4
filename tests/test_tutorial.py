"""docs/tutorial_int8_kernel.md, run as written: every code block, in order, in an empty folder."""
import re
import shlex
import subprocess
import sys

import numpy as np

from conftest import REPO

BLOCK = re.compile(r"```(\w+)([^\n]*)\n(.*?)```", re.S)


def test_tutorial_runs_as_written(tmp_path):
    text = (REPO / "docs" / "tutorial_int8_kernel.md").read_text()
    blocks = BLOCK.findall(text)
    assert [lang for lang, _, _ in blocks].count("bash") >= 3
    for lang, info, body in blocks:
        if "file=" in info:
            path = tmp_path / info.split("file=")[1].strip()
            path.parent.mkdir(parents=True, exist_ok=True)
            path.write_text(body)
        elif lang == "python":
            proc = subprocess.run([sys.executable, "-c", body], cwd=tmp_path, capture_output=True, text=True,
                                  timeout=300)
            assert proc.returncode == 0, proc.stderr
        elif lang == "bash":
            for line in body.strip().splitlines():
                args = shlex.split(line)
                assert args[0] == "tinyjit"
                proc = subprocess.run([sys.executable, "-m", "tinyjit.cli", *args[1:]], cwd=tmp_path,
                                      capture_output=True, text=True, timeout=1200)
                assert proc.returncode == 0, f"{line}\n{proc.stdout}\n{proc.stderr}"
                if args[1:3] == ["kernel", "test"]:
                    assert proc.stdout.count("cases match") == (3 if "swish" in line else 1)
                    assert proc.stdout.count("C equals Python bit for bit on 65536") == args.count("--target")
                if args[1:3] == ["kernel", "show-c"] and "sat_add" in line:
                    assert "saturating_add_int8(a[i], b[i])" in proc.stdout     # the primitive, called in C
                if args[1] == "verify":
                    assert "match" in proc.stdout.lower()
    x = np.load(tmp_path / "x.npy")
    xq = np.clip(np.round(x / np.float32(0.05)) + 3, -128, 127)
    v = (xq - 3) * np.float64(np.float32(0.05))
    yq = np.clip(np.round(v / (1 + np.exp(-v)) / np.float64(np.float32(0.06))) + 1, -128, 127)
    np.testing.assert_allclose(np.load(tmp_path / "y.npy"), ((yq - 1) * np.float32(0.06)).astype(np.float32),
                               rtol=1e-6)
