//! t-SNE for the map: exact neighbours, FFT-interpolated repulsion, and an optimiser that
//! advances a few iterations at a time so the UI can show the layout forming.
//!
//! A run follows openTSNE's defaults:
//! 1. each point's ⌊3 · perplexity⌋ nearest neighbours, exact (a blocked brute force over
//!    squared distances, `neighbours.rs`); at 16-50 dimensions that is as cheap as an
//!    approximate index (0.35-0.5 s for 10,000 points where openTSNE's Annoy took 2.6 s;
//!    about 10 s for 70,000) and never misses one;
//! 2. Gaussian affinities calibrated to the perplexity, symmetrised, summing to 1;
//! 3. a PCA start scaled to standard deviation 1e-4 on the first axis, plus seeded jitter;
//! 4. gradient descent with momentum and gains: early exaggeration 12 for 250 iterations,
//!    then 500 more; steps clipped to 5 units, the layout re-centred after each.
//!
//! # Why FFT interpolation
//!
//! The attraction costs O(N·k) per iteration; the repulsion is the choice. Barnes-Hut builds a
//! quadtree every iteration and costs O(N log N) with a large constant; FIt-SNE's interpolation
//! (`repulsion.rs`) costs O(N) plus FFTs on a grid that grows with the layout's extent, not
//! with N. Measured on this 2-core machine, Fashion-MNIST, perplexity 30, 750 iterations,
//! 2 threads everywhere, KL computed for every layout with the same exact-neighbour P and an
//! exact Z, neighbourhood preservation at k = 10 (`scripts/bench-projection-vs-python.sh`):
//!
//! | input | ours (FFT) | openTSNE 1.0.4 (FFT) | scikit-learn 1.9.1 (Barnes-Hut) |
//! | --- | --- | --- | --- |
//! | 10,000 × 16 latents | 11.1 s, KL 1.865, 0.458 | 50.5 s, KL 1.881, 0.456 | 32.2 s, KL 1.912, 0.456 |
//! | 10,000 × 50 (PCA-50 of pixels) | 8.9 s, KL 1.511, 0.473 | 50.7 s, KL 1.525, 0.473 | 41.0 s, KL 1.564, 0.471 |
//! | 70,000 × 16 latents | 44.2 s, KL 2.823, 0.393 | 125.6 s, KL 2.837, 0.393 | not run |
//!
//! The best Barnes-Hut at hand is about three times slower than this engine at 10,000 points,
//! and the gap widens with N, so there is no Barnes-Hut path; below 2,000 points the repulsion
//! is summed exactly instead. (No Barnes-Hut of our own was written to compare: the figures
//! above are the reference implementations'.) Timings on this shared machine varied by up to
//! 2× between runs (a second run, under another build's load, took 16.3 s, 18.1 s and 66.7 s
//! against openTSNE's 55.0 s, 62.9 s and 187.7 s); every run kept ours 2.8-5.7× faster.
//!
//! # Determinism
//!
//! A run is a function of its input, parameters and seed, bit for bit, whatever the thread
//! count: every parallel loop writes disjoint outputs, and every sum over points or grid
//! blocks is taken in a fixed order.

mod affinity;
mod init;
mod neighbours;
mod place;
mod repulsion;

use std::ops::ControlFlow;

use rayon::prelude::*;

use affinity::Affinities;
use neighbours::ReferenceBlocks;
use repulsion::Repulsion;

use crate::rng::Rng;

/// The largest point count: neighbour indices are stored as `u32`.
const MAX_POINTS: usize = u32::MAX as usize;
/// The most threads a run may ask for.
const MAX_THREADS: usize = 1024;
/// Gains never fall below this (as in openTSNE and scikit-learn).
const MIN_GAIN: f64 = 0.01;
/// A point moves at most this far in one iteration (openTSNE's `max_step_norm`), so a stray
/// point cannot blow up the FFT grid.
const MAX_STEP: f64 = 5.0;
/// Points per task in the optimiser's per-point loops.
const POINT_CHUNK: usize = 1024;

