"""The Python side of the projection benchmark, and the common scorer of both sides' output.

Subcommands (all numbers go to stdout as `name value` lines, so the shell script can read them):

  prepare MODEL TEST_IMAGES TEST_LABELS DATASET_DIR OUT_DIR
      Writes the inputs both sides read, as `index,label,z0,z1,…` CSV files:
        latents-10k-16.csv   µ of the bundled VAE for the 10,000 test images
        pca50-10k-50.csv     the test images' pixels reduced to 50 dimensions by PCA
        pixels-70k-784.csv   the 70,000 train + test images' raw pixel bytes (0-255; PCA is
                             scale-equivariant, and integers keep the file small and exact)
        latents-70k-16.csv   µ for the 70,000 train + test images
      The last two need Fashion-MNIST's train files in DATASET_DIR (Debian's
      `dataset-fashion-mnist` package); without them they are skipped with a message.
  opentsne INPUT OUT THREADS SEED      openTSNE with its defaults (FFT for N >= 10,000)
  sklearn-tsne INPUT OUT THREADS SEED  scikit-learn's Barnes-Hut t-SNE, 750 iterations
  sklearn-pca INPUT OUT THREADS K      scikit-learn's randomized PCA with K components
  score INPUT COORDS K SAMPLE SEED     neighbourhood preservation and exact-P KL of a layout
  exact-pca INPUT OUT                  exact PC1/PC2 coordinates (float64 eigh), untimed
  compare-pca OURS THEIRS              how far apart two PC1/PC2 layouts are, each axis up to sign

Times cover the projection only (reading and writing files are outside the clock).
"""

import gzip
import json
import os
import struct
import sys
import time

import numpy as np


def limit_threads(threads):
    """Limits every native thread pool (BLAS, OpenMP) to `threads`."""
    from threadpoolctl import threadpool_limits

    return threadpool_limits(limits=threads)


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
        tensors[name] = np.frombuffer(body[start:end], dtype="<f4").reshape(info["shape"])
    return tensors


def read_idx(path):
    """Reads an IDX file (gzip): images as uint8 [n, h*w] or labels as uint8 [n]."""
    with gzip.open(path, "rb") as f:
        data = f.read()
    (magic,) = struct.unpack(">I", data[:4])
    if magic == 2051:
        n, h, w = struct.unpack(">III", data[4:16])
        return np.frombuffer(data[16:], dtype=np.uint8).reshape(n, h * w)
    if magic == 2049:
        return np.frombuffer(data[8:], dtype=np.uint8)
    raise ValueError(f"{path}: unknown IDX magic {magic}")


def encode_mu(tensors, pixels):
    """µ = W_mu · relu(W_enc0 · x + b_enc0) + b_mu, with x the pixels scaled to [0, 1]."""
    x = pixels.astype(np.float32) / 255.0
    hidden = np.maximum(x @ tensors["encoder.0.weight"].T + tensors["encoder.0.bias"], 0.0)
    return hidden @ tensors["mu.weight"].T + tensors["mu.bias"]


def write_table(path, labels, values, fmt):
    dim = values.shape[1]
    header = "index,label," + ",".join(f"z{d}" for d in range(dim))
    table = np.column_stack([np.arange(len(labels)), labels, values])
    np.savetxt(path, table, delimiter=",", header=header, comments="", fmt=["%d", "%d"] + [fmt] * dim)
    print(f"wrote {path}: {values.shape[0]} x {dim}", file=sys.stderr)


def read_table(path):
    with open(path) as f:
        header = f.readline().strip().split(",")
    data = np.loadtxt(path, delimiter=",", skiprows=1, dtype=np.float64, ndmin=2)
    z_columns = [i for i, name in enumerate(header) if name.startswith("z")]
    labels = data[:, header.index("label")].astype(int) if "label" in header else np.zeros(len(data), int)
    return labels, np.ascontiguousarray(data[:, z_columns])


