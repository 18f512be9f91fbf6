"""Errors raised for bad input. The CLI prints their message on one line and exits 2."""


class InputError(ValueError):
    """Bad user input (file, array, orbit structure, task). The message is one precise line."""


class OutputError(InputError):
    """The output the user asked for cannot be written (standard output on a full device, a figure's file).
    Exit 2 like bad input: the command could not deliver its result, which is no verdict."""
