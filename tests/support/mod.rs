//! Helpers shared by the tests that drive the real app through egui_kittest.

#![allow(dead_code)] // Each test file uses its own subset.

use std::time::{Duration, Instant};

use egui_kittest::Harness;
use latent_explorer::app::{ExplorerApp, OpenRequest, Settings, open_session};

/// The app on the bundled model and dataset, in a window-sized harness, keeping its bookmarks
/// in a temporary folder (held by the test, so it outlives the harness).
pub fn harness() -> Harness<'static, ExplorerApp> {
    let dir = tempfile::tempdir().unwrap_or_else(|e| panic!("{e}"));
    let harness = harness_in(dir.path());
    // The folder is removed when the test process ends, not before.
    std::mem::forget(dir);
    harness
}

pub fn harness_in(library_dir: &std::path::Path) -> Harness<'static, ExplorerApp> {
    let session = open_session(&OpenRequest::default()).unwrap_or_else(|e| panic!("{e:#}"));
    let app = ExplorerApp::new(session, Settings::default()).with_library_dir(library_dir.into());
    // Frames of 1/60 s, as on a screen, so that two clicks can make a double click.
    Harness::builder()
        .with_size(egui::vec2(1400.0, 860.0))
        .with_step_dt(1.0 / 60.0)
        .build_ui_state(|ui, app: &mut ExplorerApp| app.frame_ui(ui), app)
}

/// Steps the harness until the map's background work has finished.
pub fn wait_for_map(harness: &mut Harness<'_, ExplorerApp>) {
    let deadline = Instant::now() + Duration::from_secs(600);
    harness.step();
    while harness.state().is_building_map() {
        assert!(Instant::now() < deadline, "the map was not ready in time");
        std::thread::sleep(Duration::from_millis(20));
        harness.step();
    }
    harness.run_steps(3);
}

pub fn press_at(harness: &Harness<'_, ExplorerApp>, pos: egui::Pos2, pressed: bool) {
    harness.event(egui::Event::PointerButton {
        pos,
        button: egui::PointerButton::Primary,
        pressed,
        modifiers: egui::Modifiers::NONE,
    });
}

/// A dropped file, as the window system would hand it over.
#[derive(Debug)]
pub struct Dropped(pub std::path::PathBuf);

impl egui::DroppedFile for Dropped {
    fn path(&self) -> &std::path::Path {
        &self.0
    }

    fn bytes(&self) -> Result<Vec<u8>, String> {
        std::fs::read(&self.0).map_err(|e| e.to_string())
    }
}

/// Hands `path` to the window as a dropped file and runs two frames.
pub fn drop_file(harness: &mut Harness<'_, ExplorerApp>, path: &std::path::Path) {
    let file: egui::DroppedFileHandle = std::sync::Arc::new(Dropped(path.to_owned()));
    harness.input_mut().dropped_files.push(file);
    harness.run_steps(2);
}

/// Steps the harness until nothing is being opened any more.
pub fn wait_for_open(harness: &mut Harness<'_, ExplorerApp>) {
    let deadline = Instant::now() + Duration::from_secs(600);
    harness.step();
    while harness.state().is_opening() {
        assert!(Instant::now() < deadline, "opening did not finish in time");
        std::thread::sleep(Duration::from_millis(20));
        harness.step();
    }
    harness.run_steps(2);
}
