//! The map's projection: choosing PCA axes or t-SNE, running t-SNE, and placing latents on
//! whichever layout is shown.

use std::sync::Arc;

use super::ExplorerApp;
use crate::app::Command;
use crate::app::map_job::LatentMap;
use crate::app::panels::map_view::MapState;
use crate::app::projection::{MapLayout, PlacementCache, ProjectionChoice, TsneRun};
use crate::projection::TsneParams;

/// The projection's state in the app.
#[derive(Default)]
pub struct ProjectionView {
    /// What the user chose.
    pub choice: ProjectionChoice,
    /// The t-SNE parameters being edited; a change restarts the run.
    pub draft: TsneParams,
    /// The t-SNE run, once started.
    pub tsne: Option<TsneRun>,
    /// The PCA layout for the chosen axes, and the map and axes it was made for.
    pca_layout: Option<(Arc<LatentMap>, usize, usize, MapLayout)>,
    /// t-SNE placements of the current z, the path, its ends and a checked image.
    current: PlacementCache,
    ends: [PlacementCache; 2],
    checked: PlacementCache,
}

impl ProjectionView {
    /// A view that keeps `choice` and the t-SNE parameters from `previous`, with no run.
    pub fn carried_from(previous: &Self) -> Self {
        Self {
            choice: previous.choice,
            draft: previous.draft.clone(),
            ..Self::default()
        }
    }
}

/// Where the overlay's latents land on the shown layout.
pub struct Placed {
    /// The current z.
    pub current: Option<[f64; 2]>,
    /// The interpolation's frames.
    pub path: Vec<[f64; 2]>,
    /// The interpolation's ends.
    pub ends: Vec<(&'static str, [f64; 2])>,
    /// A checked image's µ.
    pub checked: Option<[f64; 2]>,
}

impl ExplorerApp {
    /// Commands of the projection bar.
    pub(super) fn apply_projection_command(&mut self, command: Command, ctx: &egui::Context) {
        match command {
            Command::ChooseProjection(choice) => {
                self.projection.choice = choice;
                if choice == ProjectionChoice::Tsne && self.projection.tsne.is_none() {
                    self.start_tsne(ctx);
                }
            }
            Command::RestartTsne => self.start_tsne(ctx),
            Command::PauseTsne(paused) => {
                if let Some(run) = &self.projection.tsne {
                    run.set_paused(paused);
                }
            }
            Command::CancelTsne => {
                if let Some(run) = &mut self.projection.tsne {
                    run.cancel();
                }
            }
            _ => {}
        }
    }

    /// Starts (or restarts) t-SNE with the drafted parameters, once the map is ready.
    pub(super) fn start_tsne(&mut self, ctx: &egui::Context) {
        let MapState::Ready(map) = &self.map else {
            // The map's arrival starts it (see `poll_projection`).
            self.projection.tsne = None;
            return;
        };
        let repaint = ctx.clone();
        let wake: Arc<dyn Fn() + Send + Sync> = Arc::new(move || repaint.request_repaint());
        match TsneRun::start(map, self.projection.draft.clone(), wake) {
            Ok(run) => {
                if run.left_out > 0 {
                    self.warn(format!(
                        "t-SNE leaves out {} samples whose latent holds NaN or infinity",
                        run.left_out
                    ));
                }
                self.projection.tsne = Some(run);
            }
            Err(e) => self.error(e),
        }
    }

    /// Takes in the t-SNE worker's news; starts t-SNE when it is chosen and the map arrives.
    pub(super) fn poll_projection(&mut self, ctx: &egui::Context) {
        let wants_tsne = self.projection.choice == ProjectionChoice::Tsne;
        if wants_tsne && self.projection.tsne.is_none() && matches!(self.map, MapState::Ready(_)) {
            self.start_tsne(ctx);
        }
        let mut failure = None;
        if let Some(run) = &mut self.projection.tsne {
            let had_error = run.error.is_some();
            run.poll();
            if !had_error {
                failure = run.error.clone();
            }
            if run.is_running() && !run.is_paused() {
                ctx.request_repaint_after(std::time::Duration::from_millis(100));
            }
        }
        if let Some(message) = failure {
            self.error(message);
        }
    }

