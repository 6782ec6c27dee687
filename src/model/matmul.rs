//! Row-major single-precision matrix products on plain slices: the kernel under training
//! ([`super::backprop`]) and the map's batch encode ([`super::fast_encoder`]).
//!
//! `out = a · b` with `a` `[m, k]`, `b` `[k, n]` and `out` `[m, n]`, all row-major. When `n` is
//! a whole number of 16-float vectors, `b`'s rows are read as SIMD vectors in place (no
//! packing: neither operand is copied) and the sums for a block of
//! `a`'s rows times a few vectors of `out` stay in registers over a chunk of `k`; a column of
//! the block that is zero in every row (ReLU outputs, background pixels) is skipped. Blocks of
//! rows go to rayon's threads (small products stay on the caller's). A narrow `n` (a
//! latent-sized side) is computed transposed when `m` allows, else in a plain loop.

use pulp::{Arch, Simd, WithSimd};
use rayon::prelude::*;

/// Floats per row of `b` that the SIMD path needs a multiple of: every width pulp may pick
/// (16, 8, 4 or 1 lanes) divides it.
const ROW_MULTIPLE: usize = 16;

/// Products with fewer multiply-adds than this run on one thread.
const SERIAL_MACS: usize = 1 << 20;

/// Rows of `a` per register block, and the most vectors of `out` per block, with AVX-512's 32
/// registers: `WIDE_MR × WIDE_NR` sums, `WIDE_NR` weights and a broadcast fit.
const WIDE_MR: usize = 8;
const WIDE_NR: usize = 3;

/// The same for AVX2's 16 registers (and anything narrower).
const NARROW_MR: usize = 4;
const NARROW_NR: usize = 2;

/// `out = a · b`; see the module's documentation. `out` is overwritten.
///
/// # Panics
/// If a slice is shorter than its shape says.
pub fn matmul(a: &[f32], m: usize, k: usize, b: &[f32], n: usize, out: &mut [f32]) {
    let (a, b, out) = (&a[..m * k], &b[..k * n], &mut out[..m * n]);
    if m == 0 || n == 0 {
        return;
    }
    if k == 0 {
        out.fill(0.0);
        return;
    }
    if !n.is_multiple_of(ROW_MULTIPLE) && m.is_multiple_of(ROW_MULTIPLE) {
        // A narrow product (a latent-sized side, or a batch that is no multiple of 16) runs
        // faster transposed, `outᵀ = bᵀ · aᵀ`, than in the plain loop, even counting the
        // copies of both operands and the result that this takes.
        let mut transposed = vec![0.0; n * m];
        matmul(
            &transpose(b, k, n),
            n,
            k,
            &transpose(a, m, k),
            m,
            &mut transposed,
        );
        transpose_into(&transposed, n, m, out);
        return;
    }
    // Enough tasks for the threads, each a whole number of the widest register block; small
    // products stay on the caller's thread, where waking the others would cost more.
    let threads = match m * k * n {
        0..SERIAL_MACS => 1,
        _ => rayon::current_num_threads().max(1),
    };
    let rows = m.div_ceil(4 * threads).div_ceil(WIDE_MR).max(1) * WIDE_MR;
    if threads == 1 {
        out.chunks_mut(rows * n)
            .zip(a.chunks(rows * k))
            .for_each(|(out, a)| rows_product(a, k, b, n, out));
        return;
    }
    out.par_chunks_mut(rows * n)
        .zip(a.par_chunks(rows * k))
        .for_each(|(out, a)| rows_product(a, k, b, n, out));
}

/// `out = a · b` for some of the rows of `a`.
fn rows_product(a: &[f32], k: usize, b: &[f32], n: usize, out: &mut [f32]) {
    let rows = a.len() / k;
    if n.is_multiple_of(ROW_MULTIPLE) {
        Arch::new().dispatch(Product {
            a,
            rows,
            k,
            b,
            n,
            out,
        });
    } else {
        plain_rows(a, k, b, n, out);
    }
}

