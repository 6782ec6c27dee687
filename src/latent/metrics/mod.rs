//! The standard disentanglement metrics, measured on an encoder through a dataset whose true
//! factors of variation are known (such as the sprites: shape, scale, orientation, position x,
//! position y).
//!
//! The module knows nothing of models or images. The caller hands over the factor space (how
//! many values each discrete factor takes) and an [`EncodeFn`] that turns a batch of factor
//! combinations into the encoder's posterior means; everything else, sampling included, happens
//! here. All four metrics use the means, never samples of the posterior, and every random
//! choice comes from [`Rng`] seeded by [`MetricSettings::seed`], so a report is a pure function
//! of the settings and the encoder. Each metric draws from its own stream of that seed, so a
//! metric computed alone ([`compute_mig`], [`compute_factor_vae`], [`compute_beta_vae`],
//! [`compute_dci`]) equals the same metric inside [`evaluate`].
//!
//! The defaults follow disentanglement_lib, the library of Locatello et al., "Challenging
//! Common Assumptions in the Unsupervised Learning of Disentangled Representations" (ICML
//! 2019), whose settings most published numbers use. The tests in `reference.rs` compare MIG,
//! the β-VAE classifier and DCI's trees with that library's procedure run in Python.
//!
//! # MIG, the mutual information gap
//!
//! Chen et al., "Isolating Sources of Disentanglement in Variational Autoencoders" (NeurIPS
//! 2018). On `train_points` (10,000) combinations drawn uniformly from the factor space, each
//! latent dimension is cut into `mig_bins` (20) bins of equal width between its smallest and
//! largest value (disentanglement_lib's histogram discretiser). With `I(z_d; v_k)` the mutual
//! information between binned dimension `d` and factor `k`, and `H(v_k)` the factor's entropy
//! in the sample (both in nats),
//!
//! `MIG = 1/K Σ_k (I(z_(1); v_k) − I(z_(2); v_k)) / H(v_k)`
//!
//! where `z_(1)` and `z_(2)` are the dimensions sharing the most and second most information
//! with `v_k`. It lies in `[0, 1]`; 1 means every factor lives in one dimension alone. Binning
//! caps it below 1 for factors with more values than bins: a perfect code for a 32-valued
//! factor scores at most `ln 20 / ln 32 ≈ 0.86`. With a single latent dimension the second
//! largest information is taken as 0.
//!
//! # FactorVAE score
//!
//! Kim & Mnih, "Disentangling by Factorising" (ICML 2018). Each dimension is scaled by its
//! standard deviation over `variance_points` (10,000) random combinations, and dimensions with
//! a deviation below `collapsed_std` (0.05, as disentanglement_lib's `prune_dims.threshold`)
//! are dropped as collapsed to the prior. A vote fixes one factor, chosen at random, at a random
//! value, encodes `batch_size` (64) combinations that share it and are otherwise random, and
//! pairs the factor with the scaled dimension of least variance. A majority-vote classifier
//! (each dimension predicts the factor it was paired with most often) is built from
//! `train_points` (10,000) votes; the score is its accuracy on `eval_points` (5,000) new votes.
//! Chance is `1/K`. With no active dimension the score is 0, as in disentanglement_lib; a
//! dimension that received no training vote predicts nothing, so its evaluation votes count as
//! wrong.
//!
//! # β-VAE score
//!
//! Higgins et al., "β-VAE: Learning Basic Visual Concepts with a Constrained Variational
//! Framework" (ICLR 2017). A point fixes one factor at random and draws `batch_size` (64) pairs
//! of combinations that agree on that factor's value (each pair has its own value) and are
//! otherwise random; its feature is the mean absolute difference of the pairs' codes, one value
//! per dimension. A multinomial logistic regression learns to name the fixed factor from
//! `train_points` (10,000) points; the score is its accuracy on `eval_points` (5,000) new ones.
//! Chance is `1/K`. disentanglement_lib fits scikit-learn's `LogisticRegression` with its
//! defaults (L2 penalty with `C = 1`); here the same objective, `mean cross-entropy +
//! ‖W‖² / (2n)`, is minimised on standardised features by L-BFGS for at most 200 iterations,
//! which is deterministic and converges on these small problems (to within 1e-4 of
//! scikit-learn's weights on the reference test).
//!
//! # DCI disentanglement, completeness and informativeness
//!
//! Eastwood & Williams, "A Framework for the Quantitative Evaluation of Disentangled
//! Representations" (ICLR 2018). One regressor per factor predicts the factor from the code,
//! trained on `train_points` (10,000) random combinations and tested on `eval_points` (5,000)
//! more. The importance `R_dk` of dimension `d` for factor `k` is the regressor's normalised
//! feature importance. With `P_dk = R_dk / Σ_k R_dk`,
//!
//! - disentanglement `D = Σ_d ρ_d (1 − H_K(P_d·))`, with `ρ_d = Σ_k R_dk / Σ R` and `H_K` the
//!   entropy in base `K` (the number of factors): 1 when each dimension serves one factor;
//! - completeness `C = Σ_k ρ_k (1 − H_D(P̃_·k))`, the same read down the columns: `P̃_dk =
//!   R_dk / Σ_d R_dk`, `ρ_k = Σ_d R_dk / Σ R` and `H_D` in base `D`, the latent dimension
//!   (with one dimension it is 1): 1 when each factor uses one dimension;
//! - informativeness: the mean over factors of the held-out R², the share of the factor's
//!   variance the regressor explains (1 is perfect, 0 no better than the mean, below 0 worse).
//!
//! The regressor is gradient boosting of depth-3 regression trees on the squared error, with
//! scikit-learn's defaults (100 trees, learning rate 0.1, no subsampling) and its exact greedy
//! split search, so the importances are impurity importances as disentanglement_lib reads
//! them from its trees. The fit is deterministic: where two splits part the rows alike, the
//! lower dimension wins, where scikit-learn lets its `random_state` choose. Trees were chosen over lasso or random
//! forests because they are what disentanglement_lib uses, they need no tuning or scaling, and
//! they catch non-linear codes. One departure, for speed: the target is the factor's index
//! scaled to `[0, 1]` (regression, as in Eastwood & Williams' own paper) rather than
//! disentanglement_lib's `GradientBoostingClassifier`, which grows one tree per factor value per
//! round: 113 trees a round for the sprites instead of 5, over 20 times the work. The
//! importances, and so D and C, differ from the classifier's, and informativeness is an R²
//! rather than an accuracy, so these values are not comparable with DCI numbers published
//! from disentanglement_lib.
//!
//! The factors' regressors are fitted on parallel threads, one per core; each fit depends on
//! its factor alone, so the result does not depend on the threads' timing.

