//! Row-major single-precision matrix products on plain slices: the kernel under training
//! ([`super::backprop`]) and the map's batch encode ([`super::fast_encoder`]).
//!
//! `out = a · b` with `a` `[m, k]`, `b` `[k, n]` and `out` `[m, n]`, all row-major. When `n` is
//! a whole number of 16-float vectors, `b` is first copied into column panels a few SIMD
//! vectors wide ([`PackedMatrix`]; a constant `b`, such as an encoder's weights, is packed
//! once and kept), so the kernel reads it front to back. `a` is copied a register block of
//! rows at a time, transposed so that each column's values for the block lie together, and a
//! column that is zero in every row of the block (ReLU outputs, background pixels) is left
//! out. The sums for a block times one panel stay in registers over a chunk of `k`; the
//! chunk's panel stays in L1 while every block of the task passes over it. Blocks of rows go
//! to rayon's threads (small products stay on the caller's). A narrow `n` (a latent-sized
//! side) is computed transposed when `m` allows, else in a plain loop.

use pulp::{Arch, Simd, WithSimd};
use rayon::prelude::*;

/// Floats per row of `b` that the SIMD path needs a multiple of: every width pulp may pick
/// (16, 8, 4 or 1 lanes) divides it.
const ROW_MULTIPLE: usize = 16;

/// Products with fewer multiply-adds than this run on one thread.
const SERIAL_MACS: usize = 1 << 20;

/// Rows of `a` per register block, and the most vectors per panel of `b`, with AVX-512's 32
/// registers: `WIDE_MR × WIDE_NR` sums, `WIDE_NR` weights and a broadcast fit.
const WIDE_MR: usize = 8;
const WIDE_NR: usize = 3;

/// The same for AVX2's 16 registers (and anything narrower).
const NARROW_MR: usize = 4;
const NARROW_NR: usize = 2;

/// Rows of `b` per chunk: a three-vector panel's chunk (48 KiB at AVX-512) is what every
/// block of a task reads before the next chunk. A multiple of 16, since the AVX-512 packer
/// orders a block's columns freely within each 16.
const KC: usize = 256;

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
    if !n.is_multiple_of(ROW_MULTIPLE) {
        if m.is_multiple_of(ROW_MULTIPLE) {
            // A narrow product (a latent-sized side, or a batch that is no multiple of 16)
            // runs faster transposed, `outᵀ = bᵀ · aᵀ`, than in the plain loop, even counting
            // the copies of both operands and the result that this takes.
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
        } else {
            plain_rows(a, k, b, n, out);
        }
        return;
    }
    PackedMatrix::new(b, k, n).multiply(a, m, out);
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

/// The right operand of a product, `[k, n]`, copied into column panels for the SIMD kernel,
/// or kept as it is where `n` is no multiple of 16.
#[derive(Debug, Clone)]
pub struct PackedMatrix {
    /// The panels one after another, from `offset` (which aligns them to 64 bytes); or `b`
    /// itself.
    data: Vec<f32>,
    offset: usize,
    panels: Vec<Panel>,
    /// Floats per SIMD vector the panels were cut for.
    lanes: usize,
    k: usize,
    n: usize,
}

/// Vectors `first..first + width` of every row of `b`, stored `[k][width · lanes]` from
/// `start`.
#[derive(Debug, Clone, Copy)]
struct Panel {
    start: usize,
    first: usize,
    width: usize,
}

/// The SIMD width pulp picks here, and the widest panel for its register count.
struct Shape;

impl WithSimd for Shape {
    type Output = (usize, usize);

    #[inline(always)]
    fn with_simd<S: Simd>(self, _simd: S) -> (usize, usize) {
        let nr = match S::REGISTER_COUNT >= 32 {
            true => WIDE_NR,
            false => NARROW_NR,
        };
        (S::F32_LANES, nr)
    }
}

impl PackedMatrix {
    /// Packs `b` (`[k, n]`, row-major).
    ///
    /// # Panics
    /// If `b` is shorter than `k · n`.
    pub fn new(b: &[f32], k: usize, n: usize) -> Self {
        let (lanes, nr) = Arch::new().dispatch(Shape);
        Self::for_simd(b, k, n, lanes, nr)
    }

