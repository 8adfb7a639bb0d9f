"""The README tour's HTTP requests, read from its shell, and a TypeScript file that types them.

The tour sends its requests with `post <path> '<json>'` (a shell function around curl) and reads
with `curl ... "$API/<path>"`, printing fields of the answers with `| json '<index>'`. Here each
becomes a `TourCall`; `typescript_of` writes them as TypeScript against the types
`openapi-typescript` generates, so `tsc --strict` checks every body the README sends (missing
required fields, unknown fields, wrong types) and every field it reads from an answer.
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


@dataclass(frozen=True)
class TourCall:
    method: str  # "post" or "get"
    path: str  # as the tour writes it after $API/, without its query
    body: str | None  # JSON, with the shell's variables filled in
    read: str | None  # the index the tour prints from the answer, e.g. '["window"]["status"]'


def tour_calls(readme: str) -> list[TourCall]:
    """Every request of the README's tour block, in order."""
    found = TOUR.search(readme)
    if found is None:
        raise AssertionError("the README has no ```bash tour block")
    lexer = shlex.shlex(found.group(1).replace("\\\n", " "), posix=True, punctuation_chars=True)
    lexer.whitespace_split = True
    tokens = list(lexer)
    variables = _json_variables(tokens)
    calls = []
    for at, token in enumerate(tokens):
        if token == "post" and not tokens[at + 1].startswith("("):  # not its definition
            body = _filled(tokens[at + 2], variables)
            calls.append(TourCall("post", tokens[at + 1], body, _read_after(tokens, at + 3)))
        elif token == "curl":
            call = _curl(tokens, at + 1, variables)
            if call is not None:
                calls.append(call)
    return calls


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


def _read_after(tokens: list[str], at: int) -> str | None:
    if tokens[at : at + 2] == ["|", "json"]:
        return tokens[at + 2]
    return None


def _curl(tokens: list[str], at: int, variables: dict[str, str]) -> TourCall | None:
    url = body = None
    while at < len(tokens) and tokens[at] not in {"|", ";", ")", "&&", ">"}:
        if tokens[at] == "-d":
            body = _filled(tokens[at + 1], variables)
            at += 1
        elif tokens[at].startswith("$API/"):
            url = tokens[at].removeprefix("$API/")
        at += 1
    if url is None or "$1" in url:  # the `post` function's own curl
        return None
    return TourCall("post" if body else "get", url.split("?", 1)[0], body, _read_after(tokens, at))


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
            status = _success_status(spec["paths"][path][call.method])
            answer = f'{operation}["responses"][{status}]["content"]["application/json"]'
            lines.append(f"declare const response{number}: {answer};")
            access = call.read.replace("[", "?.[")
            lines.append(f"export const read{number} = response{number}{access};")
        lines.append("")
    return "\n".join(lines)


def _success_status(operation: dict[str, Any]) -> str:
    return str(min(status for status in operation["responses"] if status.startswith("2")))
