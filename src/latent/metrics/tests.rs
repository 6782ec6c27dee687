//! The metrics on synthetic encoders over the sprites' factor space, whose right answers are
//! known: a code that copies each factor into its own dimension, one that mixes them by a
//! random rotation, and pure noise.

use std::ops::ControlFlow;

use super::*;

/// The sprites' factors (as dSprites): shape, scale, orientation, position x, position y.
fn sprites() -> FactorSpace {
    FactorSpace::new(
        &["shape", "scale", "orientation", "position x", "position y"],
        &[3, 6, 40, 32, 32],
    )
}

/// Every synthetic code has this many dimensions.
const LATENT_DIM: usize = 10;

/// Standard deviation of the noise added to the factors' dimensions.
const SMALL_NOISE: f32 = 0.01;

/// Each factor index scaled to `[0, 1]`.
fn scaled(space: &FactorSpace, row: &[usize]) -> Vec<f32> {
    row.iter()
        .zip(&space.sizes)
        .map(|(&v, &size)| v as f32 / (size - 1) as f32)
        .collect()
}

type Encoder = Box<dyn FnMut(&[usize]) -> Result<Vec<f32>, String>>;

/// Dimensions 0 to 4 hold `mixing` (`5 × 5`, row-major) times the factors scaled to `[0, 1]`,
/// plus normal noise of deviation `noise`; dimensions 5 to 9 hold normal noise of deviation
/// `spare_noise`. Without noise it is a pure function of the factors.
fn linear_encoder(mixing: Vec<f32>, noise: f32, spare_noise: f32, seed: u64) -> Encoder {
    let space = sprites();
    let mut rng = Rng::new(seed);
    let mut normal = move |deviation: f32| {
        if deviation > 0.0 {
            deviation * rng.normal()
        } else {
            0.0
        }
    };
    Box::new(move |factors| {
        let mut codes = Vec::with_capacity(factors.len() / 5 * LATENT_DIM);
        for row in factors.chunks_exact(5) {
            let values = scaled(&space, row);
            for mixing_row in mixing.chunks_exact(5) {
                let mixed: f32 = mixing_row.iter().zip(&values).map(|(m, v)| m * v).sum();
                codes.push(mixed + normal(noise));
            }
            codes.extend((5..LATENT_DIM).map(|_| normal(spare_noise)));
        }
        Ok(codes)
    })
}

/// The `5 × 5` identity.
fn identity() -> Vec<f32> {
    (0..25)
        .map(|i| if i % 6 == 0 { 1.0 } else { 0.0 })
        .collect()
}

/// Each factor in its own dimension with a little noise; five more dimensions of pure noise.
fn copy_encoder(seed: u64) -> Encoder {
    linear_encoder(identity(), SMALL_NOISE, 1.0, seed)
}

/// The copy encoder with its five factor dimensions turned by a random rotation: as
/// informative, but every one of them mixes every factor.
fn rotated_encoder(seed: u64) -> Encoder {
    let rotation = random_rotation(&mut Rng::new(seed), 5);
    linear_encoder(rotation, SMALL_NOISE, 1.0, seed)
}

/// The copy encoder with position x and position y (equal spreads) turned by 45°, so that
/// dimensions 3 and 4 each hold half of both.
fn half_mixed_encoder(seed: u64) -> Encoder {
    let mut mixing = identity();
    let h = std::f32::consts::FRAC_1_SQRT_2;
    mixing[18..20].copy_from_slice(&[h, h]);
    mixing[23..25].copy_from_slice(&[h, -h]);
    linear_encoder(mixing, SMALL_NOISE, 1.0, seed)
}

/// A noise-free rotated code, zero in its spare dimensions.
fn exact_rotated_encoder(seed: u64) -> Encoder {
    let rotation = random_rotation(&mut Rng::new(seed), 5);
    linear_encoder(rotation, 0.0, 0.0, seed)
}

/// Standard normal noise, blind to the factors.
fn noise_encoder(seed: u64) -> Encoder {
    let mut rng = Rng::new(seed);
    Box::new(move |factors| {
        let observations = factors.len() / 5;
        Ok((0..observations * LATENT_DIM)
            .map(|_| rng.normal())
            .collect())
    })
}

