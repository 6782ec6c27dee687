//! Datasets and their readers. Knows nothing of models or of the UI.

pub mod convert;
mod dataset;
pub mod export;
pub mod idx;
pub mod image_folder;
pub mod pixels;
pub mod sprites;

pub use dataset::{Dataset, DatasetError, FASHION_MNIST_CLASSES, FactorTable};
pub use pixels::{ImageShape, to_rgb8, upscale_rgb8};
