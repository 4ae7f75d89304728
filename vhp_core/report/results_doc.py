"""docs/results.md from the files under results/: each section's table as its rule rendered it, its
figures, and verdicts computed from the same numbers, so the page cannot drift from the files."""
from dataclasses import dataclass
from typing import Any

import pandas as pd

from vhp_core.report.paper import FIG4_SMOOTH_PATH, TABLE1_ABS_ERROR, TABLE2_NLL
from vhp_core.report.tables import difference_text
from vhp_core.report.tables import number_text as _f
from vhp_core.runs.config import resolve_run

HEADLINE_MEDIAN = 0.1
"""Table 1's headline counts as reproduced when the paper's method has the lowest median OLS error and that
median is at most this (radians): the paper's 0.054 with room for a 10-seed median's spread."""

SEED_DECIDES = 0.9
"""Per-seed correlation of every changed setting's error with the reference's above which the study says the
seed decides the error (each seed keeps its rank and size whatever the setting)."""

TITLES = {"table1": "Table 1: the pendulum's angle read-outs",
          "sensitivity": "What Table 1's headline depends on (sensitivity study)",
          "pendulum_interpolation": "Graph-based interpolation on the pendulum (Figs. 3-4)",
          "smoothness": "CMU mocap smoothness (Figs. 5-7)",
          "table2": "Table 2: test NLL"}
SECTIONS = tuple(TITLES)
"""The page's parts, in order (the names of `results_doc/sections` in the config)."""


@dataclass(frozen=True)
class Section:
    """One part of the page besides its verdicts: the Markdown table its rule rendered (if any), the files it
    came from, the figures it links and the scale of the runs."""

    markdown: str
    sources: list[str]
    figures: list[str]
    scale: str


def _joined(items: list[str]) -> str:
    return items[0] if len(items) == 1 else ", ".join(items[:-1]) + " and " + items[-1]


def _beyond_noise(rows: pd.DataFrame, prefix: str, reference: str, digits: int = 3) -> str:
    """One sentence on which compared rows differ from the reference beyond the noise (bootstrap interval
    excluding 0), in which direction, and which do not."""
    compared = rows[rows[f"{prefix}diff"].notna()]
    undecided = compared[compared[f"{prefix}ci_low"].isna()]
    decided = compared[compared[f"{prefix}ci_low"].notna()]
    beyond = decided[~decided[f"{prefix}within_noise"].astype(bool)]
    within = decided[decided[f"{prefix}within_noise"].astype(bool)]
    parts = []
    if len(beyond):
        parts.append("beyond the noise: " + "; ".join(
            f"{r.label} {difference_text(r, digits, prefix=prefix)} "
            f"({reference} {'lower' if r[f'{prefix}diff'] > 0 else 'higher'})" for _, r in beyond.iterrows()))
    elif len(within):
        parts.append("no method differs from " + reference + " beyond the noise")
    if len(within):
        parts.append("within the noise: " + "; ".join(f"{r.label} {difference_text(r, digits, prefix=prefix)}"
                                                      for _, r in within.iterrows()))
    if len(undecided):
        parts.append("too few paired seeds to decide: " + _joined(list(undecided["label"])))
    return "; ".join(parts) + "."


def table1_verdicts(table: pd.DataFrame) -> list[str]:
    """Table 1 (rows as `tables.table1` writes them, the paper's method first): is the headline reproduced,
    which methods differ from it beyond the noise on each read-out, and the orderings beside the paper's."""
    ref = table.iloc[0]
    medians = table.set_index("label")["abs_error_median"]
    lowest = medians.idxmin()
    reproduced = ref["abs_error_median"] <= HEADLINE_MEDIAN and lowest == ref["label"]
    why = [] if reproduced else [
        *([f"its median is above {HEADLINE_MEDIAN}"] if ref["abs_error_median"] > HEADLINE_MEDIAN else []),
        *([f"{lowest} has the lowest median ({_f(medians[lowest])})"] if lowest != ref["label"] else [])]
    paper = ref["paper"]
    headline = (f"**Headline {'reproduced' if reproduced else 'not reproduced'}.** {ref['label']}'s OLS error over "
                f"{int(ref['n_seeds'])} seeds: median {_f(ref['abs_error_median'])} [IQR {_f(ref['abs_error_q25'])}, "
                f"{_f(ref['abs_error_q75'])}]" + ("" if pd.isna(paper) else f", paper {_f(paper)}")
                + ("" if reproduced else f" ({_joined(why)})") + ".")
    ours = " < ".join(f"{label} {_f(v)}" for label, v in medians.sort_values().items())
    with_paper = table[table["paper"].notna()].sort_values("paper")
    theirs = " < ".join(f"{r.label} {_f(r.paper)}" for r in with_paper.itertuples())
    return [headline,
            f"OLS error paired with {ref['label']} on the same seeds (bootstrap 95% interval): "
            + _beyond_noise(table, "", ref["label"]),
            f"Loop read-out paired with {ref['label']}: " + _beyond_noise(table, "loop_", ref["label"]),
            "Clean loops: " + ", ".join(f"{r.label} {r.clean_loops} of {r.n_seeds}" for r in table.itertuples()) + ".",
            f"Ordering by median OLS error: {ours}; the paper's: {theirs}."]


