//! Exact k nearest neighbours by a blocked brute force over squared Euclidean distances.
//!
//! For the 16-50-D inputs this engine maps, a brute force laid out like a small matrix product
//! (a few query rows against a block of reference rows stored dimension-major, so the inner loop
//! runs over contiguous references and vectorises) is exact, needs no index structure and costs
//! about as much as building one. Candidates are ranked by `|q|² + |r|² − 2 q·r` in f32; the
//! chosen neighbours' distances are then recomputed exactly in f64 from the differences, so the
//! affinities never see the expansion's rounding.
//!
//! Every query row is computed the same way whichever thread runs it, and ties are broken by
//! the lower index, so the result depends neither on the thread count nor on scheduling.

use std::cmp::Ordering;
use std::ops::ControlFlow;

use rayon::prelude::*;

/// Query rows handled together by the distance kernel.
const QUERY_BLOCK: usize = 4;
/// Reference rows per dimension-major block.
const REFERENCE_BLOCK: usize = 8;

/// The k nearest neighbours of every row, nearest first.
#[derive(Debug, Clone)]
pub(super) struct Neighbours {
    /// Neighbours per row.
    pub k: usize,
    /// `indices[i * k + m]` is row i's m-th nearest neighbour.
    pub indices: Vec<u32>,
    /// Squared distances matching `indices`, exact in f64.
    pub sq_distances: Vec<f64>,
}

/// The reference rows re-laid dimension-major in blocks of [`REFERENCE_BLOCK`], with their
/// squared norms; the last block is padded with rows that can never be chosen.
pub(super) struct ReferenceBlocks {
    dim: usize,
    n: usize,
    /// Block b holds `dim × REFERENCE_BLOCK` values, dimension after dimension.
    blocks: Vec<[f32; REFERENCE_BLOCK]>,
    sq_norms: Vec<f32>,
}

impl ReferenceBlocks {
    /// Lays out `points` (`n × dim`, row by row) for the distance kernel.
    pub fn new(points: &[f32], dim: usize) -> Self {
        let n = points.len() / dim.max(1);
        let block_count = n.div_ceil(REFERENCE_BLOCK);
        let mut blocks = vec![[0.0f32; REFERENCE_BLOCK]; block_count * dim];
        let mut sq_norms = vec![f32::INFINITY; block_count * REFERENCE_BLOCK];
        for (r, row) in points.chunks_exact(dim).enumerate() {
            let (block, lane) = (r / REFERENCE_BLOCK, r % REFERENCE_BLOCK);
            for (d, &v) in row.iter().enumerate() {
                blocks[block * dim + d][lane] = v;
            }
            sq_norms[r] = row.iter().map(|v| v * v).sum();
        }
        Self {
            dim,
            n,
            blocks,
            sq_norms,
        }
    }

    /// Number of reference rows.
    pub fn len(&self) -> usize {
        self.n
    }
}

/// A bounded max-heap of the best candidates seen so far for one query, ordered by
/// (distance, index) so that ties go to the lower index.
struct Best {
    k: usize,
    heap: Vec<(f32, u32)>,
}

impl Best {
    fn new(k: usize) -> Self {
        Self {
            k,
            heap: Vec::with_capacity(k),
        }
    }

    /// The distance a candidate must beat (strictly) to enter.
    fn bound(&self) -> f32 {
        if self.heap.len() < self.k {
            f32::INFINITY
        } else {
            self.heap.first().map_or(f32::INFINITY, |t| t.0)
        }
    }

    fn greater(a: (f32, u32), b: (f32, u32)) -> bool {
        a.0 > b.0 || (a.0 == b.0 && a.1 > b.1)
    }

    fn push(&mut self, item: (f32, u32)) {
        if self.heap.len() < self.k {
            self.heap.push(item);
            let mut i = self.heap.len() - 1;
            while i > 0 {
                let parent = (i - 1) / 2;
                if Self::greater(self.heap[i], self.heap[parent]) {
                    self.heap.swap(i, parent);
                    i = parent;
                } else {
                    break;
                }
            }
        } else if Self::greater(self.heap[0], item) {
            self.heap[0] = item;
            let mut i = 0;
            loop {
                let (left, right) = (2 * i + 1, 2 * i + 2);
                let mut largest = i;
                if left < self.heap.len() && Self::greater(self.heap[left], self.heap[largest]) {
                    largest = left;
                }
                if right < self.heap.len() && Self::greater(self.heap[right], self.heap[largest]) {
                    largest = right;
                }
                if largest == i {
                    break;
                }
                self.heap.swap(i, largest);
                i = largest;
            }
        }
    }
}

