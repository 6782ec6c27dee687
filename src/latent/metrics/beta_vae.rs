//! The β-VAE score (Higgins et al. 2017); see the module docs for the definition.

use crate::rng::Rng;

use super::logistic::LogisticModel;
use super::{
    EncodeFn, FactorSpace, Halt, MetricError, MetricSettings, MetricSteps, ProgressFn, Session,
    compute_alone, require, stream_rng,
};

/// The β-VAE score of an encoder.
#[derive(Debug, Clone, PartialEq)]
pub struct BetaVaeScore {
    /// Share of evaluation points whose fixed factor the classifier names: the score.
    pub eval_accuracy: f64,
    /// Share of training points whose fixed factor the classifier names.
    pub train_accuracy: f64,
}

/// The random stream of the β-VAE score.
const STREAM: u64 = 3;

/// Computes the β-VAE score of the encoder behind `encode` alone; `Ok(None)` when cancelled.
pub fn compute_beta_vae(
    space: &FactorSpace,
    latent_dim: usize,
    settings: &MetricSettings,
    encode: &mut EncodeFn<'_>,
    progress: &mut ProgressFn<'_>,
) -> Result<Option<BetaVaeScore>, MetricError> {
    let steps = MetricSteps {
        validate,
        observation_count,
        run,
    };
    compute_alone(space, latent_dim, settings, encode, progress, steps)
}

/// Checks the settings the β-VAE score uses.
pub(super) fn validate(settings: &MetricSettings) -> Result<(), MetricError> {
    require("train_points", settings.train_points, 1)?;
    require("eval_points", settings.eval_points, 1)?;
    require("batch_size", settings.batch_size, 1)
}

/// Observations the β-VAE score encodes: two per pair.
pub(super) fn observation_count(settings: &MetricSettings) -> usize {
    let points = settings.train_points.saturating_add(settings.eval_points);
    points.saturating_mul(settings.batch_size).saturating_mul(2)
}

/// Samples, encodes and scores.
pub(super) fn run(
    session: &mut Session<'_, '_, '_>,
    space: &FactorSpace,
    settings: &MetricSettings,
) -> Result<BetaVaeScore, Halt> {
    session.begin("β-VAE")?;
    let mut rng = stream_rng(settings.seed, STREAM);
    let (latent_dim, factor_count) = (session.latent_dim, space.factor_count());

    let (train_features, train_labels) = points(
        session,
        space,
        &mut rng,
        settings.batch_size,
        settings.train_points,
    )?;
    let model = LogisticModel::fit(&train_features, &train_labels, latent_dim, factor_count);
    let (eval_features, eval_labels) = points(
        session,
        space,
        &mut rng,
        settings.batch_size,
        settings.eval_points,
    )?;

    Ok(BetaVaeScore {
        eval_accuracy: model.accuracy(&eval_features, &eval_labels),
        train_accuracy: model.accuracy(&train_features, &train_labels),
    })
}

/// Draws `count` points: their features (`count × latent_dim`) and fixed factors.
fn points(
    session: &mut Session<'_, '_, '_>,
    space: &FactorSpace,
    rng: &mut Rng,
    batch_size: usize,
    count: usize,
) -> Result<(Vec<f64>, Vec<usize>), Halt> {
    let (latent_dim, factor_count) = (session.latent_dim, space.factor_count());
    let mut features = Vec::new();
    let mut labels = Vec::new();
    let mut first = Vec::new();
    let mut second = Vec::new();

    for _ in 0..count {
        // Each pair shares the fixed factor's value; pairs differ from each other.
        let fixed = rng.below(factor_count);
        first.clear();
        second.clear();
        space.sample_into(rng, batch_size, &mut first);
        space.sample_into(rng, batch_size, &mut second);
        for (a, b) in first
            .chunks_exact(factor_count)
            .zip(second.chunks_exact_mut(factor_count))
        {
            b[fixed] = a[fixed];
        }

        let first_codes = session.encode(&first)?;
        let second_codes = session.encode(&second)?;
        let mut feature = vec![0.0f64; latent_dim];
        for (a, b) in first_codes
            .chunks_exact(latent_dim)
            .zip(second_codes.chunks_exact(latent_dim))
        {
            for ((f, x), y) in feature.iter_mut().zip(a).zip(b) {
                *f += (f64::from(*x) - f64::from(*y)).abs();
            }
        }
        features.extend(feature.iter().map(|f| f / batch_size as f64));
        labels.push(fixed);
    }
    Ok((features, labels))
}
