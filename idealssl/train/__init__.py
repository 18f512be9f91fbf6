"""The trainer: configuration, loop (DDP, checkpoints, monitors), evaluation protocols, subcommands.

``idealssl train`` (:mod:`.cli_train`), ``idealssl eval`` (:mod:`.cli_eval`), ``idealssl export``
(:mod:`.cli_export`). Torch is imported lazily by the subcommands so that the CLI starts fast.
"""
