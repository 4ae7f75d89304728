"""The docs stand on their own and agree with the code: no path of a particular machine, no citation of
a document that is not in the repository, every equation the code cites stated in docs/method.md, the
paper's numbers there equal to the ones the tables print, and the config values docs/deviations.md
quotes equal to the config's."""
import re
import subprocess
import sys
from collections import Counter
from pathlib import Path

import pytest

from vhp_core.report.paper import TABLE1_ABS_ERROR, TABLE2_NLL
from vhp_core.runs.config import load_config, resolve_run

ROOT = Path(__file__).resolve().parent.parent
TRACKED = [ROOT / p for p in subprocess.run(["git", "ls-files"], cwd=ROOT, capture_output=True, text=True,
                                            check=True).stdout.split()]
TEXT = {p: p.read_text() for p in TRACKED if p.suffix in (".py", ".md", ".smk", ".yaml", ".yml", ".tsv", ".toml",
                                                           ".rst", ".cff", ".sh") or p.name == "Snakefile"}
METHOD = (ROOT / "docs" / "method.md").read_text()
DEVIATIONS = (ROOT / "docs" / "deviations.md").read_text()
MACHINE_PATH = re.compile(r"(?<![\w.~*-])/(work|home|root|Users|scratch|mnt)/")


def test_no_path_of_a_particular_machine():
    assert not [f"{p.relative_to(ROOT)}:{m.group(0)}" for p, t in TEXT.items() if p.name != "test_docs.py"
                for m in MACHINE_PATH.finditer(t)]


def test_the_machine_path_check_would_see_one():
    assert MACHINE_PATH.search("a mirror laid out like /work/shared/data") and not MACHINE_PATH.search("../shared")


CITATION = re.compile(r"docs/([\w-]+\.md)|\]\(([\w-]+\.md)\)|\b([\w-]+\.md) §")


def test_every_cited_document_is_in_the_repository():
    """A citation: a path under docs/ ending in .md, a markdown link to a .md file, or one followed by §N."""
    cited = {(p, next(g for g in m.groups() if g)) for p, t in TEXT.items() for m in CITATION.finditer(t)}
    missing = [f"{p.relative_to(ROOT)} cites {name}" for p, name in cited if not (ROOT / "docs" / name).exists()]
    assert cited and not missing
    assert CITATION.search("see docs/method.md") and CITATION.search("(method.md §3, Eq. 11)")


LINK = re.compile(r"\]\(([^)\s#]+)(?:#[^)]*)?\)")


def broken_links(path: Path, text: str, tracked: set[Path]) -> list[str]:
    """Relative markdown links and images of `text` (a file at `path`) whose target is not a tracked file or a
    folder holding one: what a reader of a clone, or of the repository's web page, finds missing."""
    targets = [m.group(1) for m in LINK.finditer(text) if not re.match(r"[a-z]+:", m.group(1))]
    folders = {d for q in tracked for d in q.parents}
    return [t for t in targets if (path.parent / t).resolve() not in tracked | folders]


def test_every_relative_link_and_image_of_the_docs_is_in_the_repository():
    """A results page that links ../../results/figures/ shows a broken image in any clone: results/ is not kept."""
    tracked = set(TRACKED)
    broken = [f"{p.relative_to(ROOT)}: {t}" for p, t in TEXT.items() if p.suffix == ".md"
              for t in broken_links(p, t, tracked)]
    assert not broken


def test_the_link_check_would_see_a_missing_figure():
    page = ROOT / "docs" / "results" / "table1.md"
    text = "![a](figures/x.png) ![b](../../results/figures/x.png) [c](../method.md#eq-3) [d](https://a.b/c.md)"
    tracked = {ROOT / "docs" / "results" / "figures" / "x.png", ROOT / "docs" / "method.md"}
    assert broken_links(page, text, tracked) == ["../../results/figures/x.png"]


def cited_equations(text: str) -> set[int]:
    found = set()
    for a, b in re.findall(r"Eq(?:s)?\. (\d+)(?:\s*-\s*(\d+))?", text):
        found |= set(range(int(a), int(b or a) + 1))
    return found


def test_every_equation_the_code_cites_is_stated_in_method_md():
    code = "".join(t for p, t in TEXT.items() if p.suffix == ".py" and "tests" not in p.parts)
    assert cited_equations(code) and cited_equations(code) <= cited_equations(METHOD)


def markdown_rows(section: str) -> list[list[str]]:
    return [[c.strip() for c in line.strip("|").split("|")] for line in section.splitlines()
            if line.startswith("| ") and "---" not in line]


def test_the_papers_numbers_in_method_md_are_the_tables():
    section = METHOD[METHOD.index("## §7"):]
    table1 = {row[0]: float(row[1]) for row in markdown_rows(section)[1:6]}
    assert list(table1.values()) == list(TABLE1_ABS_ERROR.values())
    table2 = markdown_rows(section)[7:12]
    columns = ["dynamic_mnist", "static_mnist", "fashion_mnist", "omniglot"]
    assert [[float(v) for v in row[1:]] for row in table2] == [[TABLE2_NLL[m][c] for c in columns]
                                                                for m in TABLE2_NLL]


