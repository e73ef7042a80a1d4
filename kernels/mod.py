"""Mod: fmod=0 takes the divisor's sign (numpy.mod), fmod=1 the dividend's (C fmod)."""
import numpy as np

from ._elementwise import INTS, binary


def _fmod(node, graph):
    return int(node.attrs.get("fmod", 0))


@binary("Mod", params=_fmod)
def mod(a, b, c_style):
    if b == 0 or a != a or b != b or a == np.inf or a == -np.inf:
        return np.nan
    r = np.fmod(a, b)
    if c_style == 0 and r != 0 and (r < 0) != (b < 0):
        r += b
    return r


@binary("Mod", dtypes=INTS, params=_fmod)
def mod_int(a, b, c_style):
    if b == 0:
        return 0   # undefined in ONNX; never raise inside an inference
    r = abs(int(a)) % abs(int(b))
    if a < 0:
        r = -r
    if c_style == 0 and r != 0 and (r < 0) != (b < 0):
        r += b
    return r
