"""pyseus codegen: TypeScript classes that compile with tsc --strict and decode our bytes with
@colyseus/schema 3.0.76 without the handshake; C# classes in the Unity SDK's form."""
from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

from pyseus.schema import Decoder, Encoder, Reflection, Schema, field, string
from pyseus.schema.codegen import classes_of, generate
from tests.node import TESTS_DIR, require_node_modules
from tests.schema import codegen_sample
from tests.schema.codegen_sample import Arena, Hero, Item
from tests.schema.scenarios import same_json

ROOT = TESTS_DIR.parent


def _arena_messages() -> tuple[Arena, list[bytes]]:
    arena = Arena(small=-3, medium=-300, wide=60000, big=4_000_000_000, bigger=-(2**40), biggest=2**41, ratio=0.5)
    arena.heroes["ann"] = Hero(name="Ann", x=1.5, y=2.5, level=7)
    arena.heroes["ann"].bag.append(Item(label="sword", weight=3.25))
    arena.heroes["ann"].tags.add("brave")
    arena.scores.extend([1, -2, 3])
    encoder = Encoder(arena)
    messages = [encoder.encode_all()]
    encoder.discard()
    arena.champion = arena.heroes["ann"]
    arena.heroes["bob"] = Hero(name="Bob", alive=False)
    arena.loot.add(Item(label="gem", weight=0.1))
    arena.scores[1] = 20
    arena.heroes["ann"].tags.add("quick")
    messages.append(encoder.encode())
    del arena.heroes["bob"]
    arena.heroes["ann"].bag[0].label = "axe"
    arena.heroes["ann"].x = -4.0
    messages.append(encoder.encode())
    return arena, messages


def test_generated_typescript_compiles_strict_and_decodes_our_bytes(tmp_path: Path) -> None:
    require_node_modules()
    src, out = tmp_path / "src", tmp_path / "js"
    done = subprocess.run([sys.executable, "-m", "pyseus.server", "codegen", "tests.schema.codegen_sample",
                           "--lang", "ts", "--out", str(src)], cwd=ROOT, capture_output=True, text=True, timeout=60)
    assert done.returncode == 0, done.stderr
    assert sorted(os.listdir(src)) == ["Arena.ts", "Board.ts", "Entity.ts", "Hero.ts", "Item.ts", "Piece.ts", "Unit.ts"]
    schema_pkg = TESTS_DIR / "node_modules" / "@colyseus" / "schema"
    (tmp_path / "tsconfig.json").write_text(json.dumps({
        "compilerOptions": {
            "strict": True, "target": "ES2020", "module": "commonjs", "experimentalDecorators": True,
            "useDefineForClassFields": False, "outDir": str(out), "rootDir": str(src), "skipLibCheck": True,
            "types": [], "baseUrl": str(tmp_path), "paths": {"@colyseus/schema": [str(schema_pkg)]},
        },
        "include": [str(src / "*.ts")],
    }))
    tsc = subprocess.run(["node", str(TESTS_DIR / "node_modules" / "typescript" / "bin" / "tsc"), "-p",
                          str(tmp_path)], capture_output=True, text=True, timeout=120)
    assert tsc.returncode == 0, tsc.stdout + tsc.stderr
    arena, messages = _arena_messages()
    decoded = subprocess.run(["node", str(TESTS_DIR / "interop" / "codegen_decode.mjs"), str(out), "Arena"],
                             input=json.dumps({"messages": [m.hex() for m in messages]}), capture_output=True,
                             text=True, timeout=60, env={**os.environ, "NODE_PATH": str(TESTS_DIR / "node_modules")})
    assert decoded.returncode == 0, decoded.stderr
    states = json.loads(decoded.stdout)["states"]
    # the same as what the handshake gives
    root = Reflection.decode(Reflection.encode(arena))
    ours = Decoder(root)
    for message, theirs in zip(messages, states):
        ours.decode(message)
        same_json(theirs, root.to_json(), "generated classes")
    assert states[-1]["heroes"]["ann"]["bag"][0]["label"] == "axe" and "bob" not in states[-1]["heroes"]
    assert states[-1]["champion"]["name"] == "Ann"


class Odd(Schema):
    ok: string = field(default="", wire_name="class")


def test_codegen_refuses_what_clients_cannot_name() -> None:
    with pytest.raises(ValueError, match="not a name"):
        generate([Odd], "ts")
    with pytest.raises(ValueError, match="unknown language"):
        generate([Item], "lua")
    with pytest.raises(TypeError):
        generate([int], "ts")


def test_generated_csharp_compiles_against_the_unity_sdk_signatures(tmp_path: Path) -> None:
    from tests.schema.codegen_sample import Board
    files = generate([Board], "cs", origin="tests.schema.codegen_sample")
    assert sorted(files) == ["Board.cs", "Item.cs", "Piece.cs", "Unit.cs"]
    for name, text in files.items():
        (tmp_path / name).write_text(text)
    # (a class that uses them, to check the generated types from C#)
    (tmp_path / "Use.cs").write_text(
        "using SchemaGenerated;\n"
        "public static class Use {\n"
        "    public static float Sum(Board b) { float s = 0; foreach (var x in b.scores.items) s += x; return s; }\n"
        "    public static ulong Turn(Board b) { return b.turn; }\n"
        "    public static byte Hp(Unit u) { return u.hp; }\n"
        "    public static Piece AsPiece(Unit u) { return u; }\n"
        "    public static void Main() {}\n"
        "}\n")
    sources = [str(TESTS_DIR / "interop" / "unity" / "SchemaStub.cs"), *(str(tmp_path / n) for n in files),
               str(tmp_path / "Use.cs")]
    mcs = subprocess.run(["mcs", "-warnaserror+", "-out:" + str(tmp_path / "generated.exe"), *sources],
                         capture_output=True, text=True, timeout=120)
    assert mcs.returncode == 0, mcs.stdout + mcs.stderr
    unit = files["Unit.cs"]
    assert '[Type(3, "uint8")]\n        public byte hp = default(byte);' in unit
    assert '[Type(5, "map", typeof(MapSchema<int>), "int32")]' in unit
    with pytest.raises(ValueError, match="the Unity SDK has no (Set|Collection)Schema"):
        generate([Arena], "cs")
