"""Errors raised for bad input. The CLI prints their message on one line and exits 2."""


class InputError(ValueError):
    """Bad user input (file, array, orbit structure, task). The message is one precise line."""