mod beta_vae;
mod boosting;
mod dci;
mod factor_vae;
mod logistic;
mod mig;
#[cfg(test)]
mod reference;
#[cfg(test)]
mod tests;

use std::ops::ControlFlow;

use crate::rng::Rng;

pub use beta_vae::{BetaVaeScore, compute_beta_vae};
pub use dci::{DciScore, compute_dci};
pub use factor_vae::{FactorVaeScore, compute_factor_vae};
pub use mig::{MigScore, compute_mig};

/// Encodes the observations of `factors` (`n × factor_count` indices, row by row) to their
/// posterior means (`n × latent_dim` values).
pub type EncodeFn<'a> = dyn FnMut(&[usize]) -> Result<Vec<f32>, String> + 'a;

/// Told `(stage, done, total)` when a stage starts, after every encoder call and between DCI's
/// fits, where `done` and `total` count observations over the whole computation;
/// [`ControlFlow::Break`] cancels it, and nothing more is encoded.
pub type ProgressFn<'a> = dyn FnMut(&str, usize, usize) -> ControlFlow<()> + 'a;

/// The discrete factors of variation of a dataset.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct FactorSpace {
    /// One name per factor, used in reports and errors.
    pub names: Vec<String>,
    /// How many values each factor takes; factor `k` takes the indices `0..sizes[k]`.
    pub sizes: Vec<usize>,
}

