"""Errors caused by what the user gave (answers, overrides, files): reported in one line."""


class UserError(Exception):
    """Bad input; the message says what was wrong and how to fix it."""


class ConfigError(UserError):
    pass


class DataError(UserError):
    pass


class CheckpointError(UserError):
    pass


class NonFiniteLossError(UserError):
    pass


class DiskFullError(UserError):
    """No space left where the run writes: a fact of the machine, reported in one line."""
