use std::ops::ControlFlow;

use super::*;

/// `clusters` Gaussian blobs of `per_cluster` points in `dim` dimensions, centres 20 apart on
/// the axes, unit spread; returns the values and each point's label.
fn blobs(clusters: usize, per_cluster: usize, dim: usize, seed: u64) -> (Vec<f32>, Vec<usize>) {
    let mut rng = Rng::new(seed);
    let mut values = Vec::new();
    let mut labels = Vec::new();
    for i in 0..clusters * per_cluster {
        let label = i % clusters;
        for d in 0..dim {
            let centre = if d == label % dim { 20.0 } else { 0.0 };
            values.push(centre + rng.normal());
        }
        labels.push(label);
    }
    (values, labels)
}

fn keep_going(_: &str, _: usize, _: usize) -> ControlFlow<()> {
    ControlFlow::Continue(())
}

fn small_params(seed: u64, threads: usize) -> TsneParams {
    TsneParams {
        perplexity: 10.0,
        iterations: 300,
        early_exaggeration_iterations: 100,
        seed,
        threads,
        ..TsneParams::default()
    }
}

fn started(points: &[f32], dim: usize, params: &TsneParams) -> Tsne {
    match Tsne::new(points, dim, params, &mut keep_going) {
        Ok(Some(tsne)) => tsne,
        Ok(None) => panic!("cancelled without being asked"),
        Err(e) => panic!("{e}"),
    }
}

fn finished(points: &[f32], dim: usize, params: &TsneParams) -> Tsne {
    let mut tsne = started(points, dim, params);
    tsne.step(usize::MAX);
    tsne
}

#[test]
fn the_same_seed_gives_identical_coordinates() {
    let (points, _) = blobs(3, 40, 5, 1);
    let a = finished(&points, 5, &small_params(7, 1));
    let b = finished(&points, 5, &small_params(7, 1));
    assert_eq!(a.coords(), b.coords());
    assert!(a.is_done() && a.iteration() == 300);
}

#[test]
fn the_thread_count_does_not_change_the_coordinates() {
    let (points, _) = blobs(3, 40, 5, 1);
    let one = finished(&points, 5, &small_params(7, 1));
    let three = finished(&points, 5, &small_params(7, 3));
    assert_eq!(one.coords(), three.coords());
}

#[test]
fn well_separated_clusters_stay_separated() {
    let (points, labels) = blobs(4, 60, 10, 2);
    let tsne = finished(&points, 10, &small_params(3, 2));
    let coords = tsne.coords();
    for (i, &[x, y]) in coords.iter().enumerate() {
        let nearest = (0..coords.len())
            .filter(|&j| j != i)
            .min_by(|&a, &b| {
                let da = (coords[a][0] - x).powi(2) + (coords[a][1] - y).powi(2);
                let db = (coords[b][0] - x).powi(2) + (coords[b][1] - y).powi(2);
                da.total_cmp(&db)
            })
            .unwrap_or(i);
        assert_eq!(
            labels[nearest], labels[i],
            "point {i}'s nearest is {nearest}"
        );
    }
}

#[test]
fn a_perplexity_too_large_for_the_points_is_refused() {
    let (points, _) = blobs(2, 50, 3, 4);
    let params = TsneParams {
        perplexity: 50.0,
        ..TsneParams::default()
    };
    let message = Tsne::new(&points, 3, &params, &mut keep_going)
        .err()
        .map(|e| e.to_string());
    assert_eq!(
        message.as_deref(),
        Some("perplexity 50 needs at least 151 points (3·perplexity + 1), got 100")
    );
}

#[test]
fn a_nan_row_is_refused_by_its_number() {
    let (mut points, _) = blobs(2, 50, 3, 4);
    points[17 * 3 + 2] = f32::NAN;
    let message = Tsne::new(&points, 3, &small_params(0, 1), &mut keep_going)
        .err()
        .map(|e| e.to_string());
    assert_eq!(
        message.as_deref(),
        Some("row 17 holds a non-finite value (NaN) at dimension 2; leave such rows out")
    );
}