CONFIG = load_config(ROOT / "workflow" / "config" / "config.yaml")
QUOTED = [  # (what deviations.md says, the resolved config value it quotes)
    (r"\| 15,000, generator seed (\d+)", ("pendulum", "vhp_rewo", "dataset_args", "seed")),
    (r"a bar from the image centre, (\d+) px wide", ("pendulum", "vhp_rewo", "dataset_args", "rod_width")),
    (r"first (\d+,\d+) train, next", ("pendulum", "vhp_rewo", "dataset_args", "split", "train")),
    (r"next (\d+,\d+) validation", ("pendulum", "vhp_rewo", "dataset_args", "split", "valid")),
    (r"\| encoder / decoder \| App\. F \(not available\) \| MLP (\d+)-", ("pendulum", "vhp_rewo", "model", "hidden",
                                                                    0)),
    (r"\| MLP (\d+)-\d+, tanh, diagonal Gaussian", ("pendulum", "vhp_rewo", "prior_args", "hidden", 0)),
    (r"\| (\d+) in training, \d+ for the reported test -ELBO", ("pendulum", "vhp_rewo", "k")),
    (r"\| \d+ in training, (\d+) for the reported test -ELBO", ("pendulum", "vhp_rewo", "evaluation", "k")),
    (r"Adam, lr ([\d.e-]+), batch \d+, 300 epochs", ("pendulum", "vhp_rewo", "training", "lr")),
    (r"Adam, lr [\d.e-]+, batch (\d+), 300 epochs", ("pendulum", "vhp_rewo", "training", "batch_size")),
    (r"batch \d+, (\d+) epochs \(30,000 iterations\)", ("pendulum", "vhp_rewo", "training", "epochs")),
    (r"\| \"close to 1\" \| ([\d.]+) \|", ("pendulum", "vhp_rewo", "schedule", "alpha")),
    (r"\| nu = (\d+), tau = \d+ for REWO", ("pendulum", "vhp_rewo", "schedule", "nu")),
    (r"\| nu = \d+, tau = (\d+) for REWO", ("pendulum", "vhp_rewo", "schedule", "tau")),
    (r"\| ([\d.e-]+) for REWO; GECO starts at beta", ("pendulum", "vhp_rewo", "schedule", "beta_init")),
    (r"kappa\^2 = ([\d.]+) nats per image", ("pendulum", "vhp_rewo", "kappa2")),
    (r"kappa\^2 = (\d+) nats \(dynamic and static MNIST\)", ("dynamic_mnist", "vhp_rewo", "kappa2")),
    (r"kappa\^2 = (\d+) nats \(dynamic and static MNIST\)", ("static_mnist", "vhp_rewo", "kappa2")),
    (r"(\d+) \(Fashion-MNIST\)", ("fashion_mnist", "vhp_rewo", "kappa2")),
    (r"(\d+) \(omniglot_small\)", ("omniglot_small", "vhp_rewo", "kappa2")),
    (r"kappa\^2 = (\d+) is borrowed from omniglot_small", ("omniglot", "vhp_rewo", "kappa2")),
    (r"kappa\^2 = (\d+) nats per frame", ("mocap", "vhp_rewo", "kappa2")),
    (r"\| the same, at most (\d+,\d+) epochs", ("dynamic_mnist", "vampprior", "training", "epochs")),
    (r"patience (\d+) on the validation -ELBO for omniglot_small", ("omniglot_small", "vhp_rewo", "training",
                                                                   "early_stopping_patience")),
    (r"early stopping after (\d+) epochs without a better validation -ELBO", ("mocap", "vampprior", "training",
                                                                             "early_stopping_patience")),
    (r"VampPrior: (\d+) pseudo-inputs", ("mocap", "vampprior", "prior_args", "n_components")),
    (r"Adam, lr ([\d.e-]+), batch \d+, [\d,]+ epochs \(about", ("mocap", "vhp_rewo", "training", "lr")),
    (r"Adam, lr [\d.e-]+, batch (\d+), [\d,]+ epochs \(about", ("mocap", "vhp_rewo", "training", "batch_size")),
    (r"Adam, lr [\d.e-]+, batch \d+, ([\d,]+) epochs \(about", ("mocap", "vhp_rewo", "training", "epochs")),
    (r"\| ([\d,]+) for the pendulum and mocap; z ~", ("pendulum", "vhp_rewo", "interpolation", "nodes")),
    (r"\| k = (\d+); the two encoded endpoints", ("pendulum", "vhp_rewo", "interpolation", "neighbours")),
    (r"equal latent arc length: (\d+) frames \(pendulum\)", ("pendulum", "vhp_rewo", "interpolation", "frames")),
    (r"(\d+) \(mocap\) and decoded", ("mocap", "vhp_rewo", "interpolation", "frames")),
]


def config_value(path: tuple) -> object:
    dataset, method, *keys = path
    value = resolve_run(CONFIG, dataset, method, 1)
    if keys and keys[0] == "interpolation":
        value = CONFIG["datasets"][dataset]
    for key in keys:
        value = value[key]
    return value


@pytest.mark.parametrize("quote", QUOTED, ids=[q[0][:40] for q in QUOTED])
def test_deviations_md_quotes_the_config(quote):
    pattern, path = quote
    match = re.search(pattern, DEVIATIONS)
    assert match, pattern
    quoted = float(match.group(1).replace(",", ""))
    assert float(config_value(path)) == float(quoted), (pattern, config_value(path))


def test_docs_reliability_md_lists_every_fault_case_the_tests_hold():
    """docs/reliability.md is generated (`make reliability`); regenerate it when a fault test is added."""
    collected = subprocess.run([sys.executable, "-m", "pytest", "--collect-only", "-q", "-m", "fault",
                                "-p", "no:cacheprovider"], cwd=ROOT, capture_output=True, text=True).stdout
    per_file = Counter(line.split("::")[0].removeprefix("tests/") for line in collected.splitlines() if "::" in line)
    listed = Counter(re.findall(r"\| `(test_\w+\.py)` \|", (ROOT / "docs" / "reliability.md").read_text()))
    assert per_file and listed == per_file
