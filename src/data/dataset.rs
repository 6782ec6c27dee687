//! A labelled image dataset held in memory as `f32` pixels in `[0, 1]`.

use std::path::{Path, PathBuf};

use super::idx::{IdxArray, IdxError, parse_idx, read_idx_file};

/// The ten Fashion-MNIST classes, in label order.
pub const FASHION_MNIST_CLASSES: [&str; 10] = [
    "T-shirt/top",
    "Trouser",
    "Pullover",
    "Dress",
    "Coat",
    "Sandal",
    "Shirt",
    "Sneaker",
    "Bag",
    "Ankle boot",
];

/// Why a dataset could not be loaded.
#[derive(Debug, thiserror::Error)]
pub enum DatasetError {
    /// An IDX file was unreadable or malformed.
    #[error(transparent)]
    Idx(#[from] IdxError),

    /// The path does not exist or cannot be listed.
    #[error("dataset \"{path}\": {source}")]
    Io {
        /// The path given.
        path: PathBuf,
        /// The operating system's error.
        source: std::io::Error,
    },

    /// A folder holds no IDX image file and no PNG or JPEG images.
    #[error(
        "dataset folder \"{path}\" holds no IDX image file (*-images-idx3-ubyte[.gz]) and no PNG or JPEG images (in class subfolders or loose)"
    )]
    NoImages {
        /// The folder.
        path: PathBuf,
    },

    /// An image folder whose files could not be read as images.
    #[error("dataset folder \"{path}\": no image could be read ({reason})")]
    Unreadable {
        /// The folder.
        path: PathBuf,
        /// Why the first file failed.
        reason: String,
    },

    /// A folder holds several IDX image files and the user must name one.
    #[error("dataset folder \"{path}\" holds several IDX image files ({names}): name one")]
    Ambiguous {
        /// The folder.
        path: PathBuf,
        /// The candidates, comma-separated.
        names: String,
    },

    /// Images and labels disagree in count.
    #[error(
        "labels \"{labels}\" hold {label_count} labels but images \"{images}\" hold {image_count} images"
    )]
    CountMismatch {
        /// The image file.
        images: PathBuf,
        /// The label file.
        labels: PathBuf,
        /// Number of images.
        image_count: usize,
        /// Number of labels.
        label_count: usize,
    },
}

/// Images with labels, ready to be encoded.
#[derive(Debug, Clone)]
pub struct Dataset {
    /// A short name shown to the user, e.g. `fashion-mnist t10k`.
    pub name: String,
    /// Image height in pixels.
    pub height: usize,
    /// Image width in pixels.
    pub width: usize,
    /// Colour channels (1 for grey).
    pub channels: usize,
    /// All pixels, image after image, each image `[channels, height, width]`, in `[0, 1]`.
    pub pixels: Vec<f32>,
    /// One class index per image.
    pub labels: Vec<u32>,
    /// Name of each class index; may be shorter than the largest label, see [`Self::class_name`].
    pub class_names: Vec<String>,
    /// What the reader converted or left out, for the user.
    pub notes: Vec<String>,
    /// The true factors of variation of each image, when the dataset knows them (the sprites).
    pub factors: Option<FactorTable>,
}

/// Known factors of variation: each image's value (an index) of each factor.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct FactorTable {
    /// One name per factor.
    pub names: Vec<String>,
    /// How many values each factor takes.
    pub sizes: Vec<usize>,
    /// `n × names.len()` values, row by row.
    pub values: Vec<usize>,
}

impl FactorTable {
    /// Factor `k` of every image, as numbers.
    pub fn column(&self, k: usize) -> Vec<f64> {
        let count = self.names.len().max(1);
        self.values
            .chunks_exact(count)
            .map(|row| row.get(k).map_or(f64::NAN, |&v| v as f64))
            .collect()
    }
}

impl Dataset {
    /// Number of images.
    pub fn len(&self) -> usize {
        self.labels.len()
    }

    /// True when the dataset holds no image.
    pub fn is_empty(&self) -> bool {
        self.labels.is_empty()
    }

    /// Values per image (`channels × height × width`).
    pub fn values_per_image(&self) -> usize {
        self.channels * self.height * self.width
    }

    /// The shape of every image.
    pub fn image_shape(&self) -> super::ImageShape {
        super::ImageShape {
            channels: self.channels,
            height: self.height,
            width: self.width,
        }
    }

    /// The pixels of image `idx`, or `None` past the end.
    pub fn image(&self, idx: usize) -> Option<&[f32]> {
        let n = self.values_per_image();
        self.pixels.get(idx * n..(idx + 1) * n)
    }

    /// Number of classes: the largest label plus one.
    pub fn class_count(&self) -> usize {
        self.labels
            .iter()
            .map(|&l| l as usize + 1)
            .max()
            .unwrap_or(0)
    }

    /// The name of class `label`, falling back to its number.
    pub fn class_name(&self, label: u32) -> String {
        self.class_names
            .get(label as usize)
            .cloned()
            .unwrap_or_else(|| format!("class {label}"))
    }