#[test]
fn invalid_parameters_are_refused_with_their_values() {
    let (points, _) = blobs(2, 50, 3, 4);
    let cases = [
        (
            TsneParams {
                learning_rate: Some(-1.0),
                ..small_params(0, 1)
            },
            "learning rate must be a positive finite number, got -1",
        ),
        (
            TsneParams {
                early_exaggeration: f64::NAN,
                ..small_params(0, 1)
            },
            "early exaggeration must be a finite number of at least 1, got NaN",
        ),
        (
            TsneParams {
                iterations: 0,
                ..small_params(0, 1)
            },
            "iterations must be at least 1, got 0",
        ),
        (
            TsneParams {
                momentum: 1.0,
                ..small_params(0, 1)
            },
            "momentum must lie in [0, 1), got 1",
        ),
        (
            TsneParams {
                perplexity: 0.5,
                ..small_params(0, 1)
            },
            "perplexity must be a finite number of at least 1, got 0.5",
        ),
    ];
    for (params, expected) in cases {
        let message = Tsne::new(&points, 3, &params, &mut keep_going)
            .err()
            .map(|e| e.to_string());
        assert_eq!(message.as_deref(), Some(expected));
    }
}

#[test]
fn placing_a_point_of_the_data_lands_next_to_it() {
    let (points, _) = blobs(4, 60, 10, 5);
    let tsne = finished(&points, 10, &small_params(1, 2));
    let coords = tsne.coords();
    for i in [0, 37, 121, 239] {
        let placed = tsne.place(&points[i * 10..(i + 1) * 10]);
        let distance = |c: [f64; 2]| (c[0] - placed[0]).hypot(c[1] - placed[1]);
        let own = distance(coords[i]);
        let closer_others = coords.iter().filter(|&&c| distance(c) < own).count();
        assert!(
            closer_others * 100 <= coords.len(),
            "point {i}: {closer_others} of {} points are closer to its placement",
            coords.len()
        );
    }
}

#[test]
fn placing_a_vector_of_the_wrong_length_gives_nan() {
    let (points, _) = blobs(2, 50, 3, 4);
    let tsne = started(&points, 3, &small_params(0, 1));
    assert!(tsne.place(&[0.0, 1.0]).iter().all(|v| v.is_nan()));
}

#[test]
fn the_kl_divergence_falls_over_the_run() {
    let (points, _) = blobs(4, 60, 10, 6);
    let mut tsne = started(&points, 10, &small_params(2, 2));
    let start = tsne.kl_divergence();
    tsne.step(100);
    let after_exaggeration = tsne.kl_divergence();
    tsne.step(usize::MAX);
    let end = tsne.kl_divergence();
    assert!(
        end < after_exaggeration && after_exaggeration < start,
        "{start} {after_exaggeration} {end}"
    );
}

#[test]
fn cancelling_through_the_progress_callback_returns_none() {
    let (points, _) = blobs(4, 60, 10, 6);
    let mut calls = 0;
    let mut cancel = |_: &str, _: usize, _: usize| {
        calls += 1;
        ControlFlow::Break(())
    };
    let result = Tsne::new(&points, 10, &small_params(2, 1), &mut cancel);
    assert!(matches!(result, Ok(None)));
    assert_eq!(calls, 1);
}

#[test]
fn preservation_is_complete_for_a_layout_equal_to_the_input() {
    let (points, _) = blobs(3, 40, 2, 8);
    let coords: Vec<[f64; 2]> = points
        .chunks(2)
        .map(|r| [f64::from(r[0]), f64::from(r[1])])
        .collect();
    assert_eq!(
        neighbourhood_preservation(&points, 2, &coords, 10, None, 0),
        1.0
    );
    assert_eq!(
        neighbourhood_preservation(&points, 2, &coords, 10, Some(30), 0),
        1.0
    );
    let shuffled: Vec<[f64; 2]> = coords.iter().rev().copied().collect();
    assert!(neighbourhood_preservation(&points, 2, &shuffled, 10, None, 0) < 0.3);
}
