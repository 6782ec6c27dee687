#!/usr/bin/env bash
# Runs the projections on both sides, ours (the `project` command) and Python's (openTSNE and
# scikit-learn from PyPI, in .venv-projection), on the same inputs with the same thread count,
# scores every t-SNE layout with the same Python code, and prints the figures and the ratios.
#
#   scripts/bench-projection-vs-python.sh [THREADS]          (default 2)
#
# Environment:
#   LATENT_EXPLORER_BIN  the binary to time (default target/release/latent-explorer, built
#                        when missing)
#   FASHION_MNIST_DIR    where Fashion-MNIST's train files are (default
#                        /usr/share/datasets/fashion-mnist, from `apt-get install
#                        dataset-fashion-mnist`); without them the 70,000-point rows are skipped
#   BENCH_WORK           scratch folder for inputs and outputs (default target/bench-projection)
#   BENCH_SKLEARN_70K=1  also run scikit-learn's t-SNE on 70,000 points (tens of minutes)
#   BENCH_SEED           seed for every run (default 1)
set -euo pipefail
cd "$(dirname "$0")/.."
threads="${1:-2}"
seed="${BENCH_SEED:-1}"
bin="${LATENT_EXPLORER_BIN:-target/release/latent-explorer}"
dataset_dir="${FASHION_MNIST_DIR:-/usr/share/datasets/fashion-mnist}"
work="${BENCH_WORK:-target/bench-projection}"
venv=.venv-projection

if [[ ! -x "$venv/bin/python" ]]; then
    python3 -m venv "$venv"
    "$venv/bin/pip" install --quiet numpy scikit-learn openTSNE threadpoolctl
fi
py() { OMP_NUM_THREADS="$threads" OPENBLAS_NUM_THREADS="$threads" MKL_NUM_THREADS="$threads" \
    "$venv/bin/python" scripts/bench_projection.py "$@"; }
if [[ ! -x "$bin" ]]; then
    if [[ -n "${LATENT_EXPLORER_BIN:-}" ]]; then
        echo "LATENT_EXPLORER_BIN=$bin is not an executable" >&2
        exit 1
    fi
    cargo build --release --quiet
fi
ours() { RAYON_NUM_THREADS="$threads" "$bin" project "$@"; }
pick() { awk -v key="$2" '$1 == key { print $2 }' <<<"$1"; }

mkdir -p "$work"
if [[ ! -f "$work/latents-10k-16.csv" || ! -f "$work/pca50-10k-50.csv" ]] ||
    [[ -f "$dataset_dir/train-images-idx3-ubyte.gz" && ! -f "$work/latents-70k-16.csv" ]]; then
    echo "== preparing inputs in $work"
    py prepare assets/fashion-vae-16.safetensors assets/fashion-mnist/t10k-images-idx3-ubyte.gz \
        assets/fashion-mnist/t10k-labels-idx1-ubyte.gz "$dataset_dir" "$work"
fi
if [[ ! -f "$work/latents-70k-16.csv" ]]; then
    echo "note: $dataset_dir/train-images-idx3-ubyte.gz is missing, so the 70,000-point rows" \
        "are skipped (apt-get install dataset-fashion-mnist)"
fi

versions=$("$venv/bin/python" -c 'import sklearn, openTSNE, numpy; print(f"scikit-learn {sklearn.__version__}, openTSNE {openTSNE.__version__}, numpy {numpy.__version__}")')
echo "== $versions; $threads threads; seed $seed; load: $(cut -d' ' -f1-3 /proc/loadavg)"