    /// Packs `b` for vectors of `lanes` floats and panels of at most `nr` vectors.
    fn for_simd(b: &[f32], k: usize, n: usize, lanes: usize, nr: usize) -> Self {
        let b = &b[..k * n];
        if !n.is_multiple_of(ROW_MULTIPLE) || k == 0 {
            return Self {
                data: b.to_vec(),
                offset: 0,
                panels: Vec::new(),
                lanes,
                k,
                n,
            };
        }
        // Panels as even as possible: 25 vectors at three at most are 7 × 3 + 2 × 2, never a
        // lone one-vector panel (whose broadcasts would cost as much as its multiply-adds).
        let vectors = n / lanes;
        let count = vectors.div_ceil(nr);
        let (base, extra) = (vectors / count, vectors % count);
        let mut panels = Vec::with_capacity(count);
        let (mut first, mut start) = (0, 0);
        for p in 0..count {
            let width = base + usize::from(p < extra);
            panels.push(Panel {
                start,
                first,
                width,
            });
            first += width;
            start += k * width * lanes;
        }
        let mut data = vec![0.0; k * n + ROW_MULTIPLE];
        let offset = data.as_ptr().align_offset(64).min(ROW_MULTIPLE);
        let mut pieces = Vec::with_capacity(count);
        let mut rest = &mut data[offset..];
        for panel in &panels {
            let (piece, tail) = rest.split_at_mut(k * panel.width * lanes);
            pieces.push((*panel, piece));
            rest = tail;
        }
        let pack = |(panel, piece): (Panel, &mut [f32])| {
            let (from, width) = (panel.first * lanes, panel.width * lanes);
            for (row, dst) in b.chunks_exact(n).zip(piece.chunks_exact_mut(width)) {
                dst.copy_from_slice(&row[from..from + width]);
            }
        };
        match k * n >= SERIAL_MACS / 16 {
            true => pieces.into_par_iter().for_each(pack),
            false => pieces.into_iter().for_each(pack),
        }
        Self {
            data,
            offset,
            panels,
            lanes,
            k,
            n,
        }
    }

    /// `out = a · self` for `a` `[m, k]`; `out` (`[m, n]`) is overwritten.
    ///
    /// # Panics
    /// If `a` or `out` is shorter than its shape says.
    pub fn multiply(&self, a: &[f32], m: usize, out: &mut [f32]) {
        self.multiply_then(a, m, out, None);
    }

    /// [`Self::multiply`], then `finish` applied to every row of `out` as the sums are
    /// stored, rather than in a second pass over `out`.
    ///
    /// # Panics
    /// If `a` or `out` is shorter than its shape says, or the bias shorter than a row.
    pub fn multiply_then(&self, a: &[f32], m: usize, out: &mut [f32], finish: Option<Finish<'_>>) {
        let (k, n) = (self.k, self.n);
        let (a, out) = (&a[..m * k], &mut out[..m * n]);
        let finish = finish.map(|f| Finish {
            bias: &f.bias[..n],
            relu: f.relu,
        });
        if m == 0 || n == 0 {
            return;
        }
        if self.panels.is_empty() {
            matmul(a, m, k, &self.data, n, out);
            if let Some(finish) = finish {
                out.chunks_exact_mut(n).for_each(|row| finish.apply(row));
            }
            return;
        }
        // Enough tasks for the threads, each a whole number of the widest register block;
        // small products stay on the caller's thread, where waking the others would cost more.
        let threads = match m * k * n {
            0..SERIAL_MACS => 1,
            _ => rayon::current_num_threads().max(1),
        };
        let rows = m.div_ceil(2 * threads).div_ceil(WIDE_MR).max(1) * WIDE_MR;
        let task = |(out, a): (&mut [f32], &[f32])| {
            Arch::new().dispatch(Task {
                a,
                b: self,
                out,
                finish,
            });
        };
        match threads {
            1 => out
                .chunks_mut(rows * n)
                .zip(a.chunks(rows * k))
                .for_each(task),
            _ => out
                .par_chunks_mut(rows * n)
                .zip(a.par_chunks(rows * k))
                .for_each(task),
        }
    }

    /// The panels, from their 64-byte boundary.
    fn panel_data(&self) -> &[f32] {
        &self.data[self.offset..]
    }

