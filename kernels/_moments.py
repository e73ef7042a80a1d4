"""Kernel-subset helper shared by the normalization ops."""
import numpy as np


def mean_inv_std(x, a, b, epsilon):
    """Mean of x[a, b, :] and 1 / sqrt(variance + epsilon), in two passes (float32)."""
    size = x.shape[2]
    total = np.float32(0.0)
    for i in range(size):
        total += x[a, b, i]
    mean = total / size
    total = np.float32(0.0)
    for i in range(size):
        d = x[a, b, i] - mean
        total += d * d
    return mean, np.float32(1.0) / np.sqrt(total / size + np.float32(epsilon))
