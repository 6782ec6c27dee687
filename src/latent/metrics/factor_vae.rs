//! The FactorVAE score (Kim & Mnih 2018); see the module docs for the definition.

use crate::rng::Rng;

use super::{
    EncodeFn, FactorSpace, Halt, MetricError, MetricSettings, MetricSteps, ProgressFn, Session,
    column_variances, compute_alone, require, stream_rng,
};

/// The FactorVAE score of an encoder, with the classifier behind it.
#[derive(Debug, Clone, PartialEq)]
pub struct FactorVaeScore {
    /// Share of evaluation votes the classifier gets right: the score.
    pub eval_accuracy: f64,
    /// Share of training votes the classifier gets right.
    pub train_accuracy: f64,
    /// Standard deviation of each dimension over the random combinations.
    pub global_std: Vec<f64>,
    /// The dimensions kept (standard deviation at least `collapsed_std`), ascending.
    pub active_dims: Vec<usize>,
    /// For each active dimension, the factor it predicts; `None` when no training vote chose
    /// it.
    pub dim_factors: Vec<Option<usize>>,
}

/// The random stream of the FactorVAE score.
const STREAM: u64 = 2;

/// Computes the FactorVAE score of the encoder behind `encode` alone; `Ok(None)` when
/// cancelled.
pub fn compute_factor_vae(
    space: &FactorSpace,
    latent_dim: usize,
    settings: &MetricSettings,
    encode: &mut EncodeFn<'_>,
    progress: &mut ProgressFn<'_>,
) -> Result<Option<FactorVaeScore>, MetricError> {
    let steps = MetricSteps {
        validate,
        observation_count,
        run,
    };
    compute_alone(space, latent_dim, settings, encode, progress, steps)
}

/// Checks the settings the FactorVAE score uses.
pub(super) fn validate(settings: &MetricSettings) -> Result<(), MetricError> {
    require("train_points", settings.train_points, 1)?;
    require("eval_points", settings.eval_points, 1)?;
    require("variance_points", settings.variance_points, 2)?;
    // A vote needs a variance, so at least two observations.
    require("batch_size", settings.batch_size, 2)?;
    if !(settings.collapsed_std.is_finite() && settings.collapsed_std >= 0.0) {
        return Err(MetricError::BadCollapsedStd {
            value: settings.collapsed_std,
        });
    }
    Ok(())
}

/// Observations the FactorVAE score encodes.
pub(super) fn observation_count(settings: &MetricSettings) -> usize {
    let votes = settings.train_points.saturating_add(settings.eval_points);
    votes
        .saturating_mul(settings.batch_size)
        .saturating_add(settings.variance_points)
}

/// Samples, encodes and scores.
pub(super) fn run(
    session: &mut Session<'_, '_, '_>,
    space: &FactorSpace,
    settings: &MetricSettings,
) -> Result<FactorVaeScore, Halt> {
    session.begin("FactorVAE")?;
    let mut rng = stream_rng(settings.seed, STREAM);
    let latent_dim = session.latent_dim;

    // The scale of each dimension, and which dimensions are alive.
    let (codes, _) = session.sample_codes(
        space,
        &mut rng,
        settings.variance_points,
        settings.batch_size,
    )?;
    let global_variance = column_variances(&codes, latent_dim);
    let global_std: Vec<f64> = global_variance.iter().map(|v| v.sqrt()).collect();
    let active_dims: Vec<usize> = (0..latent_dim)
        .filter(|&d| global_variance[d] > 0.0 && global_std[d] >= settings.collapsed_std)
        .collect();
    if active_dims.is_empty() {
        let votes = settings.train_points.saturating_add(settings.eval_points);
        session.skip(votes.saturating_mul(settings.batch_size));
        return Ok(FactorVaeScore {
            eval_accuracy: 0.0,
            train_accuracy: 0.0,
            global_std,
            active_dims,
            dim_factors: Vec::new(),
        });
    }
    let active_variance: Vec<f64> = active_dims.iter().map(|&d| global_variance[d]).collect();

    // The majority-vote classifier, then its accuracy on fresh votes.
    let mut voter = Voter {
        space,
        active_dims: &active_dims,
        active_variance: &active_variance,
        batch_size: settings.batch_size,
        rng: &mut rng,
    };
    let train_votes = voter.votes(session, settings.train_points)?;
    let dim_factors = majority(&train_votes, space.factor_count());
    let train_accuracy = accuracy(&train_votes, &dim_factors, space.factor_count());
    let eval_votes = voter.votes(session, settings.eval_points)?;
    let eval_accuracy = accuracy(&eval_votes, &dim_factors, space.factor_count());

    Ok(FactorVaeScore {
        eval_accuracy,
        train_accuracy,
        global_std,
        active_dims,
        dim_factors,
    })
}

