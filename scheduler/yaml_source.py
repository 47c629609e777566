"""YAML documents as plain data plus the line of every key and list item.

PyYAML's constructed objects forget where they came from; composing the node
tree and converting it here keeps a ``Loc -> line`` map, so that a validation
error found later can say ``city.yaml:42: staff[3].skills[1]: …``.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from typing import Any

import yaml

__all__ = ["Loc", "Problem", "SourceMap", "YamlProblems", "compose_with_lines", "format_loc"]

# A place in the document: mapping keys and list indexes from the root.
Loc = tuple[str | int, ...]
# (line or None, field path, message), as ``ImportFileError`` takes them.
Problem = tuple[int | None, str, str]


class _Loader(yaml.SafeLoader):
    """SafeLoader with YAML 1.2 core-schema scalars.

    YAML 1.1 reads ``13:00`` as the sexagesimal integer 780, ``no`` as False
    and ``2026-12-21`` as a date object. In a file full of times and slugs
    those are traps, so only true/false, decimal integers and null are typed
    here; everything else stays a string that the validators parse and can
    quote back in an error message.
    """


# Start from no resolvers at all rather than SafeLoader's YAML 1.1 set.
_Loader.yaml_implicit_resolvers = {}

_Loader.add_implicit_resolver(
    "tag:yaml.org,2002:bool", re.compile(r"^(?:true|True|TRUE|false|False|FALSE)$"), list("tTfF")
)
# No leading zeros: PyYAML would read "08" as (invalid) octal.
_Loader.add_implicit_resolver(
    "tag:yaml.org,2002:int", re.compile(r"^[-+]?(?:0|[1-9][0-9]*)$"), list("-+0123456789")
)
_Loader.add_implicit_resolver(
    "tag:yaml.org,2002:null", re.compile(r"^(?:~|null|Null|NULL|)$"), ["~", "n", "N", ""]
)


@dataclass(frozen=True)
class SourceMap:
    """Where each part of a loaded file came from, for error messages."""

    filename: str = "<config>"
    lines: Mapping[Loc, int] = field(default_factory=dict)

    def line_of(self, loc: Loc) -> int | None:
        """The line of ``loc``, or of its nearest enclosing part (a missing key)."""
        for end in range(len(loc), -1, -1):
            line = self.lines.get(loc[:end])
            if line is not None:
                return line
        return None

    def problem(self, loc: Loc, message: str) -> Problem:
        return (self.line_of(loc), format_loc(loc), message)


def format_loc(loc: Iterable[str | int]) -> str:
    """``("staff", 3, "skills", 1)`` -> ``staff[3].skills[1]``."""
    out = ""
    for part in loc:
        if isinstance(part, int) and not isinstance(part, bool):
            out += f"[{part}]"
        else:
            out += f".{part}" if out else str(part)
    return out


class YamlProblems(Exception):
    """The text is not YAML, or not YAML this module accepts."""

    def __init__(self, problems: list[Problem]) -> None:
        super().__init__(problems)
        self.problems = problems


def compose_with_lines(text: str) -> tuple[Any, dict[Loc, int]]:
    """Parse ``text`` into plain Python data plus the line of every part."""
    try:
        loader = _Loader(text)
    except yaml.reader.ReaderError as exc:  # a control character; position, no mark
        line = text.count("\n", 0, exc.position) + 1
        raise YamlProblems([(line, "", f"not valid YAML: {exc.reason}")]) from exc
    try:
        try:
            node = loader.get_single_node()
            if node is None:
                raise YamlProblems([(None, "", "the file is empty")])
            lines: dict[Loc, int] = {(): node.start_mark.line + 1}
            problems: list[Problem] = []
            data = _to_python(loader, node, (), lines, problems, set())
        except yaml.MarkedYAMLError as exc:
            raise YamlProblems([_yaml_problem(exc)]) from exc
        except yaml.YAMLError as exc:  # without a mark
            raise YamlProblems([(None, "", f"not valid YAML: {exc}")]) from exc
        if problems:
            raise YamlProblems(problems)
        return data, lines
    finally:
        loader.dispose()


def _yaml_problem(exc: yaml.MarkedYAMLError) -> Problem:
    mark = exc.problem_mark or exc.context_mark
    line = mark.line + 1 if mark is not None else None
    message = exc.problem or str(exc)
    # An unclosed bracket is only noticed at the end of the file; where the
    # bracket was opened is what the reader needs.
    if exc.context and exc.context_mark is not None and exc.context_mark is not mark:
        message = f"{message} ({exc.context}, line {exc.context_mark.line + 1})"
    return (line, "", f"not valid YAML: {message}")


_PLAIN_TAGS = ("tag:yaml.org,2002:map", "tag:yaml.org,2002:seq")


def _to_python(
    loader: _Loader,
    node: yaml.Node,
    loc: Loc,
    lines: dict[Loc, int],
    problems: list[Problem],
    open_nodes: set[int],
) -> Any:
    if isinstance(node, yaml.ScalarNode):
        return loader.construct_object(node, deep=True)
    if id(node) in open_nodes:
        problems.append((node.start_mark.line + 1, format_loc(loc), "alias refers to itself"))
        return None
    if node.tag not in _PLAIN_TAGS:
        # Sets, ordered maps and !python/… objects have no place in a city file.
        problems.append((node.start_mark.line + 1, format_loc(loc), f"unsupported tag {node.tag}"))
        return None
    open_nodes.add(id(node))
    try:
        if isinstance(node, yaml.SequenceNode):
            items: list[Any] = []
            for index, item in enumerate(node.value):
                item_loc = (*loc, index)
                lines[item_loc] = item.start_mark.line + 1
                items.append(_to_python(loader, item, item_loc, lines, problems, open_nodes))
            return items
        if isinstance(node, yaml.MappingNode):
            mapping: dict[Any, Any] = {}
            for key_node, value_node in node.value:
                line = key_node.start_mark.line + 1
                if not isinstance(key_node, yaml.ScalarNode):
                    problems.append((line, format_loc(loc), "a key must be a plain name"))
                    continue
                key = loader.construct_object(key_node)
                if key in mapping:
                    # PyYAML would silently keep the last one; a repeated key is
                    # almost always a copy-paste slip that loses data.
                    problems.append((line, format_loc((*loc, key)), "key appears twice"))
                    continue
                key_loc = (*loc, key)
                # The key's line, not the value's: for a nested block the
                # value starts on the next line, but people look for the key.
                lines[key_loc] = line
                mapping[key] = _to_python(loader, value_node, key_loc, lines, problems, open_nodes)
            return mapping
        raise AssertionError(f"unexpected YAML node {node!r}")
    finally:
        open_nodes.discard(id(node))