/// Candidate neighbours of up to [`QUERY_BLOCK`] query vectors among all reference rows.
///
/// `exclude[q]` names a reference row that query q must not get (itself), if any.
fn search_block(
    refs: &ReferenceBlocks,
    queries: &[&[f32]],
    exclude: &[Option<usize>],
    k: usize,
) -> Vec<Vec<u32>> {
    let dim = refs.dim;
    let mut best: Vec<Best> = queries.iter().map(|_| Best::new(k)).collect();
    let mut q_dim_major = vec![[0.0f32; QUERY_BLOCK]; dim];
    let mut q_sq = [0.0f32; QUERY_BLOCK];
    for (qi, q) in queries.iter().enumerate() {
        for (d, &v) in q.iter().enumerate() {
            q_dim_major[d][qi] = v;
        }
        q_sq[qi] = q.iter().map(|v| v * v).sum();
    }

    for (block_index, block) in refs.blocks.chunks_exact(dim.max(1)).enumerate() {
        // Fixed-size accumulators for all queries against the block's lanes, indexed by
        // constants, so the compiler keeps them in vector registers and reuses each load.
        let mut dots = [[0.0f32; REFERENCE_BLOCK]; QUERY_BLOCK];
        for (r, q) in block.iter().zip(&q_dim_major) {
            for qi in 0..QUERY_BLOCK {
                for lane in 0..REFERENCE_BLOCK {
                    dots[qi][lane] += q[qi] * r[lane];
                }
            }
        }
        let base = block_index * REFERENCE_BLOCK;
        let mut norms = [0.0f32; REFERENCE_BLOCK];
        norms.copy_from_slice(&refs.sq_norms[base..base + REFERENCE_BLOCK]);
        for (qi, b) in best.iter_mut().enumerate() {
            let mut distance = [0.0f32; REFERENCE_BLOCK];
            let mut nearest = f32::INFINITY;
            for lane in 0..REFERENCE_BLOCK {
                distance[lane] = q_sq[qi] + norms[lane] - 2.0 * dots[qi][lane];
                nearest = nearest.min(distance[lane]);
            }
            let bound = b.bound();
            if nearest > bound {
                continue;
            }
            for (lane, &d) in distance.iter().enumerate() {
                if d < bound || (d == bound && b.heap.len() < k) {
                    let r = base + lane;
                    if r < refs.n && exclude[qi] != Some(r) {
                        b.push((d.max(0.0), r as u32));
                    }
                }
            }
        }
    }
    best.into_iter()
        .map(|b| b.heap.into_iter().map(|(_, r)| r).collect())
        .collect()
}

/// Exact squared distance between two rows in f64.
pub(super) fn sq_distance(a: &[f32], b: &[f32]) -> f64 {
    a.iter()
        .zip(b)
        .map(|(&x, &y)| {
            let d = f64::from(x) - f64::from(y);
            d * d
        })
        .sum()
}

/// Sorts candidates by exact distance (then index) and keeps the k nearest.
fn finish(
    points: &[f32],
    dim: usize,
    query: &[f32],
    candidates: Vec<u32>,
    k: usize,
) -> Vec<(f64, u32)> {
    let mut exact: Vec<(f64, u32)> = candidates
        .into_iter()
        .map(|r| {
            let start = r as usize * dim;
            (sq_distance(query, &points[start..start + dim]), r)
        })
        .collect();
    exact.sort_by(|a, b| {
        a.0.partial_cmp(&b.0)
            .unwrap_or(Ordering::Equal)
            .then(a.1.cmp(&b.1))
    });
    exact.truncate(k);
    exact
}

