"""The paper's reported numbers (Table 1 and Table 2 of the paper), printed beside ours."""

TABLE1_ABS_ERROR = {
    "vhp_rewo": 0.054,
    "vhp_geco": 0.53,
    "vhp": 0.49,
    "vhp_wu20": 0.20,
    "vhp_wu200": 0.31,
}

TABLE2_NLL = {  # nats; columns by our dataset names ("omniglot" is Burda et al.'s chardata split)
    "vhp_rewo": {"dynamic_mnist": 78.88, "static_mnist": 82.74, "fashion_mnist": 225.37, "omniglot": 101.78},
    "vhp_geco": {"dynamic_mnist": 95.01, "static_mnist": 96.32, "fashion_mnist": 234.73, "omniglot": 108.97},
    "vampprior": {"dynamic_mnist": 80.42, "static_mnist": 84.02, "fashion_mnist": 232.78, "omniglot": 101.97},
    "iwae_l1": {"dynamic_mnist": 81.36, "static_mnist": 84.46, "fashion_mnist": 226.83, "omniglot": 101.57},
    "iwae_l2": {"dynamic_mnist": 80.66, "static_mnist": 82.83, "fashion_mnist": 225.39, "omniglot": 101.83},
}


def paper_nll(method: str, dataset: str) -> float | None:
    """The paper's Table 2 NLL for a (method, dataset), or None where the paper reports none."""
    return TABLE2_NLL.get(method, {}).get(dataset)


NOT_COMPARABLE = {"omniglot_small": "a real Omniglot subset (8 alphabets), not the paper's OMNIGLOT split"}

FIG4_SMOOTH_PATH = {"vhp_rewo": True, "vhp_geco": False, "iwae_l1": False}
"""Fig. 4: whether the decoded 0-180 degree path of each method is smooth (True) or jumps (False)."""