def write_coords(path, labels, coords):
    table = np.column_stack([np.arange(len(labels)), labels, coords[:, 0], coords[:, 1]])
    np.savetxt(path, table, delimiter=",", header="index,label,x,y", comments="", fmt=["%d", "%d", "%.17g", "%.17g"])


def prepare(model, test_images, test_labels, dataset_dir, out_dir):
    from sklearn.decomposition import PCA

    os.makedirs(out_dir, exist_ok=True)
    tensors = read_safetensors(model)
    pixels = read_idx(test_images)
    labels = read_idx(test_labels)

    write_table(os.path.join(out_dir, "latents-10k-16.csv"), labels, encode_mu(tensors, pixels), "%.9g")
    pca50 = PCA(n_components=50, svd_solver="full").fit_transform(pixels.astype(np.float64) / 255.0)
    write_table(os.path.join(out_dir, "pca50-10k-50.csv"), labels, pca50, "%.9g")

    train_images = os.path.join(dataset_dir, "train-images-idx3-ubyte.gz")
    train_labels = os.path.join(dataset_dir, "train-labels-idx1-ubyte.gz")
    if not (os.path.exists(train_images) and os.path.exists(train_labels)):
        print(
            f"skipping the 70,000-point inputs: {train_images} is missing "
            "(apt-get install dataset-fashion-mnist)",
            file=sys.stderr,
        )
        return
    all_pixels = np.concatenate([read_idx(train_images), pixels])
    all_labels = np.concatenate([read_idx(train_labels), labels])
    write_table(os.path.join(out_dir, "pixels-70k-784.csv"), all_labels, all_pixels, "%d")
    write_table(os.path.join(out_dir, "latents-70k-16.csv"), all_labels, encode_mu(tensors, all_pixels), "%.9g")


def opentsne(input_path, out_path, threads, seed):
    import openTSNE

    labels, x = read_table(input_path)
    with limit_threads(threads):
        started = time.perf_counter()
        embedding = openTSNE.TSNE(n_jobs=threads, random_state=seed).fit(x)
        elapsed = time.perf_counter() - started
    write_coords(out_path, labels, np.asarray(embedding))
    print(f"time_secs {elapsed:.3f}")
    print(f"kl_divergence {embedding.kl_divergence:.6f}")


def sklearn_tsne(input_path, out_path, threads, seed):
    from sklearn.manifold import TSNE

    labels, x = read_table(input_path)
    with limit_threads(threads):
        started = time.perf_counter()
        tsne = TSNE(
            n_components=2,
            perplexity=30.0,
            init="pca",
            learning_rate="auto",
            method="barnes_hut",
            max_iter=750,
            n_jobs=threads,
            random_state=seed,
        )
        coords = tsne.fit_transform(x)
        elapsed = time.perf_counter() - started
    write_coords(out_path, labels, coords)
    print(f"time_secs {elapsed:.3f}")
    print(f"kl_divergence {tsne.kl_divergence_:.6f}")


def sklearn_pca(input_path, out_path, threads, k):
    from sklearn.decomposition import PCA

    labels, x = read_table(input_path)
    x = x.astype(np.float32)
    with limit_threads(threads):
        samples = []
        for _ in range(3):
            started = time.perf_counter()
            pca = PCA(n_components=k, svd_solver="randomized", random_state=0)
            coords = pca.fit_transform(x)
            samples.append(time.perf_counter() - started)
    write_coords(out_path, labels, coords[:, :2])
    print(f"time_secs {sorted(samples)[1]:.4f}")
    print("explained_variance_ratio " + " ".join(f"{v:.6f}" for v in pca.explained_variance_ratio_))


def exact_knn(x, queries, k):
    """Indices of each query row's k nearest rows of x (itself excluded), by squared distance."""
    from sklearn.neighbors import NearestNeighbors

    nn = NearestNeighbors(n_neighbors=k + 1, algorithm="brute").fit(x)
    indices = nn.kneighbors(x[queries], return_distance=False)
    # Drop the query itself wherever it appears (ties with duplicates included).
    return [[j for j in row if j != q][:k] for q, row in zip(queries, indices)]


