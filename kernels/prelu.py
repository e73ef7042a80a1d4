"""PRelu: the slope broadcasts to the input (unidirectionally)."""
from ._elementwise import binary


@binary("PRelu")
def prelu(x, slope, p):
    return x if x >= 0 else x * slope
