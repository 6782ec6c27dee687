//! A procedurally generated sprites dataset whose true factors are known, in the manner of
//! dSprites: 64×64 grey images of one white shape on black.
//!
//! Factors and their values (every image is a pure function of them):
//!
//! | factor | values | range |
//! | --- | --- | --- |
//! | shape | 3 | square, ellipse, heart |
//! | scale | 6 | 0.5 to 1.0, evenly spaced |
//! | orientation | 40 | 0 to 2π (exclusive), evenly spaced |
//! | position x | 32 | 0 to 1 of the free width, evenly spaced |
//! | position y | 32 | 0 to 1 of the free height, evenly spaced |
//!
//! At scale 1 a shape spans about a quarter of the image. Each pixel is the coverage of its
//! four sub-pixel samples (0, ¼, ½, ¾ or 1), so edges are anti-aliased but exact.

use super::Dataset;
use crate::rng::Rng;

/// Side of a sprite image in pixels.
pub const SIDE: usize = 64;

/// Number of values of each factor: shape, scale, orientation, position x, position y.
pub const FACTOR_SIZES: [usize; 5] = [3, 6, 40, 32, 32];

/// Names of the factors, in [`FACTOR_SIZES`] order.
pub const FACTOR_NAMES: [&str; 5] = ["shape", "scale", "orientation", "position x", "position y"];

/// Names of the shapes, in label order.
pub const SHAPE_NAMES: [&str; 3] = ["square", "ellipse", "heart"];

/// Half the side of a scale-1 shape, as a fraction of the image.
const BASE_HALF_SIZE: f32 = 0.125;

/// One combination of factor values, each an index below its [`FACTOR_SIZES`] entry.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Factors(pub [usize; 5]);

/// Whether the point `(u, v)` of a shape's own frame (unit half-size) is inside it.
fn inside(shape: usize, u: f32, v: f32) -> bool {
    match shape {
        0 => u.abs() <= 0.8 && v.abs() <= 0.8,
        1 => (u / 1.0).powi(2) + (v / 0.5).powi(2) <= 1.0,
        _ => {
            // The heart curve (x² + y² − 1)³ − x²y³ ≤ 0, scaled to about the same size, tip down.
            let (x, y) = (u * 1.2, v * 1.2 + 0.15);
            let a = x * x + y * y - 1.0;
            a * a * a - x * x * y * y * y <= 0.0
        }
    }
}

/// Draws the image of `factors` into `out` (`SIDE × SIDE` values in `[0, 1]`).
pub fn render(factors: Factors, out: &mut [f32]) {
    let [shape, scale, orientation, px, py] = factors.0;
    let scale = 0.5 + 0.5 * scale as f32 / (FACTOR_SIZES[1] - 1) as f32;
    let angle = std::f32::consts::TAU * orientation as f32 / FACTOR_SIZES[2] as f32;
    let half = BASE_HALF_SIZE * scale;
    // Centres leave room for the largest shape at every orientation.
    let margin = BASE_HALF_SIZE * 1.3;
    let position =
        |p: usize| margin + (1.0 - 2.0 * margin) * p as f32 / (FACTOR_SIZES[3] - 1) as f32;
    let (cx, cy) = (position(px), position(py));
    let (sin, cos) = angle.sin_cos();

    for (idx, value) in out.iter_mut().enumerate().take(SIDE * SIDE) {
        let (row, col) = (idx / SIDE, idx % SIDE);
        let mut covered = 0u8;
        for (dy, dx) in [(0.25, 0.25), (0.25, 0.75), (0.75, 0.25), (0.75, 0.75)] {
            let x = (col as f32 + dx) / SIDE as f32 - cx;
            let y = (row as f32 + dy) / SIDE as f32 - cy;
            // Into the shape's frame: rotate by −angle, then divide by its half-size.
            let u = (cos * x + sin * y) / half;
            let v = (-sin * x + cos * y) / half;
            covered += u8::from(inside(shape, u, -v));
        }
        *value = f32::from(covered) / 4.0;
    }
}

/// `count` sprites with factors drawn uniformly at random (seeded), labelled by shape.
pub fn dataset(count: usize, seed: u64) -> (Dataset, Vec<Factors>) {
    let mut rng = Rng::new(seed);
    let mut pixels = vec![0.0; count * SIDE * SIDE];
    let mut factors = Vec::with_capacity(count);
    for image in pixels.chunks_exact_mut(SIDE * SIDE) {
        let f = Factors(FACTOR_SIZES.map(|n| rng.below(n)));
        render(f, image);
        factors.push(f);
    }
    let dataset = Dataset {
        name: "sprites".into(),
        height: SIDE,
        width: SIDE,
        channels: 1,
        pixels,
        labels: factors.iter().map(|f| f.0[0] as u32).collect(),
        class_names: SHAPE_NAMES.iter().map(|s| s.to_string()).collect(),
        notes: Vec::new(),
        factors: Some(super::FactorTable {
            names: FACTOR_NAMES.iter().map(|s| s.to_string()).collect(),
            sizes: FACTOR_SIZES.to_vec(),
            values: factors.iter().flat_map(|f| f.0).collect(),
        }),
    };
    (dataset, factors)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn image(factors: [usize; 5]) -> Vec<f32> {
        let mut out = vec![0.0; SIDE * SIDE];
        render(Factors(factors), &mut out);
        out
    }

    fn area(pixels: &[f32]) -> f32 {
        pixels.iter().sum()
    }

    #[test]
    fn every_image_is_a_pure_function_of_its_factors() {
        assert_eq!(image([2, 3, 7, 10, 20]), image([2, 3, 7, 10, 20]));
        assert_ne!(image([2, 3, 7, 10, 20]), image([2, 3, 8, 10, 20]));
        let (a, fa) = dataset(5, 1);
        let (b, fb) = dataset(5, 1);
        assert_eq!(a.pixels, b.pixels);
        assert_eq!(fa, fb);
    }

    #[test]
    fn scale_grows_the_shape() {
        let small = area(&image([0, 0, 0, 16, 16]));
        let large = area(&image([0, 5, 0, 16, 16]));
        assert!(small > 10.0, "{small}");
        // Area grows with the square of the scale: 1.0² / 0.5² = 4.
        assert!((large / small - 4.0).abs() < 0.4, "{small} → {large}");
    }

    #[test]
    fn position_moves_the_shape_without_clipping_it() {
        let left = image([1, 5, 0, 0, 16]);
        let right = image([1, 5, 0, 31, 16]);
        let centre_x = |p: &[f32]| {
            let total = area(p);
            p.iter()
                .enumerate()
                .map(|(i, v)| (i % SIDE) as f32 * v)
                .sum::<f32>()
                / total
        };
        assert!(centre_x(&left) < 20.0 && centre_x(&right) > 44.0);
        assert!((area(&left) - area(&right)).abs() < 1.0);
    }

    #[test]
    fn the_three_shapes_differ() {
        let shapes: Vec<Vec<f32>> = (0..3).map(|s| image([s, 5, 0, 16, 16])).collect();
        assert_ne!(shapes[0], shapes[1]);
        assert_ne!(shapes[1], shapes[2]);
        assert!(shapes.iter().all(|s| area(s) > 40.0));
    }

    #[test]
    fn a_dataset_has_shape_labels() {
        let (data, factors) = dataset(50, 3);
        assert_eq!(data.len(), 50);
        assert_eq!(data.class_count(), 3);
        assert!(
            data.labels
                .iter()
                .zip(&factors)
                .all(|(&l, f)| l as usize == f.0[0])
        );
    }
}
