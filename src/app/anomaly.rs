//! Anomaly scores of the dataset, the threshold the user chose, one checked image, and the
//! generated variations. Plain state with no drawing.

use std::ops::ControlFlow;
use std::path::Path;
use std::sync::Arc;

use super::jobs::JobContext;
use crate::data::convert::{convert_image, describe_conversion};
use crate::data::{Dataset, ImageShape};
use crate::latent::{Mahalanobis, Score, ScoreTerms, anomaly_scores, percentile_of};
use crate::model::{ImageScores, Model};

/// Every sample's scores, with what is needed to score new images the same way.
#[derive(Debug, Clone)]
pub struct DatasetScores {
    /// One vector per [`Score::ALL`] entry, one value per sample.
    pub values: [Vec<f64>; 4],
    /// The same values sorted, for percentiles and thresholds.
    pub sorted: [Vec<f64>; 4],
    /// The density of the dataset's means, for the latent score of new images.
    pub density: Mahalanobis,
}

impl DatasetScores {
    /// The values of `score`.
    pub fn of(&self, score: Score) -> &[f64] {
        &self.values[score.index()]
    }

    /// The value of `score` at `percentile` (0 … 100) of the dataset.
    pub fn threshold(&self, score: Score, percentile: f32) -> f64 {
        let sorted = &self.sorted[score.index()];
        if sorted.is_empty() {
            return f64::INFINITY;
        }
        let rank = ((percentile.clamp(0.0, 100.0) / 100.0) * (sorted.len() - 1) as f32).round();
        sorted[rank as usize]
    }

    /// Indices of the samples whose `score` is above `threshold`, highest first.
    pub fn above(&self, score: Score, threshold: f64) -> Vec<usize> {
        let values = self.of(score);
        let mut indices: Vec<usize> = (0..values.len())
            .filter(|&i| values[i] > threshold)
            .collect();
        indices.sort_by(|&a, &b| values[b].total_cmp(&values[a]));
        indices
    }
}

fn scores_from_terms(terms: &ImageScores, dim: usize, density: &Mahalanobis) -> [Vec<f64>; 4] {
    anomaly_scores(
        ScoreTerms {
            means: &terms.means,
            dim,
            squared_error: &terms.squared_error,
            cross_entropy: &terms.reconstruction,
            kl: &terms.kl,
            complexity: &terms.complexity,
        },
        density,
    )
}

/// Scores every image of `dataset`; runs on the job's thread.
pub fn score_dataset(
    model: &Model,
    dataset: &Arc<Dataset>,
    cx: &JobContext<DatasetScores>,
) -> Result<DatasetScores, String> {
    let total = dataset.len();
    let terms = model
        .score_images(&dataset.pixels, &mut |done| {
            cx.report("scoring", done, total);
            if cx.is_cancelled() {
                ControlFlow::Break(())
            } else {
                ControlFlow::Continue(())
            }
        })
        .map_err(|e| format!("scoring dataset \"{}\" failed: {e}", dataset.name))?
        .ok_or_else(|| "cancelled".to_owned())?;
    let dim = model.latent_dim();
    let density = Mahalanobis::fit(&terms.means, dim)
        .ok_or_else(|| format!("dataset \"{}\" has too few finite latents", dataset.name))?;
    let values = scores_from_terms(&terms, dim, &density);
    let sorted = values.clone().map(|mut v| {
        v.sort_by(f64::total_cmp);
        v
    });
    Ok(DatasetScores {
        values,
        sorted,
        density,
    })
}

/// An image the user brought, scored against the dataset.
#[derive(Debug, Clone)]
pub struct CheckedImage {
    /// The file's name.
    pub name: String,
    /// What was done to fit it to the model, if anything.
    pub conversion: Option<String>,
    /// The converted pixels, as the model saw them.
    pub pixels: Vec<f32>,
    /// Its reconstruction at z = µ.
    pub reconstruction: Vec<f32>,
    /// Its posterior mean.
    pub mean: Vec<f32>,
    /// Its value of each score, in [`Score::ALL`] order.
    pub scores: [f64; 4],
    /// The share of the dataset scoring at or below it, per score.
    pub percentiles: [f64; 4],
    /// Bumped for each new image, for textures.
    pub version: u64,
}