/// The k nearest neighbours of one vector among the reference rows (no row excluded).
pub(super) fn nearest_to(
    refs: &ReferenceBlocks,
    points: &[f32],
    query: &[f32],
    k: usize,
) -> Vec<(f64, u32)> {
    // Slightly more candidates than needed, so that f32 rounding cannot push out a neighbour
    // whose exact distance ties with the k-th.
    let want = (k + 2).min(refs.len());
    let found = search_block(refs, &[query], &[None], want)
        .pop()
        .unwrap_or_default();
    finish(points, refs.dim, query, found, k)
}

/// The k nearest neighbours of every row of `points` (`n × dim`) among the others.
///
/// Work is cut into batches of rows; `progress(done, total)` is called after each batch and
/// may break to cancel, which returns `None`. The work runs on `pool`.
pub(super) fn all_nearest(
    points: &[f32],
    dim: usize,
    k: usize,
    pool: &rayon::ThreadPool,
    progress: &mut dyn FnMut(usize, usize) -> ControlFlow<()>,
) -> Option<Neighbours> {
    let n = points.len() / dim;
    let refs = ReferenceBlocks::new(points, dim);
    let want = (k + 2).min(n - 1);

    // About 40 million multiply-adds per batch: tens of milliseconds on two cores, so a
    // cancel is seen quickly, while batches stay large enough to keep both threads busy.
    let rows_per_batch = (40_000_000 / (n * dim).max(1))
        .clamp(8, 4096)
        .next_multiple_of(8);
    let mut indices = Vec::with_capacity(n * k);
    let mut sq_distances = Vec::with_capacity(n * k);
    let mut start = 0;
    while start < n {
        let end = (start + rows_per_batch).min(n);
        let rows: Vec<usize> = (start..end).collect();
        let batch: Vec<Vec<(f64, u32)>> = pool.install(|| {
            rows.par_chunks(QUERY_BLOCK)
                .flat_map_iter(|rows| {
                    let queries: Vec<&[f32]> = rows
                        .iter()
                        .map(|&r| &points[r * dim..(r + 1) * dim])
                        .collect();
                    let exclude: Vec<Option<usize>> = rows.iter().map(|&r| Some(r)).collect();
                    let found = search_block(&refs, &queries, &exclude, want);
                    rows.iter()
                        .zip(found)
                        .map(|(&r, candidates)| {
                            finish(points, dim, &points[r * dim..(r + 1) * dim], candidates, k)
                        })
                        .collect::<Vec<_>>()
                })
                .collect()
        });
        for row in batch {
            for (d, r) in row {
                sq_distances.push(d);
                indices.push(r);
            }
        }
        start = end;
        if progress(start, n).is_break() {
            return None;
        }
    }
    Some(Neighbours {
        k,
        indices,
        sq_distances,
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::rng::Rng;

    fn brute(points: &[f32], dim: usize, i: usize, k: usize) -> Vec<u32> {
        let n = points.len() / dim;
        let q = &points[i * dim..(i + 1) * dim];
        let mut all: Vec<(f64, u32)> = (0..n)
            .filter(|&j| j != i)
            .map(|j| (sq_distance(q, &points[j * dim..(j + 1) * dim]), j as u32))
            .collect();
        all.sort_by(|a, b| a.0.total_cmp(&b.0).then(a.1.cmp(&b.1)));
        all.into_iter().take(k).map(|t| t.1).collect()
    }

    #[test]
    fn blocked_search_finds_the_same_neighbours_as_a_plain_sort() {
        let mut rng = Rng::new(4);
        let dim = 7;
        let points: Vec<f32> = (0..301 * dim).map(|_| rng.normal()).collect();
        let pool = rayon::ThreadPoolBuilder::new()
            .num_threads(2)
            .build()
            .unwrap_or_else(|e| panic!("{e}"));
        let found = all_nearest(&points, dim, 10, &pool, &mut |_, _| {
            ControlFlow::Continue(())
        });
        let found = found.unwrap_or_else(|| panic!("not cancelled"));
        for i in [0, 1, 150, 299, 300] {
            assert_eq!(
                &found.indices[i * 10..(i + 1) * 10],
                brute(&points, dim, i, 10)
            );
        }
    }
}