/// `out = a · b` one value at a time, skipping zeros of `a`.
fn plain_rows(a: &[f32], k: usize, b: &[f32], n: usize, out: &mut [f32]) {
    for (out, a) in out.chunks_exact_mut(n).zip(a.chunks_exact(k)) {
        out.fill(0.0);
        for (&x, b) in a.iter().zip(b.chunks_exact(n)) {
            if x != 0.0 {
                for (o, w) in out.iter_mut().zip(b) {
                    *o += x * w;
                }
            }
        }
    }
}

/// Some rows of `a` times `b`, run with the SIMD width pulp found.
struct Product<'a> {
    a: &'a [f32],
    rows: usize,
    k: usize,
    b: &'a [f32],
    n: usize,
    out: &'a mut [f32],
}

impl WithSimd for Product<'_> {
    type Output = ();

    #[inline(always)]
    fn with_simd<S: Simd>(self, simd: S) {
        if S::REGISTER_COUNT >= 32 {
            rows_pass::<S, WIDE_MR, WIDE_NR>(simd, self);
        } else {
            rows_pass::<S, NARROW_MR, NARROW_NR>(simd, self);
        }
    }
}

#[inline(always)]
fn rows_pass<S: Simd, const MR: usize, const NR: usize>(simd: S, pass: Product<'_>) {
    let Product {
        a,
        rows,
        k,
        b,
        n,
        out,
    } = pass;
    let vectors = n / S::F32_LANES;
    let (b, _) = S::as_simd_f32s(b);
    let a_rows = Rows {
        values: a,
        stride: k,
        used: k,
    };
    // Two loop orders. When `b` is the larger stream, every block's non-zero columns are
    // found once and `b` is read in chunks that stay in L1 while all the blocks pass over
    // them. Otherwise (a tall `a` against a narrow `b`) each block is finished in turn, its
    // columns staying in L1 while `b` streams past. Measured on the training products: 10 %
    // faster for `Gᵀ · X` and `G · W`, 12 % slower for `W · Xᵀ` the other way round.
    let gathered_bytes = rows * k * (4 + 8 / MR);
    if k * n * 4 <= gathered_bytes {
        let (mut active, mut values) = (Vec::with_capacity(k), Vec::with_capacity(k));
        for first in (0..rows).step_by(MR) {
            a_rows.gather(first, rows, vectors, &mut active, &mut values);
            let block = Gathered {
                first,
                active: std::mem::take(&mut active),
                values: std::mem::take(&mut values),
            };
            let columns: Columns<'_, S> = Columns {
                b,
                k,
                n,
                vectors,
                rows,
            };
            columns.all::<MR, NR>(simd, std::slice::from_ref(&block), k, out);
            (active, values) = (block.active, block.values);
        }
        return;
    }
    let blocks: Vec<Gathered<MR>> = (0..rows)
        .step_by(MR)
        .map(|first| {
            let mut block = Gathered {
                first,
                active: Vec::with_capacity(k),
                values: Vec::with_capacity(k),
            };
            a_rows.gather(first, rows, vectors, &mut block.active, &mut block.values);
            block
        })
        .collect();
    let columns: Columns<'_, S> = Columns {
        b,
        k,
        n,
        vectors,
        rows,
    };
    columns.all::<MR, NR>(simd, &blocks, KC, out);
}

/// One register block of rows of `a`: its first row and its non-zero columns.
struct Gathered<const MR: usize> {
    first: usize,
    active: Vec<usize>,
    values: Vec<[f32; MR]>,
}

/// The right operand as SIMD vectors, and the shape of the product.
struct Columns<'a, S: Simd> {
    b: &'a [S::f32s],
    k: usize,
    n: usize,
    vectors: usize,
    rows: usize,
}

/// Rows of `b` per chunk: `KC` rows of three AVX-512 vectors (24 KiB) stay in L1 while every
/// register block of the task passes over them.
const KC: usize = 128;

