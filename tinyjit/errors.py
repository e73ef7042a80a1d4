"""Every error a user can cause is a TinyJitError with a message that says what to fix."""


class TinyJitError(Exception):
    """Base class: the CLI prints its message as one line and exits non-zero."""


class ModelLoadError(TinyJitError):
    """A model file is missing, truncated, corrupt or of an unknown kind."""


class UnsupportedError(TinyJitError):
    """The model uses ops or attribute values tinyjit does not implement."""


class FormatError(TinyJitError):
    """A .tjm file fails verification or has an incompatible format version."""


class InputError(TinyJitError):
    """Inputs given to run() do not match the model: names, shapes or dtypes."""
