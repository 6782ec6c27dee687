//! Reference values from disentanglement_lib's own procedure, run in Python (numpy 2.4,
//! scikit-learn 1.9, scipy 1.17) on a small fixed dataset that both sides build from integer
//! arithmetic, so that no random generator has to agree. The Python side casts the codes to
//! float32 and back, as they are here. The script, to regenerate them:
//!
//! ```text
//! import numpy as np, scipy.stats
//! from sklearn.metrics import mutual_info_score
//! from sklearn.ensemble import GradientBoostingRegressor
//! from sklearn.linear_model import LogisticRegression
//! w = lambda j: ((j * 37) % 97) / 97.0 - 0.5
//! F = np.array([[i % 3, (i // 3) % 4, (i // 12) % 5] for i in range(600)])
//! Z = np.array([[a + 0.3 * w(i), 0.5 * b + 0.25 * c + 0.2 * w(i + 1),
//!                c - 0.5 * b + 0.1 * w(i + 2), w(i + 3)] for i, (a, b, c) in enumerate(F)])
//! Z = Z.astype(np.float32).astype(np.float64)
//! # MIG, as disentanglement_lib's mig.py with 20 histogram bins
//! bins = [np.digitize(z, np.histogram(z, 20)[1][:-1]) for z in Z.T]
//! m = np.array([[mutual_info_score(f, b) for f in F.T] for b in bins])
//! h = np.array([mutual_info_score(f, f) for f in F.T])
//! s = np.sort(m, axis=0)[::-1]; print((s[0] - s[1]) / h)
//! # DCI: one GradientBoostingRegressor per factor on rows 0..400, tested on 400..600, over
//! # random_state 0..19; D and C as disentanglement_lib's dci.py
//! g = GradientBoostingRegressor(random_state=seed).fit(Z[:400], F[:400, k] / (size_k - 1))
//! # the first tree alone, for factor b
//! GradientBoostingRegressor(n_estimators=1).fit(Z[:400], F[:400, 1] / 3).feature_importances_
//! # logistic regression on the standardised codes, predicting factor b
//! X = (Z - Z.mean(0)) / Z.std(0)
//! lr = LogisticRegression(C=1.0, tol=1e-10, max_iter=10000).fit(X, F[:, 1])
//! print(np.hstack([lr.coef_, lr.intercept_[:, None]]))
//! ```

use std::sync::atomic::AtomicBool;

use super::boosting::{BoostedTrees, Boosting, Columns, DEFAULT_BOOSTING};
use super::dci::{self, Sample};
use super::logistic::LogisticModel;
use super::{FactorSpace, mig};

/// Three factors of 3, 4 and 5 values, each combination ten times.
const POINTS: usize = 600;

/// A deterministic stand-in for noise in `[-0.5, 0.5)`.
fn wobble(j: usize) -> f64 {
    ((j * 37) % 97) as f64 / 97.0 - 0.5
}

/// The combinations (`600 × 3`) and their codes (`600 × 4`): dimension 0 holds factor 0,
/// dimensions 1 and 2 mix factors 1 and 2, dimension 3 holds nothing.
fn fixture() -> (FactorSpace, Vec<usize>, Vec<f32>) {
    let space = FactorSpace::new(&["a", "b", "c"], &[3, 4, 5]);
    let mut factors = Vec::new();
    let mut codes = Vec::new();
    for i in 0..POINTS {
        let (a, b, c) = (i % 3, (i / 3) % 4, (i / 12) % 5);
        factors.extend([a, b, c]);
        let (a, b, c) = (a as f64, b as f64, c as f64);
        codes.extend(
            [
                a + 0.3 * wobble(i),
                0.5 * b + 0.25 * c + 0.2 * wobble(i + 1),
                c - 0.5 * b + 0.1 * wobble(i + 2),
                wobble(i + 3),
            ]
            .map(|v| v as f32),
        );
    }
    (space, factors, codes)
}

fn assert_close(found: &[f64], expected: &[f64], tolerance: f64) {
    assert_eq!(found.len(), expected.len());
    for (f, e) in found.iter().zip(expected) {
        assert!(
            (f - e).abs() <= tolerance,
            "found {found:?}\nexpected {expected:?}"
        );
    }
}