/// Reads an image file, converts it to the model's input and scores it against `scores`.
pub fn check_image(
    path: &Path,
    model: &Model,
    scores: &DatasetScores,
    version: u64,
) -> Result<CheckedImage, String> {
    let image = image::ImageReader::open(path)
        .map_err(|e| format!("image \"{}\": {e}", path.display()))?
        .with_guessed_format()
        .map_err(|e| format!("image \"{}\": {e}", path.display()))?
        .decode()
        .map_err(|e| {
            format!(
                "image \"{}\": not a readable PNG or JPEG: {e}",
                path.display()
            )
        })?;
    let target = model.spec().image_shape();
    let (width, height) = (image.width() as usize, image.height() as usize);
    if width == 0 || height == 0 {
        return Err(format!("image \"{}\" has no pixels", path.display()));
    }

    // To channel-major floats of the file's own shape, grey or RGB as the model wants.
    let (pixels, source) = if target.channels == 1 {
        let grey = image.to_luma8();
        let pixels = grey.pixels().map(|p| f32::from(p.0[0]) / 255.0).collect();
        (
            pixels,
            ImageShape {
                channels: 1,
                height,
                width,
            },
        )
    } else {
        let rgb = image.to_rgb8();
        let plane = width * height;
        let mut pixels = vec![0.0; 3 * plane];
        for (i, p) in rgb.pixels().enumerate() {
            for c in 0..3 {
                pixels[c * plane + i] = f32::from(p.0[c]) / 255.0;
            }
        }
        (
            pixels,
            ImageShape {
                channels: 3,
                height,
                width,
            },
        )
    };
    let colour = if image.color().has_color() {
        "RGB"
    } else {
        "grey"
    };
    let file_shape = ImageShape {
        channels: if colour == "RGB" { 3 } else { 1 },
        height,
        width,
    };
    let conversion = describe_conversion(file_shape, target);
    let pixels = convert_image(&pixels, source, target);

    let terms = model
        .score_images(&pixels, &mut |_| ControlFlow::Continue(()))
        .map_err(|e| format!("image \"{}\": {e}", path.display()))?
        .ok_or_else(|| "cancelled".to_owned())?;
    let values = scores_from_terms(&terms, model.latent_dim(), &scores.density);
    let one = values.map(|v| v.first().copied().unwrap_or(f64::NAN));
    let percentiles = Score::ALL.map(|s| percentile_of(&scores.sorted[s.index()], one[s.index()]));
    let reconstruction = model
        .decode_batch(&terms.means)
        .map_err(|e| format!("image \"{}\": {e}", path.display()))?;

    Ok(CheckedImage {
        name: path.file_name().map_or_else(
            || path.display().to_string(),
            |n| n.to_string_lossy().into_owned(),
        ),
        conversion,
        pixels,
        reconstruction,
        mean: terms.means,
        scores: one,
        percentiles,
        version,
    })
}

/// Per-pixel absolute error between an image and its reconstruction, as a heat map in
/// channel-major RGB: black (no error) through red to yellow (error of 1).
pub fn error_heat_map(image: &[f32], reconstruction: &[f32], shape: ImageShape) -> Vec<f32> {
    let plane = shape.height * shape.width;
    let error = |i: usize| {
        let mut e = 0.0f32;
        for c in 0..shape.channels {
            let (a, b) = (image.get(c * plane + i), reconstruction.get(c * plane + i));
            if let (Some(a), Some(b)) = (a, b) {
                e = e.max((a - b).abs());
            }
        }
        e.clamp(0.0, 1.0)
    };
    let mut out = vec![0.0; 3 * plane];
    for i in 0..plane {
        let e = error(i);
        out[i] = (2.0 * e).min(1.0);
        out[plane + i] = (2.0 * e - 1.0).max(0.0);
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    fn scores() -> DatasetScores {
        let values = [
            vec![3.0, 1.0, 4.0, 1.5, 9.0],
            vec![0.0; 5],
            vec![0.0; 5],
            vec![0.0; 5],
        ];
        let sorted = values.clone().map(|mut v| {
            v.sort_by(f64::total_cmp);
            v
        });
        DatasetScores {
            values,
            sorted,
            density: Mahalanobis::fit(&[0.0, 1.0, 2.0], 1).unwrap_or_else(|| panic!("no fit")),
        }
    }

    #[test]
    fn the_threshold_selects_the_samples_above_its_percentile() {
        let scores = scores();
        let threshold = scores.threshold(Score::Reconstruction, 50.0);
        assert_eq!(threshold, 3.0);
        assert_eq!(scores.above(Score::Reconstruction, threshold), vec![4, 2]);
        assert_eq!(
            scores.above(
                Score::Reconstruction,
                scores.threshold(Score::Reconstruction, 100.0)
            ),
            Vec::<usize>::new()
        );
        assert_eq!(
            scores
                .above(
                    Score::Reconstruction,
                    scores.threshold(Score::Reconstruction, 0.0)
                )
                .len(),
            4
        );
    }

    #[test]
    fn the_heat_map_is_black_where_the_reconstruction_is_exact() {
        let shape = ImageShape {
            channels: 1,
            height: 1,
            width: 3,
        };
        let map = error_heat_map(&[0.0, 1.0, 0.5], &[0.0, 0.0, 0.25], shape);
        assert_eq!(&map[..3], &[0.0, 1.0, 0.5]);
        assert_eq!(&map[3..6], &[0.0, 1.0, 0.0]);
        assert_eq!(&map[6..], &[0.0, 0.0, 0.0]);
    }
}
