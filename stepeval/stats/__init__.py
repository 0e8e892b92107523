"""Statistics for pairwise human evaluation reports.

Plain functions over columns of a judgments table (sequences, numpy arrays or pandas Series):

- `intervals`: Wilson intervals, win rates, percentile bootstrap interval;
- `hypothesis_tests`: exact sign test;
- `bootstrap`: cluster (item-level) bootstrap, vectorised through row weights;
- `agreement`: Krippendorff's alpha (nominal/ordinal/interval/ratio, missing data), Cohen's kappa;
- `bradley_terry`: Bradley-Terry strengths, Elo view, bootstrap intervals, pair matrices;
- `bias`: left/right position bias; `gold`: annotator accuracy on gold items;
- `correlation`: Spearman's rank correlation (requested vs measured motion, and the like);
- `metric_agreement`: how well an automatic metric agrees with the human majority on pairs
  (pairwise accuracy with ties stated, Kendall's tau-b, cluster-bootstrap intervals);
- `summary`: one W-T-L report cell with its win rates, intervals and test.

Outcome labels are A/Tie/B from model A's side (see `outcomes`); screen-view labels Left/Tie/Right.
"""

from stepeval.stats.agreement import (
    ReliabilityData,
    cohen_kappa,
    confusion_matrix,
    krippendorff_alpha,
    krippendorff_alpha_bootstrap,
    reliability_matrix,
)
from stepeval.stats.bias import PositionBias, position_bias, position_bias_counts
from stepeval.stats.bootstrap import (
    BootstrapResult,
    cluster_bootstrap,
    cluster_bootstrap_weights,
    resample_counts,
    weights_to_indices,
)
from stepeval.stats.bradley_terry import (
    ELO_BASE,
    ELO_SCALE,
    BradleyTerryBootstrap,
    BradleyTerryFit,
    ModelMatrix,
    battle_count_matrix,
    bootstrap_bradley_terry,
    fit_bradley_terry,
    fit_scores,
    predicted_win_matrix,
    to_elo,
    win_fraction_matrix,
)
from stepeval.stats.correlation import Spearman, spearman
from stepeval.stats.gold import gold_accuracy
from stepeval.stats.hypothesis_tests import sign_test, sign_test_outcomes
from stepeval.stats.metric_agreement import (
    MetricAgreement,
    calibration_bins,
    kendall_tau_b,
    metric_human_agreement,
    pairwise_accuracy,
)
from stepeval.stats.intervals import (
    Proportion,
    percentile_interval,
    proportion,
    wilson_interval,
    win_rate,
    win_rate_ties_half,
)
from stepeval.stats.outcomes import WinTieLoss, count_outcomes, encode_outcomes, encode_sides
from stepeval.stats.summary import PairwiseSummary, bootstrap_win_rate, summarize_counts, summarize_pairwise

__all__ = [
    "ELO_BASE",
    "ELO_SCALE",
    "BootstrapResult",
    "BradleyTerryBootstrap",
    "BradleyTerryFit",
    "MetricAgreement",
    "ModelMatrix",
    "PairwiseSummary",
    "PositionBias",
    "Proportion",
    "ReliabilityData",
    "Spearman",
    "WinTieLoss",
    "battle_count_matrix",
    "calibration_bins",
    "bootstrap_bradley_terry",
    "bootstrap_win_rate",
    "cluster_bootstrap",
    "cluster_bootstrap_weights",
    "cohen_kappa",
    "confusion_matrix",
    "count_outcomes",
    "encode_outcomes",
    "encode_sides",
    "fit_bradley_terry",
    "fit_scores",
    "gold_accuracy",
    "kendall_tau_b",
    "krippendorff_alpha",
    "krippendorff_alpha_bootstrap",
    "metric_human_agreement",
    "pairwise_accuracy",
    "percentile_interval",
    "position_bias",
    "position_bias_counts",
    "predicted_win_matrix",
    "proportion",
    "reliability_matrix",
    "resample_counts",
    "sign_test",
    "sign_test_outcomes",
    "spearman",
    "summarize_counts",
    "summarize_pairwise",
    "to_elo",
    "weights_to_indices",
    "wilson_interval",
    "win_fraction_matrix",
    "win_rate",
    "win_rate_ties_half",
]