impl<S: Simd> Columns<'_, S> {
    /// Every output vector of `blocks`, `NR` at a time, then the tail in twos and ones (a
    /// one-vector block spends as many loads on broadcasts as on multiply-adds), over `b`'s
    /// rows `chunk` at a time.
    #[inline(always)]
    fn all<const MR: usize, const NR: usize>(
        &self,
        simd: S,
        blocks: &[Gathered<MR>],
        chunk: usize,
        out: &mut [f32],
    ) {
        let mut v = 0;
        while v + NR <= self.vectors {
            self.pass::<MR, NR>(simd, v, blocks, chunk, out);
            v += NR;
        }
        while v + 2 <= self.vectors && NR > 2 {
            self.pass::<MR, 2>(simd, v, blocks, chunk, out);
            v += 2;
        }
        while v < self.vectors {
            self.pass::<MR, 1>(simd, v, blocks, chunk, out);
            v += 1;
        }
    }

    /// Output vectors `v..v + W` of every block, over `b`'s rows `rows_per_chunk` at a time.
    #[inline(always)]
    fn pass<const MR: usize, const W: usize>(
        &self,
        simd: S,
        v: usize,
        blocks: &[Gathered<MR>],
        rows_per_chunk: usize,
        out: &mut [f32],
    ) {
        let mut cursors = vec![0usize; blocks.len()];
        for chunk in (0..self.k).step_by(rows_per_chunk.max(1)) {
            let end = (chunk + rows_per_chunk).min(self.k) * self.vectors;
            for (block, cursor) in blocks.iter().zip(&mut cursors) {
                let from = *cursor;
                let to = from + block.active[from..].partition_point(|&o| o < end);
                *cursor = to;
                let live = (self.rows - block.first).min(MR);
                let rows = &mut out[block.first * self.n..(block.first + live) * self.n];
                let start: [[S::f32s; W]; MR] = match chunk {
                    0 => [[simd.splat_f32s(0.0); W]; MR],
                    _ => load::<S, MR, W>(simd, rows, self.n, v),
                };
                let sums = block_from::<S, MR, W>(
                    simd,
                    &self.b[v..],
                    start,
                    &block.active[from..to],
                    &block.values[from..to],
                );
                store::<S, MR, _>(&sums, rows, self.n, v, |s| s);
            }
        }
    }
}

/// The partial sums at vectors `v..v + W` of the rows of `out` (rows `n` floats apart); zero
/// for the rows past its end.
#[inline(always)]
fn load<S: Simd, const MR: usize, const W: usize>(
    simd: S,
    out: &[f32],
    n: usize,
    v: usize,
) -> [[S::f32s; W]; MR] {
    let mut sums = [[simd.splat_f32s(0.0); W]; MR];
    for (sum, row) in sums.iter_mut().zip(out.chunks_exact(n)) {
        let (row, _) = S::as_simd_f32s(row);
        for (k, s) in sum.iter_mut().enumerate() {
            *s = row[v + k];
        }
    }
    sums
}

/// `rows` rows of `used` values each, `stride` values apart in `values`: the left operand of a
/// product, whose zero columns are skipped.
struct Rows<'a> {
    values: &'a [f32],
    stride: usize,
    used: usize,
}

impl Rows<'_> {
    /// The columns of rows `first..first + MR` that are not zero in every one of them: their
    /// offsets in the right operand (`j · vectors`) into `active`, their values into
    /// `values`. A block past the last of the `rows` rows repeats the last row.
    #[inline(always)]
    fn gather<const MR: usize>(
        &self,
        first: usize,
        rows: usize,
        vectors: usize,
        active: &mut Vec<usize>,
        values: &mut Vec<[f32; MR]>,
    ) {
        let xs: [&[f32]; MR] = std::array::from_fn(|i| {
            let r = (first + i).min(rows.saturating_sub(1)) * self.stride;
            &self.values[r..r + self.used]
        });
        active.clear();
        values.clear();
        let columns = (0..self.used).map(|j| (j, std::array::from_fn(|i| xs[i][j])));
        for (j, x) in columns {
            if x != [0.0; MR] {
                active.push(j * vectors);
                values.push(x);
            }
        }
    }
}

/// Writes `f(sum)` for each row of `sums` that exists in `out` (rows `n` floats apart) at
/// vectors `v..`.
#[inline(always)]
fn store<S: Simd, const MR: usize, const NR: usize>(
    sums: &[[S::f32s; NR]; MR],
    out: &mut [f32],
    n: usize,
    v: usize,
    f: impl Fn(S::f32s) -> S::f32s,
) {
    for (sum, row) in sums.iter().zip(out.chunks_exact_mut(n)) {
        let (row, _) = S::as_mut_simd_f32s(row);
        for (k, s) in sum.iter().enumerate() {
            row[v + k] = f(*s);
        }
    }
}

