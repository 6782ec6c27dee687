#!/usr/bin/env python3
"""Write the seed corpora for the fuzz targets in fuzz/corpus/<target>/.

Run from the repository root (the venv has torch, numpy and safetensors):

    .venv/bin/python fuzz/make_seeds.py

Every seed is small (a few kilobytes at most) so the fuzzer can afford to mutate it:
tiny versions of the layouts the loader recognises, the app's own formats with metadata
or a sidecar, the "bad" PyTorch fixtures, and plain pickles at protocols 0 to 5.

load_model seeds carry the fuzz target's framing (see fuzz_targets/load_model.rs):
byte 0 picks the file name (bit 0: .safetensors, else .pt) and whether a sidecar follows
(bit 1); with a sidecar, a little-endian u16 length and the sidecar text come next; the
rest is the model file.
"""

import glob
import io
import json
import os
import pickle
import struct
import zipfile
from collections import OrderedDict

import torch
import torch.nn as nn
from safetensors.torch import save as save_safetensors

HERE = os.path.dirname(os.path.abspath(__file__))
ROOT = os.path.dirname(HERE)
BAD_FIXTURES = os.path.join(ROOT, "tests", "fixtures", "pytorch", "bad")

torch.manual_seed(0)
torch.set_num_threads(1)

PT = 0
SAFETENSORS = 1
WITH_SIDECAR = 2


# ----------------------------------------------------------------------------- writing


def corpus_dir(target):
    path = os.path.join(HERE, "corpus", target)
    os.makedirs(path, exist_ok=True)
    return path


WRITTEN = set()
CONTENTS = set()


def write_seed(target, name, data):
    """Writes one seed under a fixed name, so running the script again overwrites it; a seed
    with the same bytes as one already written for `target` is skipped."""
    if (target, data) in CONTENTS:
        return
    CONTENTS.add((target, data))
    path = os.path.join(corpus_dir(target), name)
    assert path not in WRITTEN, f"two seeds named {name} for {target}"
    WRITTEN.add(path)
    with open(path, "wb") as f:
        f.write(data)


def framed(model_bytes, safetensors, sidecar=None):
    """The load_model target's input for a model file and an optional sidecar text."""
    selector = SAFETENSORS if safetensors else PT
    if sidecar is None:
        return bytes([selector]) + model_bytes
    text = sidecar.encode()
    return bytes([selector | WITH_SIDECAR]) + struct.pack("<H", len(text)) + text + model_bytes


def torch_bytes(obj, **kwargs):
    buffer = io.BytesIO()
    torch.save(obj, buffer, **kwargs)
    return buffer.getvalue()


def data_pkl(zip_bytes):
    """The pickle inside a torch.save zip file."""
    with zipfile.ZipFile(io.BytesIO(zip_bytes)) as archive:
        name = next(n for n in archive.namelist() if n.endswith("data.pkl"))
        return archive.read(name)


def safetensors_bytes(tensors, metadata=None):
    """safetensors.torch.save with the header's keys sorted: the library writes its metadata
    map in hash order, which would give a differently named seed on every run."""
    data = save_safetensors(tensors, metadata=metadata)
    (length,) = struct.unpack("<Q", data[:8])
    header = json.loads(data[8 : 8 + length])
    text = json.dumps(header, sort_keys=True, separators=(",", ":")).encode()
    text += b" " * (-len(text) % 8)
    return struct.pack("<Q", len(text)) + text + data[8 + length :]


def contiguous(state):
    return {k: v.contiguous() for k, v in state.items()}


# ----------------------------------------------------------------------------- models


class ExamplesVae(nn.Module):
    """pytorch/examples vae/main.py, with 16 → 4 → 2 instead of 784 → 400 → 20."""

    def __init__(self):
        super().__init__()
        self.fc1 = nn.Linear(16, 4)
        self.fc21 = nn.Linear(4, 2)
        self.fc22 = nn.Linear(4, 2)
        self.fc3 = nn.Linear(2, 4)
        self.fc4 = nn.Linear(4, 16)