impl FactorSpace {
    /// A factor space from parallel lists of names and sizes.
    pub fn new(names: &[&str], sizes: &[usize]) -> Self {
        Self {
            names: names.iter().map(|n| (*n).to_owned()).collect(),
            sizes: sizes.to_vec(),
        }
    }

    /// The number of factors.
    pub fn factor_count(&self) -> usize {
        self.sizes.len()
    }

    /// Checks that the space has at least two factors, each with at least two values, and a
    /// name for each.
    pub fn validate(&self) -> Result<(), MetricError> {
        if self.names.len() != self.sizes.len() {
            return Err(MetricError::NameCountMismatch {
                names: self.names.len(),
                sizes: self.sizes.len(),
            });
        }
        if self.sizes.len() < 2 {
            return Err(MetricError::TooFewFactors {
                count: self.sizes.len(),
            });
        }
        for (name, &size) in self.names.iter().zip(&self.sizes) {
            if size < 2 {
                return Err(MetricError::FactorTooSmall {
                    name: name.clone(),
                    size,
                });
            }
        }
        Ok(())
    }

    /// The name of factor `k`, or `"?"` past the end.
    fn name(&self, k: usize) -> &str {
        self.names.get(k).map_or("?", String::as_str)
    }

    /// Appends `count` combinations drawn uniformly, row by row, to `out`.
    fn sample_into(&self, rng: &mut Rng, count: usize, out: &mut Vec<usize>) {
        for _ in 0..count {
            out.extend(self.sizes.iter().map(|&size| rng.below(size)));
        }
    }
}

/// How much to sample and how to score; the defaults are disentanglement_lib's.
#[derive(Debug, Clone, PartialEq)]
pub struct MetricSettings {
    /// Points for MIG, training votes of FactorVAE, training points of β-VAE and DCI (10,000).
    pub train_points: usize,
    /// Evaluation votes of FactorVAE, evaluation points of β-VAE and DCI (5,000).
    pub eval_points: usize,
    /// Points for FactorVAE's per-dimension scale (10,000).
    pub variance_points: usize,
    /// Observations per FactorVAE vote, pairs per β-VAE point, and the most observations per
    /// encoder call (64).
    pub batch_size: usize,
    /// Equal-width bins per latent dimension for MIG (20).
    pub mig_bins: usize,
    /// FactorVAE drops dimensions whose standard deviation is below this (0.05).
    pub collapsed_std: f64,
    /// Seed of every random choice.
    pub seed: u64,
}

impl Default for MetricSettings {
    fn default() -> Self {
        Self {
            train_points: 10_000,
            eval_points: 5_000,
            variance_points: 10_000,
            batch_size: 64,
            mig_bins: 20,
            collapsed_std: 0.05,
            seed: 0,
        }
    }
}

/// Every metric of one encoder, with the details behind each.
#[derive(Debug, Clone, PartialEq)]
pub struct MetricReport {
    /// Mutual information gap, in `[0, 1]`.
    pub mig: f64,
    /// FactorVAE score: evaluation accuracy of the majority-vote classifier.
    pub factor_vae: f64,
    /// β-VAE score: evaluation accuracy of the logistic regression.
    pub beta_vae: f64,
    /// DCI disentanglement, in `[0, 1]`.
    pub dci_disentanglement: f64,
    /// DCI completeness, in `[0, 1]`.
    pub dci_completeness: f64,
    /// DCI informativeness: mean held-out R² over factors.
    pub dci_informativeness: f64,
    /// MIG per factor and the mutual information behind it.
    pub mig_details: MigScore,
    /// FactorVAE accuracies, active dimensions and the classifier.
    pub factor_vae_details: FactorVaeScore,
    /// β-VAE accuracies.
    pub beta_vae_details: BetaVaeScore,
    /// DCI importance matrix and per-dimension, per-factor scores.
    pub dci_details: DciScore,
}