#[test]
fn mig_matches_disentanglement_lib() {
    let (space, factors, codes) = fixture();
    let score = mig::from_codes(&codes, &factors, &space, 4, 20).unwrap_or_else(|e| panic!("{e}"));
    // disentanglement_lib's histogram discretiser and scikit-learn's mutual_info_score.
    let per_factor = [0.9921079204092488, 0.0958428318330897, 0.15014234501439694];
    assert_close(&score.per_factor, &per_factor, 1e-12);
    assert_close(&[score.score], &[0.4126976990855784], 1e-12);
}

#[test]
fn the_first_boosted_tree_matches_scikit_learn_exactly() {
    // GradientBoostingRegressor(n_estimators=1) predicting factor b, scaled to [0, 1].
    let (_, factors, codes) = fixture();
    let columns = Columns::new(&codes[..400 * 4], 4);
    let targets: Vec<f64> = factors[..400 * 3]
        .iter()
        .skip(1)
        .step_by(3)
        .map(|&v| v as f64 / 3.0)
        .collect();
    let one_tree = Boosting {
        trees: 1,
        ..DEFAULT_BOOSTING
    };
    let (model, _) = BoostedTrees::fit(&columns, &targets, &one_tree, &AtomicBool::new(false))
        .unwrap_or_else(|| panic!("cancelled"));
    let total: f64 = model.importance().iter().sum();
    let importance: Vec<f64> = model.importance().iter().map(|g| g / total).collect();
    assert_close(
        &importance,
        &[0.0, 0.7494315628181575, 0.25056843718184246, 0.0],
        1e-12,
    );
}

#[test]
fn dci_agrees_with_scikit_learn_boosted_regression_trees_up_to_tie_breaking() {
    let (space, factors, codes) = fixture();
    let (train_rows, dim) = (400, 4);
    let train = Sample {
        codes: &codes[..train_rows * dim],
        factors: &factors[..train_rows * 3],
        setting: "train_points",
    };
    let test = Sample {
        codes: &codes[train_rows * dim..],
        factors: &factors[train_rows * 3..],
        setting: "eval_points",
    };
    let score = dci::from_codes(&train, &test, &space, dim, &mut || Ok(()))
        .unwrap_or_else(|e| panic!("{e:?}"));

    // GradientBoostingRegressor() per factor, its feature_importances_, and
    // disentanglement_lib's disentanglement and completeness, averaged over random_state 0
    // to 19. The seed only decides between splits that part the rows alike (here from the
    // second tree on); across seeds the importances move by up to 0.0032, D by 0.0013, C by
    // 0.0008 and R² by 5e-6. Ties here always go to the lower dimension, which can sit a
    // little beyond scikit-learn's spread, so the tolerances are about three times it.
    #[rustfmt::skip]
    let importance = [
        1.0, 5.12806187232302e-05, 2.5535919216430247e-08,
        0.0, 0.7478305700003351, 0.1070535451164516,
        0.0, 0.2520739183390619, 0.8929463260225597,
        0.0, 4.423104187964849e-05, 1.0332506948450691e-07,
    ];
    assert_close(&score.importance, &importance, 0.01);
    assert_close(&[score.disentanglement], &[0.7188700322930508], 0.004);
    assert_close(&[score.completeness], &[0.7821715139891909], 0.003);
    let test_r_squared = [0.9999999992944325, 0.9996420276218023, 0.9996638539918331];
    assert_close(&score.test_r_squared, &test_r_squared, 2e-5);
}

#[test]
fn logistic_regression_matches_scikit_learn() {
    // Factor b from the codes, standardised; LogisticRegression(C=1) fitted to tol 1e-10.
    let (_, factors, codes) = fixture();
    let features: Vec<f64> = codes.iter().map(|&v| f64::from(v)).collect();
    let labels: Vec<usize> = factors.iter().skip(1).step_by(3).copied().collect();
    let model = LogisticModel::fit(&features, &labels, 4, 4);

    // Rows are classes: four weights, then the intercept.
    #[rustfmt::skip]
    let weights = [
        -0.028195058962362907, -7.671067113137459, 4.3369537317407785,
        -0.03796315853260334, -2.4849472270324626,
        -0.01245486437097851, -2.3177942509600555, 1.3155472489370397,
        0.009264528245217016, 2.491390264620368,
        0.00966309434617594, 2.31980987170482, -1.3063158418507959,
        0.021252670894864645, 2.4886723660421413,
        0.030986828987165725, 7.669051492392695, -4.34618513882702,
        0.0074459593925206334, -2.4951154036300505,
    ];
    assert_close(model.weights(), &weights, 1e-4);
    assert_eq!(model.accuracy(&features, &labels), 1.0);
}