/// A random orthogonal `dim × dim` matrix (row-major): Gram-Schmidt on Gaussian rows.
fn random_rotation(rng: &mut Rng, dim: usize) -> Vec<f32> {
    let mut rows: Vec<Vec<f64>> = Vec::new();
    while rows.len() < dim {
        let mut v: Vec<f64> = (0..dim).map(|_| f64::from(rng.normal())).collect();
        for r in &rows {
            let projection: f64 = v.iter().zip(r).map(|(a, b)| a * b).sum();
            v.iter_mut().zip(r).for_each(|(a, b)| *a -= projection * b);
        }
        let norm = v.iter().map(|a| a * a).sum::<f64>().sqrt();
        if norm > 1e-6 {
            rows.push(v.iter().map(|a| a / norm).collect());
        }
    }
    rows.iter().flatten().map(|&a| a as f32).collect()
}

fn no_progress() -> impl FnMut(&str, usize, usize) -> ControlFlow<()> {
    |_, _, _| ControlFlow::Continue(())
}

/// [`evaluate`] with the default settings, which must finish.
fn report_of(mut encoder: Encoder, settings: &MetricSettings) -> MetricReport {
    let outcome = evaluate(
        &sprites(),
        LATENT_DIM,
        settings,
        &mut encoder,
        &mut no_progress(),
    );
    match outcome {
        Ok(Some(report)) => report,
        Ok(None) => panic!("cancelled without being asked"),
        Err(error) => panic!("{error}"),
    }
}

/// The report of the copy encoder (seed 11) with the default settings, computed once for the
/// tests that compare with it.
fn copy_report() -> &'static MetricReport {
    static REPORT: std::sync::OnceLock<MetricReport> = std::sync::OnceLock::new();
    REPORT.get_or_init(|| report_of(copy_encoder(11), &MetricSettings::default()))
}

fn summary(report: &MetricReport) -> String {
    format!(
        "MIG {:.4}, FactorVAE {:.4} (active {}), β-VAE {:.4}, DCI D {:.4} C {:.4} I {:.4}",
        report.mig,
        report.factor_vae,
        report.factor_vae_details.active_dims.len(),
        report.beta_vae,
        report.dci_disentanglement,
        report.dci_completeness,
        report.dci_informativeness,
    )
}

/// Settings small enough for tests that check plumbing rather than values.
fn small_settings() -> MetricSettings {
    MetricSettings {
        train_points: 300,
        eval_points: 200,
        variance_points: 300,
        batch_size: 16,
        ..MetricSettings::default()
    }
}

#[test]
fn a_code_copying_each_factor_scores_near_one_on_every_metric() {
    let report = copy_report();
    let text = summary(report);
    eprintln!("copy: {text}");

    // 20 bins cap the gap of the 40- and 32-valued factors near 0.81 and 0.86.
    assert!(report.mig > 0.8, "{text}");
    assert!(report.factor_vae > 0.99, "{text}");
    assert!(report.beta_vae > 0.99, "{text}");
    assert!(report.dci_disentanglement > 0.95, "{text}");
    assert!(report.dci_completeness > 0.95, "{text}");
    assert!(report.dci_informativeness > 0.95, "{text}");
    assert_eq!(report.mig_details.best_dims, vec![0, 1, 2, 3, 4]);
    let predicted: Vec<Option<usize>> = report.factor_vae_details.dim_factors[..5].to_vec();
    assert_eq!(predicted, vec![Some(0), Some(1), Some(2), Some(3), Some(4)]);
}

#[test]
fn a_rotated_code_scores_lower_than_the_copy_on_every_metric() {
    let copy = copy_report();
    let rotations: Vec<MetricReport> = (1..=4)
        .map(|seed| report_of(rotated_encoder(seed), &MetricSettings::default()))
        .collect();
    let mut text = format!("copy: {}", summary(copy));
    for (seed, report) in (1..).zip(&rotations) {
        text += &format!("\nrotation {seed}: {}", summary(report));
    }
    eprintln!("{text}");

    // MIG and DCI look for axis alignment, so any rotation costs them most of their score.
    for rotated in &rotations {
        assert!(rotated.mig < 0.4, "{text}");
        assert!(rotated.dci_disentanglement < 0.65, "{text}");
        assert!(rotated.dci_completeness < 0.75, "{text}");
        // The rotation loses no information, only the alignment.
        assert!(rotated.dci_informativeness > 0.95, "{text}");
        assert!(rotated.factor_vae < copy.factor_vae, "{text}");
        assert!(rotated.beta_vae <= copy.beta_vae, "{text}");
    }
    // FactorVAE and β-VAE only ask whether the fixed factor can be recognised from how the
    // code varies, which a rotation mostly keeps: FactorVAE fails only where two factors pick
    // the same least-variance dimension, and β-VAE's linear classifier sees through most of
    // it. Over the four rotations they fall, but less.
    let mean = |score: fn(&MetricReport) -> f64| rotations.iter().map(score).sum::<f64>() / 4.0;
    assert!(mean(|r| r.factor_vae) < 0.9, "{text}");
    assert!(mean(|r| r.beta_vae) < 0.97, "{text}");
}

