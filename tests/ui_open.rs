//! Opening checkpoints and datasets in the running app, driven through egui_kittest.

mod support;

use std::path::{Path, PathBuf};

use egui::accesskit::Role;
use egui_kittest::kittest::Queryable;
use latent_explorer::app::map_job::MapSource;
use latent_explorer::model::ModelKind;
use support::{drop_file, harness, harness_in, wait_for_map, wait_for_open};

fn fixture(path: &str) -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("tests/fixtures/pytorch")
        .join(path)
}

#[test]
fn opening_a_checkpoint_of_another_latent_size_rebuilds_the_sliders_and_the_map() {
    let mut harness = harness();
    wait_for_map(&mut harness);
    assert_eq!(harness.state().z().len(), 16);
    assert!(
        harness
            .query_by_role_and_label(Role::Slider, "z15")
            .is_some()
    );

    // The plain 8-D autoencoder, dropped on the window as a user would.
    drop_file(&mut harness, &fixture("mlp_ae/model.pt"));
    wait_for_open(&mut harness);
    wait_for_map(&mut harness);

    let app = harness.state();
    assert_eq!(app.session().model.spec().kind, ModelKind::MlpAe);
    assert_eq!(app.z().len(), 8);
    assert_eq!(app.map_point_count(), 10_000);
    assert_eq!(app.map().map(|m| m.dim), Some(8));
    assert!(
        harness
            .query_by_role_and_label(Role::Slider, "z7")
            .is_some()
    );
    assert!(
        harness
            .query_by_role_and_label(Role::Slider, "z8")
            .is_none()
    );

    // A plain autoencoder's sliders span the codes' range, not the prior's ±4.
    let (ranges, _) = harness.state().slider_ranges();
    let stats = harness
        .state()
        .map()
        .map(|m| m.stats.clone())
        .unwrap_or_default();
    assert_eq!(ranges.len(), 8);
    for (range, d) in ranges.iter().zip(&stats) {
        assert!(
            range.start() < &d.min && range.end() > &d.max,
            "{range:?} vs {d:?}"
        );
    }
    // Within the codes' range, the slider takes a typed value (to its two decimals).
    let inside = f64::from(0.5 * (stats[3].min + stats[3].max));
    harness
        .get_by_role_and_label(Role::Slider, "z3")
        .set_value_accesskit(inside);
    harness.run_steps(2);
    let z3 = f64::from(harness.state().z()[3]);
    assert!((z3 - inside).abs() <= 0.005 + 1e-6, "{z3} vs {inside}");
}

#[test]
fn opening_a_corrupt_file_shows_the_error_and_leaves_the_previous_model_working() {
    let mut harness = harness();
    wait_for_map(&mut harness);
    harness.get_by_label("Random").click();
    harness.run_steps(2);
    let z = harness.state().z().to_vec();
    let decoded = harness.state().decoded().to_vec();

    let dir = tempfile::tempdir().unwrap_or_else(|e| panic!("{e}"));
    let corrupt = dir.path().join("broken.pt");
    let mut bytes = std::fs::read(fixture("vae/vae.pt")).unwrap_or_else(|e| panic!("{e}"));
    bytes.truncate(bytes.len() / 3);
    std::fs::write(&corrupt, bytes).unwrap_or_else(|e| panic!("{e}"));
    drop_file(&mut harness, &corrupt);
    wait_for_open(&mut harness);

    let app = harness.state();
    let errors: Vec<&str> = app
        .notices()
        .iter()
        .filter(|n| n.is_error)
        .map(|n| n.text.as_str())
        .collect();
    let expected = format!(
        "checkpoint \"{}\": not a readable PyTorch zip file: ",
        corrupt.display()
    );
    assert!(
        errors.iter().any(|e| e.starts_with(&expected)),
        "{errors:?}"
    );
    assert!(
        errors
            .iter()
            .any(|e| e.ends_with("; the previous model and dataset stay open"))
    );
    assert_eq!(app.z(), z.as_slice());
    assert_eq!(app.decoded(), decoded.as_slice());
    assert_eq!(app.map_point_count(), 10_000);
    assert!(app.recent().checkpoints.is_empty());

    // The sliders still drive the bundled model.
    harness
        .get_by_role_and_label(Role::Slider, "z2")
        .set_value_accesskit(2.5);
    harness.run_steps(2);
    assert_eq!(harness.state().z()[2], 2.5);
    assert_ne!(harness.state().decoded(), decoded.as_slice());
}