    /// Every image converted to `shape` (see [`super::convert::convert_image`]), with a note of
    /// the conversion made; the dataset itself when it already has that shape.
    pub fn converted_to(self, shape: super::ImageShape) -> (Self, Option<String>) {
        let from = self.image_shape();
        let Some(note) = super::convert::describe_conversion(from, shape) else {
            return (self, None);
        };
        let pixels = self
            .pixels
            .chunks_exact(from.len().max(1))
            .flat_map(|image| super::convert::convert_image(image, from, shape))
            .collect();
        let converted = Self {
            channels: shape.channels,
            height: shape.height,
            width: shape.width,
            pixels,
            ..self
        };
        (converted, Some(note))
    }

    /// `count` images of uniform random pixels of `shape` (seeded), labelled 0 as "noise".
    pub fn noise(count: usize, shape: super::ImageShape, seed: u64) -> Self {
        let mut rng = crate::rng::Rng::new(seed);
        Self {
            name: "uniform noise".into(),
            height: shape.height,
            width: shape.width,
            channels: shape.channels,
            pixels: (0..count * shape.len()).map(|_| rng.uniform()).collect(),
            labels: vec![0; count],
            class_names: vec!["noise".into()],
            notes: Vec::new(),
            factors: None,
        }
    }

    /// The first `count` images (or all of them), for quick runs and tests.
    pub fn truncated(mut self, count: usize) -> Self {
        let count = count.min(self.len());
        self.pixels.truncate(count * self.values_per_image());
        self.labels.truncate(count);
        if let Some(factors) = &mut self.factors {
            let per_image = factors.names.len();
            factors.values.truncate(count * per_image);
        }
        self
    }

    /// Loads a dataset: an IDX images file (its labels file is found beside it), a folder
    /// holding exactly one, or a folder of PNG/JPEG images whose subfolders are the classes.
    pub fn load(path: &Path) -> Result<Self, DatasetError> {
        Self::load_with_progress(path, &mut |_, _| {})
    }

    /// [`Self::load`], reporting `(done, total)` images while an image folder is read.
    pub fn load_with_progress(
        path: &Path,
        progress: &mut dyn FnMut(usize, usize),
    ) -> Result<Self, DatasetError> {
        let images_path = if path.is_dir() {
            match find_images_in_folder(path) {
                Err(DatasetError::NoImages { .. }) if super::image_folder::holds_images(path) => {
                    return super::image_folder::load_image_folder(path, progress);
                }
                other => other?,
            }
        } else {
            path.to_owned()
        };
        let images = read_idx_file(&images_path)?;

        let labels_path = labels_path_for(&images_path);
        let labels = match labels_path.as_deref().filter(|p| p.exists()) {
            Some(labels_path) => Some((read_idx_file(labels_path)?, labels_path.to_owned())),
            None => None,
        };

        let name = dataset_name(&images_path);
        Self::from_idx(name, &images_path, images, labels)
    }

    /// Builds a dataset from in-memory IDX bytes (raw or gzip); `source` names them in errors.
    pub fn from_idx_bytes(
        name: &str,
        source: &Path,
        image_bytes: &[u8],
        label_bytes: Option<&[u8]>,
    ) -> Result<Self, DatasetError> {
        let images = parse_idx(image_bytes, source)?;
        let labels = match label_bytes {
            Some(bytes) => Some((parse_idx(bytes, source)?, source.to_owned())),
            None => None,
        };
        Self::from_idx(name.to_owned(), source, images, labels)
    }

    fn from_idx(
        name: String,
        images_path: &Path,
        images: IdxArray,
        labels: Option<(IdxArray, PathBuf)>,
    ) -> Result<Self, DatasetError> {
        let (count, height, width) = match images.dims.as_slice() {
            &[n, h, w] => (n, h, w),
            other => {
                return Err(IdxError::WrongRank {
                    path: images_path.to_owned(),
                    found: other.len(),
                    expected: 3,
                }
                .into());
            }
        };

        let labels = match labels {
            Some((array, labels_path)) => {
                if array.dims.len() != 1 {
                    return Err(IdxError::WrongRank {
                        path: labels_path,
                        found: array.dims.len(),
                        expected: 1,
                    }
                    .into());
                }
                if array.data.len() != count {
                    return Err(DatasetError::CountMismatch {
                        images: images_path.to_owned(),
                        labels: labels_path,
                        image_count: count,
                        label_count: array.data.len(),
                    });
                }
                array.data.iter().map(|&l| u32::from(l)).collect()
            }
            None => vec![0; count],
        };

        let class_names = if name.to_lowercase().contains("fashion") {
            FASHION_MNIST_CLASSES
                .iter()
                .map(|s| s.to_string())
                .collect()
        } else {
            Vec::new()
        };

        Ok(Self {
            name,
            height,
            width,
            channels: 1,
            pixels: images.data.iter().map(|&v| f32::from(v) / 255.0).collect(),
            labels,
            class_names,
            notes: Vec::new(),
            factors: None,
        })
    }
}