class DcganGenerator(nn.Module):
    """pytorch/examples dcgan/main.py Generator with nz=2, one batch-normalised layer of 4
    channels and one output channel: 1×1 → 4×4 → 8×8."""

    def __init__(self):
        super().__init__()
        self.main = nn.Sequential(
            nn.ConvTranspose2d(2, 4, 4, 1, 0, bias=False),
            nn.BatchNorm2d(4),
            nn.ReLU(True),
            nn.ConvTranspose2d(4, 1, 4, 2, 1, bias=False),
            nn.Tanh(),
        )


def own_mlp(variational):
    """The app's own MLP names: input 16 (1×4×4), hidden [4], latent 2."""
    state = OrderedDict()
    state["encoder.0.weight"] = torch.randn(4, 16)
    state["encoder.0.bias"] = torch.randn(4)
    heads = ["mu", "logvar"] if variational else ["code"]
    for head in heads:
        state[f"{head}.weight"] = torch.randn(2, 4)
        state[f"{head}.bias"] = torch.randn(2)
    state["decoder.0.weight"] = torch.randn(4, 2)
    state["decoder.0.bias"] = torch.randn(4)
    state["decoder.out.weight"] = torch.randn(16, 4)
    state["decoder.out.bias"] = torch.randn(16)
    return state


def own_conv(variational):
    """The app's own conv names: input [1, 8, 8], channels [2], hidden [3], latent 2."""
    state = OrderedDict()
    state["encoder.conv.0.weight"] = torch.randn(2, 1, 4, 4)
    state["encoder.conv.0.bias"] = torch.randn(2)
    state["encoder.fc.0.weight"] = torch.randn(3, 32)  # 2 channels × 4 × 4
    state["encoder.fc.0.bias"] = torch.randn(3)
    heads = ["mu", "logvar"] if variational else ["code"]
    for head in heads:
        state[f"{head}.weight"] = torch.randn(2, 3)
        state[f"{head}.bias"] = torch.randn(2)
    state["decoder.fc.0.weight"] = torch.randn(3, 2)
    state["decoder.fc.0.bias"] = torch.randn(3)
    state["decoder.fc.1.weight"] = torch.randn(32, 3)
    state["decoder.fc.1.bias"] = torch.randn(32)
    state["decoder.deconv.0.weight"] = torch.randn(2, 1, 4, 4)
    state["decoder.deconv.0.bias"] = torch.randn(1)
    return state


def app_metadata(kind, input_shape, hidden, latent_dim, channels=None):
    """The `__metadata__` map this app writes (all values strings)."""
    meta = {
        "format": "latent-explorer.v1",
        "kind": kind,
        "input_shape": json.dumps(input_shape),
        "hidden": json.dumps(hidden),
        "latent_dim": str(latent_dim),
        "output_activation": "sigmoid",
        "dataset": "fuzz seeds",
        "class_names": json.dumps(["a", "b"]),
        "training": json.dumps(
            {
                "epochs": 1,
                "batch_size": 8,
                "learning_rate": 0.001,
                "beta": 1.0,
                "seed": 7,
                "train_images": 16,
                "test_reconstruction": None,
                "test_kl": 0.5,
                "elapsed_secs": 0.25,
                "command": "latent-explorer train",
            }
        ),
    }
    if channels is not None:
        meta["channels"] = json.dumps(channels)
    return meta


def sidecar(kind, input_shape, hidden, latent_dim, channels=None, activation="sigmoid"):
    config = {
        "kind": kind,
        "input_shape": input_shape,
        "hidden": hidden,
        "latent_dim": latent_dim,
        "output_activation": activation,
        "class_names": [],
    }
    if channels is not None:
        config["channels"] = channels
    return json.dumps(config)


def raw_safetensors(header, data=b""):
    """A safetensors file from a header dict, written by hand (for odd but valid headers)."""
    text = json.dumps(header, separators=(",", ":")).encode()
    return struct.pack("<Q", len(text)) + text + data