def _noise_word(row: pd.Series) -> str:
    if pd.isna(row["ci_low"]):
        return ""
    return " within the noise" if row["within_noise"] else " **beyond the noise**"


def sensitivity_verdicts(table: pd.DataFrame) -> list[str]:
    """The sensitivity study (rows as `tables.sensitivity_table` writes them): per factor, each setting's
    median against its reference and whether the paired difference is beyond the noise; which settings, if
    any, reach the headline's median."""
    out = []
    for factor, rows in table.groupby("factor", sort=False):
        ref = rows[rows["is_reference"].astype(bool)].iloc[0]
        levels = [f"{r['value']}: {_f(r['abs_error_median'])}, {difference_text(r, 3)}{_noise_word(r)}"
                  for _, r in rows[~rows["is_reference"].astype(bool)].iterrows()]
        out.append(f"{factor}: reference {ref['value']} median {_f(ref['abs_error_median'])} "
                   f"({ref['clean_loops']} of {ref['n_seeds']} clean loops); " + "; ".join(levels) + ".")
    changed = table[~table["is_reference"].astype(bool)]
    decided = changed[changed["ci_low"].notna()]
    beyond = decided[~decided["within_noise"].astype(bool)]
    reaching = table[table["abs_error_median"] <= HEADLINE_MEDIAN]
    paper = TABLE1_ABS_ERROR.get(str(table.loc[table["is_reference"].astype(bool), "method"].iloc[0]))
    moved = ("none" if beyond.empty else _joined([f"{r.factor} = {r.value}" for r in beyond.itertuples()])) + (
        f" ({len(changed) - len(decided)} of {len(changed)} undecided: too few paired seeds)"
        if len(decided) < len(changed) else "")
    correlations = changed["seed_correlation"].dropna()
    follows = "" if correlations.empty else (
        f" Per seed, the changed settings' OLS errors against the reference's: r = {_f(correlations.min(), 2)} to "
        f"{_f(correlations.max(), 2)}" + (": each seed keeps its error whatever the setting, so the seed, not "
                                          "these settings, decides it." if correlations.min() >= SEED_DECIDES else "."))
    out.append(f"**Settings that move the OLS error beyond the noise:** {moved}. "
               + f"**Settings with a median at most {HEADLINE_MEDIAN}"
               + ("" if paper is None else f" (the paper reports {_f(paper)})") + ":** "
               + ("none" if reaching.empty else _joined([f"{r.factor} = {r.value} ({_f(r.abs_error_median)})"
                                                        for r in reaching.itertuples()])) + "." + follows)
    return out


def pendulum_verdicts(summary: pd.DataFrame, labels: dict[str, str]) -> list[str]:
    """Figs. 3-4: which decoded 0-180 degree paths have jumps, beside what the paper's Fig. 4 shows."""
    smooth = {labels[m]: s for m, s in FIG4_SMOOTH_PATH.items() if m in labels}
    out = []
    for r in summary.itertuples():
        ours = "smooth" if r.jumps == 0 else f"{r.jumps} jump{'s' * (r.jumps != 1)}"
        paper = "" if r.method not in smooth else f" (paper: {'smooth' if smooth[r.method] else 'discontinuous'})"
        out.append(f"{r.method}: {ours}{paper}, steps up to {r.max_step_deg:.1f} deg, median {r.median_step_deg:.1f}.")
    agree = [r.method for r in summary.itertuples() if r.method in smooth and (r.jumps == 0) == smooth[r.method]]
    return out + [f"Agrees with the paper's Fig. 4 for {len(agree)} of {sum(m in smooth for m in summary['method'])} "
                  "methods."]


