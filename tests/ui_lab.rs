//! The disentanglement lab in the running app, driven through egui_kittest: active units
//! beside the sliders, the traversal grid, colouring the map by a known factor, and the
//! metrics' refusal where the factors are unknown.

mod support;

use egui::accesskit::Role;
use egui_kittest::kittest::Queryable;
use latent_explorer::app::{ColorBy, OpenItem};
use support::{harness, wait_for_map, wait_for_open};

#[test]
fn sorting_by_kl_and_hiding_collapsed_dimensions_reorders_the_sliders() {
    let mut harness = harness();
    wait_for_map(&mut harness);
    let kl = harness
        .state()
        .map()
        .and_then(|m| m.units.clone())
        .unwrap_or_else(|| panic!("no KL for the bundled VAE"))
        .kl;
    assert_eq!(kl.len(), 16);
    assert_eq!(harness.state().visible_dims(), (0..16).collect::<Vec<_>>());

    harness.get_by_label("sort by KL").click();
    harness.run_steps(2);
    let sorted = harness.state().visible_dims();
    assert!(
        sorted.windows(2).all(|w| kl[w[0]] >= kl[w[1]]),
        "{sorted:?}"
    );

    harness.get_by_label("hide < 0.01 nats").click();
    harness.run_steps(2);
    let shown = harness.state().visible_dims();
    let collapsed: Vec<usize> = (0..16).filter(|&d| kl[d] < 0.01).collect();
    assert!(
        !collapsed.is_empty(),
        "the bundled model has collapsed dimensions"
    );
    assert_eq!(shown.len(), 16 - collapsed.len());
    for d in collapsed {
        assert!(
            harness
                .query_by_role_and_label(Role::Slider, &format!("z{d}"))
                .is_none()
        );
    }
    assert!(
        harness
            .query_by_role_and_label(Role::Slider, &format!("z{}", shown[0]))
            .is_some()
    );
}

#[test]
fn the_traversal_grid_shows_one_row_per_visible_dimension() {
    let mut harness = harness();
    wait_for_map(&mut harness);
    harness.get_by_label("Traversal").click();
    harness.run_steps(5);

    let grid = harness.state().traversal();
    assert_eq!(grid.rows, (0..16).collect::<Vec<_>>());
    assert_eq!(grid.decoded.len(), 16 * 9);
    // Along the most used dimension the images change: its row's ends differ.
    let units = harness.state().map().and_then(|m| m.units.clone());
    let busiest = units.map_or(0, |u| u.by_kl()[0]);
    let row = busiest * 9;
    assert_ne!(grid.decoded[row], grid.decoded[row + 8]);

    harness
        .get_by_role_and_label(Role::Slider, "columns")
        .set_value_accesskit(5.0);
    harness.run_steps(30);
    assert_eq!(harness.state().traversal().decoded.len(), 16 * 5);

    let dir = tempfile::tempdir().unwrap_or_else(|e| panic!("{e}"));
    let out = dir.path().join("grid.png");
    harness
        .state_mut()
        .when_map_ready(vec![latent_explorer::app::Command::ExportTraversal(
            out.clone(),
        )]);
    harness.run_steps(2);
    let image = image::open(&out).unwrap_or_else(|e| panic!("{e}"));
    // 5 columns and 16 rows of 28×28 cells at scale 2, with one-pixel lines between.
    assert_eq!((image.width(), image.height()), (5 * 57 + 1, 16 * 57 + 1));
}

#[test]
fn the_map_can_be_coloured_by_a_known_factor_of_the_sprites() {
    let mut harness = harness();
    wait_for_map(&mut harness);
    let conv = std::path::Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("tests/fixtures/pytorch/conv_vae/model.safetensors");
    harness
        .state_mut()
        .when_map_ready(vec![latent_explorer::app::Command::Open(
            OpenItem::Checkpoint(conv),
        )]);
    harness.run_steps(1);
    wait_for_open(&mut harness);
    harness
        .state_mut()
        .when_map_ready(vec![latent_explorer::app::Command::Open(
            OpenItem::Dataset("sprites".into()),
        )]);
    wait_for_map(&mut harness);
    wait_for_open(&mut harness);
    wait_for_map(&mut harness);
    assert_eq!(harness.state().session().raw_dataset.name, "sprites");
    assert_eq!(
        harness.state().session().conversion.as_deref(),
        Some("grey to RGB")
    );

    harness.get_by_label("colour").click();
    harness.run_steps(2);
    harness.get_by_label("factor: position x").click();
    harness.run_steps(2);
    let choices = harness.state().color_choices();
    assert!(choices.iter().any(|(c, _)| *c == ColorBy::Factor(3)));
    assert!(harness.query_by_label_contains("position x: 0.0").is_some());
}

#[test]
fn the_metrics_explain_why_they_need_the_sprites() {
    let mut harness = harness();
    wait_for_map(&mut harness);
    harness.get_by_label("Disentanglement").click();
    harness.run_steps(5);
    assert!(
        harness
            .query_by_label_contains(
                "the metrics need the sprites' known factors, and this model takes 1×28×28 images"
            )
            .is_some()
    );
}

#[test]
fn the_bundled_sprites_vae_opens_from_the_file_menu_with_the_generated_sprites() {
    let mut harness = harness();
    wait_for_map(&mut harness);
    harness.get_by_label("File").click();
    harness.run_steps(2);
    harness.get_by_label("Bundled sprites VAE").click();
    harness.run_steps(1);
    wait_for_open(&mut harness);

    let session = harness.state().session();
    assert_eq!(session.model_name, "bundled sprites VAE");
    assert_eq!(session.latent_dim(), 10);
    assert_eq!(session.raw_dataset.name, "sprites");
    assert!(session.conversion.is_none(), "{:?}", session.conversion);
    for d in 0..10 {
        assert!(
            harness
                .query_by_role_and_label(Role::Slider, &format!("z{d}"))
                .is_some(),
            "no slider z{d}"
        );
    }
    // The attribute vector's classes were Fashion-MNIST's Sandal and Sneaker (5 and 7); the
    // sprites have three classes, so the choices start again from the first two.
    harness.run_steps(2);
    let names_a_missing_class =
        |text: Option<String>| text.is_some_and(|t| t.contains("class 5") || t.contains("class 7"));
    let stale: Vec<_> = harness
        .query_all_by(|node| {
            names_a_missing_class(node.label()) || names_a_missing_class(node.value())
        })
        .map(|node| node.value())
        .collect();
    assert!(
        stale.is_empty(),
        "classes the sprites do not have are still offered: {stale:?}"
    );
}