#[test]
fn a_generator_without_encoder_maps_samples_from_the_prior() {
    let mut harness = harness();
    wait_for_map(&mut harness);
    drop_file(&mut harness, &fixture("dcgan/netG.pth"));
    wait_for_open(&mut harness);
    wait_for_map(&mut harness);

    let app = harness.state();
    assert_eq!(app.session().model.spec().kind, ModelKind::DcganGenerator);
    assert_eq!(app.z().len(), 16);
    let map = app.map().unwrap_or_else(|| panic!("no map"));
    assert_eq!(map.source, MapSource::PriorSamples);
    assert_eq!(map.len(), 2000);
    // The samples' images stand in for the dataset, so hovering shows them.
    assert_eq!(app.session().dataset.len(), 2000);
    assert_eq!(app.session().dataset.image_shape().channels, 3);
    assert_eq!(app.decoded().len(), 3 * 64 * 64);
    assert!(app.decoded().iter().all(|v| (0.0..=1.0).contains(v)));
}

#[test]
fn a_dataset_folder_of_images_is_converted_to_the_model_and_says_how() {
    let dir = tempfile::tempdir().unwrap_or_else(|e| panic!("{e}"));
    for (class, shade) in [("dark", 30u8), ("light", 220)] {
        let folder = dir.path().join(class);
        std::fs::create_dir(&folder).unwrap_or_else(|e| panic!("{e}"));
        for k in 0..5u32 {
            let image = image::RgbImage::from_fn(40, 40, |x, _| {
                let v = if x < 20 + k { shade } else { 255 - shade };
                image::Rgb([v, v / 2, 0])
            });
            image
                .save(folder.join(format!("{k}.png")))
                .unwrap_or_else(|e| panic!("{e}"));
        }
    }

    let mut harness = harness();
    wait_for_map(&mut harness);
    drop_file(&mut harness, dir.path());
    wait_for_open(&mut harness);
    wait_for_map(&mut harness);

    let app = harness.state();
    let session = app.session();
    assert_eq!(session.raw_dataset.class_names, vec!["dark", "light"]);
    assert_eq!(
        session.conversion.as_deref(),
        Some("RGB to grey, 40×40 to 28×28 (area average)")
    );
    assert_eq!(app.map_point_count(), 10);
    assert_eq!(
        app.recent().datasets.first().map(PathBuf::as_path),
        std::path::absolute(dir.path()).ok().as_deref()
    );
}

#[test]
fn recent_files_survive_a_restart_and_reopen() {
    let dir = tempfile::tempdir().unwrap_or_else(|e| panic!("{e}"));
    let mut first = harness_in(dir.path());
    wait_for_map(&mut first);
    first.state_mut().when_map_ready(vec![]);
    drop_file(&mut first, &fixture("mlp_ae/model.pt"));
    wait_for_open(&mut first);
    drop(first);

    let mut second = harness_in(dir.path());
    wait_for_map(&mut second);
    let recent = second.state().recent().checkpoints.clone();
    assert_eq!(recent, vec![fixture("mlp_ae/model.pt")]);

    // Choosing it from File → Recent opens it again.
    second.get_by_label("File").click();
    second.run_steps(2);
    second.get_by_label("Recent").hover();
    second.run_steps(2);
    second.get_by_label("Model: model.pt").click();
    second.run_steps(1);
    wait_for_open(&mut second);
    assert_eq!(second.state().session().model.spec().kind, ModelKind::MlpAe);
}
