//! Row-major single-precision matrix products on plain slices: the kernel under training
//! ([`super::backprop`]) and the map's batch encode ([`super::fast_encoder`]).
//!
//! `out = a · b` with `a` `[m, k]`, `b` `[k, n]` and `out` `[m, n]`, all row-major. `b` is
//! first copied into column panels a few SIMD vectors wide, the last vector of a row padded
//! with zeros when `n` is no whole number of vectors ([`PackedMatrix`]; a constant `b`, such as
//! an encoder's weights, is packed once and kept, and a workspace repacks into the same
//! storage), so the kernel reads it front to back. `a` is copied a register block of rows at
//! a time, transposed so that each column's values for the block lie together, and a column
//! that is zero in every row of the block (ReLU outputs, background pixels) is left out; `a`
//! may also be handed over as its transpose (`[k, m]`), whose columns are then read as they
//! lie, or as a list of its rows to use, in any order, which are read where they are. The sums for a block times one panel stay in registers over a chunk of `k`; the
//! chunk's panel stays in L1 while every block of the task passes over it. Blocks of rows go
//! to rayon's threads (small products stay on the caller's), and each thread copies its
//! blocks into storage it keeps from one product to the next.

use std::cell::RefCell;

use pulp::{Arch, Simd, WithSimd};
use rayon::prelude::*;

/// The most floats one SIMD vector holds (AVX-512): the slack that lets the panels start on a
/// 64-byte boundary, and the multiple a transpose task's columns are rounded to.
const MAX_LANES: usize = 16;

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

/// The right operand of a product, `[k, n]`, copied into column panels for the SIMD kernel.
#[derive(Debug, Clone, Default)]
pub struct PackedMatrix {
    /// The panels one after another, from `offset` (which aligns them to 64 bytes).
    data: Vec<f32>,
    offset: usize,
    panels: Vec<Panel>,
    /// Floats per SIMD vector the panels were cut for.
    lanes: usize,
    k: usize,
    n: usize,
}

/// Vectors `first..first + width` of every row of `b` (zeros past column `n`), stored
/// `[k][width · lanes]` from `start`.
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

/// The left operand of a product: `[m, k]` row-major, some of a row-major matrix's rows in a
/// given order, or its transpose `[k, m]` as stored.
#[derive(Clone, Copy)]
enum Left<'a> {
    Rows {
        a: &'a [f32],
        k: usize,
    },
    Gathered {
        a: &'a [f32],
        k: usize,
        order: &'a [u32],
    },
    Columns {
        a_t: &'a [f32],
        m: usize,
    },
}

impl Left<'_> {
    /// Where row `i` starts in `a`, for the row-major forms (the transposed form has no rows:
    /// 0).
    fn row_start(self, i: usize) -> usize {
        match self {
            Left::Rows { k, .. } => i * k,
            Left::Gathered { k, order, .. } => order[i] as usize * k,
            Left::Columns { .. } => 0,
        }
    }

    /// The value at row `i`, column `j`.
    fn at(self, i: usize, j: usize) -> f32 {
        match self {
            Left::Rows { a, .. } | Left::Gathered { a, .. } => a[self.row_start(i) + j],
            Left::Columns { a_t, m } => a_t[j * m + i],
        }
    }
}

impl PackedMatrix {
    /// Packs `b` (`[k, n]`, row-major).
    ///
    /// # Panics
    /// If `b` is shorter than `k · n`.
    pub fn new(b: &[f32], k: usize, n: usize) -> Self {
        let mut packed = Self::default();
        packed.pack(b, k, n);
        packed
    }

    /// Packs `b` (`[k, n]`, row-major) in place of what this held, in the same storage when
    /// the shape is the same.
    ///
    /// # Panics
    /// If `b` is shorter than `k · n`.
    pub fn pack(&mut self, b: &[f32], k: usize, n: usize) {
        let (lanes, nr) = Arch::new().dispatch(Shape);
        self.pack_for_simd(b, k, n, lanes, nr);
    }