# ----------------------------------------------------------------------------- seeds


def model_files():
    """(name, bytes, is_safetensors, sidecar text or None) for every model seed."""
    files = []

    vae = contiguous(ExamplesVae().state_dict())
    files.append(("examples-vae-f32", torch_bytes(vae), False, None))
    files.append(("examples-vae-f32", safetensors_bytes(vae), True, None))
    bf16 = {k: v.to(torch.bfloat16) for k, v in vae.items()}
    files.append(("examples-vae-bf16", torch_bytes(bf16), False, None))
    f16 = {k: v.to(torch.float16) for k, v in vae.items()}
    files.append(("examples-vae-f16", safetensors_bytes(f16), True, None))
    f64 = {k: v.to(torch.float64) for k, v in vae.items()}
    files.append(("examples-vae-f64", torch_bytes(f64), False, None))

    # Views: a transposed weight (strides (1, 16)) and two heads sharing one storage at
    # different offsets, so the reader's stride and offset handling is in the corpus.
    views = dict(vae)
    views["fc1.weight"] = torch.randn(16, 4).t()
    both = torch.randn(4, 4)
    views["fc21.weight"], views["fc22.weight"] = both[:2], both[2:]
    files.append(("examples-vae-views", torch_bytes(views), False, None))

    # Parameters rather than tensors (torch._utils._rebuild_parameter).
    params = OrderedDict((k, nn.Parameter(v)) for k, v in vae.items())
    files.append(("examples-vae-parameters", torch_bytes(params), False, None))

    # A training checkpoint with the weights under "model_state_dict".
    checkpoint = {"epoch": 3, "model_state_dict": vae, "loss": 0.5, "tag": "fuzz"}
    files.append(("examples-vae-checkpoint", torch_bytes(checkpoint), False, None))

    # The old non-zip format, which the loader refuses with advice.
    files.append(
        (
            "examples-vae-legacy",
            torch_bytes(vae, _use_new_zipfile_serialization=False),
            False,
            None,
        )
    )

    gan = DcganGenerator()
    gan.main[1].running_mean.uniform_(-0.1, 0.1)
    gan.main[1].running_var.uniform_(0.5, 1.5)
    gan_state = contiguous(gan.state_dict())
    files.append(("dcgan", torch_bytes(gan_state), False, None))
    files.append(("dcgan", safetensors_bytes(gan_state), True, None))
    files.append(
        (
            "dcgan-sidecar",
            torch_bytes(gan_state),
            False,
            sidecar("dcgan-generator", [1, 8, 8], [], 2, channels=[4], activation="tanh"),
        )
    )

    mlp_ae = own_mlp(variational=False)
    ae_config = sidecar("mlp-ae", [1, 4, 4], [4], 2)
    files.append(("own-mlp-ae-sidecar", torch_bytes(mlp_ae), False, ae_config))
    files.append(("own-mlp-ae-sidecar", safetensors_bytes(mlp_ae), True, ae_config))
    files.append(("own-mlp-ae", safetensors_bytes(mlp_ae), True, None))

    mlp_vae = own_mlp(variational=True)
    meta = app_metadata("mlp-vae", [1, 4, 4], [4], 2)
    files.append(("own-mlp-vae-metadata", safetensors_bytes(mlp_vae, metadata=meta), True, None))
    # The examples names described by a sidecar: the loader takes recognition's renames.
    files.append(
        ("examples-vae-sidecar", torch_bytes(vae), False, sidecar("mlp-vae", [1, 4, 4], [4], 2))
    )

    conv_vae = own_conv(variational=True)
    files.append(("own-conv-vae", safetensors_bytes(conv_vae), True, None))
    conv_meta = app_metadata("conv-vae", [1, 8, 8], [3], 2, channels=[2])
    files.append(
        ("own-conv-vae-metadata", safetensors_bytes(conv_vae, metadata=conv_meta), True, None)
    )
    conv_ae = own_conv(variational=False)
    files.append(
        (
            "own-conv-ae-sidecar",
            torch_bytes(conv_ae),
            False,
            sidecar("conv-ae", [1, 8, 8], [3], 2, channels=[2]),
        )
    )

    # Refusals: a NaN weight, an extra tensor, the PyTorch fixtures that are not state dicts.
    nan = dict(mlp_vae)
    nan["mu.bias"] = torch.tensor([float("nan"), 1.0])
    files.append(("own-mlp-vae-nan", safetensors_bytes(nan, metadata=meta), True, None))
    extra = dict(vae)
    extra["extra.weight"] = torch.zeros(1)
    files.append(("examples-vae-extra", torch_bytes(extra), False, None))
    for path in sorted(glob.glob(os.path.join(BAD_FIXTURES, "*.pt"))):
        name = "fixture-bad-" + os.path.splitext(os.path.basename(path))[0]
        with open(path, "rb") as f:
            files.append((name, f.read(), False, None))

    # Hand-written safetensors headers: empty, a zero-sized tensor, an integer tensor.
    files.append(("safetensors-empty", raw_safetensors({}), True, None))
    files.append(
        (
            "safetensors-zero-dim",
            raw_safetensors({"fc1.weight": {"dtype": "F32", "shape": [0, 16], "data_offsets": [0, 0]}}),
            True,
            None,
        )
    )
    files.append(
        (
            "safetensors-i64",
            raw_safetensors(
                {
                    "__metadata__": {"note": "x"},
                    "n": {"dtype": "I64", "shape": [1], "data_offsets": [0, 8]},
                },
                struct.pack("<q", 5),
            ),
            True,
            None,
        )
    )
    return files


