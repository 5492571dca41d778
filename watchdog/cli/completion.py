"""`watchdog completion bash|zsh|fish`: shell completion scripts generated from the argument parser itself.

So every command and option any module registers completes, with nothing to keep in sync by hand.
"""

from __future__ import annotations

import argparse
import sys
from dataclasses import dataclass, field
from typing import Any

SHELLS = ("bash", "zsh", "fish")


def register(sub: argparse._SubParsersAction[Any]) -> None:
    p = sub.add_parser(
        "completion",
        help="print a shell completion script (bash, zsh or fish)",
        description="Print a completion script. bash: `source <(watchdog completion bash)` in ~/.bashrc; "
        'zsh: `watchdog completion zsh > "${fpath[1]}/_watchdog"`; '
        "fish: `watchdog completion fish > ~/.config/fish/completions/watchdog.fish`.",
    )
    p.add_argument("shell", choices=SHELLS, help="the shell to complete in")
    p.set_defaults(handler=run)


@dataclass
class Node:
    """One command level: its sub-commands (name -> (help, node)) and its options."""

    commands: dict[str, tuple[str, Node]] = field(default_factory=dict)
    options: list[tuple[str, str]] = field(default_factory=list)  # (--flag, help)


def tree(parser: argparse.ArgumentParser) -> Node:
    node = Node()
    for action in parser._actions:
        if isinstance(action, argparse._SubParsersAction):
            helps = {a.dest: a.help or "" for a in action._choices_actions}
            for name, child in action.choices.items():
                node.commands[name] = (helps.get(name, ""), tree(child))
        elif action.help != argparse.SUPPRESS:
            for flag in action.option_strings:
                if flag.startswith("--"):
                    node.options.append((flag, action.help or ""))
    return node


def paths(node: Node, prefix: tuple[str, ...] = ()) -> list[tuple[tuple[str, ...], Node]]:
    """Every command path with its node, the root first."""
    out = [(prefix, node)]
    for name, (_, child) in node.commands.items():
        out += paths(child, (*prefix, name))
    return out


def words(node: Node) -> list[str]:
    return [*node.commands, *(flag for flag, _ in node.options)]


def bash(root: Node) -> str:
    levels = paths(root)
    known = "|".join(f'"{" ".join(p)}"' for p, _ in levels if p)
    cases = "\n".join(f'    "{" ".join(p)}") opts="{" ".join(words(n))}" ;;' for p, n in levels)
    return f"""# bash completion for watchdog: source <(watchdog completion bash)
_watchdog() {{
  local cur word cmdpath="" opts="" i
  cur="${{COMP_WORDS[COMP_CWORD]}}"
  for ((i = 1; i < COMP_CWORD; i++)); do
    word="${{COMP_WORDS[i]}}"
    case "$word" in -*) continue ;; esac
    case "${{cmdpath:+$cmdpath }}$word" in
      {known}) cmdpath="${{cmdpath:+$cmdpath }}$word" ;;
    esac
  done
  case "$cmdpath" in
{cases}
  esac
  COMPREPLY=($(compgen -W "$opts" -- "$cur"))
}}
complete -o default -F _watchdog watchdog
"""


def zsh(root: Node) -> str:
    levels = paths(root)
    known = "|".join(f'"{" ".join(p)}"' for p, _ in levels if p)
    cases = "\n".join(
        f'    ("{" ".join(p)}") opts=({" ".join(_zsh_word(w, h) for w, h in _described(n))}) ;;'
        for p, n in levels
    )
    return f"""#compdef watchdog
# zsh completion for watchdog: watchdog completion zsh > "${{fpath[1]}}/_watchdog"
_watchdog() {{
  local word cmdpath="" i
  local -a opts
  for ((i = 2; i < CURRENT; i++)); do
    word=${{words[i]}}
    [[ $word == -* ]] && continue
    case "${{cmdpath:+$cmdpath }}$word" in
      ({known}) cmdpath="${{cmdpath:+$cmdpath }}$word" ;;
    esac
  done
  case "$cmdpath" in
{cases}
  esac
  _describe -t commands watchdog opts
}}
compdef _watchdog watchdog
"""


def fish(root: Node) -> str:
    lines = [
        "# fish completion for watchdog: watchdog completion fish > ~/.config/fish/completions/watchdog.fish",
        "complete -c watchdog -f",
    ]
    for prefix, node in paths(root):
        condition = _fish_condition(root, prefix)
        for name, (text, _) in node.commands.items():
            lines.append(f"complete -c watchdog -n {_quote(condition)} -a {name} -d {_quote(text)}")
        for flag, text in node.options:
            lines.append(f"complete -c watchdog -n {_quote(condition)} -l {flag[2:]} -d {_quote(text)}")
    return "\n".join(lines) + "\n"


def _fish_condition(root: Node, prefix: tuple[str, ...]) -> str:
    """Fish's test for "the command line is at exactly this command level"."""
    if not prefix:
        return "__fish_use_subcommand"
    parts = [f"__fish_seen_subcommand_from {word}" for word in prefix]
    node = root
    for word in prefix:
        node = node.commands[word][1]
    if node.commands:
        parts.append(f"not __fish_seen_subcommand_from {' '.join(node.commands)}")
    return "; and ".join(parts)


def _described(node: Node) -> list[tuple[str, str]]:
    return [*((name, text) for name, (text, _) in node.commands.items()), *node.options]


def _zsh_word(word: str, text: str) -> str:
    escaped = word.replace(":", "\\:")  # _describe splits on the first unescaped colon
    return _quote(f"{escaped}:{text}")


def _quote(text: str) -> str:
    return "'" + " ".join(text.split()).replace("'", "'\\''") + "'"


def script(shell: str) -> str:
    from watchdog.cli import build_parser

    root = tree(build_parser())
    return {"bash": bash, "zsh": zsh, "fish": fish}[shell](root)


def run(args: argparse.Namespace) -> int:
    sys.stdout.write(script(args.shell))
    return 0