/// Parameters of a t-SNE run.
#[derive(Debug, Clone, PartialEq)]
pub struct TsneParams {
    /// The effective number of neighbours each point's affinities spread over; each point
    /// looks at its `3 · perplexity` nearest neighbours.
    pub perplexity: f64,
    /// Total iterations, the early exaggeration phase included.
    pub iterations: usize,
    /// Step size on the gradient written without its constant factor 4 (openTSNE's and
    /// FIt-SNE's convention); `None` picks it from N in each phase (see [`Tsne`]).
    pub learning_rate: Option<f64>,
    /// Factor on the attractive forces during the first iterations, which lets clusters form.
    pub early_exaggeration: f64,
    /// Iterations run with early exaggeration; a run with fewer `iterations` is exaggerated
    /// throughout.
    pub early_exaggeration_iterations: usize,
    /// Momentum during early exaggeration.
    pub early_momentum: f64,
    /// Momentum after early exaggeration.
    pub momentum: f64,
    /// Seed of the initial jitter; the whole run is a function of it and the input.
    pub seed: u64,
    /// Worker threads; 0 means one per core.
    pub threads: usize,
}

impl Default for TsneParams {
    fn default() -> Self {
        Self {
            perplexity: 30.0,
            iterations: 750,
            learning_rate: None,
            early_exaggeration: 12.0,
            early_exaggeration_iterations: 250,
            early_momentum: 0.5,
            momentum: 0.8,
            seed: 0,
            threads: 0,
        }
    }
}

/// Why a t-SNE run could not start.
#[derive(Debug, thiserror::Error)]
pub enum TsneError {
    /// The dimension is zero.
    #[error("points must have at least 1 dimension, got dim 0")]
    ZeroDimension,
    /// The value count is not a whole number of rows.
    #[error("{values} values do not make whole rows of dimension {dim}")]
    RaggedInput {
        /// Values passed.
        values: usize,
        /// The row length.
        dim: usize,
    },
    /// A row holds NaN or infinity.
    #[error(
        "row {row} holds a non-finite value ({value}) at dimension {column}; leave such rows out"
    )]
    NonFiniteRow {
        /// The row, counted from 0.
        row: usize,
        /// The position within the row.
        column: usize,
        /// The value found.
        value: f32,
    },
    /// The perplexity is not a finite number of at least 1.
    #[error("perplexity must be a finite number of at least 1, got {0}")]
    InvalidPerplexity(f64),
    /// Too few points for the perplexity's neighbour count.
    #[error(
        "perplexity {perplexity} needs at least {needed} points (3·perplexity + 1), got {found}"
    )]
    PerplexityTooLarge {
        /// The perplexity asked for.
        perplexity: f64,
        /// Points needed.
        needed: usize,
        /// Points given.
        found: usize,
    },
    /// More points than neighbour indices can address.
    #[error("t-SNE handles at most {MAX_POINTS} points, got {0}")]
    TooManyPoints(usize),
    /// No iterations asked for.
    #[error("iterations must be at least 1, got 0")]
    NoIterations,
    /// The learning rate is not a positive finite number.
    #[error("learning rate must be a positive finite number, got {0}")]
    InvalidLearningRate(f64),
    /// The early exaggeration is not a finite number of at least 1.
    #[error("early exaggeration must be a finite number of at least 1, got {0}")]
    InvalidExaggeration(f64),
    /// A momentum outside [0, 1).
    #[error("{which} must lie in [0, 1), got {value}")]
    InvalidMomentum {
        /// Which momentum.
        which: &'static str,
        /// The value given.
        value: f64,
    },
    /// Too many threads asked for.
    #[error("threads must be at most {MAX_THREADS}, got {0}")]
    TooManyThreads(usize),
    /// The thread pool could not be started.
    #[error("cannot start {threads} worker threads: {message}")]
    ThreadPool {
        /// Threads asked for.
        threads: usize,
        /// The system's reason.
        message: String,
    },
}