    /// `out = a · self` one value at a time: only for a SIMD width other than the one the
    /// panels were cut for, which pulp's dispatch never picks within one process.
    fn multiply_plain(&self, a: &[f32], out: &mut [f32]) {
        let (k, n, data) = (self.k, self.n, self.panel_data());
        for (out, a) in out.chunks_exact_mut(n).zip(a.chunks_exact(k)) {
            out.fill(0.0);
            for panel in &self.panels {
                let width = panel.width * self.lanes;
                let values = &data[panel.start..panel.start + k * width];
                let out = &mut out[panel.first * self.lanes..][..width];
                for (&x, row) in a.iter().zip(values.chunks_exact(width)) {
                    for (o, w) in out.iter_mut().zip(row) {
                        *o += x * w;
                    }
                }
            }
        }
    }
}

/// What becomes of a row of a product before it is stored: a bias added, then negative
/// values set to zero when `relu` is set (a layer's whole forward step).
#[derive(Debug, Clone, Copy)]
pub struct Finish<'a> {
    /// One value per column of the product.
    pub bias: &'a [f32],
    pub relu: bool,
}

impl Finish<'_> {
    /// The step on a whole row of plain values.
    fn apply(&self, row: &mut [f32]) {
        for (v, b) in row.iter_mut().zip(self.bias) {
            *v += b;
            if self.relu {
                *v = v.max(0.0);
            }
        }
    }
}

/// Some rows of `a` times a packed `b`, run with the SIMD width pulp found.
struct Task<'a> {
    a: &'a [f32],
    b: &'a PackedMatrix,
    out: &'a mut [f32],
    finish: Option<Finish<'a>>,
}

impl WithSimd for Task<'_> {
    type Output = ();

    #[inline(always)]
    fn with_simd<S: Simd>(self, simd: S) {
        if S::F32_LANES != self.b.lanes {
            self.b.multiply_plain(self.a, self.out);
            if let Some(finish) = self.finish {
                let n = self.b.n;
                self.out
                    .chunks_exact_mut(n)
                    .for_each(|row| finish.apply(row));
            }
        } else if S::REGISTER_COUNT >= 32 {
            rows_pass::<S, WIDE_MR, WIDE_NR>(simd, self);
        } else {
            rows_pass::<S, NARROW_MR, NARROW_NR>(simd, self);
        }
    }
}

/// A register block of rows of `a`, copied: its first row, and for each column that is not
/// zero in every one of its rows, the column's index and the rows' values there. Columns are
/// in increasing order between multiples of 16.
struct Block<const MR: usize> {
    first: usize,
    columns: Vec<u32>,
    values: Vec<[f32; MR]>,
}

#[inline(always)]
fn rows_pass<S: Simd, const MR: usize, const NR: usize>(simd: S, task: Task<'_>) {
    let Task { a, b, out, finish } = task;
    let bias = finish.map(|f| (S::as_simd_f32s(f.bias).0, f.relu));
    let (k, n) = (b.k, b.n);
    let rows = a.len() / k;
    let blocks: Vec<Block<MR>> = (0..rows)
        .step_by(MR)
        .map(|first| {
            // A block past the last row repeats it; only the real rows are stored.
            let xs: [&[f32]; MR] = std::array::from_fn(|i| {
                let r = (first + i).min(rows - 1) * k;
                &a[r..r + k]
            });
            let mut block = Block {
                first,
                columns: Vec::new(),
                values: Vec::new(),
            };
            pack_block(xs, &mut block.columns, &mut block.values);
            block
        })
        .collect();
    let data = b.panel_data();
    let mut cursors = vec![0usize; blocks.len()];
    let mut ranges = Vec::with_capacity(blocks.len());
    for chunk in (0..k).step_by(KC) {
        let end = (chunk + KC).min(k);
        ranges.clear();
        for (block, cursor) in blocks.iter().zip(&mut cursors) {
            let from = *cursor;
            *cursor += block.columns[from..].partition_point(|&j| (j as usize) < end);
            ranges.push(from..*cursor);
        }
        for panel in &b.panels {
            let width = panel.width * S::F32_LANES;
            let (values, _) = S::as_simd_f32s(&data[panel.start..panel.start + k * width]);
            for (block, range) in blocks.iter().zip(&ranges) {
                let live = (rows - block.first).min(MR);
                let rows_out = &mut out[block.first * n..(block.first + live) * n];
                let job = Job {
                    panel: values,
                    columns: &block.columns[range.clone()],
                    values: &block.values[range.clone()],
                    first: panel.first,
                    fresh: chunk == 0,
                    finish: bias.filter(|_| end == k),
                };
                match panel.width {
                    1 => job.run::<1>(simd, rows_out, n),
                    2 => job.run::<2>(simd, rows_out, n),
                    _ => job.run::<NR>(simd, rows_out, n),
                }
            }
        }
    }
}

