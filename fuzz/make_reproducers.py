#!/usr/bin/env python3
"""Write the hand-made reproducers of the loader faults found by reading the code.

The timed fuzzing runs did not reach these inputs (each needs a long run of one opcode, a
64-bit size next to a zero-sized dimension, or a stride of 0), so they were built by hand
and confirmed by running them through the fuzz targets. See README.md, "Findings".

Run from the repository root:

    .venv/bin/python fuzz/make_reproducers.py

Each file is written under fuzz/artifacts/<target>/ in that target's input layout (the
load_model files start with the selector byte described in fuzz_targets/load_model.rs).
"""

import io
import json
import os
import struct
import zipfile

import torch

HERE = os.path.dirname(os.path.abspath(__file__))

SAFETENSORS = b"\x01"
PT = b"\x00"
U64_MAX = 2**64 - 1


def write(target, name, data):
    folder = os.path.join(HERE, "artifacts", target)
    os.makedirs(folder, exist_ok=True)
    with open(os.path.join(folder, name), "wb") as f:
        f.write(data)
    print(f"fuzz/artifacts/{target}/{name}: {len(data)} bytes")


def safetensors(shapes):
    """A safetensors file of zero-filled F32 tensors, written by hand."""
    header, data = {}, b""
    for name, shape in shapes.items():
        count = 1
        for dim in shape:
            count *= dim
        header[name] = {
            "dtype": "F32",
            "shape": shape,
            "data_offsets": [len(data), len(data) + 4 * count],
        }
        data += bytes(4 * count)
    text = json.dumps(header, separators=(",", ":")).encode()
    text += b" " * (-len(text) % 8)
    return struct.pack("<Q", len(text)) + text + data


def nested_tuples(depth):
    """PROTO 2, None, then `depth` TUPLE1 opcodes: (((None,),),)…, then STOP."""
    return b"\x80\x02N" + b"\x85" * depth + b"."


def main():
    # 1. Stack overflow: a value nested 60 000 deep overflows the stack when it is dropped
    #    (and in the app, whose loading job runs on a 2 MiB thread, far less is enough).
    write("pickle", "review-stack-overflow-nested-tuples", nested_tuples(60_000))
    zip_bytes = io.BytesIO()
    with zipfile.ZipFile(zip_bytes, "w", zipfile.ZIP_STORED) as archive:
        archive.writestr("archive/data.pkl", nested_tuples(60_000))
    write("torch_zip", "review-stack-overflow-nested-tuples.pt", zip_bytes.getvalue())
    write("load_model", "review-stack-overflow-nested-tuples.pt", PT + zip_bytes.getvalue())

    # 2. Integer overflow in recognize.rs image_shape (`s * s`): the pytorch/examples VAE
    #    names with fc1.weight of shape [0, 2^64 - 1]; a zero-sized dimension lets the other
    #    be anything, since the element count stays 0.
    examples = {
        "fc1.weight": [0, U64_MAX],
        "fc1.bias": [0],
        "fc21.weight": [2, 0],
        "fc21.bias": [2],
        "fc22.weight": [2, 0],
        "fc22.bias": [2],
        "fc3.weight": [0, 2],
        "fc3.bias": [0],
        "fc4.weight": [1, 0],
        "fc4.bias": [1],
    }
    write(
        "load_model",
        "review-overflow-image-shape.safetensors",
        SAFETENSORS + safetensors(examples),
    )

    # 3. Integer overflow in recognize.rs own_conv (`s * s != cells`): the app's conv names
    #    with one 1-channel convolution and encoder.fc.0.weight of shape [0, 2^64 - 1].
    conv = {
        "encoder.conv.0.weight": [1, 1, 4, 4],
        "encoder.fc.0.weight": [0, U64_MAX],
        "logvar.weight": [1, 0],
        "mu.weight": [1, 0],
    }
    write(
        "load_model",
        "review-overflow-own-conv.safetensors",
        SAFETENSORS + safetensors(conv),
    )

    # 4. Memory: a 1.5 KB torch.save file whose tensor is a view with stride 0 (what
    #    `expand` gives) over a one-value storage; reading it allocates 2^30 f32 = 4 GiB.
    buffer = io.BytesIO()
    torch.save({"fc1.weight": torch.zeros(1).expand(2**30)}, buffer)
    write("torch_zip", "review-oom-stride-0-view.pt", buffer.getvalue())
    write("load_model", "review-oom-stride-0-view.pt", PT + buffer.getvalue())


if __name__ == "__main__":
    main()
