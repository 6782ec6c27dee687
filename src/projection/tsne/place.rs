//! Out-of-sample placement, after openTSNE's `transform`: affinities of the new vector to its
//! nearest reference rows (perplexity 5 over 15 neighbours), a start at their affinity-weighted
//! mean, then a short gradient descent of that one point against the fixed layout, with
//! exaggeration 1.5, gradient clipping and gains as openTSNE uses for new points.
//!
//! The repulsion is summed exactly over all reference points (a point alone against N others
//! costs O(N) per iteration; no grid is needed), so the result is deterministic and needs no
//! state from the last iteration.

use super::affinity::conditional_row;
use super::neighbours::{ReferenceBlocks, nearest_to};
use super::sign;

/// Perplexity of a placed point's affinities (openTSNE's `transform` default).
const PERPLEXITY: f64 = 5.0;
/// Neighbours a placed point looks at: 3 · perplexity.
const NEIGHBOURS: usize = 15;
/// Gradient steps. The weighted mean is already close, so a few dozen suffice and keep a
/// placement cheap enough to run every frame.
const ITERATIONS: usize = 40;
/// Step size (openTSNE's `transform` default).
const LEARNING_RATE: f64 = 0.1;
/// Attraction factor (openTSNE's `transform` default).
const EXAGGERATION: f64 = 1.5;
/// Momentum (openTSNE's `transform` default).
const MOMENTUM: f64 = 0.8;
/// Longest gradient allowed (openTSNE's `max_grad_norm` for new points).
const MAX_GRADIENT: f64 = 0.25;
/// Gains never fall below this.
const MIN_GAIN: f64 = 0.01;

/// The layout position of `z` among `coords`, the layout of the rows `points`.
pub(super) fn place(
    references: &ReferenceBlocks,
    points: &[f32],
    coords: &[[f64; 2]],
    z: &[f32],
) -> [f64; 2] {
    let k = NEIGHBOURS.min(coords.len());
    let near = nearest_to(references, points, z, k);
    let sq_distances: Vec<f64> = near.iter().map(|t| t.0).collect();
    let mut p = vec![0.0; near.len()];
    conditional_row(&sq_distances, PERPLEXITY.min(near.len() as f64), &mut p);
    let neighbours: Vec<([f64; 2], f64)> = near
        .iter()
        .zip(&p)
        .map(|(t, &p)| (coords[t.1 as usize], p))
        .collect();

    let mut y = neighbours.iter().fold([0.0; 2], |acc, (c, p)| {
        [acc[0] + p * c[0], acc[1] + p * c[1]]
    });
    let mut update = [0.0f64; 2];
    let mut gains = [1.0f64; 2];
    for _ in 0..ITERATIONS {
        let mut gradient = gradient_at(y, &neighbours, coords);
        let length = gradient[0].hypot(gradient[1]);
        if length > MAX_GRADIENT {
            gradient = gradient.map(|g| g * MAX_GRADIENT / length);
        }
        for d in 0..2 {
            gains[d] = if sign(update[d]) != sign(gradient[d]) {
                gains[d] + 0.2
            } else {
                gains[d] * 0.8 + MIN_GAIN
            };
            update[d] = MOMENTUM * update[d] - LEARNING_RATE * gains[d] * gradient[d];
            y[d] += update[d];
        }
    }
    y
}

/// The gradient (without its factor 4) of the point's KL term at `y`: exaggerated attraction to
/// its neighbours minus the repulsion of every layout point, normalised over the layout.
fn gradient_at(y: [f64; 2], neighbours: &[([f64; 2], f64)], coords: &[[f64; 2]]) -> [f64; 2] {
    let mut attraction = [0.0; 2];
    for &([x, yy], p) in neighbours {
        let (dx, dy) = (y[0] - x, y[1] - yy);
        let pw = p / (1.0 + dx * dx + dy * dy);
        attraction[0] += pw * dx;
        attraction[1] += pw * dy;
    }
    let (mut rx, mut ry, mut z) = (0.0, 0.0, 0.0);
    for &[x, yy] in coords {
        let (dx, dy) = (y[0] - x, y[1] - yy);
        let w = 1.0 / (1.0 + dx * dx + dy * dy);
        z += w;
        rx += w * w * dx;
        ry += w * w * dy;
    }
    let z = z.max(f64::MIN_POSITIVE);
    [
        EXAGGERATION * attraction[0] - rx / z,
        EXAGGERATION * attraction[1] - ry / z,
    ]
}