/// One register block times one panel over one chunk of `k`.
struct Job<'a, S: Simd, const MR: usize> {
    /// The whole panel, `[k][width]` vectors.
    panel: &'a [S::f32s],
    /// The block's live columns in this chunk, and its rows' values there.
    columns: &'a [u32],
    values: &'a [[f32; MR]],
    /// The panel's first vector in a row of `out`.
    first: usize,
    /// Whether this is the first chunk (the sums start at zero, not at `out`).
    fresh: bool,
    /// On the last chunk, the bias (as vectors of a row) and whether to apply ReLU.
    finish: Option<(&'a [S::f32s], bool)>,
}

impl<S: Simd, const MR: usize> Job<'_, S, MR> {
    /// Adds the chunk's products to the block's rows of `out` (`n` floats apart); `W` is the
    /// panel's width in vectors.
    #[inline(always)]
    fn run<const W: usize>(self, simd: S, out: &mut [f32], n: usize) {
        let mut sums = [[simd.splat_f32s(0.0); W]; MR];
        if !self.fresh {
            for (sum, row) in sums.iter_mut().zip(out.chunks_exact(n)) {
                let (row, _) = S::as_simd_f32s(row);
                for (v, s) in sum.iter_mut().enumerate() {
                    *s = row[self.first + v];
                }
            }
        }
        for (&j, xs) in self.columns.iter().zip(self.values) {
            let at = j as usize * W;
            let Some(w) = self.panel.get(at..at + W) else {
                continue;
            };
            for (sum, &x) in sums.iter_mut().zip(xs) {
                let x = simd.splat_f32s(x);
                for (s, w) in sum.iter_mut().zip(w) {
                    *s = simd.mul_add_e_f32s(x, *w, *s);
                }
            }
        }
        if let Some((bias, relu)) = self.finish {
            let zero = simd.splat_f32s(0.0);
            for sum in &mut sums {
                for (v, s) in sum.iter_mut().enumerate() {
                    *s = simd.add_f32s(*s, bias[self.first + v]);
                    if relu {
                        *s = simd.max_f32s(*s, zero);
                    }
                }
            }
        }
        for (sum, row) in sums.iter().zip(out.chunks_exact_mut(n)) {
            let (row, _) = S::as_mut_simd_f32s(row);
            for (v, s) in sum.iter().enumerate() {
                row[self.first + v] = *s;
            }
        }
    }
}

/// Copies the rows `xs` (all as long) column by column into `columns`/`values`, leaving out
/// the columns that are zero in every row.
fn pack_block<const MR: usize>(
    xs: [&[f32]; MR],
    columns: &mut Vec<u32>,
    values: &mut Vec<[f32; MR]>,
) {
    let k = xs.first().map_or(0, |x| x.len());
    columns.clear();
    values.clear();
    columns.resize(k + ROW_MULTIPLE, 0);
    values.resize(k + ROW_MULTIPLE, [0.0; MR]);
    let mut count = 0;
    let mut done = 0;
    #[cfg(target_arch = "x86_64")]
    if let Some(eight) = (values as &mut dyn std::any::Any).downcast_mut::<Vec<[f32; 8]>>()
        && let Some(v4) = pulp::x86::V4::try_new()
    {
        let xs: [&[f32]; 8] = std::array::from_fn(|i| xs.get(i).copied().unwrap_or_default());
        (done, count) = v4.vectorize(Transpose16 {
            v4,
            xs,
            columns,
            values: eight,
        });
    }
    for j in done..k {
        let x: [f32; MR] = xs.map(|row| row[j]);
        columns[count] = j as u32;
        values[count] = x;
        count += usize::from(x != [0.0; MR]);
    }
    columns.truncate(count);
    values.truncate(count);
}

/// Floats ahead of the columns being packed whose cache lines are fetched early.
#[cfg(target_arch = "x86_64")]
const PREFETCH_AHEAD: usize = 128;