/// Sums for `MR` rows and `NR` vectors of outputs, starting from `start`, over the `active`
/// inputs: each is the offset of its `NR` weights in `weights`, and `values` holds the rows'
/// values for it.
#[inline(always)]
fn block_from<S: Simd, const MR: usize, const NR: usize>(
    simd: S,
    weights: &[S::f32s],
    start: [[S::f32s; NR]; MR],
    active: &[usize],
    values: &[[f32; MR]],
) -> [[S::f32s; NR]; MR] {
    let mut sums = start;
    for (&offset, x) in active.iter().zip(values) {
        let Some(w) = weights.get(offset..offset + NR) else {
            continue;
        };
        for (sum, &x) in sums.iter_mut().zip(x) {
            let x = simd.splat_f32s(x);
            for (s, w) in sum.iter_mut().zip(w) {
                *s = simd.mul_add_e_f32s(x, *w, *s);
            }
        }
    }
    sums
}

/// `src` (`[rows, cols]`) transposed into `dst` (`[cols, rows]`, at least that long).
pub fn transpose_into(src: &[f32], rows: usize, cols: usize, dst: &mut [f32]) {
    const TILE: usize = 32;
    for r0 in (0..rows).step_by(TILE) {
        for c0 in (0..cols).step_by(TILE) {
            for r in r0..(r0 + TILE).min(rows) {
                for c in c0..(c0 + TILE).min(cols) {
                    dst[c * rows + r] = src[r * cols + c];
                }
            }
        }
    }
}

/// `src` (`[rows, cols]`) transposed.
pub fn transpose(src: &[f32], rows: usize, cols: usize) -> Vec<f32> {
    let mut dst = vec![0.0; rows * cols];
    transpose_into(src, rows, cols, &mut dst);
    dst
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::rng::Rng;

    fn reference(a: &[f32], m: usize, k: usize, b: &[f32], n: usize) -> Vec<f64> {
        let mut out = vec![0.0; m * n];
        for i in 0..m {
            for j in 0..k {
                for c in 0..n {
                    out[i * n + c] += f64::from(a[i * k + j]) * f64::from(b[j * n + c]);
                }
            }
        }
        out
    }

    #[test]
    fn products_match_a_plain_triple_loop_at_simd_and_odd_shapes() {
        let mut rng = Rng::new(4);
        // n = 784 leaves a one-vector tail at AVX-512; n = 20 takes the plain path, or the
        // transposed one when m allows (400); m = 13 leaves a short register block; k = 300
        // against a wide b reads b in three chunks.
        for (m, k, n) in [
            (13, 37, 784),
            (40, 128, 48),
            (9, 5, 20),
            (400, 70, 20),
            (8, 300, 64),
            (13, 300, 48),
            (1, 1, 16),
            (3, 0, 32),
        ] {
            let a: Vec<f32> = (0..m * k)
                .map(|_| match rng.uniform() < 0.4 {
                    true => 0.0,
                    false => rng.normal(),
                })
                .collect();
            let b: Vec<f32> = (0..k * n).map(|_| rng.normal()).collect();
            let mut out = vec![f32::NAN; m * n];
            matmul(&a, m, k, &b, n, &mut out);
            for (i, (ours, exact)) in out.iter().zip(reference(&a, m, k, &b, n)).enumerate() {
                let ours = f64::from(*ours);
                assert!(
                    (ours - exact).abs() <= 1e-4 * (1.0 + exact.abs()),
                    "{m}x{k}x{n}, value {i}: {ours} vs {exact}"
                );
            }
        }
    }

    #[test]
    fn transposing_twice_gives_the_matrix_back() {
        let values: Vec<f32> = (0..35 * 70).map(|v| v as f32).collect();
        let once = transpose(&values, 35, 70);
        assert_eq!(once[1], 70.0);
        assert_eq!(transpose(&once, 70, 35), values);
    }
}
