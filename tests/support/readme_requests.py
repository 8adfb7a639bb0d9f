"""The README tour's HTTP requests, read from its shell, and a TypeScript file that types them.

The tour sends every request with `api METHOD PATH [BODY]` (a shell function around curl) and
prints fields of the answers with `| get KEY...` (a key naming a list goes through its items;
`a,b` picks both). Here each becomes a `TourCall`; `typescript_of` writes them as TypeScript
against the types `openapi-typescript` generates, so `tsc --strict` checks every body the README
sends (missing required fields, unknown fields, wrong types) and every field it reads from an
answer.
"""

import json
import re
import shlex
from dataclasses import dataclass
from typing import Any

API_PREFIX = "/api/v1/"
TOUR = re.compile(r"```bash tour\n(.*?)```", re.DOTALL)
ASSIGNMENT = re.compile(r"([A-Za-z_][A-Za-z0-9_]*)=(.*)", re.DOTALL)
# $NAME, ${NAME...} and $( ... ) with one level of nested parentheses.
EXPANSION = re.compile(r"\$(?:\((?:[^()]|\([^()]*\))*\)|\{[^}]*\}|[A-Za-z_][A-Za-z0-9_]*)")
PLACEHOLDER = "tour-value"  # ids and times are strings in TypeScript: any string types alike
# Shell punctuation, newlines included, so that a `get`'s keys end with their line.
PUNCTUATION = "();<>|&\n"


@dataclass(frozen=True)
class TourCall:
    method: str  # "post" or "get"
    path: str  # as the tour writes it after $API/, without its query
    body: str | None  # JSON, with the shell's variables filled in
    read: (
        tuple[str, ...] | None
    )  # the keys the tour prints from the answer, e.g. ("window", "status")


def tour_calls(readme: str) -> list[TourCall]:
    """Every request of the README's tour block, in order."""
    found = TOUR.search(readme)
    if found is None:
        raise AssertionError("the README has no ```bash tour block")
    lexer = shlex.shlex(
        found.group(1).replace("\\\n", " "), posix=True, punctuation_chars=PUNCTUATION
    )
    lexer.whitespace = " \t\r"
    lexer.whitespace_split = True
    tokens = list(lexer)
    variables = _json_variables(tokens)
    calls = []
    for at, token in enumerate(tokens):
        if token != "api" or _is_punctuation(tokens[at + 1]):  # not its definition
            continue
        method, path = tokens[at + 1].lower(), tokens[at + 2].split("?", 1)[0]
        at += 3
        body = None
        if at < len(tokens) and not _is_punctuation(tokens[at]):
            body = _filled(tokens[at], variables)
            at += 1
        calls.append(TourCall(method, path, body, _read_after(tokens, at)))
    return calls


def _is_punctuation(token: str) -> bool:
    return all(character in PUNCTUATION for character in token)


def _json_variables(tokens: list[str]) -> dict[str, str]:
    """Shell variables holding JSON (`NO='{...}'`), which bodies splice in unquoted."""
    variables = {}
    for token in tokens:
        match = ASSIGNMENT.fullmatch(token)
        if match and match.group(2).lstrip().startswith(("{", "[")):
            variables[match.group(1)] = match.group(2)
    return variables


def _filled(text: str, variables: dict[str, str]) -> str:
    def value(match: re.Match[str]) -> str:
        name = match.group(0)[1:].strip("{}")
        return variables.get(name, PLACEHOLDER)

    return EXPANSION.sub(value, text)


def _read_after(tokens: list[str], at: int) -> tuple[str, ...] | None:
    if tokens[at : at + 2] != ["|", "get"]:
        return None
    keys = []
    for token in tokens[at + 2 :]:
        if _is_punctuation(token):
            break
        keys.append(token)
    return tuple(keys)


def operation_path(call: TourCall, spec: dict[str, Any]) -> str:
    """The document's path template the call is a request to (AssertionError if none)."""
    concrete = EXPANSION.sub("x", call.path)
    for template, item in spec["paths"].items():
        if not template.startswith(API_PREFIX) or call.method not in item:
            continue
        pattern = re.sub(r"\\\{[^}]*\\\}", "[^/]+", re.escape(template.removeprefix(API_PREFIX)))
        if re.fullmatch(pattern, concrete):
            return str(template)
    raise AssertionError(f"the tour's {call.method.upper()} {call.path} is not in the document")


def typescript_of(calls: list[TourCall], spec: dict[str, Any], schema_module: str) -> str:
    """A TypeScript module typing each call's body and read with the generated `paths`."""
    lines = [f'import type {{ paths }} from "{schema_module}";', ""]
    for number, call in enumerate(calls, start=1):
        path = operation_path(call, spec)
        operation = f"paths[{json.dumps(path)}][{json.dumps(call.method)}]"
        lines.append(f"// {call.method.upper()} {call.path}")
        if call.body is not None:
            json.loads(call.body)  # a body that is not JSON fails here, with its text
            body_type = f'NonNullable<{operation}["requestBody"]>["content"]["application/json"]'
            lines.append(f"export const request{number}: {body_type} = {call.body};")
        if call.read is not None:
            responses = spec["paths"][path][call.method]["responses"]
            status = _success_status(responses)
            answer = f'{operation}["responses"][{status}]["content"]["application/json"]'
            lines.append(f"declare const response{number}: {answer};")
            schema = responses[status]["content"]["application/json"]["schema"]
            for part, access in enumerate(_accesses(call.read, schema, spec)):
                lines.append(f"export const read{number}_{part} = response{number}{access};")
        lines.append("")
    return "\n".join(lines)


def _success_status(responses: dict[str, Any]) -> str:
    return str(min(status for status in responses if status.startswith("2")))


def _accesses(keys: tuple[str, ...], schema: dict[str, Any], spec: dict[str, Any]) -> list[str]:
    """TypeScript property accesses for what `get KEY...` prints: through a list by its first
    item, one access per key of an `a,b` pick."""
    schema = _resolved(schema, spec)
    if not keys:
        return [""]
    if schema.get("type") == "array":
        return [f"?.[0]{rest}" for rest in _accesses(keys, schema["items"], spec)]
    found = []
    for key in keys[0].split(","):
        inner = schema.get("properties", {}).get(key, {})
        found += [f"?.[{json.dumps(key)}]{rest}" for rest in _accesses(keys[1:], inner, spec)]
    return found


def _resolved(schema: dict[str, Any], spec: dict[str, Any]) -> dict[str, Any]:
    """The schema behind a `$ref`, or the non-null branch of a nullable one."""
    while True:
        if "$ref" in schema:
            schema = spec["components"]["schemas"][schema["$ref"].rsplit("/", 1)[-1]]
        elif "anyOf" in schema or "oneOf" in schema:
            branches = schema.get("anyOf", schema.get("oneOf", []))
            schema = next((b for b in branches if b.get("type") != "null"), {})
        else:
            return schema