    /// Packs `b` for vectors of `lanes` floats and panels of at most `nr` vectors.
    fn pack_for_simd(&mut self, b: &[f32], k: usize, n: usize, lanes: usize, nr: usize) {
        let b = &b[..k * n];
        (self.k, self.n, self.lanes) = (k, n, lanes);
        self.panels.clear();
        let vectors = n.div_ceil(lanes.max(1));
        if k == 0 || vectors == 0 {
            return;
        }
        // Panels as even as possible: 25 vectors at three at most are 7 × 3 + 2 × 2, never a
        // lone one-vector panel (whose broadcasts would cost as much as its multiply-adds).
        let count = vectors.div_ceil(nr);
        let (base, extra) = (vectors / count, vectors % count);
        let (mut first, mut start) = (0, 0);
        for p in 0..count {
            let width = base + usize::from(p < extra);
            self.panels.push(Panel {
                start,
                first,
                width,
            });
            first += width;
            start += k * width * lanes;
        }
        let needed = start + MAX_LANES;
        if self.data.len() != needed {
            self.data.clear();
            self.data.resize(needed, 0.0);
        }
        self.offset = self.data.as_ptr().align_offset(64).min(MAX_LANES);
        let mut pieces = Vec::with_capacity(count);
        let mut rest = &mut self.data[self.offset..];
        for panel in &self.panels {
            let (piece, tail) = rest.split_at_mut(k * panel.width * lanes);
            pieces.push((*panel, piece));
            rest = tail;
        }
        let pack = |(panel, piece): (Panel, &mut [f32])| {
            let (from, width) = (panel.first * lanes, panel.width * lanes);
            let real = n.min(from + width) - from;
            for (row, dst) in b.chunks_exact(n).zip(piece.chunks_exact_mut(width)) {
                let (values, padding) = dst.split_at_mut(real);
                values.copy_from_slice(&row[from..from + real]);
                padding.fill(0.0);
            }
        };
        match k * n >= SERIAL_MACS / 16 {
            true => pieces.into_par_iter().for_each(pack),
            false => pieces.into_iter().for_each(pack),
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
        let k = self.k;
        let left = Left::Rows { a: &a[..m * k], k };
        self.run(left, m, out, finish);
    }

    /// `out = a' · self` where row `i` of `a'` is row `order[i]` of `a` (`[rows, k]`): a
    /// product over some rows of `a`, in any order, without copying them. `out` is
    /// `[order.len(), n]`; `finish` as in [`Self::multiply_then`].
    ///
    /// # Panics
    /// If an index in `order` is not a row of `a`, if `out` is shorter than its shape says, or
    /// the bias shorter than a row.
    pub fn multiply_rows_then(
        &self,
        a: &[f32],
        order: &[u32],
        out: &mut [f32],
        finish: Option<Finish<'_>>,
    ) {
        let left = Left::Gathered {
            a,
            k: self.k,
            order,
        };
        self.run(left, order.len(), out, finish);
    }

    /// `out = a · self` where `a` (`[m, k]`) is handed over as its transpose `a_t` (`[k, m]`,
    /// row-major): the product with a matrix whose transpose is what is stored, such as a
    /// weight `[out, in]` on the way back through its layer. `out` is overwritten.
    ///
    /// # Panics
    /// If `a_t` or `out` is shorter than its shape says.
    pub fn multiply_transposed(&self, a_t: &[f32], m: usize, out: &mut [f32]) {
        let left = Left::Columns {
            a_t: &a_t[..self.k * m],
            m,
        };
        self.run(left, m, out, None);
    }

    fn run(&self, left: Left<'_>, m: usize, out: &mut [f32], finish: Option<Finish<'_>>) {
        let (k, n) = (self.k, self.n);
        let out = &mut out[..m * n];
        let finish = finish.map(|f| Finish {
            bias: &f.bias[..n],
            relu: f.relu,
        });
        if m == 0 || n == 0 {
            return;
        }
        if self.panels.is_empty() {
            // k = 0: every sum is empty.
            out.fill(0.0);
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
        let task = |(index, out): (usize, &mut [f32])| {
            SCRATCH.with(|cell| {
                let mut spare = Scratch::default();
                let mut kept = cell.try_borrow_mut();
                let scratch = match kept {
                    Ok(ref mut kept) => &mut **kept,
                    Err(_) => &mut spare,
                };
                Arch::new().dispatch(Task {
                    left,
                    first: index * rows,
                    b: self,
                    out,
                    finish,
                    scratch,
                });
            });
        };
        match threads {
            1 => out.chunks_mut(rows * n).enumerate().for_each(task),
            _ => out.par_chunks_mut(rows * n).enumerate().for_each(task),
        }
    }

    /// The panels, from their 64-byte boundary.
    fn panel_data(&self) -> &[f32] {
        &self.data[self.offset..]
    }

    /// `out = a · self` one value at a time, for the rows from `first`: only for a SIMD width
    /// other than the one the panels were cut for, which pulp's dispatch never picks within
    /// one process.
    fn multiply_plain(&self, left: Left<'_>, first: usize, out: &mut [f32]) {
        let (k, n, data) = (self.k, self.n, self.panel_data());
        for (r, out) in out.chunks_exact_mut(n).enumerate() {
            out.fill(0.0);
            for panel in &self.panels {
                let width = panel.width * self.lanes;
                let values = &data[panel.start..panel.start + k * width];
                let out = &mut out[panel.first * self.lanes..];
                for (j, row) in values.chunks_exact(width).enumerate() {
                    let x = left.at(first + r, j);
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
    /// Whether negative values are then set to zero.
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

/// Where a thread copies its register blocks of `a`: kept from one product to the next, so
/// a product neither allocates nor clears them.
#[derive(Default)]
struct Scratch {
    columns: Vec<u32>,
    values: Vec<f32>,
    counts: Vec<usize>,
    cursors: Vec<usize>,
    ranges: Vec<std::ops::Range<usize>>,
}

thread_local! {
    static SCRATCH: RefCell<Scratch> = RefCell::new(Scratch::default());
}

/// Some rows of the product (from row `first`), run with the SIMD width pulp found.
struct Task<'a> {
    left: Left<'a>,
    first: usize,
    b: &'a PackedMatrix,
    out: &'a mut [f32],
    finish: Option<Finish<'a>>,
    scratch: &'a mut Scratch,
}

impl WithSimd for Task<'_> {
    type Output = ();

    #[inline(always)]
    fn with_simd<S: Simd>(self, simd: S) {
        if S::F32_LANES != self.b.lanes {
            self.b.multiply_plain(self.left, self.first, self.out);
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

#[inline(always)]
fn rows_pass<S: Simd, const MR: usize, const NR: usize>(simd: S, task: Task<'_>) {
    let Task {
        left,
        first: task_first,
        b,
        out,
        finish,
        scratch,
    } = task;
    let (k, n) = (b.k, b.n);
    let rows = out.len() / n;
    let bias: Option<(Vec<S::f32s>, bool)> = finish.map(|f| {
        let vectors = f.bias.chunks(S::F32_LANES);
        (vectors.map(|v| simd.partial_load_f32s(v)).collect(), f.relu)
    });

    // Each block's columns and values, `stride` apart (k ≥ 1 here: no panels otherwise).
    let stride = k.max(1);
    let block_count = rows.div_ceil(MR);
    let Scratch {
        columns,
        values,
        counts,
        cursors,
        ranges,
    } = scratch;
    if columns.len() < block_count * stride {
        columns.resize(block_count * stride, 0);
    }
    if values.len() < block_count * stride * MR {
        values.resize(block_count * stride * MR, 0.0);
    }
    let (values, _) = values.as_chunks_mut::<MR>();
    let blocks = columns
        .chunks_exact_mut(stride)
        .zip(values.chunks_exact_mut(stride));
    counts.clear();
    for (index, (columns, values)) in blocks.take(block_count).enumerate() {
        let first = index * MR;
        let count = match left {
            Left::Rows { a, k } | Left::Gathered { a, k, .. } => {
                // A block past the last row repeats it; only the real rows are stored.
                let xs: [&[f32]; MR] = std::array::from_fn(|i| {
                    let r = left.row_start(task_first + (first + i).min(rows - 1));
                    &a[r..r + k]
                });
                pack_block(xs, columns, values)
            }
            Left::Columns { a_t, m } => {
                let live = (rows - first).min(MR);
                pack_columns(a_t, m, task_first + first, live, columns, values)
            }
        };
        counts.push(count);
    }
    let (columns, values) = (&columns[..], &values[..]);

    let data = b.panel_data();
    cursors.clear();
    cursors.resize(block_count, 0);
    for chunk in (0..k).step_by(KC) {
        let end = (chunk + KC).min(k);
        let finish = bias
            .as_ref()
            .filter(|_| end == k)
            .map(|(b, r)| (&b[..], *r));
        // Each block's columns in this chunk.
        ranges.clear();
        for (index, cursor) in cursors.iter_mut().enumerate() {
            let base = index * stride;
            let from = *cursor;
            let live = &columns[base + from..base + counts[index]];
            *cursor += live.partition_point(|&j| (j as usize) < end);
            ranges.push(base + from..base + *cursor);
        }
        for panel in &b.panels {
            let width = panel.width * S::F32_LANES;
            let (weights, _) = S::as_simd_f32s(&data[panel.start..panel.start + k * width]);
            for (index, range) in ranges.iter().enumerate() {
                let first = index * MR;
                let live = (rows - first).min(MR);
                let rows_out = &mut out[first * n..(first + live) * n];
                let job = Job {
                    panel: weights,
                    columns: &columns[range.clone()],
                    values: &values[range.clone()],
                    first: panel.first,
                    fresh: chunk == 0,
                    finish,
                };
                match (panel.width, (panel.first + panel.width) * S::F32_LANES > n) {
                    (1, false) => job.run::<1, false>(simd, rows_out, n),
                    (2, false) => job.run::<2, false>(simd, rows_out, n),
                    (_, false) => job.run::<NR, false>(simd, rows_out, n),
                    (1, true) => job.run::<1, true>(simd, rows_out, n),
                    (2, true) => job.run::<2, true>(simd, rows_out, n),
                    (_, true) => job.run::<NR, true>(simd, rows_out, n),
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
    /// panel's width in vectors. With `PARTIAL`, a row's last vector is partial (`n` is no
    /// whole number of vectors) and is read and written through a mask; kept apart so that
    /// the masked accesses cannot cost the common case its sums' registers.
    #[inline(always)]
    fn run<const W: usize, const PARTIAL: bool>(self, simd: S, out: &mut [f32], n: usize) {
        let mut sums = [[simd.splat_f32s(0.0); W]; MR];
        if !self.fresh {
            for (sum, row) in sums.iter_mut().zip(out.chunks_exact(n)) {
                let (whole, tail) = S::as_simd_f32s(row);
                for (v, s) in sum.iter_mut().enumerate() {
                    *s = match PARTIAL && self.first + v == whole.len() {
                        true => simd.partial_load_f32s(tail),
                        false => whole[self.first + v],
                    };
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
            let (whole, tail) = S::as_mut_simd_f32s(row);
            for (v, s) in sum.iter().enumerate() {
                match PARTIAL && self.first + v == whole.len() {
                    true => simd.partial_store_f32s(tail, *s),
                    false => whole[self.first + v] = *s,
                }
            }
        }
    }
}

/// Copies the block of `a`'s rows `first..first + live` from its transpose `a_t` (`[k, m]`):
/// column `j` of the block is `a_t[j][first..first + live]`, read as it lies. Leaves out the
/// columns that are zero in every row; returns how many were kept.
#[inline(always)]
fn pack_columns<const MR: usize>(
    a_t: &[f32],
    m: usize,
    first: usize,
    live: usize,
    columns: &mut [u32],
    values: &mut [[f32; MR]],
) -> usize {
    let mut count = 0;
    for (j, row) in a_t.chunks_exact(m).enumerate() {
        let mut x = [0.0; MR];
        x[..live].copy_from_slice(&row[first..first + live]);
        columns[count] = j as u32;
        values[count] = x;
        count += usize::from(x != [0.0; MR]);
    }
    count
}

/// Copies the rows `xs` (all as long) column by column into `columns`/`values` (each at
/// least as long as a row), leaving out the columns that are zero in every row; returns how
/// many were kept.
fn pack_block<const MR: usize>(
    xs: [&[f32]; MR],
    columns: &mut [u32],
    values: &mut [[f32; MR]],
) -> usize {
    let k = xs.first().map_or(0, |x| x.len());
    let (mut done, mut count) = (0, 0);
    #[cfg(target_arch = "x86_64")]
    if MR == 8
        && let Some(v4) = pulp::x86::V4::try_new()
    {
        let (eight, _) = values.as_flattened_mut().as_chunks_mut::<8>();
        let xs: [&[f32]; 8] = std::array::from_fn(|i| xs.get(i).copied().unwrap_or_default());
        (done, count) = v4.vectorize(Transpose16 {
            v4,
            xs,
            columns: &mut *columns,
            values: eight,
        });
    }
    for j in done..k {
        let x: [f32; MR] = xs.map(|row| row[j]);
        columns[count] = j as u32;
        values[count] = x;
        count += usize::from(x != [0.0; MR]);
    }
    count
}

/// Floats ahead of the columns being packed whose cache lines are fetched early.
#[cfg(target_arch = "x86_64")]
const PREFETCH_AHEAD: usize = 128;

/// Sixteen columns of eight rows, transposed in registers with AVX-512 (two rounds of
/// unpacking, then lane shuffles): entry `d` of the result holds column
/// [`TRANSPOSED_COLUMN`]`[d]`'s eight values.
#[cfg(target_arch = "x86_64")]
#[inline(always)]
fn transpose_8x16(v4: pulp::x86::V4, r: [core::arch::x86_64::__m512; 8]) -> [[f32; 8]; 16] {
    use core::arch::x86_64::{__m512, __m512d};
    use pulp::cast;
    let f = v4.avx512f;
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
    let mut out = [[0.0f32; 8]; 16];
    for q in 0..4 {
        // Columns q and 4 + q, then 8 + q and 12 + q: lanes 0 and 1 (2 and 3) of u[q] and
        // u[4 + q], interleaved.
        let low = f._mm512_shuffle_f32x4::<0b01_00_01_00>(u[q], u[4 + q]);
        let high = f._mm512_shuffle_f32x4::<0b11_10_11_10>(u[q], u[4 + q]);
        let low: [[f32; 8]; 2] = cast(f._mm512_shuffle_f32x4::<0b11_01_10_00>(low, low));
        let high: [[f32; 8]; 2] = cast(f._mm512_shuffle_f32x4::<0b11_01_10_00>(high, high));
        out[4 * q..4 * q + 2].copy_from_slice(&low);
        out[4 * q + 2..4 * q + 4].copy_from_slice(&high);
    }
    out
}

/// The column whose values [`transpose_8x16`] puts at each entry.
#[cfg(target_arch = "x86_64")]
const TRANSPOSED_COLUMN: [usize; 16] = [0, 4, 8, 12, 1, 5, 9, 13, 2, 6, 10, 14, 3, 7, 11, 15];

/// Loads sixteen values of each of eight rows from column `j` (zeros where a row is short).
#[cfg(target_arch = "x86_64")]
#[inline(always)]
fn load_8x16(xs: [&[f32]; 8], j: usize) -> [core::arch::x86_64::__m512; 8] {
    std::array::from_fn(|i| {
        let row: [f32; 16] = xs[i]
            .get(j..j + 16)
            .and_then(|v| v.try_into().ok())
            .unwrap_or([0.0; 16]);
        pulp::cast(row)
    })
}

/// [`pack_block`] for eight rows with AVX-512, sixteen columns at a time, which costs a third
/// of copying them one value at a time. Returns the columns done and the columns kept.
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
            // the lines eight steps ahead (for rows in order, that reaches the next block's
            // rows at the end).
            for x in xs {
                let ahead = x.as_ptr().wrapping_add(j + PREFETCH_AHEAD);
                v4.sse
                    ._mm_prefetch::<{ core::arch::x86_64::_MM_HINT_T0 }>(ahead.cast());
            }
            let r = load_8x16(xs, j);
            let zero = f._mm512_setzero_ps();
            // Bit c: column j + c is not zero in some row (ordered, not equal).
            let live = r
                .iter()
                .fold(0u16, |live, &x| live | f._mm512_cmp_ps_mask::<4>(x, zero));
            let (Some(dst), Some(cols)) = (
                values.get_mut(count..count + 16),
                columns.get_mut(count..count + 16),
            ) else {
                break;
            };
            dst.copy_from_slice(&transpose_8x16(v4, r));
            for (col, c) in cols.iter_mut().zip(TRANSPOSED_COLUMN) {
                *col = (j + c) as u32;
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

/// `src` (`[rows, cols]`) transposed into `dst` (`[cols, rows]`, at least that long), on
/// rayon's threads when it is large.
///
/// # Panics
/// If `src` is shorter than `rows · cols`.
pub fn transpose_into(src: &[f32], rows: usize, cols: usize, dst: &mut [f32]) {
    let (src, dst) = (&src[..rows * cols], &mut dst[..rows * cols]);
    if rows == 0 || cols == 0 {
        return;
    }
    let threads = match rows * cols >= SERIAL_MACS / 16 {
        true => rayon::current_num_threads().max(1),
        false => 1,
    };
    // Each task writes whole rows of `dst`: a range of `src`'s columns.
    let per_task = cols.div_ceil(threads).next_multiple_of(MAX_LANES);
    let task = |(index, dst): (usize, &mut [f32])| {
        transpose_columns(src, rows, cols, index * per_task, dst);
    };
    match threads {
        1 => task((0, dst)),
        _ => dst
            .par_chunks_mut(per_task * rows)
            .enumerate()
            .for_each(task),
    }
}

/// `src`'s columns `from..` transposed into `dst`, one row of `dst` per column.
fn transpose_columns(src: &[f32], rows: usize, cols: usize, from: usize, dst: &mut [f32]) {
    let to = from + dst.len() / rows;
    // The SIMD part covers whole blocks of 8 rows × 16 columns; plain copies do the edges.
    let (mut rows_done, mut cols_done) = (0, from);
    #[cfg(target_arch = "x86_64")]
    if let Some(v4) = pulp::x86::V4::try_new() {
        (rows_done, cols_done) = v4.vectorize(TransposeTiles {
            v4,
            src,
            rows,
            cols,
            from,
            to,
            dst: &mut *dst,
        });
    }
    for c in from..to {
        let out = &mut dst[(c - from) * rows..][..rows];
        let first = match c < cols_done {
            true => rows_done,
            false => 0,
        };
        for (r, o) in out.iter_mut().enumerate().skip(first) {
            *o = src[r * cols + c];
        }
    }
}

/// The AVX-512 part of [`transpose_columns`]: returns the rows done (a multiple of 8) and the
/// end of the columns done (sixteen at a time from `from`).
#[cfg(target_arch = "x86_64")]
struct TransposeTiles<'a> {
    v4: pulp::x86::V4,
    src: &'a [f32],
    rows: usize,
    cols: usize,
    from: usize,
    to: usize,
    dst: &'a mut [f32],
}

#[cfg(target_arch = "x86_64")]
impl pulp::NullaryFnOnce for TransposeTiles<'_> {
    type Output = (usize, usize);

    #[inline(always)]
    fn call(self) -> (usize, usize) {
        let Self {
            v4,
            src,
            rows,
            cols,
            from,
            to,
            dst,
        } = self;
        let (row_blocks, col_blocks) = (rows / 8, (to - from) / 16);
        for block in 0..row_blocks {
            let r0 = block * 8;
            let xs: [&[f32]; 8] = std::array::from_fn(|i| &src[(r0 + i) * cols..][..cols]);
            for tile in 0..col_blocks {
                let c0 = from + tile * 16;
                let t = transpose_8x16(v4, load_8x16(xs, c0));
                for (values, c) in t.iter().zip(TRANSPOSED_COLUMN) {
                    let at = (c0 + c - from) * rows + r0;
                    dst[at..at + 8].copy_from_slice(values);
                }
            }
        }
        (row_blocks * 8, from + col_blocks * 16)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::rng::Rng;

    /// `out = a · b` (`[m, k]` times `[k, n]`), packing `b` on the way.
    fn matmul(a: &[f32], m: usize, k: usize, b: &[f32], n: usize, out: &mut [f32]) {
        PackedMatrix::new(b, k, n).multiply(a, m, out);
    }

    /// `src` (`[rows, cols]`) transposed.
    fn transpose(src: &[f32], rows: usize, cols: usize) -> Vec<f32> {
        let mut dst = vec![0.0; rows * cols];
        transpose_into(src, rows, cols, &mut dst);
        dst
    }

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

    /// `m × k` values, about 40 % of them zero (like ReLU outputs).
    fn sparse(rng: &mut Rng, count: usize) -> Vec<f32> {
        (0..count)
            .map(|_| match rng.uniform() < 0.4 {
                true => 0.0,
                false => rng.normal(),
            })
            .collect()
    }

    #[test]
    fn products_match_a_plain_triple_loop_at_simd_and_odd_shapes() {
        let mut rng = Rng::new(4);
        // n = 784 leaves a one-vector tail at AVX-512; n = 20, 5 and 40 end in a partial
        // vector (padded in the panels, stored through a mask); m = 13 leaves a short
        // register block; k = 300 against a wide b reads b in three chunks.
        for (m, k, n) in [
            (13, 37, 784),
            (40, 128, 48),
            (9, 5, 20),
            (400, 70, 20),
            (128, 400, 40),
            (7, 300, 5),
            (8, 300, 64),
            (13, 300, 48),
            (1, 1, 16),
            (1, 1, 1),
            (3, 0, 32),
        ] {
            let a = sparse(&mut rng, m * k);
            let b: Vec<f32> = (0..k * n).map(|_| rng.normal()).collect();
            let mut out = vec![f32::NAN; m * n];
            matmul(&a, m, k, &b, n, &mut out);
            assert_close(&out, &reference(&a, m, k, &b, n), &format!("{m}x{k}x{n}"));
        }
    }

    #[test]
    fn a_left_operand_given_as_its_transpose_gives_the_same_product() {
        let mut rng = Rng::new(6);
        // m = 20 and 13 leave short blocks; k = 300 reads b in chunks; n = 20 is padded.
        for (m, k, n) in [
            (400, 128, 400),
            (20, 400, 128),
            (13, 300, 48),
            (128, 40, 20),
        ] {
            let a = sparse(&mut rng, m * k);
            let a_t = transpose(&a, m, k);
            let b: Vec<f32> = (0..k * n).map(|_| rng.normal()).collect();
            let mut out = vec![f32::NAN; m * n];
            let packed = PackedMatrix::new(&b, k, n);
            packed.multiply_transposed(&a_t, m, &mut out);
            let exact = reference(&a, m, k, &b, n);
            assert_close(&out, &exact, &format!("{m}x{k}x{n} from aᵀ"));
        }
    }

    #[test]
    fn rows_gathered_in_any_order_give_the_product_of_those_rows_copied_out() {
        let mut rng = Rng::new(8);
        let (rows, k, n) = (300, 200, 40);
        let a = sparse(&mut rng, rows * k);
        let b: Vec<f32> = (0..k * n).map(|_| rng.normal()).collect();
        let packed = PackedMatrix::new(&b, k, n);
        // Repeated rows, a reversed run and a count that leaves a short block.
        let order: Vec<u32> = (0..rows as u32).rev().step_by(3).chain([5, 5, 0]).collect();
        let copied: Vec<f32> = order
            .iter()
            .flat_map(|&r| &a[r as usize * k..(r as usize + 1) * k])
            .copied()
            .collect();
        let mut out = vec![f32::NAN; order.len() * n];
        let finish = Finish {
            bias: &[0.0; 40],
            relu: true,
        };
        packed.multiply_rows_then(&a, &order, &mut out, Some(finish));
        let exact: Vec<f64> = reference(&copied, order.len(), k, &b, n)
            .into_iter()
            .map(|v| v.max(0.0))
            .collect();
        assert_close(&out, &exact, "gathered rows");
    }

    #[test]
    fn repacking_into_the_same_storage_forgets_the_previous_matrix() {
        let mut rng = Rng::new(8);
        let mut packed = PackedMatrix::default();
        // A wide matrix, a narrow one whose padding must be zero again, then the first shape.
        for (m, k, n) in [(16, 64, 48), (16, 64, 40), (16, 64, 48), (5, 9, 3)] {
            let a: Vec<f32> = (0..m * k).map(|_| rng.normal()).collect();
            let b: Vec<f32> = (0..k * n).map(|_| rng.normal()).collect();
            packed.pack(&b, k, n);
            let mut out = vec![f32::NAN; m * n];
            packed.multiply(&a, m, &mut out);
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
        // n = 32 fills its vectors; n = 20 ends in a padded one.
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
        for (m, k, n) in [(13, 300, 48), (8, 37, 784), (1, 16, 16), (9, 20, 21)] {
            let a: Vec<f32> = (0..m * k)
                .map(|v| match v % 7 == 0 {
                    true => 0.0,
                    false => rng.normal(),
                })
                .collect();
            let b: Vec<f32> = (0..k * n).map(|_| rng.normal()).collect();
            let mut packed = PackedMatrix::default();
            packed.pack_for_simd(&b, k, n, 8, NARROW_NR);
            let mut out = vec![f32::NAN; m * n];
            let task = Task {
                left: Left::Rows { a: &a, k },
                first: 0,
                b: &packed,
                out: &mut out,
                finish: None,
                scratch: &mut Scratch::default(),
            };
            v3.vectorize(|| task.with_simd(v3));
            assert_close(&out, &reference(&a, m, k, &b, n), &format!("{m}x{k}x{n}"));
        }
    }

    #[test]
    fn transposes_match_a_plain_copy_at_tile_and_odd_shapes() {
        // Whole 8 × 16 tiles, ragged edges on both sides, one row, and a matrix large enough
        // to be split between threads.
        for (rows, cols) in [(35, 70), (8, 16), (128, 784), (784, 128), (1, 40), (13, 1)] {
            let values: Vec<f32> = (0..rows * cols).map(|v| v as f32).collect();
            let once = transpose(&values, rows, cols);
            for (c, column) in once.chunks_exact(rows).enumerate() {
                for (r, &v) in column.iter().enumerate() {
                    assert_eq!(v, values[r * cols + c], "{rows}x{cols} at ({r}, {c})");
                }
            }
            assert_eq!(transpose(&once, cols, rows), values, "{rows}x{cols} twice");
        }
    }
}
