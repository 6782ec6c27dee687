//! Input affinities: Gaussian conditional probabilities over each row's k nearest neighbours,
//! calibrated to the perplexity, then symmetrised and normalised to sum 1 (as openTSNE and
//! FIt-SNE do).

use std::ops::ControlFlow;

use rayon::prelude::*;

use super::neighbours::Neighbours;

/// Bisection stops when the row's entropy is this close (in nats) to ln(perplexity).
const ENTROPY_TOLERANCE: f64 = 1e-8;
/// Bisection steps at most; far more than a double's precision needs.
const MAX_BISECTION_STEPS: usize = 200;
/// Rows calibrated between two progress reports.
const ROWS_PER_BATCH: usize = 2048;

/// The symmetric joint probabilities P as a sparse matrix in compressed rows.
#[derive(Debug, Clone)]
pub(super) struct Affinities {
    /// Row i's entries are `row_start[i]..row_start[i + 1]`.
    pub row_start: Vec<usize>,
    /// Column of each entry, increasing within a row.
    pub columns: Vec<u32>,
    /// P of each entry; all entries sum to 1.
    pub values: Vec<f64>,
}

/// Fills `out` with p(j | i) for squared distances `sq_distances` (nearest first), so that the
/// distribution's perplexity is `perplexity`.
pub(super) fn conditional_row(sq_distances: &[f64], perplexity: f64, out: &mut [f64]) {
    // Distances relative to the nearest: the normalised result is the same, and exp() cannot
    // underflow for every neighbour at once.
    let nearest = sq_distances.first().copied().unwrap_or(0.0);
    let target = perplexity.ln();
    let (mut beta, mut low, mut high) = (1.0f64, f64::NEG_INFINITY, f64::INFINITY);
    for _ in 0..MAX_BISECTION_STEPS {
        let mut sum = 0.0;
        let mut weighted = 0.0;
        for (p, &d) in out.iter_mut().zip(sq_distances) {
            let shifted = d - nearest;
            *p = (-beta * shifted).exp();
            sum += *p;
            weighted += shifted * *p;
        }
        let entropy = sum.ln() + beta * weighted / sum;
        let excess = entropy - target;
        if excess.abs() < ENTROPY_TOLERANCE {
            break;
        }
        if excess > 0.0 {
            low = beta;
            beta = if high.is_finite() {
                (beta + high) / 2.0
            } else {
                beta * 2.0
            };
        } else {
            high = beta;
            beta = if low.is_finite() {
                (beta + low) / 2.0
            } else {
                beta / 2.0
            };
        }
    }
    let sum: f64 = out.iter().sum();
    out.iter_mut().for_each(|p| *p /= sum);
}