/// What casting a vote needs.
struct Voter<'a> {
    space: &'a FactorSpace,
    active_dims: &'a [usize],
    active_variance: &'a [f64],
    batch_size: usize,
    rng: &'a mut Rng,
}

impl Voter<'_> {
    /// Casts `count` votes: counts, row-major `active dims × factors`, of how often a fixed
    /// factor left an active dimension with the least scaled variance.
    fn votes(
        &mut self,
        session: &mut Session<'_, '_, '_>,
        count: usize,
    ) -> Result<Vec<usize>, Halt> {
        let factor_count = self.space.factor_count();
        let mut votes = vec![0usize; self.active_dims.len() * factor_count];
        let mut batch = Vec::new();
        for _ in 0..count {
            let fixed = self.rng.below(factor_count);
            batch.clear();
            self.space
                .sample_into(self.rng, self.batch_size, &mut batch);
            let value = batch[fixed];
            batch
                .chunks_exact_mut(factor_count)
                .for_each(|row| row[fixed] = value);

            let codes = session.encode(&batch)?;
            let local_variance = column_variances(&codes, session.latent_dim);
            let dim =
                least_scaled_variance(&local_variance, self.active_dims, self.active_variance);
            votes[dim * factor_count + fixed] += 1;
        }
        Ok(votes)
    }
}

/// The position in `active_dims` of the dimension whose local variance, divided by its global
/// variance, is least; the first wins a tie.
fn least_scaled_variance(local: &[f64], active_dims: &[usize], global: &[f64]) -> usize {
    let mut best = (0, f64::INFINITY);
    for (i, (&d, g)) in active_dims.iter().zip(global).enumerate() {
        let scaled = local.get(d).copied().unwrap_or(f64::INFINITY) / g;
        if scaled < best.1 {
            best = (i, scaled);
        }
    }
    best.0
}

/// For each dimension (row of `votes`), the factor with the most votes (the first on a tie),
/// or `None` without votes.
fn majority(votes: &[usize], factor_count: usize) -> Vec<Option<usize>> {
    votes
        .chunks_exact(factor_count)
        .map(|row| {
            let mut best: Option<(usize, usize)> = None;
            for (k, &count) in row.iter().enumerate() {
                if count > 0 && best.is_none_or(|(_, most)| count > most) {
                    best = Some((k, count));
                }
            }
            best.map(|(k, _)| k)
        })
        .collect()
}

/// Share of `votes` whose factor is the one the classifier predicts for their dimension; 0
/// without votes.
fn accuracy(votes: &[usize], dim_factors: &[Option<usize>], factor_count: usize) -> f64 {
    let total: usize = votes.iter().sum();
    let correct: usize = votes
        .chunks_exact(factor_count)
        .zip(dim_factors)
        .filter_map(|(row, factor)| factor.and_then(|k| row.get(k)))
        .sum();
    if total == 0 {
        return 0.0;
    }
    correct as f64 / total as f64
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_majority_classifier_counts_votes_per_dimension() {
        // Three dimensions, two factors.
        let votes = [5, 1, 2, 2, 0, 0];
        let dim_factors = majority(&votes, 2);
        assert_eq!(dim_factors, vec![Some(0), Some(0), None]);
        let acc = accuracy(&votes, &dim_factors, 2);
        assert!((acc - 7.0 / 10.0).abs() < 1e-12, "{acc}");
    }

    #[test]
    fn the_least_variance_is_relative_to_the_global_scale() {
        // Dimension 2 has the smallest local variance but also the smallest scale.
        let local = [1.0, 0.5, 0.1];
        let pick = least_scaled_variance(&local, &[0, 1, 2], &[1.0, 10.0, 0.01]);
        assert_eq!(pick, 1);
    }
}
