"""Replays every scenario of shared/spec/schema-vectors.json (bytes from
@colyseus/schema 3.0.76) and compares handshake, full state and patches byte for
byte; our decoder must end up with the states and reference counts recorded
from the JavaScript decoder.

Where the reference output is a known 3.x bug, the expected bytes are the
corrected ones the spec prescribes (see CORRECTIONS).
"""
from __future__ import annotations

import json
from pathlib import Path

import pytest

from pyseus.schema import Decoder, Encoder, Reflection
from tests.dsl import Interpreter, build_classes, normalize_json

VECTORS_FILE = Path(__file__).resolve().parents[1] / "vectors" / "schema-vectors.json"
VECTORS = json.loads(VECTORS_FILE.read_text())["vectors"]

Q255 = "71" * 255

# name -> {which bytes: (reference hex, corrected hex)}; the reasons are in the spec.
CORRECTIONS = {
    # 2.3: 3.x writes the str8 length of a 255-byte string as 255 % 255 = 0.
    "string_255_bytes_reference_bug": {
        "encode_all_hex": ("80d900" + Q255 + "8107", "80d9ff" + Q255 + "8107"),
        "first_encode_hex": ("80d900" + Q255 + "8107", "80d9ff" + Q255 + "8107"),
        "final_encode_all_hex": ("80d900" + Q255 + "8107", "80d9ff" + Q255 + "8107"),
    },
    # 6.4: 3.x writes the new item's block before the collection op that introduces it.
    "collection_of_schema_add_reference_bug": {
        "step1": ("ff0380a16aff01800103", "ff01800103ff0380a16a"),
    },
    # 3: an empty block ("ff 02" with no ops) is something encoders need not produce.
    "shared_instance": {
        "final_encode_all_hex": ("8202ff02", "8202"),
    },
}


def expected(vector: dict, which: str, reference: str) -> str:
    fix = CORRECTIONS.get(vector["name"], {}).get(which)
    if fix is None:
        return reference
    assert reference == fix[0], f"the reference bytes of {which} changed"
    return fix[1]


def uses_reference_state(vector: dict) -> bool:
    # For vectors whose JS result is a reference bug, our decoder must reach the
    # server's state instead of what the JS decoder produced.
    return vector["name"] in CORRECTIONS and not vector["js_decoder_roundtrip_ok"]


@pytest.mark.parametrize("vector", VECTORS, ids=[v["name"] for v in VECTORS])
def test_vector(vector: dict) -> None:
    classes = build_classes(vector["types"])
    state = classes[vector["root"]]()
    server = Interpreter(classes, state)
    for op in vector["init"]:
        server.apply(op)
    encoder = Encoder(state)

    assert Reflection.encode(state).hex() == vector["handshake_hex"]
    assert encoder.encode_all().hex() == expected(vector, "encode_all_hex", vector["encode_all_hex"])
    assert encoder.encode().hex() == expected(vector, "first_encode_hex", vector["first_encode_hex"])

    client_root = Reflection.decode(bytes.fromhex(vector["handshake_hex"]))
    client = Decoder(client_root)
    client.decode(encoder.encode_all())
    assert {str(k): v for k, v in client.refcounts.items()} == vector["decoder_refcounts_after_init"]

    for n, step in enumerate(vector["steps"], 1):
        for op in step["ops"]:
            server.apply(op)
        patch = encoder.encode()
        assert patch.hex() == expected(vector, f"step{n}", step["encode_hex"]), f"step {n}: {step['pseudocode']}"
        client.decode(patch)
        if vector["js_decoder_roundtrip_ok"] or uses_reference_state(vector):
            assert client_root.to_json() == normalize_json(step["state_json_after"]), f"step {n}"
            assert state.to_json() == normalize_json(step["state_json_after"]), f"step {n}"
        if vector["js_decoder_roundtrip_ok"]:
            assert {str(k): v for k, v in client.refcounts.items()} == step["decoder_refcounts_after"]

    assert encoder.encode_all().hex() == expected(vector, "final_encode_all_hex", vector["final_encode_all_hex"])
    if uses_reference_state(vector):
        assert client_root.to_json() == normalize_json(vector["final_state_json"])
    else:
        assert client_root.to_json() == normalize_json(vector["decoded_state_json"])

    # a client that joins at the end sees the same state
    late_root = Reflection.decode(Reflection.encode(state))
    Decoder(late_root).decode(encoder.encode_all())
    assert late_root.to_json() == client_root.to_json()
