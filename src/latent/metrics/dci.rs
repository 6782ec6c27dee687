//! DCI disentanglement, completeness and informativeness (Eastwood & Williams 2018); see the
//! module docs for the definitions and the choice of regressor.

use std::num::NonZeroUsize;
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::sync::mpsc;

use super::boosting::{BoostedTrees, Columns, DEFAULT_BOOSTING};
use super::{
    EncodeFn, FactorSpace, Halt, MetricError, MetricSettings, MetricSteps, ProgressFn, Session,
    compute_alone, require, stream_rng,
};

/// The DCI scores of an encoder, with the importance matrix behind them.
#[derive(Debug, Clone, PartialEq)]
pub struct DciScore {
    /// Disentanglement: each dimension serves one factor.
    pub disentanglement: f64,
    /// Completeness: each factor lives in one dimension.
    pub completeness: f64,
    /// Informativeness: the mean of `test_r_squared`.
    pub informativeness: f64,
    /// `R_dk`, row-major `latent_dim × factor_count`; each factor's column sums to 1, or is all
    /// 0 when its regressor found no useful split.
    pub importance: Vec<f64>,
    /// `1 − H_K(P_d·)` of each dimension.
    pub dim_disentanglement: Vec<f64>,
    /// `1 − H_D(P̃_·k)` of each factor.
    pub factor_completeness: Vec<f64>,
    /// R² of each factor's regressor on its training points.
    pub train_r_squared: Vec<f64>,
    /// R² of each factor's regressor on the held-out points.
    pub test_r_squared: Vec<f64>,
}

/// The random stream of DCI.
const STREAM: u64 = 4;

/// Computes the DCI scores of the encoder behind `encode` alone; `Ok(None)` when cancelled.
pub fn compute_dci(
    space: &FactorSpace,
    latent_dim: usize,
    settings: &MetricSettings,
    encode: &mut EncodeFn<'_>,
    progress: &mut ProgressFn<'_>,
) -> Result<Option<DciScore>, MetricError> {
    let steps = MetricSteps {
        validate,
        observation_count,
        run,
    };
    compute_alone(space, latent_dim, settings, encode, progress, steps)
}

/// Checks the settings DCI uses.
pub(super) fn validate(settings: &MetricSettings) -> Result<(), MetricError> {
    // An R² needs a variance, so at least two points on each side.
    require("train_points", settings.train_points, 2)?;
    require("eval_points", settings.eval_points, 2)?;
    require("batch_size", settings.batch_size, 1)
}

/// Observations DCI encodes.
pub(super) fn observation_count(settings: &MetricSettings) -> usize {
    settings.train_points.saturating_add(settings.eval_points)
}

/// Samples, encodes, fits one regressor per factor and scores.
pub(super) fn run(
    session: &mut Session<'_, '_, '_>,
    space: &FactorSpace,
    settings: &MetricSettings,
) -> Result<DciScore, Halt> {
    session.begin("DCI")?;
    let mut rng = stream_rng(settings.seed, STREAM);
    let latent_dim = session.latent_dim;

    let (train_codes, train_factors) =
        session.sample_codes(space, &mut rng, settings.train_points, settings.batch_size)?;
    let (test_codes, test_factors) =
        session.sample_codes(space, &mut rng, settings.eval_points, settings.batch_size)?;
    let mut between_fits = || session.report();
    from_codes(
        &Sample {
            codes: &train_codes,
            factors: &train_factors,
            setting: "train_points",
        },
        &Sample {
            codes: &test_codes,
            factors: &test_factors,
            setting: "eval_points",
        },
        space,
        latent_dim,
        &mut between_fits,
    )
}

/// Codes (`n × latent_dim`) with their combinations (`n × factor_count`).
pub(super) struct Sample<'a> {
    /// `n × latent_dim` posterior means.
    pub codes: &'a [f32],
    /// `n × factor_count` factor indices.
    pub factors: &'a [usize],
    /// The setting that sized the sample, for errors.
    pub setting: &'static str,
}