# One t-SNE row: runs a side, then scores its layout (exact-P KL and preservation at k = 10,
# on the same seeded sample for every side).
tsne_row() {
    local name="$1" input="$2" side="$3" sample="$4" out="$work/$1-$3.csv" run
    case "$side" in
        ours) run=$(ours --method tsne --input "$input" --out "$out" --seed "$seed" --threads "$threads") ;;
        openTSNE) run=$(py opentsne "$input" "$out" "$threads" "$seed") ;;
        sklearn-BH) run=$(py sklearn-tsne "$input" "$out" "$threads" "$seed") ;;
    esac
    local score
    score=$(py score "$input" "$out" 10 "$sample" 0)
    printf '%-10s %-11s %9.2f %10.4f %10.4f %13.4f\n' "$name" "$side" "$(pick "$run" time_secs)" \
        "$(pick "$run" kl_divergence)" "$(pick "$score" kl_exact)" \
        "$(pick "$score" neighbourhood_preservation)"
}

echo
echo "== t-SNE (perplexity 30, 750 iterations; KL own = as each side reports it, with its own P"
echo "   and Z; KL exact = the same exact-neighbour P for all and an exact Z; preservation at k = 10)"
printf '%-10s %-11s %9s %10s %10s %13s\n' input side time_s "KL own" "KL exact" preservation
results=()
for case in "10kx16 latents-10k-16 10000" "10kx50 pca50-10k-50 10000" "70kx16 latents-70k-16 5000"; do
    read -r name file sample <<<"$case"
    input="$work/$file.csv"
    [[ -f "$input" ]] || continue
    sides=(ours openTSNE)
    if [[ "$name" != 70k* || "${BENCH_SKLEARN_70K:-0}" == 1 ]]; then
        sides+=(sklearn-BH)
    fi
    for side in "${sides[@]}"; do
        row=$(tsne_row "$name" "$input" "$side" "$sample")
        echo "$row"
        results+=("$row")
    done
done

echo
echo "== t-SNE ratios (their time / ours: above 1 means ours is faster)"
printf '%s\n' "${results[@]}" | awk '
    $2 == "ours" { time[$1] = $3; kl[$1] = $5; keep[$1] = $6; next }
    { printf "%-7s vs %-10s  time %5.2fx   KL exact ours %.4f, theirs %.4f   preservation ours %.4f, theirs %.4f\n",
        $1, $2, $3 / time[$1], kl[$1], $5, keep[$1], $6 }'

echo
echo "== PCA (ours: exact covariance + subspace iteration; scikit-learn: PCA(svd_solver=\"randomized\"))"
echo "   (agreement: the largest PC1/PC2 coordinate difference over the axis' spread, each axis up to"
echo "   sign, against an exact float64 eigen-decomposition of the covariance computed by numpy)"
printf '%-9s %3s %9s %10s %7s  %13s %13s\n' input k ours_s sklearn_s ratio "ours agree" "sklearn agree"
for case in "70kx784 pixels-70k-784 2" "70kx784 pixels-70k-784 10" "10kx16 latents-10k-16 2"; do
    read -r name file k <<<"$case"
    input="$work/$file.csv"
    [[ -f "$input" ]] || continue
    # Medians of three runs on both sides.
    times=()
    for _ in 1 2 3; do
        run=$(ours --method pca --input "$input" --out "$work/pca-$name-$k-ours.csv" --components "$k" --threads "$threads")
        times+=("$(pick "$run" time_secs)")
    done
    ours_time=$(printf '%s\n' "${times[@]}" | sort -g | sed -n 2p)
    theirs=$(py sklearn-pca "$input" "$work/pca-$name-$k-sklearn.csv" "$threads" "$k")
    theirs_time=$(pick "$theirs" time_secs)
    [[ -f "$work/pca-$name-exact.csv" ]] || py exact-pca "$input" "$work/pca-$name-exact.csv"
    ours_agree=$(py compare-pca "$work/pca-$name-$k-ours.csv" "$work/pca-$name-exact.csv")
    theirs_agree=$(py compare-pca "$work/pca-$name-$k-sklearn.csv" "$work/pca-$name-exact.csv")
    awk -v n="$name" -v k="$k" -v a="$ours_time" -v b="$theirs_time" -v oa="$ours_agree" \
        -v ta="$theirs_agree" 'BEGIN {
        printf "%-9s %3d %9.4f %10.4f %6.2fx  %13s %13s\n", n, k, a, b, b / a, oa, ta }'
done
