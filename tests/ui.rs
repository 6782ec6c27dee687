//! The real app driven through egui_kittest by widget label, with no display.

mod support;

use std::time::{Duration, Instant};

use egui::accesskit::Role;
use egui_kittest::Harness;
use egui_kittest::kittest::Queryable;
use latent_explorer::app::ExplorerApp;
use support::{Dropped, harness, harness_in, press_at, wait_for_map};

#[test]
fn dragging_a_slider_changes_the_preview_pixels() {
    let mut harness = harness();
    harness.run_steps(2);
    let before = harness.state().decoded().to_vec();

    let rect = harness.get_by_role_and_label(Role::Slider, "z0").rect();
    let start = rect.center();
    let end = egui::pos2(rect.right() - 2.0, rect.center().y);
    harness.event(egui::Event::PointerMoved(start));
    press_at(&harness, start, true);
    harness.step();
    for step in 1..=5 {
        let t = step as f32 / 5.0;
        harness.event(egui::Event::PointerMoved(start.lerp(end, t)));
        harness.step();
    }
    press_at(&harness, end, false);
    harness.run_steps(2);

    let app = harness.state();
    assert!(
        app.z()[0] > 2.0,
        "z0 is {} after dragging to the right end",
        app.z()[0]
    );
    let changed = before
        .iter()
        .zip(app.decoded())
        .filter(|(a, b)| (*a - *b).abs() > 1e-3)
        .count();
    assert!(changed > 50, "only {changed} preview pixels changed");
}

#[test]
fn random_changes_every_slider() {
    let mut harness = harness();
    harness.run_steps(2);
    let before = harness.state().z().to_vec();

    harness.get_by_label("Random").click();
    harness.run_steps(2);

    let after = harness.state().z();
    assert_eq!(after.len(), before.len());
    for (dim, (a, b)) in before.iter().zip(after).enumerate() {
        assert_ne!(a, b, "z{dim} did not change");
        assert!(b.abs() <= 4.0, "z{dim} = {b} is outside the sliders' range");
    }
}

#[test]
fn after_loading_the_map_has_ten_thousand_points() {
    let mut harness = harness();
    wait_for_map(&mut harness);
    assert_eq!(harness.state().map_point_count(), 10_000);
}

#[test]
fn picking_a_dataset_point_sets_the_sliders_to_its_mean() {
    let mut harness = harness();
    wait_for_map(&mut harness);

    // An isolated point, so that the click cannot land on a neighbour.
    let app = harness.state();
    let positions: Vec<(usize, egui::Pos2)> = (0..app.map_point_count())
        .filter_map(|idx| Some((idx, app.sample_screen_position(idx)?)))
        .collect();
    let (idx, pos) = positions
        .iter()
        .copied()
        .find(|(idx, pos)| {
            positions
                .iter()
                .all(|(other, p)| other == idx || p.distance(*pos) > 12.0)
        })
        .unwrap_or_else(|| panic!("no isolated point among {}", positions.len()));

    harness.event(egui::Event::PointerMoved(pos));
    harness.step();
    press_at(&harness, pos, true);
    harness.step();
    press_at(&harness, pos, false);
    harness.run_steps(3);

    let app = harness.state();
    assert_eq!(app.picked_sample(), Some(idx));
    let mean = app.map().and_then(|m| m.mean(idx)).map(<[f32]>::to_vec);
    assert_eq!(Some(app.z().to_vec()), mean);
}

#[test]
fn typing_a_value_sets_the_slider() {
    let mut harness = harness();
    harness.run_steps(2);

    // A click on the number opens it for typing with its text selected.
    harness
        .get_by_role_and_label(Role::SpinButton, "z3")
        .click();
    harness.run_steps(2);
    harness.get_by(|node| node.is_focused()).type_text("1.75");
    harness.step();
    harness.key_press(egui::Key::Enter);
    harness.run_steps(3);

    let z = harness.state().z();
    assert_eq!(z[3], 1.75);
    assert!(z.iter().enumerate().all(|(d, v)| d == 3 || *v == 0.0));
}

#[test]
fn double_clicking_a_slider_resets_that_dimension() {
    let mut harness = harness();
    // The finished map adds the KL bars beside the sliders, which moves them; wait for it so
    // both clicks land on the same spot of z1 however slowly the encoder runs.
    wait_for_map(&mut harness);
    harness.get_by_label("Random").click();
    // Half a second passes, so the click on Random and the double click make no triple click.
    harness.run_steps(30);
    let before = harness.state().z().to_vec();

    // A single click three quarters along would set z1 near +2; the double click resets it.
    let rect = harness.get_by_role_and_label(Role::Slider, "z1").rect();
    let pos = egui::pos2(rect.left() + 0.75 * rect.width(), rect.center().y);
    for _ in 0..2 {
        harness.event(egui::Event::PointerMoved(pos));
        press_at(&harness, pos, true);
        harness.step();
        press_at(&harness, pos, false);
        harness.step();
    }
    harness.run_steps(2);

    let z = harness.state().z();
    assert_eq!(z[1], 0.0);
    assert_eq!(z[0], before[0]);
}