/// `train-images-idx3-ubyte.gz` → `train-labels-idx1-ubyte.gz`, when the name follows MNIST's
/// convention.
fn labels_path_for(images_path: &Path) -> Option<PathBuf> {
    let file_name = images_path.file_name()?.to_str()?;
    file_name
        .contains("images-idx3")
        .then(|| images_path.with_file_name(file_name.replace("images-idx3", "labels-idx1")))
}

fn find_images_in_folder(folder: &Path) -> Result<PathBuf, DatasetError> {
    let entries = std::fs::read_dir(folder).map_err(|source| DatasetError::Io {
        path: folder.to_owned(),
        source,
    })?;
    let mut candidates: Vec<PathBuf> = entries
        .filter_map(|entry| entry.ok().map(|e| e.path()))
        .filter(|p| {
            p.file_name()
                .and_then(|n| n.to_str())
                .is_some_and(|n| n.contains("images-idx3"))
        })
        .collect();
    candidates.sort();

    match candidates.len() {
        0 => Err(DatasetError::NoImages {
            path: folder.to_owned(),
        }),
        1 => Ok(candidates.remove(0)),
        _ => Err(DatasetError::Ambiguous {
            path: folder.to_owned(),
            names: candidates
                .iter()
                .filter_map(|p| p.file_name()?.to_str().map(str::to_owned))
                .collect::<Vec<_>>()
                .join(", "),
        }),
    }
}

/// `…/fashion-mnist/t10k-images-idx3-ubyte.gz` → `fashion-mnist t10k`.
fn dataset_name(images_path: &Path) -> String {
    let folder = images_path
        .parent()
        .and_then(|p| p.file_name())
        .and_then(|n| n.to_str())
        .unwrap_or("");
    let split = images_path
        .file_name()
        .and_then(|n| n.to_str())
        .and_then(|n| n.split("-images").next())
        .unwrap_or("");
    format!("{folder} {split}").trim().to_owned()
}

#[cfg(test)]
mod tests {
    use super::super::idx::encode_idx;
    use super::*;

    fn write_pair(dir: &Path, prefix: &str, images: usize, labels: usize) -> PathBuf {
        let image_array = IdxArray {
            dims: vec![images, 2, 3],
            data: (0..images * 6).map(|v| (v % 256) as u8).collect(),
        };
        let label_array = IdxArray {
            dims: vec![labels],
            data: (0..labels).map(|v| (v % 10) as u8).collect(),
        };
        let images_path = dir.join(format!("{prefix}-images-idx3-ubyte"));
        std::fs::write(&images_path, encode_idx(&image_array)).ok();
        std::fs::write(
            dir.join(format!("{prefix}-labels-idx1-ubyte")),
            encode_idx(&label_array),
        )
        .ok();
        images_path
    }

    #[test]
    fn images_and_labels_load_from_a_folder() {
        let dir = tempfile::tempdir().unwrap_or_else(|e| panic!("tempdir: {e}"));
        write_pair(dir.path(), "t10k", 4, 4);
        let dataset = Dataset::load(dir.path()).unwrap_or_else(|e| panic!("{e}"));
        assert_eq!(dataset.len(), 4);
        assert_eq!((dataset.height, dataset.width), (2, 3));
        assert_eq!(dataset.labels, vec![0, 1, 2, 3]);
        assert_eq!(dataset.image(1).map(|p| p[0]), Some(6.0 / 255.0));
    }

    #[test]
    fn label_count_mismatch_is_reported() {
        let dir = tempfile::tempdir().unwrap_or_else(|e| panic!("tempdir: {e}"));
        let images = write_pair(dir.path(), "t10k", 4, 3);
        let message = Dataset::load(&images)
            .err()
            .map(|e| e.to_string())
            .unwrap_or_default();
        assert!(message.contains("hold 3 labels but images"), "{message}");
        assert!(message.contains("hold 4 images"), "{message}");
    }

    #[test]
    fn folder_with_two_splits_asks_to_name_one() {
        let dir = tempfile::tempdir().unwrap_or_else(|e| panic!("tempdir: {e}"));
        write_pair(dir.path(), "t10k", 2, 2);
        write_pair(dir.path(), "train", 2, 2);
        let message = Dataset::load(dir.path())
            .err()
            .map(|e| e.to_string())
            .unwrap_or_default();
        assert!(
            message.ends_with(
                "holds several IDX image files (t10k-images-idx3-ubyte, train-images-idx3-ubyte): name one"
            ),
            "{message}"
        );
    }

    #[test]
    fn missing_path_names_the_file() {
        let message = Dataset::load(Path::new("/no/such/t10k-images-idx3-ubyte"))
            .err()
            .map(|e| e.to_string())
            .unwrap_or_default();
        assert!(
            message.starts_with("IDX file \"/no/such/t10k-images-idx3-ubyte\": "),
            "{message}"
        );
    }
}
