"""``idealssl completion bash|zsh``: the generated script completes subcommands, flags and choices in a real bash."""

import shutil
import subprocess

import pytest

from idealssl.cli import COMMANDS, main

pytestmark = pytest.mark.skipif(shutil.which("bash") is None, reason="needs bash")

CASES = [
    (["idealssl", "tr"], ["train"]),
    (["idealssl", ""], sorted(COMMANDS)),
    (["idealssl", "train", "--me"], ["--method"]),
    (["idealssl", "train", "--method", "dis"], ["dissl"]),
    (["idealssl", "train", "--method", "dissl", "--dataset", "dig"], ["digits"]),
    (["idealssl", "train", "--precision", "bf"], ["bf16-mixed", "bf16"]),
    (["idealssl", "bench", "l"], ["loop"]),
    (["idealssl", "bench", "loop", "--world", "v"], ["vector"]),
    (["idealssl", "check", "--probe", "linear-"], ["linear-nobias"]),
    (["idealssl", "check", "repr"], []),  # a positional file: left to the shell's file names
    (["idealssl", "check", "--augs", ""], []),  # a flag's value: file names
    (["idealssl", "completion", ""], ["bash", "zsh"]),
]


def _complete(script: str, words: list[str]) -> list[str]:
    quoted = " ".join("'" + w + "'" for w in words)
    prog = f"""{script}
COMP_WORDS=({quoted}); COMP_CWORD={len(words) - 1}; COMPREPLY=(); _idealssl; printf '%s\\n' "${{COMPREPLY[@]}}"
"""
    out = subprocess.run(["bash", "--norc", "--noprofile"], input=prog, capture_output=True, text=True, check=True)
    return [w for w in out.stdout.splitlines() if w]


@pytest.fixture(scope="module")
def bash_script():
    from idealssl.cli_completion import script

    return script("bash")


@pytest.mark.parametrize("words,expected", CASES)
def test_bash_completion_as_typed(bash_script, words, expected):
    assert _complete(bash_script, words) == expected


def test_completion_command_prints_the_script(capsys):
    assert main(["completion", "bash"]) == 0
    out = capsys.readouterr().out
    assert "complete -o default -F _idealssl idealssl" in out and "--fast-dev-run" in out
    assert main(["completion", "zsh"]) == 0
    assert capsys.readouterr().out.startswith("autoload -U +X bashcompinit && bashcompinit\n")
    with pytest.raises(SystemExit) as exc:
        main(["completion", "fish"])
    assert exc.value.code == 2 and "invalid choice" in capsys.readouterr().err