/// [`pack_block`] for eight rows with AVX-512: sixteen columns at a time are transposed in
/// registers (two rounds of unpacking, then lane shuffles), which costs a third of copying
/// them one value at a time. Returns the columns done and the columns kept.
#[cfg(target_arch = "x86_64")]
struct Transpose16<'a> {
    v4: pulp::x86::V4,
    xs: [&'a [f32]; 8],
    columns: &'a mut [u32],
    values: &'a mut [[f32; 8]],
}

#[cfg(target_arch = "x86_64")]
impl pulp::NullaryFnOnce for Transpose16<'_> {
    type Output = (usize, usize);

    #[inline(always)]
    fn call(self) -> (usize, usize) {
        use core::arch::x86_64::{__m512, __m512d};
        use pulp::cast;
        let Transpose16 {
            v4,
            xs,
            columns,
            values,
        } = self;
        let f = v4.avx512f;
        let k = xs[0].len();
        let (mut done, mut count) = (0, 0);
        while done + 16 <= k {
            let j = done;
            // The rows are read once, straight from memory (a dataset's pixels): ask for
            // the lines eight steps ahead, which reaches the next block's rows at the end.
            for x in xs {
                let ahead = x.as_ptr().wrapping_add(j + PREFETCH_AHEAD);
                v4.sse
                    ._mm_prefetch::<{ core::arch::x86_64::_MM_HINT_T0 }>(ahead.cast());
            }
            let r: [__m512; 8] = std::array::from_fn(|i| {
                let row: [f32; 16] = xs[i][j..j + 16].try_into().unwrap_or([0.0; 16]);
                cast(row)
            });
            let zero = f._mm512_setzero_ps();
            // Bit c: column j + c is not zero in some row (ordered, not equal).
            let live = r
                .iter()
                .fold(0u16, |live, &x| live | f._mm512_cmp_ps_mask::<4>(x, zero));
            // Pairs of rows interleaved: t[2p], t[2p + 1] hold rows 2p and 2p + 1.
            let t: [__m512d; 8] = std::array::from_fn(|p| {
                let (a, b) = (r[p & !1], r[p | 1]);
                f._mm512_castps_pd(match p % 2 {
                    0 => f._mm512_unpacklo_ps(a, b),
                    _ => f._mm512_unpackhi_ps(a, b),
                })
            });
            // u[q] holds, in 128-bit lane l, column 4l + q's rows 0–3; u[4 + q] rows 4–7.
            let u: [__m512; 8] = std::array::from_fn(|x| {
                let (half, q) = (x / 4, x % 4);
                let (a, b) = (t[4 * half + q / 2], t[4 * half + q / 2 + 2]);
                f._mm512_castpd_ps(match q % 2 {
                    0 => f._mm512_unpacklo_pd(a, b),
                    _ => f._mm512_unpackhi_pd(a, b),
                })
            });
            let (Some(dst), Some(cols)) = (
                values.get_mut(count..count + 16),
                columns.get_mut(count..count + 16),
            ) else {
                break;
            };
            for q in 0..4 {
                // Columns q and 4 + q, then 8 + q and 12 + q: lanes 0 and 1 (2 and 3) of u[q]
                // and u[4 + q], interleaved.
                let low = f._mm512_shuffle_f32x4::<0b01_00_01_00>(u[q], u[4 + q]);
                let high = f._mm512_shuffle_f32x4::<0b11_10_11_10>(u[q], u[4 + q]);
                let low: [[f32; 8]; 2] = cast(f._mm512_shuffle_f32x4::<0b11_01_10_00>(low, low));
                let high: [[f32; 8]; 2] = cast(f._mm512_shuffle_f32x4::<0b11_01_10_00>(high, high));
                dst[4 * q..4 * q + 2].copy_from_slice(&low);
                dst[4 * q + 2..4 * q + 4].copy_from_slice(&high);
                for (c, col) in cols[4 * q..4 * q + 4].iter_mut().enumerate() {
                    *col = (j + q + 4 * c) as u32;
                }
            }
            if live == u16::MAX {
                count += 16;
            } else {
                let mut kept = count;
                for s in count..count + 16 {
                    if live & (1 << (columns[s] as usize - j)) != 0 {
                        columns[kept] = columns[s];
                        values[kept] = values[s];
                        kept += 1;
                    }
                }
                count = kept;
            }
            done += 16;
        }
        (done, count)
    }
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

    fn assert_close(ours: &[f32], exact: &[f64], what: &str) {
        assert_eq!(ours.len(), exact.len(), "{what}");
        for (i, (ours, exact)) in ours.iter().zip(exact).enumerate() {
            let ours = f64::from(*ours);
            assert!(
                (ours - exact).abs() <= 1e-4 * (1.0 + exact.abs()),
                "{what}, value {i}: {ours} vs {exact}"
            );
        }
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
            assert_close(&out, &reference(&a, m, k, &b, n), &format!("{m}x{k}x{n}"));
        }
    }

    #[test]
    fn columns_that_are_zero_in_a_whole_block_are_skipped_without_changing_the_result() {
        // Background-like columns (zero in every row), columns zero in only some rows, and
        // blocks that are entirely zero: the packer keeps exactly the columns that matter.
        let mut rng = Rng::new(9);
        for (m, k, n) in [(24, 784, 400), (9, 48, 32), (16, 300, 128)] {
            let a: Vec<f32> = (0..m * k)
                .map(|v| {
                    let (i, j) = (v / k, v % k);
                    match (j % 3 == 0, (i + j) % 5 == 0, (8..16).contains(&i)) {
                        (true, _, _) | (_, true, _) | (_, _, true) => 0.0,
                        _ => rng.normal(),
                    }
                })
                .collect();
            let b: Vec<f32> = (0..k * n).map(|_| rng.normal()).collect();
            let mut out = vec![f32::NAN; m * n];
            matmul(&a, m, k, &b, n, &mut out);
            assert_close(&out, &reference(&a, m, k, &b, n), &format!("{m}x{k}x{n}"));
        }
    }

    #[test]
    fn a_matrix_packed_once_serves_any_number_of_products() {
        let mut rng = Rng::new(5);
        // n = 32 takes the panels; n = 20 keeps the matrix as it is.
        for (k, n) in [(70, 32), (70, 20)] {
            let b: Vec<f32> = (0..k * n).map(|_| rng.normal()).collect();
            let packed = PackedMatrix::new(&b, k, n);
            for m in [1, 16, 37] {
                let a: Vec<f32> = (0..m * k).map(|_| rng.normal()).collect();
                let mut out = vec![f32::NAN; m * n];
                packed.multiply(&a, m, &mut out);
                let exact = reference(&a, m, k, &b, n);
                assert_close(&out, &exact, &format!("{m}x{k}x{n}"));

                // With a layer's bias and ReLU applied as the sums are stored.
                let bias: Vec<f32> = (0..n).map(|_| rng.normal()).collect();
                packed.multiply_then(
                    &a,
                    m,
                    &mut out,
                    Some(Finish {
                        bias: &bias,
                        relu: true,
                    }),
                );
                let layer: Vec<f64> = exact
                    .iter()
                    .enumerate()
                    .map(|(i, v)| (v + f64::from(bias[i % n])).max(0.0))
                    .collect();
                assert!(layer.contains(&0.0) && layer.iter().any(|&v| v > 0.0));
                assert_close(&out, &layer, &format!("{m}x{k}x{n} with bias and ReLU"));
            }
        }
    }

    /// Runs the AVX2 kernel (4 rows × 2 vectors of 8) where the machine has AVX2, whatever
    /// wider SIMD pulp would pick, so the narrow path is tested on AVX-512 machines too.
    #[cfg(target_arch = "x86_64")]
    #[test]
    fn the_avx2_kernel_gives_the_same_products() {
        let Some(v3) = pulp::x86::V3::try_new() else {
            return;
        };
        let mut rng = Rng::new(11);
        for (m, k, n) in [(13, 300, 48), (8, 37, 784), (1, 16, 16)] {
            let a: Vec<f32> = (0..m * k)
                .map(|v| match v % 7 == 0 {
                    true => 0.0,
                    false => rng.normal(),
                })
                .collect();
            let b: Vec<f32> = (0..k * n).map(|_| rng.normal()).collect();
            let packed = PackedMatrix::for_simd(&b, k, n, 8, NARROW_NR);
            let mut out = vec![f32::NAN; m * n];
            let task = Task {
                a: &a,
                b: &packed,
                out: &mut out,
                finish: None,
            };
            v3.vectorize(|| task.with_simd(v3));
            assert_close(&out, &reference(&a, m, k, &b, n), &format!("{m}x{k}x{n}"));
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