/// A t-SNE run that advances a few iterations at a time, so a UI can show the layout forming,
/// pause, resume or drop it.
///
/// With `learning_rate: None` the step size is `max(N / exaggeration, 200)` in each phase:
/// N / 12 during early exaggeration and N after it, on the gradient without its factor 4.
/// That is what openTSNE's `learning_rate="auto"` does (scikit-learn's N / 12 on the full
/// gradient is N / 3 here); the floor of 200 only matters below 2,400 points. Keeping N / 12
/// after the exaggeration ended the 10,000 latents at KL 1.92 instead of 1.87 (openTSNE: 1.88).
///
/// `step(1)` costs one iteration: about 5 ms at 10,000 points early on and up to 25 ms once the
/// layout has spread; 30-70 ms at 70,000.
pub struct Tsne {
    params: TsneParams,
    dim: usize,
    points: Vec<f32>,
    references: ReferenceBlocks,
    affinities: Affinities,
    coords: Vec<[f64; 2]>,
    update: Vec<[f64; 2]>,
    gains: Vec<[f64; 2]>,
    gradient: Vec<[f64; 2]>,
    repulsion: Repulsion,
    pool: rayon::ThreadPool,
    iteration: usize,
}

impl std::fmt::Debug for Tsne {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Tsne")
            .field("points", &self.coords.len())
            .field("dim", &self.dim)
            .field("iteration", &self.iteration)
            .field("params", &self.params)
            .finish_non_exhaustive()
    }
}

/// Checks every parameter and the input's shape; returns the point count.
fn validate(points: &[f32], dim: usize, params: &TsneParams) -> Result<usize, TsneError> {
    if dim == 0 {
        return Err(TsneError::ZeroDimension);
    }
    if !points.len().is_multiple_of(dim) {
        return Err(TsneError::RaggedInput {
            values: points.len(),
            dim,
        });
    }
    if let Some(position) = points.iter().position(|v| !v.is_finite()) {
        return Err(TsneError::NonFiniteRow {
            row: position / dim,
            column: position % dim,
            value: points[position],
        });
    }
    let n = points.len() / dim;
    if n > MAX_POINTS {
        return Err(TsneError::TooManyPoints(n));
    }
    let perplexity = params.perplexity;
    if !perplexity.is_finite() || perplexity < 1.0 {
        return Err(TsneError::InvalidPerplexity(perplexity));
    }
    let needed = neighbour_count(perplexity).saturating_add(1);
    if n < needed {
        return Err(TsneError::PerplexityTooLarge {
            perplexity,
            needed,
            found: n,
        });
    }
    if params.iterations == 0 {
        return Err(TsneError::NoIterations);
    }
    if let Some(rate) = params.learning_rate
        && !(rate.is_finite() && rate > 0.0)
    {
        return Err(TsneError::InvalidLearningRate(rate));
    }
    if !params.early_exaggeration.is_finite() || params.early_exaggeration < 1.0 {
        return Err(TsneError::InvalidExaggeration(params.early_exaggeration));
    }
    for (which, value) in [
        ("early momentum", params.early_momentum),
        ("momentum", params.momentum),
    ] {
        if !(0.0..1.0).contains(&value) {
            return Err(TsneError::InvalidMomentum { which, value });
        }
    }
    if params.threads > MAX_THREADS {
        return Err(TsneError::TooManyThreads(params.threads));
    }
    Ok(n)
}

/// Neighbours per point for a perplexity: `⌊3 · perplexity⌋`, as openTSNE.
fn neighbour_count(perplexity: f64) -> usize {
    (3.0 * perplexity) as usize
}