def plain_pickles():
    """(name, bytes) pickles of plain values, at every protocol."""
    values = {
        "dict": {"a": 1, "b": 300, "c": -70000, "d": 2**40, "e": -(2**70)},
        "list": [None, True, False, 1.5, -0.0, "text", b"bytes", (1,), (1, 2), (1, 2, 3)],
        "nested": {"outer": [{"inner": (1, [2, {"x": None}])}]},
        "shared": (lambda s: [s, s, {"again": s}])(["shared"]),
        "long-strings": ["s" * 300, b"b" * 300],
        "ordered-dict": OrderedDict([("x", 1), ("y", [1, 2])]),
        "tuples": ((), (None,), ((), ()), (1, 2, 3, 4)),
        "empty": {},
    }
    out = []
    for name, value in values.items():
        for protocol in range(0, 6):
            out.append((f"{name}-p{protocol}", pickle.dumps(value, protocol=protocol)))
    return out


def main():
    files = model_files()

    for name, data, is_safetensors, side in files:
        name += ".safetensors" if is_safetensors else ".pt"
        write_seed("load_model", name, framed(data, is_safetensors, side))
        if not is_safetensors and data.startswith(b"PK"):
            write_seed("torch_zip", name, data)
            write_seed("pickle", name + "-data-pkl", data_pkl(data))
        if is_safetensors and side is None:
            # The same bytes under the other extension exercise the format sniffing.
            stem = name.removesuffix(".safetensors")
            write_seed("load_model", stem + "-named.pt", framed(data, False))
    # A few bare inputs for the sniffing: empty, an empty zip, a non-model.
    write_seed("load_model", "empty-zip", framed(b"PK\x05\x06" + bytes(18), False))
    write_seed("load_model", "unknown", framed(b"not a model at all", False))

    for name, data in plain_pickles():
        write_seed("pickle", name, data)

    for target in ("load_model", "pickle", "torch_zip"):
        seeds = os.listdir(corpus_dir(target))
        largest = max(os.path.getsize(os.path.join(corpus_dir(target), s)) for s in seeds)
        print(f"{target}: {len(seeds)} seeds, largest {largest} bytes")


if __name__ == "__main__":
    main()