/// Why the metrics could not be computed.
#[derive(Debug, Clone, PartialEq, thiserror::Error)]
pub enum MetricError {
    /// The factor space names a different number of factors than it sizes.
    #[error("factor space has {names} names for {sizes} factor sizes")]
    NameCountMismatch {
        /// Number of names.
        names: usize,
        /// Number of sizes.
        sizes: usize,
    },
    /// Fewer than two factors, where every metric is trivial or undefined.
    #[error("factor space has {count} factors; the metrics need at least 2")]
    TooFewFactors {
        /// Number of factors.
        count: usize,
    },
    /// A factor that cannot vary.
    #[error("factor \"{name}\" has {size} values; each factor needs at least 2")]
    FactorTooSmall {
        /// The factor's name.
        name: String,
        /// Its number of values.
        size: usize,
    },
    /// A latent space without dimensions.
    #[error("latent dimension is 0; it must be at least 1")]
    NoLatentDims,
    /// A count in the settings below what the metric needs.
    #[error("setting {name} is {value}; it must be at least {minimum}")]
    SettingTooSmall {
        /// The field of [`MetricSettings`].
        name: &'static str,
        /// Its value.
        value: usize,
        /// The least allowed.
        minimum: usize,
    },
    /// A collapse threshold that is negative or not a number.
    #[error("setting collapsed_std is {value}; it must be a finite number of at least 0")]
    BadCollapsedStd {
        /// Its value.
        value: f64,
    },
    /// The encoder reported a failure.
    #[error("encoder failed: {message}")]
    Encoder {
        /// The encoder's message.
        message: String,
    },
    /// The encoder returned a batch of the wrong size.
    #[error(
        "encoder returned {found} values for {observations} observations, expected {expected} \
         ({observations} × latent dimension {latent_dim})"
    )]
    WrongCodeLength {
        /// Values returned.
        found: usize,
        /// Observations asked for.
        observations: usize,
        /// Values expected.
        expected: usize,
        /// The latent dimension.
        latent_dim: usize,
    },
    /// The encoder returned NaN or an infinity.
    #[error(
        "encoder returned {value} in dimension {dim} for the observation with factors {factors:?}"
    )]
    NonFiniteCode {
        /// The value.
        value: f32,
        /// Its latent dimension.
        dim: usize,
        /// The factor indices of the observation.
        factors: Vec<usize>,
    },
    /// A factor took one value in the whole sample, so its entropy or variance is 0.
    #[error(
        "factor \"{name}\" took a single value in all {points} points of {setting}; raise \
         {setting}"
    )]
    ConstantFactorSample {
        /// The factor's name.
        name: String,
        /// The sample's size.
        points: usize,
        /// The setting that sized the sample.
        setting: &'static str,
    },
}

/// Computes all four metrics of the encoder behind `encode`, whose codes have `latent_dim`
/// values, in the stages "MIG", "FactorVAE", "β-VAE" and "DCI". `Ok(None)` when cancelled
/// through `progress`.
///
/// With the default settings the encoder sees about 2.9 million observations, nearly all of
/// them for FactorVAE (970,000) and β-VAE (1,920,000). For an encoder that is a pure function
/// of the factors, each metric equals the one computed alone.
pub fn evaluate(
    space: &FactorSpace,
    latent_dim: usize,
    settings: &MetricSettings,
    encode: &mut EncodeFn<'_>,
    progress: &mut ProgressFn<'_>,
) -> Result<Option<MetricReport>, MetricError> {
    validate_inputs(space, latent_dim)?;
    mig::validate(settings)?;
    factor_vae::validate(settings)?;
    beta_vae::validate(settings)?;
    dci::validate(settings)?;

    let total = [
        mig::observation_count(settings),
        factor_vae::observation_count(settings),
        beta_vae::observation_count(settings),
        dci::observation_count(settings),
    ]
    .iter()
    .fold(0usize, |sum, &n| sum.saturating_add(n));
    let mut session = Session::new(encode, progress, space, latent_dim, total);

    let run = |session: &mut Session<'_, '_, '_>| -> Result<MetricReport, Halt> {
        let mig_details = mig::run(session, space, settings)?;
        let factor_vae_details = factor_vae::run(session, space, settings)?;
        let beta_vae_details = beta_vae::run(session, space, settings)?;
        let dci_details = dci::run(session, space, settings)?;
        Ok(MetricReport {
            mig: mig_details.score,
            factor_vae: factor_vae_details.eval_accuracy,
            beta_vae: beta_vae_details.eval_accuracy,
            dci_disentanglement: dci_details.disentanglement,
            dci_completeness: dci_details.completeness,
            dci_informativeness: dci_details.informativeness,
            mig_details,
            factor_vae_details,
            beta_vae_details,
            dci_details,
        })
    };
    finish(run(&mut session))
}