/// The DCI scores of regressors fitted on `train` and tested on `test`. The factors are fitted
/// on parallel threads; `between_fits` (a chance to cancel) is called on this one before the
/// first fit and after each.
pub(super) fn from_codes(
    train: &Sample<'_>,
    test: &Sample<'_>,
    space: &FactorSpace,
    latent_dim: usize,
    between_fits: &mut dyn FnMut() -> Result<(), Halt>,
) -> Result<DciScore, Halt> {
    between_fits()?;
    let factor_count = space.factor_count();
    let columns = Columns::new(train.codes, latent_dim);
    let fits = fit_all(&columns, train, test, space, between_fits)?;

    let mut importance = vec![0.0; latent_dim * factor_count];
    let mut train_r_squared = Vec::with_capacity(factor_count);
    let mut test_r_squared = Vec::with_capacity(factor_count);
    for (k, fit) in fits.iter().enumerate() {
        let train_r2 = fit.train_r_squared.ok_or_else(|| {
            constant_factor(space, k, train.factors.len() / factor_count, train.setting)
        })?;
        let test_r2 = fit.test_r_squared.ok_or_else(|| {
            constant_factor(space, k, test.factors.len() / factor_count, test.setting)
        })?;
        train_r_squared.push(train_r2);
        test_r_squared.push(test_r2);
        for (d, share) in fit.importance.iter().enumerate() {
            importance[d * factor_count + k] = *share;
        }
    }

    let dim_disentanglement = per_dim_disentanglement(&importance, factor_count);
    let factor_completeness = per_factor_completeness(&importance, factor_count);
    let informativeness = test_r_squared.iter().sum::<f64>() / factor_count as f64;
    Ok(DciScore {
        disentanglement: weighted_by_rows(&importance, factor_count, &dim_disentanglement),
        completeness: weighted_by_columns(&importance, factor_count, &factor_completeness),
        informativeness,
        importance,
        dim_disentanglement,
        factor_completeness,
        train_r_squared,
        test_r_squared,
    })
}

/// What one factor's regressor learnt.
#[derive(Debug, Clone, PartialEq)]
struct FactorFit {
    /// The share of the importance of each dimension; all 0 without a useful split.
    importance: Vec<f64>,
    /// `None` where the factor was constant.
    train_r_squared: Option<f64>,
    test_r_squared: Option<f64>,
}

/// Fits every factor, as many at once as there are cores. Each fit depends on nothing but its
/// factor, so the result is the same whatever the threads' timing.
fn fit_all(
    columns: &Columns,
    train: &Sample<'_>,
    test: &Sample<'_>,
    space: &FactorSpace,
    between_fits: &mut dyn FnMut() -> Result<(), Halt>,
) -> Result<Vec<FactorFit>, Halt> {
    let factor_count = space.factor_count();
    let workers = std::thread::available_parallelism()
        .map_or(1, NonZeroUsize::get)
        .min(factor_count);
    let next = AtomicUsize::new(0);
    let cancel = AtomicBool::new(false);
    let mut fits: Vec<Option<FactorFit>> = vec![None; factor_count];
    let mut halt = None;

    std::thread::scope(|scope| {
        let (sender, receiver) = mpsc::channel();
        for _ in 0..workers {
            let (sender, next, cancel) = (sender.clone(), &next, &cancel);
            scope.spawn(move || {
                loop {
                    let k = next.fetch_add(1, Ordering::Relaxed);
                    if k >= factor_count {
                        break;
                    }
                    let fit = fit_factor(columns, train, test, space, k, cancel);
                    if sender.send((k, fit)).is_err() {
                        break;
                    }
                }
            });
        }
        // Only the workers hold senders now, so the loop ends when they all have.
        drop(sender);
        for (k, fit) in receiver {
            if let Some(slot) = fits.get_mut(k) {
                *slot = fit;
            }
            if halt.is_none()
                && let Err(reason) = between_fits()
            {
                halt = Some(reason);
                cancel.store(true, Ordering::Relaxed);
            }
        }
    });

    if let Some(reason) = halt {
        return Err(reason);
    }
    // Without a cancel every fit finished.
    fits.into_iter()
        .map(|fit| fit.ok_or(Halt::Cancelled))
        .collect()
}

/// Fits factor `k`; `None` when cancelled.
fn fit_factor(
    columns: &Columns,
    train: &Sample<'_>,
    test: &Sample<'_>,
    space: &FactorSpace,
    k: usize,
    cancel: &AtomicBool,
) -> Option<FactorFit> {
    let factor_count = space.factor_count();
    let top = space.sizes.get(k).map_or(1.0, |&size| (size - 1) as f64);
    let scaled = |factors: &[usize]| -> Vec<f64> {
        let column = factors.iter().skip(k).step_by(factor_count);
        column.map(|&v| v as f64 / top).collect()
    };
    let (train_targets, test_targets) = (scaled(train.factors), scaled(test.factors));

    let (model, train_fit) = BoostedTrees::fit(columns, &train_targets, &DEFAULT_BOOSTING, cancel)?;
    let test_fit = model.predict(test.codes);
    let gains = model.importance();
    let total: f64 = gains.iter().sum();
    let importance = if total > 0.0 {
        gains.iter().map(|g| g / total).collect()
    } else {
        vec![0.0; gains.len()]
    };
    Some(FactorFit {
        importance,
        train_r_squared: r_squared(&train_targets, &train_fit),
        test_r_squared: r_squared(&test_targets, &test_fit),
    })
}

fn constant_factor(space: &FactorSpace, k: usize, points: usize, setting: &'static str) -> Halt {
    Halt::Failed(MetricError::ConstantFactorSample {
        name: space.name(k).to_owned(),
        points,
        setting,
    })
}