def smoothness_verdicts(points: pd.DataFrame) -> list[str]:
    """Fig. 7 (one row per method and seed, the paper's method first): the ordering by the paper's smoothness
    factor, by the normalised smoothness and by reconstruction error, and whether the paper's claim (its
    method smoothest) holds on each smoothness measure, seed by seed."""
    means = points.groupby("method", sort=False)[["factor", "normalised", "reconstruction_rms"]].mean()
    reference = points["method"].iloc[0]
    by_seed = points.set_index(["method", "seed"])
    out = []
    for column, name in (("factor", "the paper's smoothness factor"), ("normalised", "the normalised smoothness")):
        order = " < ".join(f"{m} {_f(v)}" for m, v in means[column].sort_values().items())
        wins = []
        for other in means.index.drop(reference):
            seeds = by_seed.loc[reference].index.intersection(by_seed.loc[other].index)
            lower = int((by_seed.loc[reference].loc[seeds, column] < by_seed.loc[other].loc[seeds, column]).sum())
            wins.append(f"lower than {other} on {lower} of {len(seeds)} seeds")
        holds = means[column].idxmin() == reference
        out.append(f"By {name}: {order}. The paper's claim ({reference} smoothest) "
                   f"{'holds' if holds else 'does not hold'} on the mean; {reference} is " + _joined(wins) + ".")
    order = " < ".join(f"{m} {_f(v)}" for m, v in means["reconstruction_rms"].sort_values().items())
    out.append(f"Test reconstruction RMS error: {order}; a decoder that always outputs the mean pose: "
               f"{_f(points['mean_pose_rms'].mean())} (smoothness factor 0).")
    return out


def table2_verdicts(table: pd.DataFrame) -> list[str]:
    """Table 2 (rows as `tables.table2` writes them): per dataset, ours minus the paper's range, the best
    method here and in the paper, and which methods differ from the paper's method beyond the noise."""
    out = []
    for dataset, rows in table.groupby("dataset", sort=False):
        rows = rows[rows["nll_mean"].notna()]
        if rows.empty:
            continue
        ref = table.loc[table["method"] == rows["reference"].iloc[0]].iloc[0]  # the paper's method, even without NLL
        best = rows.loc[rows["nll_mean"].idxmin()]
        paper = {r.label: TABLE2_NLL.get(r.method, {}).get(dataset) for r in rows.itertuples()}
        paper = {k: v for k, v in paper.items() if v is not None}
        deltas = rows["delta"].dropna()
        against = ("" if deltas.empty else
                   f"ours minus paper from {_f(deltas.min(), 2, True)} to {_f(deltas.max(), 2, True)} nats; ")
        best_paper = "" if not paper else f" (paper: {min(paper, key=paper.get)})"
        paired = ("" if ref["method"] not in set(rows["method"]) else
                  f"; paired with {ref['label']}: " + _beyond_noise(rows, "", ref["label"], digits=2))
        out.append(f"{dataset} (S = {int(best['samples'])}, {int(best['n_test'])} test items): {against}lowest here "
                   f"{best['label']} {_f(best['nll_mean'], 2)}{best_paper}{paired or '.'}")
    return out


def _epochs(config: dict[str, Any], dataset: str, methods: list[str], seed: int) -> str:
    """'300 epochs', or the range over methods; 'at most' where training stops early."""
    training = [resolve_run(config, dataset, m, seed)["training"] for m in methods]
    epochs = sorted({t["epochs"] for t in training})
    span = f"{epochs[0]:,}" if len(epochs) == 1 else f"{epochs[0]:,}-{epochs[-1]:,}"
    early = any(t.get("early_stopping_patience") for t in training)
    return f"{'at most ' if early else ''}{span} epochs{' (early stopping)' if early else ''}"


def _seeds(seeds: list[int]) -> str:
    s = sorted(seeds)
    if len(s) > 2 and s == list(range(s[0], s[-1] + 1)):
        return f"{len(s)} seeds ({s[0]}-{s[-1]})"
    return f"seed{'s' * (len(s) != 1)} {', '.join(map(str, s))}"