#[test]
fn choosing_a_and_b_shows_one_frame_per_step() {
    let mut harness = harness();
    harness.run_steps(2);

    harness.get_by_label("Random").click();
    harness.run_steps(2);
    harness.get_by_label("Set A").click();
    harness.run_steps(2);
    harness.get_by_label("Random").click();
    harness.run_steps(2);
    harness.get_by_label("Set B").click();
    harness.run_steps(2);

    let path = harness.state().interpolation();
    assert_eq!(path.steps, 8);
    assert_eq!(path.decoded.len(), 8);
    assert_eq!(path.latents.first(), path.a.as_ref().map(|a| &a.z));
    assert_eq!(path.latents.last(), path.b.as_ref().map(|b| &b.z));

    harness
        .get_by_role_and_label(Role::Slider, "frames")
        .set_value_accesskit(12.0);
    harness.run_steps(2);
    assert_eq!(harness.state().interpolation().decoded.len(), 12);
}

#[test]
fn playing_moves_the_sliders_along_the_path() {
    let mut harness = harness();
    harness.run_steps(2);
    harness.get_by_label("Set A").click();
    harness.run_steps(2);
    harness.get_by_label("Random").click();
    harness.run_steps(2);
    harness.get_by_label("Set B").click();
    harness.run_steps(2);
    let start = harness.state().z().to_vec();

    // The strip appears and the panel grows; let the layout settle before clicking.
    harness.run_steps(4);
    harness.get_by_label("Play").click();
    harness.run_steps(20);

    let app = harness.state();
    assert!(app.interpolation().playing);
    let t = app.interpolation().t;
    assert!(t > 0.0 && t < 1.0, "t = {t}");
    assert_ne!(app.z(), start.as_slice());
    let expected = app.interpolation().at(t).unwrap_or_default();
    assert_eq!(app.z(), expected.as_slice());
}

#[test]
fn a_bookmark_survives_a_restart() {
    let dir = tempfile::tempdir().unwrap_or_else(|e| panic!("{e}"));
    let saved_z = {
        let mut harness = harness_in(dir.path());
        harness.run_steps(2);
        harness.get_by_label("Random").click();
        harness.run_steps(2);
        let name_field =
            |node: &egui_kittest::kittest::AccessKitNode<'_>| node.placeholder() == Some("name");
        harness.get_by(name_field).click();
        harness.run_steps(1);
        harness.get_by(name_field).type_text("my boot");
        harness.run_steps(1);
        harness.get_by_label("Save bookmark").click();
        harness.run_steps(2);
        harness.state().z().to_vec()
    };

    let mut harness = harness_in(dir.path());
    harness.run_steps(2);
    let library = harness.state().library();
    assert_eq!(library.bookmarks.len(), 1);
    assert_eq!(library.bookmarks[0].name, "my boot");
    assert_eq!(library.bookmarks[0].z, saved_z);

    harness.get_by_label("Go").click();
    harness.run_steps(2);
    assert_eq!(harness.state().z(), saved_z.as_slice());
}

#[test]
fn the_attribute_strength_slider_changes_the_preview() {
    let mut harness = harness();
    wait_for_map(&mut harness);

    harness.get_by_label("Make vector").click();
    harness.run_steps(2);
    assert_eq!(harness.state().library().vectors.len(), 1);
    assert_eq!(
        harness.state().library().vectors[0].name,
        "Sneaker − Sandal"
    );

    harness
        .get_by_role_and_label(Role::Slider, "strength")
        .set_value_accesskit(0.0);
    harness.run_steps(2);
    let plain = harness.state().decoded().to_vec();
    harness
        .get_by_role_and_label(Role::Slider, "strength")
        .set_value_accesskit(2.0);
    harness.run_steps(2);

    let app = harness.state();
    let changed = plain
        .iter()
        .zip(app.decoded())
        .filter(|(a, b)| (*a - *b).abs() > 1e-3)
        .count();
    assert!(changed > 50, "only {changed} preview pixels changed");
    // The sliders' z is untouched until the offset is applied.
    assert!(app.z().iter().all(|&v| v == 0.0));
    assert_ne!(app.effective_z(), app.z());
}

