"""ArgMin over one axis (the loop of ArgMax with the comparison reversed)."""
from tinyjit import kernel

from ._elementwise import NUMBERS
from .arg_max import arg_call, arg_loop


def less(v, best):
    return v < best


arg_min = kernel(op="ArgMin", dtypes=NUMBERS, name="arg_min", body=arg_loop)(arg_loop)
arg_min.bind("arg_better", less)
arg_min.prepare(arg_call)