#[test]
fn mixing_two_factors_of_equal_spread_costs_every_metric() {
    // Fixing position x or position y then leaves dimensions 3 and 4 with the same variance
    // pattern, so no metric can tell the two factors apart from their dimensions.
    let report = report_of(half_mixed_encoder(14), &MetricSettings::default());
    let text = summary(&report);
    eprintln!("half mixed: {text}");

    let [.., gap_x, gap_y] = report.mig_details.per_factor[..] else {
        panic!("{text}");
    };
    assert!(gap_x < 0.05 && gap_y < 0.05, "{gap_x} {gap_y}");
    assert!(report.mig < 0.6, "{text}");
    // Two of five factors are confused half of the time: about 0.8.
    assert!((report.factor_vae - 0.8).abs() < 0.05, "{text}");
    assert!((report.beta_vae - 0.8).abs() < 0.05, "{text}");
    // Dimensions 3 and 4 serve two factors each: 1 − log₅ 2 ≈ 0.57.
    let dims = &report.dci_details.dim_disentanglement;
    assert!(dims[3] < 0.65 && dims[4] < 0.65, "{dims:?}");
    assert!(report.dci_disentanglement < 0.9, "{text}");
}

#[test]
fn a_code_of_pure_noise_scores_near_zero_or_chance() {
    let report = report_of(noise_encoder(13), &MetricSettings::default());
    let text = summary(&report);
    eprintln!("noise: {text}");

    assert!(report.mig < 0.01, "{text}");
    assert!(report.dci_disentanglement < 0.1, "{text}");
    assert!(report.dci_informativeness < 0.05, "{text}");
    // Chance is 1/5 for both classifiers.
    assert!((report.factor_vae - 0.2).abs() < 0.03, "{text}");
    assert!((report.beta_vae - 0.2).abs() < 0.03, "{text}");
}

#[test]
fn the_same_seed_gives_the_same_report() {
    let settings = small_settings();
    let first = report_of(rotated_encoder(3), &settings);
    let second = report_of(rotated_encoder(3), &settings);
    assert_eq!(first, second);

    let other_seed = MetricSettings {
        seed: 1,
        ..small_settings()
    };
    let third = report_of(rotated_encoder(3), &other_seed);
    assert_ne!(first, third);
}

/// The score of a computation that must finish.
fn unwrap<T: std::fmt::Debug>(outcome: Result<Option<T>, MetricError>) -> T {
    match outcome {
        Ok(Some(score)) => score,
        other => panic!("{other:?}"),
    }
}

#[test]
fn each_metric_alone_equals_its_value_in_the_full_report() {
    // Without noise the encoder is a pure function, so it gives the same codes however many
    // observations it encoded before.
    let settings = small_settings();
    let space = sprites();
    let full = report_of(exact_rotated_encoder(4), &settings);

    let mig = unwrap(compute_mig(
        &space,
        LATENT_DIM,
        &settings,
        &mut exact_rotated_encoder(4),
        &mut no_progress(),
    ));
    assert_eq!(mig, full.mig_details);
    let factor_vae = unwrap(compute_factor_vae(
        &space,
        LATENT_DIM,
        &settings,
        &mut exact_rotated_encoder(4),
        &mut no_progress(),
    ));
    assert_eq!(factor_vae, full.factor_vae_details);
    let dci = unwrap(compute_dci(
        &space,
        LATENT_DIM,
        &settings,
        &mut exact_rotated_encoder(4),
        &mut no_progress(),
    ));
    assert_eq!(dci, full.dci_details);
    let beta_vae = unwrap(compute_beta_vae(
        &space,
        LATENT_DIM,
        &settings,
        &mut exact_rotated_encoder(4),
        &mut no_progress(),
    ));
    assert_eq!(beta_vae, full.beta_vae_details);
}