fn score_the_dataset(harness: &mut Harness<'_, ExplorerApp>) {
    harness.get_by_label("Anomalies").click();
    // The bottom panel shrinks to the new tool a frame later; click where it settles.
    harness.run_steps(5);
    harness.get_by_label("Score the dataset").click();
    let deadline = Instant::now() + Duration::from_secs(600);
    while harness.state().anomalies().scores.is_none() {
        assert!(Instant::now() < deadline, "scoring did not finish in time");
        let errors: Vec<&str> = harness
            .state()
            .notices()
            .iter()
            .filter(|n| n.is_error)
            .map(|n| n.text.as_str())
            .collect();
        assert!(errors.is_empty(), "scoring failed: {errors:?}");
        std::thread::sleep(Duration::from_millis(20));
        harness.step();
    }
    harness.run_steps(3);
}

#[test]
fn the_threshold_slider_selects_the_samples_above_its_percentile() {
    let mut harness = harness();
    wait_for_map(&mut harness);
    score_the_dataset(&mut harness);

    // 99th percentile of 10,000 samples: the 100 highest are above it.
    assert_eq!(harness.state().anomalies().above_threshold().len(), 100);
    harness
        .get_by_role_and_label(Role::Slider, "threshold percentile")
        .set_value_accesskit(90.0);
    harness.run_steps(2);
    let above = harness.state().anomalies().above_threshold();
    assert_eq!(above.len(), 1000);

    let scores = harness
        .state()
        .anomalies()
        .scores
        .clone()
        .unwrap_or_else(|| panic!("no scores"));
    let values = scores.of(latent_explorer::latent::Score::Reconstruction);
    let lowest_above = above
        .iter()
        .map(|&i| values[i])
        .fold(f64::INFINITY, f64::min);
    let below = (0..values.len()).filter(|i| !above.contains(i));
    assert!(below.map(|i| values[i]).all(|v| v <= lowest_above));
}

#[test]
fn a_dropped_file_that_is_no_image_gives_a_message_and_changes_nothing() {
    let mut harness = harness();
    wait_for_map(&mut harness);
    score_the_dataset(&mut harness);
    harness.get_by_label("Random").click();
    harness.run_steps(2);
    let z = harness.state().z().to_vec();

    let dir = tempfile::tempdir().unwrap_or_else(|e| panic!("{e}"));
    let fake = dir.path().join("holiday.png");
    std::fs::write(&fake, b"this is not a PNG").unwrap_or_else(|e| panic!("{e}"));
    let notes = dir.path().join("notes.txt");
    std::fs::write(&notes, b"hello").unwrap_or_else(|e| panic!("{e}"));
    for path in [&fake, &notes] {
        let file: egui::DroppedFileHandle = std::sync::Arc::new(Dropped(path.clone()));
        harness.input_mut().dropped_files.push(file);
        harness.run_steps(2);
    }

    let app = harness.state();
    let messages: Vec<&str> = app.notices().iter().map(|n| n.text.as_str()).collect();
    assert!(
        messages
            .iter()
            .any(|m| m.starts_with(&format!("image \"{}\": ", fake.display()))),
        "{messages:?}"
    );
    assert!(
        messages.iter().any(|m| m
            .contains("notes.txt\": drop a model file (.safetensors, .pt, .pth, .bin), a dataset")),
        "{messages:?}"
    );
    assert_eq!(app.z(), z.as_slice());
    assert_eq!(app.map_point_count(), 10_000);
    assert!(app.anomalies().checked.is_none());
}

#[test]
fn a_dropped_image_is_scored_against_the_dataset() {
    let mut harness = harness();
    wait_for_map(&mut harness);
    score_the_dataset(&mut harness);

    // A 40×40 colour picture of a white bar, which the model sees as 28×28 grey.
    let dir = tempfile::tempdir().unwrap_or_else(|e| panic!("{e}"));
    let path = dir.path().join("bar.png");
    let picture = image::RgbImage::from_fn(40, 40, |x, _| {
        if (15..25).contains(&x) {
            image::Rgb([255, 255, 255])
        } else {
            image::Rgb([0, 0, 40])
        }
    });
    picture.save(&path).unwrap_or_else(|e| panic!("{e}"));
    let file: egui::DroppedFileHandle = std::sync::Arc::new(Dropped(path));
    harness.input_mut().dropped_files.push(file);
    harness.run_steps(3);

    let checked = harness
        .state()
        .anomalies()
        .checked
        .clone()
        .unwrap_or_else(|| panic!("not checked"));
    assert_eq!(
        checked.conversion.as_deref(),
        Some("RGB to grey, 40×40 to 28×28 (area average)")
    );
    assert_eq!(checked.pixels.len(), 784);
    assert!(checked.percentiles.iter().all(|p| (0.0..=1.0).contains(p)));
    assert!(checked.scores.iter().all(|s| s.is_finite()));
}