def neighbourhood_preservation(x, coords, k, sample, seed):
    n = len(x)
    rng = np.random.default_rng(seed)
    queries = np.arange(n) if sample >= n else np.sort(rng.choice(n, size=sample, replace=False))
    high = exact_knn(x, queries, k)
    low = exact_knn(coords, queries, k)
    return float(np.mean([len(set(a) & set(b)) / k for a, b in zip(high, low)]))


def exact_kl(x, coords, perplexity=30.0):
    """KL(P || Q) with P from exact 3·perplexity neighbours (openTSNE's affinities, symmetric,
    sum 1) and Q normalised by the exact sum over all pairs, computed in blocks."""
    import openTSNE

    affinities = openTSNE.affinity.PerplexityBasedNN(x, perplexity=perplexity, method="exact", n_jobs=2, verbose=False)
    p = affinities.P.tocoo()
    y = np.asarray(coords, dtype=np.float64)
    z = 0.0
    block = max(1, 20_000_000 // len(y))
    sq = (y**2).sum(axis=1)
    for start in range(0, len(y), block):
        part = y[start : start + block]
        d2 = sq[start : start + block, None] + sq[None, :] - 2.0 * part @ y.T
        np.maximum(d2, 0.0, out=d2)
        z += (1.0 / (1.0 + d2)).sum() - len(part)
    d2 = ((y[p.row] - y[p.col]) ** 2).sum(axis=1)
    q = 1.0 / (1.0 + d2) / z
    return float(np.sum(p.data * np.log(np.maximum(p.data, 1e-300) / np.maximum(q, 1e-300))))


def score(input_path, coords_path, k, sample, seed):
    _, x = read_table(input_path)
    _, coords = read_table_coords(coords_path)
    with limit_threads(2):
        print(f"neighbourhood_preservation {neighbourhood_preservation(x, coords, k, sample, seed):.4f}")
        if os.environ.get("SCORE_KL", "1") == "1":
            print(f"kl_exact {exact_kl(x, coords):.4f}")


def read_table_coords(path):
    data = np.loadtxt(path, delimiter=",", skiprows=1, dtype=np.float64, ndmin=2)
    order = np.argsort(data[:, 0], kind="stable")
    return data[order, 1].astype(int), data[order][:, 2:4]


def exact_pca(input_path, out_path):
    """The exact PC1/PC2 coordinates: a float64 covariance and its full eigen-decomposition."""
    labels, x = read_table(input_path)
    centred = x - x.mean(axis=0)
    values, vectors = np.linalg.eigh(centred.T @ centred)
    coords = centred @ vectors[:, ::-1][:, :2]
    write_coords(out_path, labels, coords)


def compare_pca(ours_path, theirs_path):
    """The largest difference between two PC1/PC2 layouts, each axis up to sign, relative to
    that axis' standard deviation."""
    _, ours = read_table_coords(ours_path)
    _, theirs = read_table_coords(theirs_path)
    worst = 0.0
    for axis in range(2):
        a, b = ours[:, axis], theirs[:, axis]
        sign = 1.0 if np.dot(a, b) >= 0 else -1.0
        worst = max(worst, float(np.max(np.abs(a - sign * b)) / np.std(b)))
    print(f"{worst:.1e}")


def main():
    command, args = sys.argv[1], sys.argv[2:]
    if command == "prepare":
        prepare(*args)
    elif command == "opentsne":
        opentsne(args[0], args[1], int(args[2]), int(args[3]))
    elif command == "sklearn-tsne":
        sklearn_tsne(args[0], args[1], int(args[2]), int(args[3]))
    elif command == "sklearn-pca":
        sklearn_pca(args[0], args[1], int(args[2]), int(args[3]))
    elif command == "exact-pca":
        exact_pca(args[0], args[1])
    elif command == "compare-pca":
        compare_pca(args[0], args[1])
    elif command == "score":
        score(args[0], args[1], int(args[2]), int(args[3]), int(args[4]))
    else:
        sys.exit(f"unknown command {command!r}")


if __name__ == "__main__":
    main()