impl Tsne {
    /// Computes neighbours and affinities (the slow preparation); `progress(stage, done,
    /// total)` is called often (at least every ~100 ms of work) and may return
    /// `ControlFlow::Break(())` to cancel, in which case the result is `Ok(None)`.
    ///
    /// `points` holds `n × dim` values row by row; every value must be finite.
    pub fn new(
        points: &[f32],
        dim: usize,
        params: &TsneParams,
        progress: &mut dyn FnMut(&str, usize, usize) -> ControlFlow<()>,
    ) -> Result<Option<Self>, TsneError> {
        let n = validate(points, dim, params)?;
        let pool = rayon::ThreadPoolBuilder::new()
            .num_threads(params.threads)
            .thread_name(|i| format!("tsne-{i}"))
            .build()
            .map_err(|e| TsneError::ThreadPool {
                threads: params.threads,
                message: e.to_string(),
            })?;

        let prepared = (|| {
            let k = neighbour_count(params.perplexity);
            if progress("neighbours", 0, n).is_break() {
                return None;
            }
            let neighbours = neighbours::all_nearest(points, dim, k, &pool, &mut |d, t| {
                progress("neighbours", d, t)
            })?;
            let affinities = affinity::joint_probabilities(
                &neighbours,
                params.perplexity,
                &pool,
                &mut |d, t| progress("affinities", d, t),
            )?;
            drop(neighbours);
            let coords = init::pca_layout(points, dim, params.seed, &pool, &mut |d, t| {
                progress("initialisation", d, t)
            })?;
            Some((affinities, coords))
        })();
        let Some((affinities, coords)) = prepared else {
            return Ok(None);
        };

        Ok(Some(Self {
            params: params.clone(),
            dim,
            points: points.to_vec(),
            references: ReferenceBlocks::new(points, dim),
            affinities,
            update: vec![[0.0; 2]; n],
            gains: vec![[1.0; 2]; n],
            gradient: vec![[0.0; 2]; n],
            coords,
            repulsion: Repulsion::default(),
            pool,
            iteration: 0,
        }))
    }

    /// Runs up to `iterations` more iterations, never past the run's total.
    pub fn step(&mut self, iterations: usize) {
        let end = self
            .iteration
            .saturating_add(iterations)
            .min(self.params.iterations);
        while self.iteration < end {
            self.iterate();
        }
    }

    /// Iterations done so far.
    pub fn iteration(&self) -> usize {
        self.iteration
    }

    /// Whether all iterations have run.
    pub fn is_done(&self) -> bool {
        self.iteration >= self.params.iterations
    }

    /// The parameters the run was started with.
    pub fn params(&self) -> &TsneParams {
        &self.params
    }

    /// The current layout, one `[x, y]` per input row, centred on the origin.
    pub fn coords(&self) -> &[[f64; 2]] {
        &self.coords
    }

    /// The step size and momentum of the current iteration and its exaggeration.
    fn schedule(&self) -> (f64, f64, f64) {
        let early = self.iteration < self.params.early_exaggeration_iterations;
        let exaggeration = if early {
            self.params.early_exaggeration
        } else {
            1.0
        };
        let momentum = if early {
            self.params.early_momentum
        } else {
            self.params.momentum
        };
        let rate = self
            .params
            .learning_rate
            .unwrap_or_else(|| (self.coords.len() as f64 / exaggeration).max(200.0));
        (rate, momentum, exaggeration)
    }

