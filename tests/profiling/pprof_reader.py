"""A minimal protobuf reader for the tests, against the field numbers of pprof's profile.proto."""

from __future__ import annotations

import gzip
from dataclasses import dataclass, field
from typing import Any


def varint(data: bytes, pos: int) -> tuple[int, int]:
    shift = value = 0
    while True:
        byte = data[pos]
        pos += 1
        value |= (byte & 0x7F) << shift
        if not byte & 0x80:
            return value, pos
        shift += 7


def fields(data: bytes) -> dict[int, list[Any]]:
    out: dict[int, list[Any]] = {}
    pos = 0
    while pos < len(data):
        key, pos = varint(data, pos)
        number, wire = key >> 3, key & 7
        if wire == 0:
            value, pos = varint(data, pos)
        elif wire == 2:
            length, pos = varint(data, pos)
            value, pos = data[pos : pos + length], pos + length
        else:  # pragma: no cover - the writer emits no other wire types
            raise AssertionError(f"unexpected wire type {wire}")
        out.setdefault(number, []).append(value)
    return out


def packed(chunks: list[bytes]) -> list[int]:
    values = []
    for chunk in chunks:
        pos = 0
        while pos < len(chunk):
            value, pos = varint(chunk, pos)
            values.append(value)
    return values


@dataclass
class Decoded:
    """A decoded profile: strings resolved; ``samples`` as (leaf-first [(function, file, line)], values, labels)."""

    strings: list[str]
    sample_types: list[tuple[str, str]]
    default_type: str
    functions: dict[int, tuple[str, str, int]]  # id -> (name, file, start line)
    samples: list[tuple[list[tuple[str, str, int]], list[int], dict[str, str | int]]] = field(default_factory=list)
    mappings: list[dict[int, list[Any]]] = field(default_factory=list)
    raw: dict[int, list[Any]] = field(default_factory=dict)

    def line_values(self, function: str, value_index: int = 1) -> dict[int, int]:
        """Sum of a sample value per line of ``function`` (each sample counted once per line it holds)."""
        out: dict[int, int] = {}
        for stack, values, _labels in self.samples:
            for line in {ln for name, _file, ln in stack if name == function}:
                out[line] = out.get(line, 0) + values[value_index]
        return out


def decode(data: bytes) -> Decoded:
    profile = fields(gzip.decompress(data))
    strings = [s.decode() for s in profile[6]]
    sample_types = [(strings[fields(t)[1][0]], strings[fields(t)[2][0]]) for t in profile[1]]
    functions = {}
    for raw in profile[5]:
        f = fields(raw)
        functions[f[1][0]] = (strings[f[2][0]], strings[f[4][0]], f.get(5, [0])[0])
    locations: dict[int, tuple[str, str, int]] = {}
    for raw in profile[4]:
        loc = fields(raw)
        line = fields(loc[4][0])
        name, file, _start = functions[line[1][0]]
        locations[loc[1][0]] = (name, file, line.get(2, [0])[0])
    decoded = Decoded(strings, sample_types, strings[profile.get(14, [0])[0]], functions, raw=profile)
    decoded.mappings = [fields(m) for m in profile.get(3, [])]
    for raw in profile.get(2, []):
        sample = fields(raw)
        labels: dict[str, str | int] = {}
        for lb in sample.get(3, []):
            label = fields(lb)
            key = strings[label[1][0]]
            labels[key] = strings[label[2][0]] if 2 in label else label.get(3, [0])[0]
        stack = [locations[i] for i in packed(sample[1])]
        decoded.samples.append((stack, packed(sample[2]), labels))
    return decoded
