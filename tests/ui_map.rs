//! The map's projections, driven through egui_kittest: PCA axes, and t-SNE forming live.

mod support;

use std::time::{Duration, Instant};

use egui::accesskit::Role;
use egui_kittest::Harness;
use egui_kittest::kittest::Queryable;
use latent_explorer::app::ExplorerApp;
use latent_explorer::app::projection::ProjectionChoice;
use support::{harness, press_at, wait_for_map};

/// Steps until `done` holds for the app, or fails after `secs`.
fn wait_until(
    harness: &mut Harness<'_, ExplorerApp>,
    secs: u64,
    done: impl Fn(&ExplorerApp) -> bool,
) {
    let deadline = Instant::now() + Duration::from_secs(secs);
    while !done(harness.state()) {
        assert!(Instant::now() < deadline, "timed out");
        std::thread::sleep(Duration::from_millis(20));
        harness.step();
    }
}

fn tsne_iteration(app: &ExplorerApp) -> usize {
    app.projection()
        .tsne
        .as_ref()
        .and_then(|run| run.snapshot.as_ref())
        .map_or(0, |s| s.iteration)
}

#[test]
fn choosing_other_principal_axes_redraws_the_map_on_them() {
    let mut harness = harness();
    wait_for_map(&mut harness);
    let share = harness
        .state()
        .map()
        .map_or(0.0, |m| m.pca.projection.explained_variance_ratio()[2]);
    harness.get_by_label("x").click();
    harness.run_steps(2);
    harness
        .get_by_label(&format!("PC3 ({:.1}%)", share * 100.0))
        .click();
    harness.run_steps(3);

    let app = harness.state();
    assert_eq!(
        app.projection().choice,
        ProjectionChoice::Pca { x: 2, y: 1 }
    );
    let map = app.map().unwrap_or_else(|| panic!("no map"));
    let layout = app.shown_layout().unwrap_or_else(|| panic!("no layout"));
    assert_eq!(layout.axes, ["PC3".to_owned(), "PC2".to_owned()]);
    assert_eq!(layout.coords[17], map.pca.coords.on(17, 2, 1));
    // The marker of z = 0 is the origin projected on the same axes.
    let expected = map.pca.projection.project_on(&[0.0; 16], 2, 1);
    assert_eq!(app.current_marker(), Some(expected));
}

#[test]
fn t_sne_forms_on_the_map_while_the_window_keeps_running() {
    let mut harness = harness();
    wait_for_map(&mut harness);
    harness.get_by_label("t-SNE").click();
    harness.run_steps(2);
    harness.get_by_label("Parameters…").click();
    harness.run_steps(2);
    // A short run keeps the test quick; the edit restarts t-SNE with it.
    harness
        .get_by_role_and_label(Role::Slider, "iterations")
        .set_value_accesskit(150.0);
    harness.run_steps(2);
    assert_eq!(
        harness
            .state()
            .projection()
            .tsne
            .as_ref()
            .map(|r| r.params.iterations),
        Some(150)
    );

    // The layout appears before t-SNE has finished, and keeps moving.
    wait_until(&mut harness, 600, |app| tsne_iteration(app) > 0);
    let first = tsne_iteration(harness.state());
    let first_coords = harness.state().shown_layout().map(|l| l.coords.clone());
    assert!(first < 150, "the first snapshot came only at the end");
    // The sliders work while it runs.
    harness.get_by_label("Random").click();
    harness.run_steps(1);
    wait_until(&mut harness, 600, |app| tsne_iteration(app) == 150);
    harness.run_steps(2);

    let app = harness.state();
    let layout = app.shown_layout().unwrap_or_else(|| panic!("no layout"));
    assert_eq!(layout.axes[0], "t-SNE 1");
    assert!(layout.approximate);
    assert_eq!(layout.coords.iter().flatten().count(), 10_000);
    assert_ne!(first_coords.as_deref(), Some(layout.coords.as_ref()));
    let kl = app
        .projection()
        .tsne
        .as_ref()
        .and_then(|r| r.snapshot.as_ref()?.kl);
    assert!(
        kl.is_some_and(|(kl, at)| kl.is_finite() && kl > 0.0 && at == 150),
        "{kl:?}"
    );
}

#[test]
fn on_t_sne_a_click_picks_the_sample_exactly_and_z_is_placed_beside_it() {
    let mut harness = harness();
    wait_for_map(&mut harness);
    harness.get_by_label("t-SNE").click();
    harness.run_steps(2);
    harness.get_by_label("Parameters…").click();
    harness.run_steps(2);
    harness
        .get_by_role_and_label(Role::Slider, "iterations")
        .set_value_accesskit(120.0);
    // Close the menu by pressing Escape, so it does not cover the map.
    harness.key_press(egui::Key::Escape);
    harness.run_steps(2);
    wait_until(&mut harness, 600, |app| tsne_iteration(app) == 120);
    harness.run_steps(3);

    // An isolated point, so that the click can only mean it.
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
    let picked = app
        .picked_sample()
        .unwrap_or_else(|| panic!("nothing picked"));
    assert_eq!(picked, idx);
    let map = app.map().unwrap_or_else(|| panic!("no map"));
    assert_eq!(Some(app.z()), map.mean(picked));
    // The marker of that µ lands at the picked point or next to it: closer to it than 99% of
    // the other samples are.
    let layout = app.shown_layout().unwrap_or_else(|| panic!("no layout"));
    let own = layout.coords[picked].unwrap_or_else(|| panic!("not on the layout"));
    let marker = app.current_marker().unwrap_or_else(|| panic!("no marker"));
    let distance =
        |a: [f64; 2], b: [f64; 2]| ((a[0] - b[0]).powi(2) + (a[1] - b[1]).powi(2)).sqrt();
    let to_marker = distance(own, marker);
    let closer = layout
        .coords
        .iter()
        .flatten()
        .filter(|&&c| distance(own, c) < to_marker)
        .count();
    assert!(
        closer <= 100,
        "{closer} samples lie closer to the point than its own marker"
    );
}