    fn iterate(&mut self) {
        let (rate, momentum, exaggeration) = self.schedule();
        let Self {
            affinities,
            coords,
            update,
            gains,
            gradient,
            repulsion,
            pool,
            ..
        } = self;

        pool.install(|| {
            let z = repulsion.compute(coords, gradient).max(f64::MIN_POSITIVE);

            // The gradient (without its factor 4): exaggerated attraction minus repulsion / Z.
            let coords_read: &[[f64; 2]] = coords;
            gradient
                .par_chunks_mut(POINT_CHUNK)
                .enumerate()
                .for_each(|(chunk, out)| {
                    let first = chunk * POINT_CHUNK;
                    for (r, g) in out.iter_mut().enumerate() {
                        let i = first + r;
                        let [ax, ay] = attraction(affinities, coords_read, i);
                        *g = [exaggeration * ax - g[0] / z, exaggeration * ay - g[1] / z];
                    }
                });

            // Gains grow where the step keeps overshooting (sign change) and shrink where it
            // keeps going the same way, as in the reference implementations.
            coords
                .par_chunks_mut(POINT_CHUNK)
                .zip(update.par_chunks_mut(POINT_CHUNK))
                .zip(
                    gains
                        .par_chunks_mut(POINT_CHUNK)
                        .zip(gradient.par_chunks(POINT_CHUNK)),
                )
                .for_each(|((coords, update), (gains, gradient))| {
                    for ((y, u), (gain, g)) in coords
                        .iter_mut()
                        .zip(update)
                        .zip(gains.iter_mut().zip(gradient))
                    {
                        for d in 0..2 {
                            gain[d] = if sign(u[d]) != sign(g[d]) {
                                gain[d] + 0.2
                            } else {
                                gain[d] * 0.8 + MIN_GAIN
                            };
                            u[d] = momentum * u[d] - rate * gain[d] * g[d];
                        }
                        let length = u[0].hypot(u[1]);
                        if length > MAX_STEP {
                            let shrink = MAX_STEP / length;
                            u.iter_mut().for_each(|v| *v *= shrink);
                        }
                        y[0] += u[0];
                        y[1] += u[1];
                    }
                });
        });

        // Keep the layout centred; a sequential sum so the result is thread-count independent.
        let n = self.coords.len() as f64;
        let mut mean = [0.0; 2];
        for p in &self.coords {
            mean[0] += p[0];
            mean[1] += p[1];
        }
        let mean = mean.map(|m| m / n);
        for p in &mut self.coords {
            p[0] -= mean[0];
            p[1] -= mean[1];
        }
        self.iteration += 1;
    }

    /// The KL divergence KL(P ‖ Q) of the current layout: exact over the sparse P, with the
    /// normalisation Z computed as the gradient computes it (by FFT interpolation as openTSNE
    /// does from 2,000 points on, exactly below that). Costs about one iteration.
    pub fn kl_divergence(&self) -> f64 {
        let mut forces = vec![[0.0; 2]; self.coords.len()];
        let mut repulsion = Repulsion::default();
        let coords = &self.coords;
        let affinities = &self.affinities;
        self.pool.install(|| {
            let z = repulsion.compute(coords, &mut forces);
            let log_z = z.max(f64::MIN_POSITIVE).ln();
            let partials: Vec<f64> = (0..coords.len())
                .collect::<Vec<_>>()
                .par_chunks(POINT_CHUNK)
                .map(|rows| {
                    let mut sum = 0.0;
                    for &i in rows {
                        let [xi, yi] = coords[i];
                        let range = affinities.row_start[i]..affinities.row_start[i + 1];
                        for (&j, &p) in affinities.columns[range.clone()]
                            .iter()
                            .zip(&affinities.values[range])
                        {
                            let [xj, yj] = coords[j as usize];
                            let (dx, dy) = (xi - xj, yi - yj);
                            let log_w = -(1.0 + dx * dx + dy * dy).ln();
                            if p > 0.0 {
                                sum += p * (p.ln() - log_w + log_z);
                            }
                        }
                    }
                    sum
                })
                .collect();
            partials.iter().sum()
        })
    }

    /// Out-of-sample placement of a new latent vector: from its nearest neighbours in the input
    /// space, as openTSNE's `transform` does (affinities to its nearest reference points, the
    /// position initialised at their weighted mean, then a short optimisation against the
    /// fixed layout). A vector of the wrong length or with a non-finite value gives NaN.
    pub fn place(&self, z: &[f32]) -> [f64; 2] {
        if z.len() != self.dim || z.iter().any(|v| !v.is_finite()) {
            return [f64::NAN; 2];
        }
        place::place(&self.references, &self.points, &self.coords, z)
    }
}

