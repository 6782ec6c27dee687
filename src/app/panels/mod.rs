//! The regions of the window. Each reads state and pushes [`super::Command`]s; none changes
//! state itself.

pub mod anomaly_panel;
pub mod augment_panel;
pub mod interpolation_panel;
pub mod latent_panel;
pub mod library_panel;
pub mod map_view;
pub mod menu_bar;
pub mod metrics_panel;
pub mod model_panel;
pub mod preview;
pub mod projection_bar;
pub mod status_bar;
pub mod traversal_panel;