/// Checks what every metric needs of the factor space and the latent dimension.
fn validate_inputs(space: &FactorSpace, latent_dim: usize) -> Result<(), MetricError> {
    space.validate()?;
    if latent_dim == 0 {
        return Err(MetricError::NoLatentDims);
    }
    Ok(())
}

/// Fails when the setting `name` is below `minimum`.
fn require(name: &'static str, value: usize, minimum: usize) -> Result<(), MetricError> {
    if value < minimum {
        return Err(MetricError::SettingTooSmall {
            name,
            value,
            minimum,
        });
    }
    Ok(())
}

/// Why a computation stopped early.
#[derive(Debug)]
enum Halt {
    /// The progress callback asked to stop.
    Cancelled,
    /// Something was wrong.
    Failed(MetricError),
}

impl From<MetricError> for Halt {
    fn from(error: MetricError) -> Self {
        Self::Failed(error)
    }
}

/// Turns an internal outcome into the public one, where cancelling is not an error.
/// What distinguishes one metric: the settings it checks, the observations it encodes, and
/// its computation.
struct MetricSteps<T> {
    validate: fn(&MetricSettings) -> Result<(), MetricError>,
    observation_count: fn(&MetricSettings) -> usize,
    run: fn(&mut Session<'_, '_, '_>, &FactorSpace, &MetricSettings) -> Result<T, Halt>,
}

/// Computes one metric on its own: checks the inputs, opens a session sized for that metric
/// alone, and runs it; `Ok(None)` when cancelled.
fn compute_alone<T>(
    space: &FactorSpace,
    latent_dim: usize,
    settings: &MetricSettings,
    encode: &mut EncodeFn<'_>,
    progress: &mut ProgressFn<'_>,
    steps: MetricSteps<T>,
) -> Result<Option<T>, MetricError> {
    validate_inputs(space, latent_dim)?;
    (steps.validate)(settings)?;
    let total = (steps.observation_count)(settings);
    let mut session = Session::new(encode, progress, space, latent_dim, total);
    finish((steps.run)(&mut session, space, settings))
}

fn finish<T>(outcome: Result<T, Halt>) -> Result<Option<T>, MetricError> {
    match outcome {
        Ok(value) => Ok(Some(value)),
        Err(Halt::Cancelled) => Ok(None),
        Err(Halt::Failed(error)) => Err(error),
    }
}

/// The seeded generator of one metric; each metric has its own stream so that it gives the
/// same result alone as inside [`evaluate`].
fn stream_rng(seed: u64, stream: u64) -> Rng {
    Rng::new(seed ^ stream.wrapping_mul(0x9E37_79B9_7F4A_7C15))
}

/// The encoder and the progress callback of one computation, with the count of observations
/// encoded so far.
struct Session<'s, 'e, 'p> {
    encode: &'s mut EncodeFn<'e>,
    progress: &'s mut ProgressFn<'p>,
    factor_count: usize,
    latent_dim: usize,
    stage: &'static str,
    done: usize,
    total: usize,
}

