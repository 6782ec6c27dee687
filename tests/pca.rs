//! PCA against scikit-learn's on a committed fixture (`tests/fixtures/pca/`, made by
//! `make_fixture.py` there): the same components up to sign, the same explained variance.

use std::path::Path;

use latent_explorer::projection::fit_pca;

fn read_rows(path: &Path) -> Vec<Vec<f64>> {
    let text = std::fs::read_to_string(path)
        .unwrap_or_else(|e| panic!("cannot read {}: {e}", path.display()));
    text.lines()
        .filter(|line| !line.is_empty() && !line.starts_with('k'))
        .map(|line| {
            line.split(',')
                .map(|v| {
                    v.parse()
                        .unwrap_or_else(|e| panic!("{v:?} in {}: {e}", path.display()))
                })
                .collect()
        })
        .collect()
}

#[test]
fn pca_matches_scikit_learn_up_to_the_sign_of_each_component() {
    let folder = Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/fixtures/pca");
    let points: Vec<f32> = read_rows(&folder.join("points.csv"))
        .into_iter()
        .flatten()
        .map(|v| v as f32)
        .collect();
    let expected = read_rows(&folder.join("expected.csv"));
    let dim = 12;
    assert_eq!(points.len(), 200 * dim);

    let fitted = fit_pca(&points, dim, expected.len()).unwrap_or_else(|e| panic!("{e}"));
    for (k, row) in expected.iter().enumerate() {
        let ratio = fitted.projection.explained_variance_ratio()[k];
        assert!(
            (ratio - row[1]).abs() < 1e-6,
            "component {k}: ratio {ratio} vs {}",
            row[1]
        );

        let ours = &fitted.projection.components()[k];
        let theirs = &row[2..];
        let dot: f64 = ours.iter().zip(theirs).map(|(a, b)| a * b).sum();
        let sign = dot.signum();
        for (d, (a, b)) in ours.iter().zip(theirs).enumerate() {
            assert!(
                (a - sign * b).abs() < 1e-5,
                "component {k}, entry {d}: {a} vs scikit-learn's {b} (sign {sign})"
            );
        }
    }
}
