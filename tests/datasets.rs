//! Datasets read from real files: the bundled Fashion-MNIST test set and IDX files on disk.

use std::path::Path;

use latent_explorer::bundled;
use latent_explorer::data::Dataset;

#[test]
fn the_bundled_test_set_has_ten_thousand_labelled_images() {
    let data = bundled::dataset().unwrap_or_else(|e| panic!("{e}"));
    assert_eq!(data.len(), 10_000);
    assert_eq!((data.channels, data.height, data.width), (1, 28, 28));
    assert_eq!(data.pixels.len(), 10_000 * 784);
    assert!(data.pixels.iter().all(|v| (0.0..=1.0).contains(v)));
    assert_eq!(data.class_count(), 10);
    assert_eq!(data.class_name(9), "Ankle boot");
    let per_class = (0..10).map(|c| data.labels.iter().filter(|&&l| l == c).count());
    assert!(per_class.into_iter().all(|n| n == 1000));
}

#[test]
fn the_bundled_files_load_from_disk_like_any_idx_file() {
    let data = Dataset::load(Path::new(bundled::DATASET_PATH)).unwrap_or_else(|e| panic!("{e}"));
    let embedded = bundled::dataset().unwrap_or_else(|e| panic!("{e}"));
    assert_eq!(data.name, "fashion-mnist t10k");
    assert_eq!(data.labels, embedded.labels);
    assert_eq!(data.pixels, embedded.pixels);
}

#[test]
fn a_truncated_gzip_file_is_reported_with_its_path() {
    let bytes = std::fs::read(bundled::DATASET_PATH).unwrap_or_else(|e| panic!("{e}"));
    let dir = tempfile::tempdir().unwrap_or_else(|e| panic!("{e}"));
    let path = dir.path().join("cut-images-idx3-ubyte.gz");
    std::fs::write(&path, &bytes[..bytes.len() / 3]).unwrap_or_else(|e| panic!("{e}"));
    let message = Dataset::load(&path)
        .err()
        .map(|e| e.to_string())
        .unwrap_or_default();
    assert!(
        message.starts_with(&format!(
            "IDX file \"{}\": gzip data is corrupt or truncated",
            path.display()
        )),
        "{message}"
    );
}
