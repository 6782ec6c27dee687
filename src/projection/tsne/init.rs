//! The starting layout: the input's first two principal components, scaled so the first has
//! standard deviation 1e-4, plus a little seeded jitter (openTSNE's default initialisation).
//!
//! A PCA start keeps the global arrangement of clusters meaningful and makes the result depend
//! on the seed only through the jitter, which separates exact duplicates.

use std::ops::ControlFlow;

use linfa_linalg::eigh::{EigSort, Eigh};
use ndarray::Array2;
use rayon::prelude::*;

use crate::rng::Rng;

/// Standard deviation of the first axis at the start (openTSNE's `rescale`).
const INITIAL_STD: f64 = 1e-4;
/// Jitter relative to the first axis' standard deviation (openTSNE's `jitter`).
const JITTER: f64 = 0.01;
/// Rows per covariance chunk; chunks are summed in order, so the result is the same for any
/// thread count.
const ROWS_PER_CHUNK: usize = 512;

/// The initial layout of `points` (`n × dim`). `progress(done, total)` may break to cancel.
pub(super) fn pca_layout(
    points: &[f32],
    dim: usize,
    seed: u64,
    pool: &rayon::ThreadPool,
    progress: &mut dyn FnMut(usize, usize) -> ControlFlow<()>,
) -> Option<Vec<[f64; 2]>> {
    let n = points.len() / dim;
    let mean = column_means(points, dim);
    let covariance = covariance(points, dim, &mean, pool, progress)?;
    let directions = leading_directions(covariance, dim);

    let mut coords: Vec<[f64; 2]> = pool.install(|| {
        points
            .par_chunks(dim)
            .map(|row| {
                let mut out = [0.0; 2];
                for (o, direction) in out.iter_mut().zip(&directions) {
                    *o = row
                        .iter()
                        .zip(&mean)
                        .zip(direction)
                        .map(|((&v, m), c)| (f64::from(v) - m) * c)
                        .sum();
                }
                out
            })
            .collect()
    });

    let first_std = (coords.iter().map(|c| c[0] * c[0]).sum::<f64>() / n as f64).sqrt();
    let mut rng = Rng::new(seed);
    if first_std > 0.0 && first_std.is_finite() {
        let scale = INITIAL_STD / first_std;
        coords.iter_mut().flatten().for_each(|v| *v *= scale);
    } else {
        // No spread to follow (all rows equal): start from the jitter alone.
        coords.iter_mut().flatten().for_each(|v| *v = 0.0);
    }
    let jitter = INITIAL_STD * JITTER;
    for v in coords.iter_mut().flatten() {
        *v += jitter * f64::from(rng.normal());
    }
    Some(coords)
}

fn column_means(points: &[f32], dim: usize) -> Vec<f64> {
    let n = points.len() / dim;
    let mut mean = vec![0.0; dim];
    for row in points.chunks_exact(dim) {
        for (m, &v) in mean.iter_mut().zip(row) {
            *m += f64::from(v);
        }
    }
    mean.iter_mut().for_each(|m| *m /= n as f64);
    mean
}

/// The covariance (up to a constant factor, which PCA ignores), upper triangle filled.
fn covariance(
    points: &[f32],
    dim: usize,
    mean: &[f64],
    pool: &rayon::ThreadPool,
    progress: &mut dyn FnMut(usize, usize) -> ControlFlow<()>,
) -> Option<Vec<f64>> {
    let n = points.len() / dim;
    let mut sums = vec![0.0f64; dim * dim];
    // Batches of chunks, with a progress report between batches.
    let chunks_per_batch = (20_000_000 / (ROWS_PER_CHUNK * dim * dim).max(1)).max(2);
    let chunks: Vec<&[f32]> = points.chunks(ROWS_PER_CHUNK * dim).collect();
    for (batch_index, batch) in chunks.chunks(chunks_per_batch).enumerate() {
        let partials: Vec<Vec<f64>> = pool.install(|| {
            batch
                .par_iter()
                .map(|rows| {
                    let mut part = vec![0.0f64; dim * dim];
                    let mut centred = vec![0.0f64; dim];
                    for row in rows.chunks_exact(dim) {
                        for ((c, &v), m) in centred.iter_mut().zip(row).zip(mean) {
                            *c = f64::from(v) - m;
                        }
                        for i in 0..dim {
                            let ci = centred[i];
                            for (s, &cj) in part[i * dim + i..(i + 1) * dim]
                                .iter_mut()
                                .zip(&centred[i..])
                            {
                                *s += ci * cj;
                            }
                        }
                    }
                    part
                })
                .collect()
        });
        for part in partials {
            sums.iter_mut().zip(&part).for_each(|(s, p)| *s += p);
        }
        let done = ((batch_index + 1) * chunks_per_batch * ROWS_PER_CHUNK).min(n);
        if progress(done, n).is_break() {
            return None;
        }
    }
    Some(sums)
}

/// The two leading eigenvectors of the symmetric matrix whose upper triangle is `upper`, each
/// signed so its largest entry is positive; a missing second one (1-D input) is zero.
fn leading_directions(upper: Vec<f64>, dim: usize) -> Vec<Vec<f64>> {
    let matrix = Array2::from_shape_fn((dim, dim), |(i, j)| {
        let (a, b) = if i <= j { (i, j) } else { (j, i) };
        upper[a * dim + b]
    });
    let mut directions = match matrix.eigh() {
        Ok(decomposition) => {
            let (_, vectors) = decomposition.sort_eig_desc();
            (0..dim.min(2))
                .map(|k| vectors.column(k).to_vec())
                .collect()
        }
        // Only non-finite input makes the solver fail, and such rows are refused earlier;
        // fall back to the first axes rather than fail the run.
        Err(_) => (0..dim.min(2))
            .map(|k| (0..dim).map(|d| if d == k { 1.0 } else { 0.0 }).collect())
            .collect::<Vec<Vec<f64>>>(),
    };
    for direction in &mut directions {
        let largest =
            direction.iter().copied().fold(
                0.0f64,
                |best, v| if v.abs() > best.abs() { v } else { best },
            );
        if largest < 0.0 {
            direction.iter_mut().for_each(|v| *v = -*v);
        }
    }
    while directions.len() < 2 {
        directions.push(vec![0.0; dim]);
    }
    directions
}
