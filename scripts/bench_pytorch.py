"""The PyTorch side of the core-loop benchmark, on the same model and inputs as ours.

Reads the bundled checkpoint (safetensors, parsed by hand so only torch and numpy are needed)
and the bundled Fashion-MNIST test images, then prints one `name value unit` line per
measurement, medians over repeated runs, with torch limited to the given thread count.
"""

import gzip
import json
import struct
import sys
import time

import numpy as np
import torch


def read_safetensors(path):
    with open(path, "rb") as f:
        data = f.read()
    (header_len,) = struct.unpack("<Q", data[:8])
    header = json.loads(data[8 : 8 + header_len])
    header.pop("__metadata__", None)
    body = data[8 + header_len :]
    tensors = {}
    for name, info in header.items():
        assert info["dtype"] == "F32", f"{name}: dtype {info['dtype']}"
        start, end = info["data_offsets"]
        array = np.frombuffer(body[start:end], dtype="<f4").reshape(info["shape"])
        tensors[name] = torch.from_numpy(array.copy())
    return tensors


def read_idx_images(path):
    with gzip.open(path, "rb") as f:
        data = f.read()
    n, h, w = struct.unpack(">III", data[4:16])
    pixels = np.frombuffer(data[16:], dtype=np.uint8).reshape(n, h * w)
    return torch.from_numpy(pixels.astype(np.float32) / 255.0)


def median_secs(fn, warmup, runs):
    for _ in range(warmup):
        fn()
    samples = []
    for _ in range(runs):
        started = time.perf_counter()
        fn()
        samples.append(time.perf_counter() - started)
    samples.sort()
    return samples[len(samples) // 2]


def linear(t, name):
    return t[f"{name}.weight"], t[f"{name}.bias"]


def main():
    checkpoint, images_path, threads = sys.argv[1], sys.argv[2], int(sys.argv[3])
    torch.set_num_threads(threads)
    t = read_safetensors(checkpoint)
    images = read_idx_images(images_path)
    latent_dim = t["mu.weight"].shape[0]

    enc_w, enc_b = linear(t, "encoder.0")
    mu_w, mu_b = linear(t, "mu")
    dec_w, dec_b = linear(t, "decoder.0")
    out_w, out_b = linear(t, "decoder.out")

    def decode(z):
        h = torch.relu(torch.nn.functional.linear(z, dec_w, dec_b))
        return torch.sigmoid(torch.nn.functional.linear(h, out_w, out_b))

    def encode(x):
        h = torch.relu(torch.nn.functional.linear(x, enc_w, enc_b))
        return torch.nn.functional.linear(h, mu_w, mu_b)

    with torch.inference_mode():
        z = torch.sin(torch.arange(latent_dim, dtype=torch.float32) * 0.7).reshape(1, -1)
        secs = median_secs(lambda: decode(z), 1000, 20000)
        print(f"decode_1_latent {secs * 1e6:.3f} us")

        batches = images.split(1000)
        # 21 runs, as on our side; batches of 1,000 encode as fast here as 2,048 or all 10,000.
        secs = median_secs(lambda: [encode(b) for b in batches], 3, 21)
        print(f"encode_10000 {len(images) / secs:.1f} images/s")

        # numpy, the lower bound the issue quotes for one decode.
        zn, dw, db, ow, ob = (a.numpy() for a in (z[0], dec_w, dec_b, out_w, out_b))

        def decode_numpy():
            h = np.maximum(dw @ zn + db, 0.0)
            return 1.0 / (1.0 + np.exp(-(ow @ h + ob)))

        secs = median_secs(decode_numpy, 1000, 20000)
        print(f"decode_1_latent_numpy {secs * 1e6:.3f} us")

    # Training throughput of a fresh 784 -> 400 -> 20 VAE at batch 128, as in pytorch/examples.
    torch.manual_seed(0)

    class Vae(torch.nn.Module):
        def __init__(self):
            super().__init__()
            self.fc1 = torch.nn.Linear(784, 400)
            self.fc21 = torch.nn.Linear(400, 20)
            self.fc22 = torch.nn.Linear(400, 20)
            self.fc3 = torch.nn.Linear(20, 400)
            self.fc4 = torch.nn.Linear(400, 784)

        def forward(self, x):
            h = torch.relu(self.fc1(x))
            mu, logvar = self.fc21(h), self.fc22(h)
            z = mu + torch.randn_like(mu) * torch.exp(0.5 * logvar)
            logits = self.fc4(torch.relu(self.fc3(z)))
            return logits, mu, logvar

    vae = Vae()
    optimizer = torch.optim.Adam(vae.parameters(), lr=1e-3)
    train = images[:12800]

    def epoch():
        for batch in train.split(128):
            logits, mu, logvar = vae(batch)
            bce = torch.nn.functional.binary_cross_entropy_with_logits(
                logits, batch, reduction="sum"
            )
            kl = -0.5 * torch.sum(1 + logvar - mu.pow(2) - logvar.exp())
            loss = (bce + kl) / len(batch)
            optimizer.zero_grad()
            loss.backward()
            optimizer.step()

    secs = median_secs(epoch, 1, 3)
    print(f"train_batch_128 {len(train) / secs:.1f} images/s")


if __name__ == "__main__":
    main()