/// `Σ_j P_ij w_ij (y_i − y_j)` for point i.
fn attraction(affinities: &Affinities, coords: &[[f64; 2]], i: usize) -> [f64; 2] {
    let [xi, yi] = coords[i];
    let range = affinities.row_start[i]..affinities.row_start[i + 1];
    let (mut fx, mut fy) = (0.0, 0.0);
    for (&j, &p) in affinities.columns[range.clone()]
        .iter()
        .zip(&affinities.values[range])
    {
        let [xj, yj] = coords[j as usize];
        let (dx, dy) = (xi - xj, yi - yj);
        let pw = p / (1.0 + dx * dx + dy * dy);
        fx += pw * dx;
        fy += pw * dy;
    }
    [fx, fy]
}

/// -1, 0 or 1, with 0 for zero (numpy's `sign`, which the gains rule compares).
fn sign(v: f64) -> i8 {
    if v > 0.0 {
        1
    } else if v < 0.0 {
        -1
    } else {
        0
    }
}

/// The share of each point's k nearest neighbours in the input that are also among its k
/// nearest in the 2-D layout, averaged over the points (or over a seeded sample of `sample`
/// points for large N; exact neighbours, ties to the lower index).
///
/// Gives NaN when the layout's length does not match the input or k is not below N.
pub fn neighbourhood_preservation(
    points: &[f32],
    dim: usize,
    coords: &[[f64; 2]],
    k: usize,
    sample: Option<usize>,
    seed: u64,
) -> f64 {
    let n = coords.len();
    if dim == 0 || points.len() != n * dim || k == 0 || k >= n {
        return f64::NAN;
    }
    let queries: Vec<usize> = match sample {
        Some(s) if s < n => {
            let mut order: Vec<usize> = (0..n).collect();
            let mut rng = Rng::new(seed);
            // A partial Fisher-Yates shuffle: the first s entries are a uniform sample.
            for i in 0..s {
                let j = i + rng.below(n - i);
                order.swap(i, j);
            }
            let mut chosen = order[..s].to_vec();
            chosen.sort_unstable();
            chosen
        }
        _ => (0..n).collect(),
    };
    if queries.is_empty() {
        return f64::NAN;
    }

    let references = ReferenceBlocks::new(points, dim);
    let shares: Vec<f64> = queries
        .par_iter()
        .map(|&q| {
            let high =
                neighbours::nearest_to(&references, points, &points[q * dim..(q + 1) * dim], k + 1);
            let high: Vec<u32> = high
                .into_iter()
                .map(|t| t.1)
                .filter(|&j| j as usize != q)
                .take(k)
                .collect();
            let low = nearest_in_layout(coords, q, k);
            high.iter().filter(|j| low.contains(j)).count() as f64 / k as f64
        })
        .collect();
    shares.iter().sum::<f64>() / shares.len() as f64
}

/// The k nearest layout points of point q (itself excluded), ties to the lower index.
fn nearest_in_layout(coords: &[[f64; 2]], q: usize, k: usize) -> Vec<u32> {
    let [xq, yq] = coords[q];
    let mut all: Vec<(f64, u32)> = coords
        .iter()
        .enumerate()
        .filter(|&(j, _)| j != q)
        .map(|(j, &[x, y])| ((x - xq).powi(2) + (y - yq).powi(2), j as u32))
        .collect();
    let k = k.min(all.len());
    if k == 0 {
        return Vec::new();
    }
    all.select_nth_unstable_by(k - 1, |a, b| a.0.total_cmp(&b.0).then(a.1.cmp(&b.1)));
    all.truncate(k);
    all.into_iter().map(|t| t.1).collect()
}

#[cfg(test)]
mod tests;
