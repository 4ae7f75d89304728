"""vhp_core: the variational hierarchical prior (VHP), its objectives and beta schedules (REWO,
GECO, warm-up), one training loop, evaluation and datasets."""