def scale_notes(config: dict[str, Any]) -> dict[str, str]:
    """Per section of the config's `results_doc`, the scale of its runs: dataset, epochs, seeds, samples."""
    notes = {}
    for name in config["results_doc"]["sections"]:
        if name == "table1":
            spec = config["tables"]["table1"]
            seeds = spec.get("seeds", config["seeds"])
            notes[name] = "; ".join(f"{d}, {_epochs(config, d, spec['methods'], seeds[0])}, {_seeds(seeds)}"
                                    for d in spec["datasets"])
        elif name == "sensitivity":
            spec = config["sensitivity"]
            notes[name] = (f"{spec['dataset']}, {spec['method']} at "
                           f"{_epochs(config, spec['dataset'], [spec['method']], spec['seeds'][0])}, "
                           f"{_seeds(spec['seeds'])} per setting")
        elif name == "pendulum_interpolation":
            spec = config["figures"]["pendulum_interpolation"]
            notes[name] = (f"{spec['dataset']}, {_epochs(config, spec['dataset'], spec['methods'], spec['seed'])}, "
                           f"seed {spec['seed']}")
        elif name == "smoothness":
            spec = config["figures"]["smoothness"]
            seeds = spec.get("seeds", config["seeds"])
            notes[name] = (f"{spec['dataset']}, {_epochs(config, spec['dataset'], spec['methods'], seeds[0])}, "
                           f"{_seeds(seeds)}, {spec['graphs']} graphs x {spec['interpolations']} paths per model")
        else:
            spec = config["tables"]["table2"]
            seeds = spec.get("seeds", config["seeds"])
            nll = {d: config["datasets"][d]["nll"] for d in spec["datasets"]}
            notes[name] = "; ".join(
                f"{d}, {_epochs(config, d, spec['methods'], seeds[0])}, NLL with S = {nll[d]['samples']:,} on "
                f"{'all' if nll[d].get('n_items') is None else nll[d]['n_items']} test items"
                for d in spec["datasets"]) + f"; {_seeds(seeds)}"
    return notes


def verdicts(name: str, data: pd.DataFrame, labels: dict[str, str]) -> list[str]:
    """The verdicts of section `name` from its CSV (`labels`: method name -> label, for the paper's facts)."""
    if name == "pendulum_interpolation":
        return pendulum_verdicts(data, labels)
    return {"table1": table1_verdicts, "sensitivity": sensitivity_verdicts, "smoothness": smoothness_verdicts,
            "table2": table2_verdicts}[name](data)


def _demoted(markdown: str) -> str:
    """A table rule's Markdown with its headings moved down so that the shallowest is ###, under the
    section's ## heading."""
    lines = markdown.strip().splitlines()
    levels = [len(line) - len(line.lstrip("#")) for line in lines if line.startswith("#")]
    shift = "#" * (3 - min(levels, default=3))
    return "\n".join(shift + line if line.startswith("#") else line for line in lines)


def section_markdown(name: str, section: Section, verdicts: list[str]) -> str:
    """One section: heading, scale and sources, verdicts, the table and links to the figures."""
    lines = [f"## {TITLES[name]}", "", f"Scale: {section.scale}. From " + ", ".join(f"`{s}`" for s in section.sources)
             + ".", "", *[f"- {v}" for v in verdicts], ""]
    if section.markdown:
        lines += [_demoted(section.markdown), ""]
    lines += [f"![{TITLES[name]}](../{figure})" for figure in section.figures]
    return "\n".join(lines).rstrip() + "\n"


def document(sections: dict[str, tuple[Section, list[str]]], generated: str, missing: list[str]) -> str:
    """The whole page: how it was generated, then each section in the order of SECTIONS."""
    head = ["# Results", "",
            f"Generated by `snakemake results_doc` ({generated}) from the files under `results/`; every number "
            "and verdict below is computed from those files. Differences are paired on the same seeds, with "
            "percentile bootstrap 95% intervals; a difference is beyond the noise when its interval excludes 0. "
            f"Table 1's headline counts as reproduced when the paper's method has the lowest median OLS error and "
            f"that median is at most {HEADLINE_MEDIAN} rad (the paper: {TABLE1_ABS_ERROR['vhp_rewo']}). "
            "What differs from the paper's protocol is in [deviations.md](deviations.md); earlier runs and what "
            "was learnt from them are in [findings.md](findings.md).", ""]
    if missing:
        head += ["Not in this page (not among the config's `results_doc/sections` when it was generated): "
                 + "; ".join(TITLES[m] for m in missing) + ".", ""]
    body = [section_markdown(name, *sections[name]) for name in SECTIONS if name in sections]
    return "\n".join(head) + "\n" + "\n".join(body)