#[test]
fn progress_counts_every_observation_up_to_its_total() {
    let settings = small_settings();
    let mut encoder = copy_encoder(5);
    let mut encoded = 0usize;
    let mut counting = |factors: &[usize]| {
        encoded += factors.len() / 5;
        encoder(factors)
    };
    let mut last = (String::new(), 0, 0);
    let mut stages = Vec::new();
    let mut progress = |stage: &str, done: usize, total: usize| {
        assert!(
            done >= last.1 && done <= total,
            "{done} after {} of {total}",
            last.1
        );
        if stages.last().is_none_or(|s: &String| s != stage) {
            stages.push(stage.to_owned());
        }
        last = (stage.to_owned(), done, total);
        ControlFlow::Continue(())
    };
    let outcome = evaluate(
        &sprites(),
        LATENT_DIM,
        &settings,
        &mut counting,
        &mut progress,
    );

    assert!(matches!(outcome, Ok(Some(_))), "{outcome:?}");
    assert_eq!(stages, ["MIG", "FactorVAE", "β-VAE", "DCI"]);
    assert_eq!(last.1, last.2);
    assert_eq!(last.1, encoded);
    // MIG 300, FactorVAE 300 + 500 × 16, β-VAE 500 × 32, DCI 500.
    assert_eq!(encoded, 300 + 300 + 8_000 + 16_000 + 500);
}

#[test]
fn cancelling_through_progress_returns_none_and_stops_encoding() {
    let mut calls = 0usize;
    let mut encoder = copy_encoder(6);
    let mut counting = |factors: &[usize]| {
        calls += 1;
        encoder(factors)
    };
    let mut progress = |stage: &str, _: usize, _: usize| {
        if stage == "FactorVAE" {
            ControlFlow::Break(())
        } else {
            ControlFlow::Continue(())
        }
    };
    let outcome = evaluate(
        &sprites(),
        LATENT_DIM,
        &small_settings(),
        &mut counting,
        &mut progress,
    );

    assert!(matches!(outcome, Ok(None)), "{outcome:?}");
    // MIG's 300 points in batches of 16, and not one call more.
    assert_eq!(calls, 19);
}

#[test]
fn cancelling_while_dci_fits_returns_none() {
    // Once everything is encoded, DCI still fits its regressors and keeps asking.
    let mut asked_while_fitting = 0;
    let mut progress = |stage: &str, done: usize, total: usize| {
        if stage == "DCI" && done == total {
            asked_while_fitting += 1;
            return ControlFlow::Break(());
        }
        ControlFlow::Continue(())
    };
    let outcome = compute_dci(
        &sprites(),
        LATENT_DIM,
        &small_settings(),
        &mut copy_encoder(10),
        &mut progress,
    );

    assert!(matches!(outcome, Ok(None)), "{outcome:?}");
    assert_eq!(asked_while_fitting, 1);
}

/// The error message of [`evaluate`] with a copy encoder, or a panic if it succeeds.
fn error_of(space: &FactorSpace, latent_dim: usize, settings: &MetricSettings) -> String {
    let mut encoder = copy_encoder(7);
    match evaluate(
        space,
        latent_dim,
        settings,
        &mut encoder,
        &mut no_progress(),
    ) {
        Err(error) => error.to_string(),
        Ok(_) => panic!("expected an error"),
    }
}

#[test]
fn zero_points_are_an_error_naming_the_setting() {
    let settings = MetricSettings {
        train_points: 0,
        ..MetricSettings::default()
    };
    assert_eq!(
        error_of(&sprites(), LATENT_DIM, &settings),
        "setting train_points is 0; it must be at least 1"
    );
    let settings = MetricSettings {
        batch_size: 1,
        ..MetricSettings::default()
    };
    assert_eq!(
        error_of(&sprites(), LATENT_DIM, &settings),
        "setting batch_size is 1; it must be at least 2"
    );
    let settings = MetricSettings {
        collapsed_std: f64::NAN,
        ..MetricSettings::default()
    };
    assert_eq!(
        error_of(&sprites(), LATENT_DIM, &settings),
        "setting collapsed_std is NaN; it must be a finite number of at least 0"
    );
}