/// `1 − Σ SSE / Σ (y − ȳ)²`; `None` when the targets are all equal.
fn r_squared(targets: &[f64], predictions: &[f64]) -> Option<f64> {
    let mean = targets.iter().sum::<f64>() / targets.len().max(1) as f64;
    let spread: f64 = targets.iter().map(|y| (y - mean).powi(2)).sum();
    let error: f64 = targets
        .iter()
        .zip(predictions)
        .map(|(y, p)| (y - p).powi(2))
        .sum();
    (spread > 0.0).then(|| 1.0 - error / spread)
}

/// `1 − entropy(weights)` in base `base`, the weights normalised after adding 1e-11 to each
/// (as disentanglement_lib, so an all-zero row counts as uniform); 1 with a single weight.
fn one_minus_entropy(weights: impl Iterator<Item = f64> + Clone, base: usize) -> f64 {
    if base < 2 {
        return 1.0;
    }
    let total: f64 = weights.clone().map(|w| w + 1e-11).sum();
    let entropy: f64 = weights
        .map(|w| (w + 1e-11) / total)
        .map(|p| -p * p.ln())
        .sum();
    1.0 - entropy / (base as f64).ln()
}

/// `1 − H_K(P_d·)` of each row (dimension) of `importance` (`rows × factor_count`).
fn per_dim_disentanglement(importance: &[f64], factor_count: usize) -> Vec<f64> {
    importance
        .chunks_exact(factor_count)
        .map(|row| one_minus_entropy(row.iter().copied(), factor_count))
        .collect()
}

/// `1 − H_D(P̃_·k)` of each column (factor) of `importance` (`D × factor_count`).
fn per_factor_completeness(importance: &[f64], factor_count: usize) -> Vec<f64> {
    let dims = importance.len() / factor_count;
    (0..factor_count)
        .map(|k| {
            let column = importance.iter().skip(k).step_by(factor_count).copied();
            one_minus_entropy(column, dims)
        })
        .collect()
}

/// `Σ_d ρ_d score_d` with `ρ_d` the share of the importance in row `d` (uniform when the
/// matrix is all 0).
fn weighted_by_rows(importance: &[f64], factor_count: usize, scores: &[f64]) -> f64 {
    let total: f64 = importance.iter().sum();
    let rows = scores.len().max(1) as f64;
    importance
        .chunks_exact(factor_count)
        .zip(scores)
        .map(|(row, score)| {
            let weight = if total > 0.0 {
                row.iter().sum::<f64>() / total
            } else {
                1.0 / rows
            };
            weight * score
        })
        .sum()
}

/// `Σ_k ρ_k score_k` with `ρ_k` the share of the importance in column `k` (uniform when the
/// matrix is all 0).
fn weighted_by_columns(importance: &[f64], factor_count: usize, scores: &[f64]) -> f64 {
    let total: f64 = importance.iter().sum();
    scores
        .iter()
        .enumerate()
        .map(|(k, score)| {
            let column: f64 = importance.iter().skip(k).step_by(factor_count).sum();
            let weight = if total > 0.0 {
                column / total
            } else {
                1.0 / factor_count as f64
            };
            weight * score
        })
        .sum()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn scores(importance: &[f64], factor_count: usize) -> (f64, f64) {
        let d = per_dim_disentanglement(importance, factor_count);
        let c = per_factor_completeness(importance, factor_count);
        (
            weighted_by_rows(importance, factor_count, &d),
            weighted_by_columns(importance, factor_count, &c),
        )
    }

    #[test]
    fn a_diagonal_importance_matrix_is_disentangled_and_complete() {
        // Three dimensions, two factors, the third dimension unused.
        let (d, c) = scores(&[1.0, 0.0, 0.0, 1.0, 0.0, 0.0], 2);
        assert!((d - 1.0).abs() < 1e-6, "{d}");
        assert!((c - 1.0).abs() < 1e-6, "{c}");
    }

    #[test]
    fn a_uniform_importance_matrix_scores_zero() {
        let (d, c) = scores(&[0.25; 8], 2);
        assert!(d.abs() < 1e-9, "{d}");
        assert!(c.abs() < 1e-9, "{c}");
    }

    #[test]
    fn one_dimension_serving_two_factors_is_complete_but_not_disentangled() {
        let (d, c) = scores(&[1.0, 1.0, 0.0, 0.0], 2);
        assert!(d.abs() < 1e-9, "{d}");
        assert!((c - 1.0).abs() < 1e-6, "{c}");
    }

    #[test]
    fn r_squared_is_one_for_a_perfect_fit_and_zero_for_the_mean() {
        let targets = [0.0, 1.0, 2.0];
        assert_eq!(r_squared(&targets, &targets), Some(1.0));
        assert_eq!(r_squared(&targets, &[1.0, 1.0, 1.0]), Some(0.0));
        assert_eq!(r_squared(&[1.0, 1.0], &[1.0, 1.0]), None);
    }
}