    /// The layout the map shows now, if there is one yet, and its version for caches.
    pub(super) fn layout(&mut self) -> Option<(MapLayout, u64)> {
        let MapState::Ready(map) = &self.map else {
            return None;
        };
        match self.projection.choice {
            ProjectionChoice::Pca { x, y } => {
                let stale = !self
                    .projection
                    .pca_layout
                    .as_ref()
                    .is_some_and(|(of, a, b, _)| Arc::ptr_eq(of, map) && (*a, *b) == (x, y));
                if stale {
                    let layout = MapLayout {
                        coords: Arc::new(map.pca.coords.all_on(x, y)),
                        axes: [format!("PC{}", x + 1), format!("PC{}", y + 1)],
                        approximate: false,
                    };
                    self.projection.pca_layout = Some((map.clone(), x, y, layout));
                }
                let layout = self.projection.pca_layout.as_ref()?.3.clone();
                Some((layout, 0))
            }
            ProjectionChoice::Tsne => {
                let run = self.projection.tsne.as_ref()?;
                let snapshot = run.snapshot.as_ref()?;
                let layout = MapLayout {
                    coords: snapshot.coords.clone(),
                    axes: ["t-SNE 1".into(), "t-SNE 2".into()],
                    approximate: true,
                };
                Some((layout, run.version))
            }
        }
    }

    /// Places the current z, the interpolation and a checked image on the shown layout: exactly
    /// on PCA, approximately (from neighbours, cached) on t-SNE.
    pub(super) fn place_overlay(&mut self, version: u64) -> Placed {
        let z = self.point.effective();
        let ends: Vec<(&'static str, Vec<f32>)> =
            [("A", &self.interpolation.a), ("B", &self.interpolation.b)]
                .into_iter()
                .filter_map(|(name, end)| Some((name, end.as_ref()?.z.clone())))
                .collect();
        let checked = self.anomaly.checked.as_ref().map(|c| c.mean.clone());
        let latents = &self.interpolation.latents;

        match (self.projection.choice, &self.map) {
            (ProjectionChoice::Pca { x, y }, MapState::Ready(map)) => {
                let place = |z: &[f32]| {
                    let p = map.pca.projection.project_on(z, x, y);
                    p.iter().all(|v| v.is_finite()).then_some(p)
                };
                Placed {
                    current: place(&z),
                    path: latents.iter().filter_map(|z| place(z)).collect(),
                    ends: ends
                        .iter()
                        .filter_map(|(n, z)| Some((*n, place(z)?)))
                        .collect(),
                    checked: checked.as_deref().and_then(place),
                }
            }
            (ProjectionChoice::Tsne, _) => {
                // Disjoint borrows: the run places, the caches remember.
                let ProjectionView {
                    tsne,
                    current: current_cache,
                    ends: end_caches,
                    checked: checked_cache,
                    ..
                } = &mut self.projection;
                let Some(run) = tsne.as_ref() else {
                    return Placed::empty();
                };
                let place = |z: &[f32]| run.try_place(z);
                let current = current_cache.point(version, &z, place);
                let path = current_cache
                    .path(version, self.interpolation.version, latents, place)
                    .to_vec();
                let mut placed_ends = Vec::new();
                for (k, (name, z)) in ends.iter().enumerate() {
                    if let Some(p) = end_caches[k.min(1)].point(version, z, place) {
                        placed_ends.push((*name, p));
                    }
                }
                let checked = checked.and_then(|z| checked_cache.point(version, &z, place));
                Placed {
                    current,
                    path,
                    ends: placed_ends,
                    checked,
                }
            }
            _ => Placed::empty(),
        }
    }
}

impl Placed {
    /// Nothing placed.
    pub fn empty() -> Self {
        Self {
            current: None,
            path: Vec::new(),
            ends: Vec::new(),
            checked: None,
        }
    }
}