#[test]
fn a_bad_factor_space_is_an_error_naming_the_factor() {
    let mut space = sprites();
    space.sizes[2] = 0;
    assert_eq!(
        error_of(&space, LATENT_DIM, &small_settings()),
        "factor \"orientation\" has 0 values; each factor needs at least 2"
    );
    space.names.pop();
    assert_eq!(
        error_of(&space, LATENT_DIM, &small_settings()),
        "factor space has 4 names for 5 factor sizes"
    );
    assert_eq!(
        error_of(
            &FactorSpace::new(&["shape"], &[3]),
            LATENT_DIM,
            &small_settings()
        ),
        "factor space has 1 factors; the metrics need at least 2"
    );
    assert_eq!(
        error_of(&sprites(), 0, &small_settings()),
        "latent dimension is 0; it must be at least 1"
    );
}

#[test]
fn an_encoder_returning_the_wrong_number_of_values_is_an_error_naming_both() {
    let mut encoder = copy_encoder(8);
    let mut short = |factors: &[usize]| {
        let mut codes = encoder(factors)?;
        codes.pop();
        Ok(codes)
    };
    let outcome = evaluate(
        &sprites(),
        LATENT_DIM,
        &small_settings(),
        &mut short,
        &mut no_progress(),
    );
    assert_eq!(
        outcome.err().map(|e| e.to_string()).as_deref(),
        Some(
            "encoder returned 159 values for 16 observations, expected 160 \
             (16 × latent dimension 10)"
        )
    );
}

#[test]
fn a_nan_code_is_an_error_naming_the_dimension_and_the_factors() {
    let mut poisoned = |factors: &[usize]| -> Result<Vec<f32>, String> {
        let mut codes = vec![0.5; factors.len() / 5 * LATENT_DIM];
        if factors.len() > 15 {
            // The fourth observation's dimension 2.
            codes[3 * LATENT_DIM + 2] = f32::NAN;
        }
        Ok(codes)
    };
    let outcome = evaluate(
        &sprites(),
        LATENT_DIM,
        &small_settings(),
        &mut poisoned,
        &mut no_progress(),
    );
    let Err(MetricError::NonFiniteCode {
        value,
        dim,
        factors,
    }) = outcome
    else {
        panic!("{outcome:?}");
    };
    assert!(value.is_nan());
    assert_eq!(dim, 2);
    assert_eq!(factors.len(), 5);
}

#[test]
fn an_encoder_failure_is_passed_on() {
    let mut failing = |_: &[usize]| -> Result<Vec<f32>, String> { Err("out of memory".into()) };
    let outcome = evaluate(
        &sprites(),
        LATENT_DIM,
        &small_settings(),
        &mut failing,
        &mut no_progress(),
    );
    assert_eq!(
        outcome.err().map(|e| e.to_string()).as_deref(),
        Some("encoder failed: out of memory")
    );
}

#[test]
fn collapsed_dimensions_are_left_out_of_the_factor_vae_vote() {
    // Dimensions 5 to 9 of this code are constant: collapsed to the prior.
    let score = compute_factor_vae(
        &sprites(),
        LATENT_DIM,
        &small_settings(),
        &mut linear_encoder(identity(), 0.0, 0.0, 9),
        &mut no_progress(),
    );
    let Ok(Some(score)) = score else {
        panic!("{score:?}");
    };
    assert_eq!(score.active_dims, vec![0, 1, 2, 3, 4]);
    assert_eq!(score.eval_accuracy, 1.0);
}

#[test]
#[ignore = "prints how long evaluate takes; run with --ignored --nocapture"]
fn evaluate_with_the_default_settings_reports_its_time() {
    for (name, encoder) in [
        ("copy", copy_encoder(1)),
        ("rotated", rotated_encoder(2)),
        ("noise", noise_encoder(3)),
    ] {
        let start = std::time::Instant::now();
        let report = report_of(encoder, &MetricSettings::default());
        let elapsed_secs = start.elapsed().as_secs_f64();
        eprintln!("{name}: {elapsed_secs:.2} s; {}", summary(&report));
    }
}