/// Symmetric P from the neighbour lists; `progress(done, total)` may break to cancel.
pub(super) fn joint_probabilities(
    neighbours: &Neighbours,
    perplexity: f64,
    pool: &rayon::ThreadPool,
    progress: &mut dyn FnMut(usize, usize) -> ControlFlow<()>,
) -> Option<Affinities> {
    let k = neighbours.k;
    let n = neighbours.indices.len() / k;

    // Progress counts rows four times: calibrated, paired, merged and compacted.
    let total = 4 * n;
    let mut conditional = vec![0.0f64; n * k];
    for (batch_index, batch) in conditional.chunks_mut(ROWS_PER_BATCH * k).enumerate() {
        let first_row = batch_index * ROWS_PER_BATCH;
        pool.install(|| {
            batch.par_chunks_mut(k).enumerate().for_each(|(r, out)| {
                let i = first_row + r;
                conditional_row(
                    &neighbours.sq_distances[i * k..(i + 1) * k],
                    perplexity,
                    out,
                );
            });
        });
        if progress((first_row + batch.len() / k).min(n), total).is_break() {
            return None;
        }
    }

    // Each pair (i, j) gets p(j|i) + p(i|j): row i holds its own k entries and one entry for
    // every row that has i among its neighbours; pairs found from both sides are merged below.
    let mut start = vec![0usize; n + 1];
    for (i, row) in neighbours.indices.chunks_exact(k).enumerate() {
        start[i + 1] += k;
        for &j in row {
            start[j as usize + 1] += 1;
        }
    }
    for i in 0..n {
        start[i + 1] += start[i];
    }
    let mut entries = vec![(0u32, 0.0f64); start[n]];
    let mut next = start.clone();
    for (i, (row, p_row)) in neighbours
        .indices
        .chunks_exact(k)
        .zip(conditional.chunks_exact(k))
        .enumerate()
    {
        for (&j, &p) in row.iter().zip(p_row) {
            entries[next[i]] = (j, p);
            next[i] += 1;
            entries[next[j as usize]] = (i as u32, p);
            next[j as usize] += 1;
        }
        // Sequential scattered writes: report often enough to cancel promptly.
        if (i + 1) % ROWS_PER_BATCH == 0 && progress(n + i + 1, total).is_break() {
            return None;
        }
    }
    drop(next);
    drop(conditional);

    // Sort each row by column and merge duplicates, keeping the merged length per row.
    let mut merged_len = vec![0usize; n];
    let mut row_slices: Vec<&mut [(u32, f64)]> = Vec::with_capacity(n);
    let mut rest: &mut [(u32, f64)] = &mut entries;
    for i in 0..n {
        let (row, tail) = rest.split_at_mut(start[i + 1] - start[i]);
        row_slices.push(row);
        rest = tail;
    }
    for (batch_index, (rows, lengths)) in row_slices
        .chunks_mut(ROWS_PER_BATCH)
        .zip(merged_len.chunks_mut(ROWS_PER_BATCH))
        .enumerate()
    {
        pool.install(|| {
            rows.par_iter_mut()
                .zip(lengths.par_iter_mut())
                .for_each(|(row, length)| {
                    row.sort_unstable_by_key(|e| e.0);
                    let mut kept = 0;
                    for r in 0..row.len() {
                        if kept > 0 && row[kept - 1].0 == row[r].0 {
                            row[kept - 1].1 += row[r].1;
                        } else {
                            row[kept] = row[r];
                            kept += 1;
                        }
                    }
                    *length = kept;
                });
        });
        let done = ((batch_index + 1) * ROWS_PER_BATCH).min(n);
        if progress(2 * n + done, total).is_break() {
            return None;
        }
    }
    drop(row_slices);

    let mut row_start = Vec::with_capacity(n + 1);
    row_start.push(0);
    let nonzeros: usize = merged_len.iter().sum();
    let mut columns = Vec::with_capacity(nonzeros);
    let mut values = Vec::with_capacity(nonzeros);
    for (i, &length) in merged_len.iter().enumerate() {
        for &(j, p) in &entries[start[i]..start[i] + length] {
            columns.push(j);
            values.push(p);
        }
        row_start.push(columns.len());
        if (i + 1) % (4 * ROWS_PER_BATCH) == 0 && progress(3 * n + i + 1, total).is_break() {
            return None;
        }
    }
    if progress(total, total).is_break() {
        return None;
    }
    let sum: f64 = values.iter().sum();
    values.iter_mut().for_each(|p| *p /= sum);
    Some(Affinities {
        row_start,
        columns,
        values,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_calibrated_row_has_the_requested_perplexity() {
        let distances: Vec<f64> = (0..90).map(|i| 0.1 * i as f64).collect();
        let mut p = vec![0.0; 90];
        conditional_row(&distances, 30.0, &mut p);
        let entropy: f64 = p.iter().filter(|&&v| v > 0.0).map(|v| -v * v.ln()).sum();
        assert!(
            (entropy.exp() - 30.0).abs() < 1e-4,
            "perplexity {}",
            entropy.exp()
        );
        assert!((p.iter().sum::<f64>() - 1.0).abs() < 1e-12);
    }
}
