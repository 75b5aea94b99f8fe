"""Shell completion for the ``kubescale`` command line, generated from its argument parser:
verbs, each verb's flags, and the values of flags that take a fixed set (``-o``, ``--dry-run``).
``kubescale completion bash|zsh|fish`` prints the script."""

from __future__ import annotations

import argparse
import shlex
from dataclasses import dataclass, field

__all__ = ["script"]


@dataclass
class _Flag:
    names: list[str]
    takes_value: bool
    choices: list[str]
    help: str


@dataclass
class _Verb:
    name: str
    help: str
    flags: list[_Flag] = field(default_factory=list)


def _flags(parser: argparse.ArgumentParser) -> list[_Flag]:
    out = []
    for action in parser._actions:
        if not action.option_strings or isinstance(action, argparse._HelpAction):
            continue
        out.append(
            _Flag(
                names=list(action.option_strings),
                takes_value=action.nargs != 0,
                choices=[str(c) for c in action.choices or ()],
                help=(action.help or "").replace("%", "%%") if action.help != argparse.SUPPRESS else "",
            )
        )
    return out


def _model(parser: argparse.ArgumentParser) -> tuple[list[_Flag], list[_Verb]]:
    verbs: list[_Verb] = []
    for action in parser._actions:
        if isinstance(action, argparse._SubParsersAction):
            helps = {a.dest: a.help or "" for a in action._choices_actions}
            for name, sub in action.choices.items():
                verbs.append(_Verb(name, helps.get(name, ""), _flags(sub)))
    return _flags(parser), verbs


def _bash(parser: argparse.ArgumentParser) -> str:
    top, verbs = _model(parser)
    every = top + [f for v in verbs for f in v.flags]
    valued = sorted({n for f in every if f.takes_value for n in f.names})
    choices = {n: " ".join(f.choices) for f in every if f.choices for n in f.names}

    def long_flags(flags: list[_Flag]) -> str:
        return " ".join(n for f in flags for n in f.names if n.startswith("--"))

    cases = "\n".join(f"        {v.name}) flags={shlex.quote(long_flags(v.flags))} ;;" for v in verbs)
    choice_cases = "\n".join(f"        {n}) values={shlex.quote(c)} ;;" for n, c in sorted(choices.items()))
    top_flags = long_flags(top)
    return f"""# bash completion for kubescale: source it, or save it as
# ~/.local/share/bash-completion/completions/kubescale
_kubescale() {{
    local cur="${{COMP_WORDS[COMP_CWORD]}}" verb="" i=1 w flag="" values="" flags
    while [ "$i" -lt "$COMP_CWORD" ]; do
        w="${{COMP_WORDS[i]}}"
        case " {" ".join(valued)} " in
            *" $w "*) if [ "${{COMP_WORDS[i+1]}}" = "=" ]; then i=$((i+2)); else i=$((i+1)); fi ;;
            *) case "$w" in -*|=) ;; *) [ -z "$verb" ] && verb="$w" ;; esac ;;
        esac
        i=$((i+1))
    done
    if [ "$COMP_CWORD" -ge 2 ] && [ "${{COMP_WORDS[COMP_CWORD-1]}}" = "=" ]; then
        flag="${{COMP_WORDS[COMP_CWORD-2]}}"
    elif [ "$COMP_CWORD" -ge 1 ]; then
        flag="${{COMP_WORDS[COMP_CWORD-1]}}"
    fi
    case "$flag" in
{choice_cases}
    esac
    if [ -n "$values" ]; then
        COMPREPLY=($(compgen -W "$values" -- "$cur"))
        return
    fi
    if [ -z "$verb" ] && [[ "$cur" != -* ]]; then
        COMPREPLY=($(compgen -W "{" ".join(v.name for v in verbs)}" -- "$cur"))
        return
    fi
    flags="{top_flags}"
    case "$verb" in
{cases}
    esac
    COMPREPLY=($(compgen -W "$flags" -- "$cur"))
}}
complete -F _kubescale kubescale
"""


def _zsh(parser: argparse.ArgumentParser) -> str:
    return (
        "# zsh completion for kubescale: source it from ~/.zshrc (it uses zsh's bash completion)\n"
        "autoload -U +X compinit && compinit\n"
        "autoload -U +X bashcompinit && bashcompinit\n" + _bash(parser)
    )


def _fish(parser: argparse.ArgumentParser) -> str:
    top, verbs = _model(parser)
    names = " ".join(v.name for v in verbs)

    def line(condition: str, f: _Flag) -> str:
        parts = ["complete -c kubescale", f"-n {shlex.quote(condition)}"]
        for n in f.names:
            parts.append(f"-l {n[2:]}" if n.startswith("--") else f"-s {n[1:]}")
        if f.takes_value:
            parts.append("-r" if not f.choices else f"-x -a {shlex.quote(' '.join(f.choices))}")
        if f.help:
            parts.append(f"-d {shlex.quote(f.help)}")
        return " ".join(parts)

    lines = ["# fish completion for kubescale: save it as ~/.config/fish/completions/kubescale.fish"]
    lines.append("complete -c kubescale -f")
    for v in verbs:
        lines.append(
            f"complete -c kubescale -n {shlex.quote(f'not __fish_seen_subcommand_from {names}')} "
            f"-a {v.name} -d {shlex.quote(v.help)}"
        )
    lines += [line("true", f) for f in top]
    for v in verbs:
        lines += [line(f"__fish_seen_subcommand_from {v.name}", f) for f in v.flags]
    return "\n".join(lines) + "\n"


def script(parser: argparse.ArgumentParser, shell: str) -> str:
    """The completion script for ``shell`` (``bash``, ``zsh`` or ``fish``).

    Raises:
        ValueError: another shell.
    """
    makers = {"bash": _bash, "zsh": _zsh, "fish": _fish}
    if shell not in makers:
        raise ValueError(f"no completion for shell {shell!r}: use bash, zsh or fish")
    return makers[shell](parser).rstrip("\n")