impl<'s, 'e, 'p> Session<'s, 'e, 'p> {
    fn new(
        encode: &'s mut EncodeFn<'e>,
        progress: &'s mut ProgressFn<'p>,
        space: &FactorSpace,
        latent_dim: usize,
        total: usize,
    ) -> Self {
        Self {
            encode,
            progress,
            factor_count: space.factor_count(),
            latent_dim,
            stage: "",
            done: 0,
            total,
        }
    }

    /// Starts the stage `stage` and tells the callback.
    fn begin(&mut self, stage: &'static str) -> Result<(), Halt> {
        self.stage = stage;
        self.report()
    }

    /// Counts `observations` that will not be encoded (a stage that ended early), so that the
    /// progress still reaches its total.
    fn skip(&mut self, observations: usize) {
        self.done = self.done.saturating_add(observations).min(self.total);
    }

    /// Tells the callback where the computation stands; a chance to cancel.
    fn report(&mut self) -> Result<(), Halt> {
        match (self.progress)(self.stage, self.done, self.total) {
            ControlFlow::Continue(()) => Ok(()),
            ControlFlow::Break(()) => Err(Halt::Cancelled),
        }
    }

    /// Encodes the combinations `factors` (row by row) and checks what came back.
    fn encode(&mut self, factors: &[usize]) -> Result<Vec<f32>, Halt> {
        let observations = factors.len() / self.factor_count;
        let codes = (self.encode)(factors).map_err(|message| MetricError::Encoder { message })?;

        let expected = observations.saturating_mul(self.latent_dim);
        if codes.len() != expected {
            return Err(MetricError::WrongCodeLength {
                found: codes.len(),
                observations,
                expected,
                latent_dim: self.latent_dim,
            }
            .into());
        }
        if let Some(position) = codes.iter().position(|v| !v.is_finite()) {
            let row = position / self.latent_dim;
            let start = row * self.factor_count;
            return Err(MetricError::NonFiniteCode {
                value: codes[position],
                dim: position % self.latent_dim,
                factors: factors
                    .get(start..start + self.factor_count)
                    .unwrap_or_default()
                    .to_vec(),
            }
            .into());
        }

        self.done = self.done.saturating_add(observations);
        self.report()?;
        Ok(codes)
    }

    /// Draws `points` combinations uniformly and encodes them in batches of at most
    /// `batch_size`: the codes (`points × latent_dim`) and the combinations
    /// (`points × factor_count`).
    fn sample_codes(
        &mut self,
        space: &FactorSpace,
        rng: &mut Rng,
        points: usize,
        batch_size: usize,
    ) -> Result<(Vec<f32>, Vec<usize>), Halt> {
        let mut codes = Vec::new();
        let mut factors = Vec::new();
        let mut batch = Vec::new();
        let mut remaining = points;
        while remaining > 0 {
            let count = remaining.min(batch_size.max(1));
            batch.clear();
            space.sample_into(rng, count, &mut batch);
            codes.extend(self.encode(&batch)?);
            factors.extend_from_slice(&batch);
            remaining -= count;
        }
        Ok((codes, factors))
    }
}

/// The sample variance (divided by `n − 1`) of each of the `dim` columns of `rows`; 0 with fewer
/// than two rows.
fn column_variances(rows: &[f32], dim: usize) -> Vec<f64> {
    let n = rows.len() / dim.max(1);
    let mut mean = vec![0.0f64; dim];
    for row in rows.chunks_exact(dim.max(1)) {
        for (m, &v) in mean.iter_mut().zip(row) {
            *m += f64::from(v);
        }
    }
    mean.iter_mut().for_each(|m| *m /= n.max(1) as f64);

    let mut variance = vec![0.0f64; dim];
    for row in rows.chunks_exact(dim.max(1)) {
        for ((s, &v), m) in variance.iter_mut().zip(row).zip(&mean) {
            *s += (f64::from(v) - m).powi(2);
        }
    }
    if n < 2 {
        return vec![0.0; dim];
    }
    variance.iter().map(|s| s / (n - 1) as f64).collect()
}
